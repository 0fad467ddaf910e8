"""Questions about one product through a CollectingDispatcher, on the demo catalog in a real product index."""

from __future__ import annotations

import pytest

from actions.product_details import ASK_WHICH, ActionProductDetails, comparison_text, details_text, stock_line
from retrieval.services import ServiceRegistry
from shop.db import ShopDB
from tests.actions.conftest import texts
from tests.actions.test_products import cards, run, turn


@pytest.fixture
def products(demo_products):
    return demo_products


@pytest.fixture
def services(shop_db_url, products, embedder):
    return ServiceRegistry(shop_db=ShopDB(shop_db_url), product_index=products, embedder=embedder)


@pytest.fixture
def shown(products):
    """Five hiking boots, as a search would have shown them."""
    return [p["id"] for p in products.products if p["subcategory"] == "hiking boots"][:5]


async def test_an_ordinal_picks_that_card_and_becomes_the_focus(products, shown, services):
    dispatcher, slots = await run(
        ActionProductDetails(services),
        turn("tell me more about the second one", "product_details", slots={"shown_product_ids": shown}),
    )
    second = products.product(shown[1])
    [reply] = texts(dispatcher)
    assert second["title"] in reply and f"${second['price']:.2f}" in reply and second["url"] in reply
    assert [c["id"] for c in cards(dispatcher)] == [second["id"]]
    assert slots == {"focus_product_id": second["id"]}
    # "it" next turn is that product, even with other cards shown
    dispatcher, _ = await run(
        ActionProductDetails(services),
        turn(
            "is it in stock?", "product_details", slots={"shown_product_ids": shown, "focus_product_id": second["id"]}
        ),
    )
    assert [c["id"] for c in cards(dispatcher)] == [second["id"]]
    last, _ = await run(
        ActionProductDetails(services), turn("and the last one?", "product_details", slots={"shown_product_ids": shown})
    )
    assert [c["id"] for c in cards(last)] == [shown[-1]]


async def test_stock_and_sizes_are_answered_from_the_catalog(products, shown, services):
    boot = products.product(shown[0])
    size = boot["sizes"][0]
    yes, _ = await run(
        ActionProductDetails(services),
        turn(
            f"does the first one come in size {size}",
            "product_details",
            {"size": size},
            slots={"shown_product_ids": shown},
        ),
    )
    assert texts(yes)[0].startswith(f"Yes, the {boot['title']} comes in size {size}.")
    no, _ = await run(
        ActionProductDetails(services),
        turn(
            "does the first one come in size 52", "product_details", {"size": "52"}, slots={"shown_product_ids": shown}
        ),
    )
    assert texts(no)[0].startswith(f"No, the {boot['title']} doesn't come in size 52. Its sizes: ")
    out = next(p for p in products.products if p["stock"] == 0)
    gone, _ = await run(
        ActionProductDetails(services),
        turn("is the first one in stock", "product_details", slots={"shown_product_ids": [out["id"]]}),
    )
    assert "Out of stock right now." in texts(gone)[0] and cards(gone)[0]["reason"] == "Out of stock right now."


async def test_a_product_named_by_its_title(products, shown, services):
    boot = products.product(shown[3])
    model = boot["title"].split()[1]  # "Stridewell Harbor Waterproof Hiking Boots" -> "Harbor"
    among_shown, _ = await run(
        ActionProductDetails(services),
        turn(f"tell me about the {model} ones", "product_details", slots={"shown_product_ids": shown}),
    )
    assert cards(among_shown)[0]["id"] == boot["id"]


async def test_reviews_are_quoted_when_asked_for(products, shown, services):
    dispatcher, _ = await run(
        ActionProductDetails(services),
        turn("what do people say about the first one", "product_details", slots={"shown_product_ids": shown}),
    )
    assert "What shoppers say: “" in texts(dispatcher)[0]


@pytest.mark.parametrize(
    ("text", "slots", "expected"),
    [
        ("tell me more about the second one", {}, "I haven't shown you any products yet. What are you looking for?"),
        (
            "tell me more about the ninth one",
            {"shown_product_ids": ["P0001", "P0002"]},
            "I showed you 2 products. Which one do you mean?",
        ),
        ("is it in stock?", {"shown_product_ids": ["P0001", "P0002"]}, ASK_WHICH),
        ("is it in stock?", {"focus_product_id": "P9999"}, ASK_WHICH),
        ("x" * 5000, {}, ASK_WHICH),
    ],
)
async def test_without_a_product_to_point_at_it_asks(products, text, slots, expected, services):
    dispatcher, events = await run(ActionProductDetails(services), turn(text, "product_details", slots=slots))
    assert texts(dispatcher) == [expected] and events == {}


async def test_the_product_page_the_shopper_is_on(products, services):
    dispatcher, _ = await run(
        ActionProductDetails(services), turn("is it in stock?", "product_details", metadata={"product_id": "P0003"})
    )
    assert cards(dispatcher)[0]["id"] == "P0003"


async def test_a_missing_index_is_an_apology(tmp_path, embedder):
    from retrieval.product_index import ProductIndex

    services = ServiceRegistry(
        product_index=ProductIndex(index_path=tmp_path / "none", embedder=embedder), embedder=embedder
    )
    dispatcher, _ = await run(ActionProductDetails(services), turn("is it in stock?", "product_details"))
    assert texts(dispatcher) == ["Sorry, product search isn't available right now. Please try again in a little while."]


async def test_a_question_about_one_thing_gets_that_thing(products, shown, services):
    boot = products.product(shown[0])
    first_sentence = boot["description"].split(". ")[0]

    async def ask(text, entities=None):
        dispatcher, _ = await run(
            ActionProductDetails(services), turn(text, "product_details", entities, slots={"shown_product_ids": shown})
        )
        return texts(dispatcher)[0]

    sizes = await ask("what sizes does the first one come in")
    assert f"Sizes: {', '.join(boot['sizes'])}." in sizes and first_sentence not in sizes and "$" not in sizes
    stock = await ask("is the first one in stock")
    assert (
        stock.splitlines()[0] == f"{boot['title']} by {boot['brand']}. {stock_line(boot)}"
        and first_sentence not in stock
    )
    both = await ask(f"is the first one in stock in size {boot['sizes'][0]}", {"size": boot["sizes"][0]})
    assert both.splitlines()[:2] == [f"Yes, the {boot['title']} comes in size {boot['sizes'][0]}.", stock_line(boot)]
    everything = await ask("tell me more about the first one")
    assert first_sentence in everything and f"${boot['price']:.2f}" in everything and "Sizes: " in everything


async def test_a_yes_no_question_about_a_feature_is_answered_from_the_description(products, shown, services):
    boot = next(products.product(pid) for pid in shown if "waterproof" in products.product(pid)["description"].lower())
    plain = next(
        p
        for p in products.products
        if "waterproof" not in f"{p['title']} {p['description']}".lower() and "waterproof" not in p.get("tags", [])
    )

    async def ask(text, slots):
        dispatcher, _ = await run(ActionProductDetails(services), turn(text, "product_details", slots=slots))
        return texts(dispatcher)[0]

    yes = await ask("is it waterproof?", {"shown_product_ids": shown, "focus_product_id": boot["id"]})
    sentence = next(x for x in boot["description"].split(". ") if "waterproof" in x.lower())
    assert yes.startswith(f"The {boot['title']}:\nYes: “") and sentence in yes
    no = await ask("is it waterproof?", {"focus_product_id": plain["id"]})
    assert "doesn't mention “waterproof”" in no and plain["title"] in no


async def test_a_feature_said_in_other_words_quotes_the_closest_sentence_without_a_yes(products, services):
    pan = next(p for p in products.products if "PFAS-free" in p["description"])
    dispatcher, _ = await run(
        ActionProductDetails(services),
        turn("is it teflon free?", "product_details", slots={"focus_product_id": pan["id"]}),
    )
    [reply] = texts(dispatcher)
    sentence = next(x for x in pan["description"].split(". ") if "PFAS-free" in x)
    assert "doesn't say “teflon free” in those words" in reply and sentence in reply
    assert "Yes" not in reply
    # a feature nothing in the description is close to still gets the plain "doesn't mention"
    dispatcher, _ = await run(
        ActionProductDetails(services),
        turn("is it dishwasher safe?", "product_details", slots={"focus_product_id": pan["id"]}),
    )
    [reply] = texts(dispatcher)
    assert "doesn't mention “dishwasher safe”" in reply and "closest" not in reply


async def test_it_means_the_product_in_view_even_when_a_title_shares_the_word(products, shown, services):
    # "is it waterproof?" once picked the one shown card with "Waterproof" in its title
    boots = [products.product(pid) for pid in shown]
    titled = [b for b in boots if "waterproof" in b["title"].lower()]
    focus = next(b for b in boots if b not in titled)
    dispatcher, _ = await run(
        ActionProductDetails(services),
        turn(
            "is it waterproof?",
            "product_details",
            slots={"shown_product_ids": [titled[0]["id"], focus["id"]], "focus_product_id": focus["id"]},
        ),
    )
    assert cards(dispatcher)[0]["id"] == focus["id"]


async def test_two_shown_products_side_by_side(products, shown, services):
    first, third = products.product(shown[0]), products.product(shown[2])
    dispatcher, slots = await run(
        ActionProductDetails(services),
        turn(
            "what's the difference between the first and the third one?",
            "product_details",
            slots={"shown_product_ids": shown, "focus_product_id": shown[1]},
        ),
    )
    [reply] = texts(dispatcher)
    lines = reply.splitlines()
    assert lines[0] == "Side by side:"
    assert lines[1].startswith(f"1. {first['title']} by {first['brand']}: ${first['price']:.2f}")
    assert lines[2].startswith(f"2. {third['title']} by {third['brand']}: ${third['price']:.2f}")
    cheaper = min((first, third), key=lambda p: p["price"])
    assert f"Cheapest: the {cheaper['title']}" in lines[-1]
    assert "doesn't mention" not in reply  # "difference" is not a feature asked about
    assert [c["id"] for c in cards(dispatcher)] == [first["id"], third["id"]]
    # "it" after a comparison is no longer the product looked at before it
    assert slots == {"focus_product_id": None}


async def test_compare_them_compares_what_was_shown(products, shown, services):
    dispatcher, _ = await run(
        ActionProductDetails(services),
        turn("which one is better rated?", "product_details", slots={"shown_product_ids": shown[:3]}),
    )
    assert [c["id"] for c in cards(dispatcher)] == shown[:3]
    rated = [products.product(pid) for pid in shown[:3]]
    best = max(rated, key=lambda p: p["rating"])
    if sum(p["rating"] == best["rating"] for p in rated) == 1:
        assert f"Best rated: the {best['title']}" in texts(dispatcher)[0]


async def test_a_comparison_that_does_not_fit_what_was_shown(products, shown, services):
    for slots, expected in (
        ({"shown_product_ids": shown[:2]}, "I showed you 2 products. Which ones do you mean?"),
        ({}, "I haven't shown you any products yet. What are you looking for?"),
    ):
        dispatcher, events = await run(
            ActionProductDetails(services), turn("compare the first and the fourth", "product_details", slots=slots)
        )
        assert texts(dispatcher) == [expected] and events == {}


async def test_a_feature_asked_of_compared_products(products, shown, services):
    boots = [products.product(pid) for pid in shown[:2]]
    dispatcher, _ = await run(
        ActionProductDetails(services),
        turn("which of the first two is waterproof?", "product_details", slots={"shown_product_ids": shown}),
    )
    lines = texts(dispatcher)[0].splitlines()
    for number, boot in enumerate(boots, start=1):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{number}. {boot['title']}"))
        answer = lines[at + 1]
        assert answer.startswith("   ")
        described = "waterproof" in boot["description"].lower()
        assert answer.strip().startswith("Yes") == (
            described or "waterproof" in boot["title"].lower() or "waterproof" in boot.get("tags", [])
        )


async def test_the_cheapest_one_after_a_comparison(products, shown, services):
    cheapest = min((products.product(pid) for pid in shown), key=lambda p: p["price"])
    dispatcher, slots = await run(
        ActionProductDetails(services),
        turn("is the cheapest one in stock?", "product_details", slots={"shown_product_ids": shown}),
    )
    assert [c["id"] for c in cards(dispatcher)] == [cheapest["id"]]
    assert cheapest["title"] in texts(dispatcher)[0]
    assert slots == {"focus_product_id": cheapest["id"]}


async def test_a_comparison_offers_a_colleague_once(products, shown, services):
    dispatcher, _ = await run(
        ActionProductDetails(services),
        turn("which of them has a heated lining?", "product_details", slots={"shown_product_ids": shown}),
    )
    [reply] = texts(dispatcher)
    assert reply.count("just ask for a human") == 1 and reply.endswith("just ask for a human.")
    assert reply.count("doesn't mention “heated lining”") >= 2


async def test_the_best_rated_one_gets_all_its_details_not_only_reviews(products, shown, services):
    best = max((products.product(pid) for pid in shown), key=lambda p: p["rating"])
    dispatcher, _ = await run(
        ActionProductDetails(services),
        turn("tell me about the best rated one", "product_details", slots={"shown_product_ids": shown}),
    )
    [reply] = texts(dispatcher)
    assert best["url"] in reply and f"${best['price']:.2f}" in reply
    assert any(sentence in reply for sentence in best["description"].split(". "))


def test_a_product_with_colour_variants_answers_for_each_colour():
    harness = {
        "id": "harness",
        "title": "Trail Harness",
        "brand": "Wag",
        "price": 45.0,
        "price_max": 55.0,
        "currency": "AUD",
        "color": "red",
        "colors": ["red", "olive"],
        "sizes": ["M", "L"],
        "stock": 6,
        "rating": 4.5,
    }
    assert details_text(harness, {"colour"}, asked_color="Olive", everything=False).startswith(
        "Yes, the Trail Harness comes in olive."
    )
    assert details_text({**harness, "colors": ["red", "forest green"]}, {"colour"}, asked_color="green").startswith(
        "Yes, the Trail Harness comes in forest green."
    )
    no = details_text(harness, {"colour"}, asked_color="navy", everything=False)
    assert no.startswith("No, the Trail Harness comes in red, olive.")
    assert "Colours: red, olive." in details_text(harness, set())
    assert "from A$45.00" in comparison_text([harness, {**harness, "id": "other", "price_max": None}])
