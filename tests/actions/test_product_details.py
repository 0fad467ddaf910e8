"""Questions about one product through a CollectingDispatcher, on the demo catalog in a real product index."""

from __future__ import annotations

import pytest

from actions.product_details import (
    ASK_WHICH,
    ActionProductDetails,
    asked_aspects,
    asked_features,
    compared_products,
    named_product,
    ordinal,
    positions,
    stock_line,
    superlative,
)
from retrieval import product_index
from tests.actions.conftest import texts
from tests.actions.test_products import cards, run, turn


@pytest.fixture
def products(demo_products, monkeypatch):
    monkeypatch.setattr(product_index, "_shared", demo_products)
    return demo_products


@pytest.fixture
def shown(products):
    """Five hiking boots, as a search would have shown them."""
    return [p["id"] for p in products.products if p["subcategory"] == "hiking boots"][:5]


@pytest.mark.parametrize(("text", "expected"), [
    ("tell me more about the second one", 2), ("is the 3rd one in stock", 3), ("details on the last one", -1),
    ("what about number 4", 4), ("option 1 please", 1), ("#5?", 5), ("is it in stock", None),
    ("do you have it in size 42", None), ("no, not that one", None),
])
def test_ordinals(text, expected):
    assert ordinal(text) == expected


async def test_an_ordinal_picks_that_card_and_becomes_the_focus(products, shown):
    dispatcher, slots = await run(ActionProductDetails(), turn(
        "tell me more about the second one", "product_details", slots={"shown_product_ids": shown}))
    second = products.product(shown[1])
    [reply] = texts(dispatcher)
    assert second["title"] in reply and f"${second['price']:.2f}" in reply and second["url"] in reply
    assert [c["id"] for c in cards(dispatcher)] == [second["id"]]
    assert slots == {"focus_product_id": second["id"]}
    # "it" next turn is that product, even with other cards shown
    dispatcher, _ = await run(ActionProductDetails(), turn(
        "is it in stock?", "product_details", slots={"shown_product_ids": shown, "focus_product_id": second["id"]}))
    assert [c["id"] for c in cards(dispatcher)] == [second["id"]]
    last, _ = await run(ActionProductDetails(), turn(
        "and the last one?", "product_details", slots={"shown_product_ids": shown}))
    assert [c["id"] for c in cards(last)] == [shown[-1]]


async def test_stock_and_sizes_are_answered_from_the_catalog(products, shown):
    boot = products.product(shown[0])
    size = boot["sizes"][0]
    yes, _ = await run(ActionProductDetails(), turn(
        f"does the first one come in size {size}", "product_details", {"size": size}, slots={"shown_product_ids": shown}))
    assert texts(yes)[0].startswith(f"Yes, the {boot['title']} comes in size {size}.")
    no, _ = await run(ActionProductDetails(), turn(
        "does the first one come in size 52", "product_details", {"size": "52"}, slots={"shown_product_ids": shown}))
    assert texts(no)[0].startswith(f"No, the {boot['title']} doesn't come in size 52. Its sizes: ")
    out = next(p for p in products.products if p["stock"] == 0)
    gone, _ = await run(ActionProductDetails(), turn("is the first one in stock", "product_details",
                                                     slots={"shown_product_ids": [out["id"]]}))
    assert "Out of stock right now." in texts(gone)[0] and cards(gone)[0]["reason"] == "Out of stock right now."


async def test_a_product_named_by_its_title(products, shown):
    boot = products.product(shown[3])
    model = boot["title"].split()[1]  # "Stridewell Harbor Waterproof Hiking Boots" -> "Harbor"
    among_shown, _ = await run(ActionProductDetails(), turn(
        f"tell me about the {model} ones", "product_details", slots={"shown_product_ids": shown}))
    assert cards(among_shown)[0]["id"] == boot["id"]
    # not shown: brand and model are needed, and only one product may carry both
    from collections import Counter

    def pair(p):
        return " ".join(p["title"].split()[:2])

    pairs = Counter(pair(p) for p in products.products)
    other = next(p for p in products.products if p["category"] == "electronics" and pairs[pair(p)] == 1)
    by_name = named_product(f"is the {pair(other)} in stock", [], products.products)
    assert by_name is not None and by_name["id"] == other["id"]
    shared = next(p for p in products.products if pairs[pair(p)] > 1)
    assert named_product(f"is the {pair(shared)} in stock", [], products.products) is None
    assert named_product(f"is the {shared['title']} in stock", [], products.products)["id"] == shared["id"]
    assert named_product("what sizes are there", [], products.products) is None


async def test_reviews_are_quoted_when_asked_for(products, shown):
    dispatcher, _ = await run(ActionProductDetails(), turn(
        "what do people say about the first one", "product_details", slots={"shown_product_ids": shown}))
    assert "What shoppers say: “" in texts(dispatcher)[0]


@pytest.mark.parametrize(("text", "slots", "expected"), [
    ("tell me more about the second one", {}, "I haven't shown you any products yet. What are you looking for?"),
    ("tell me more about the ninth one", {"shown_product_ids": ["P0001", "P0002"]},
     "I showed you 2 products. Which one do you mean?"),
    ("is it in stock?", {"shown_product_ids": ["P0001", "P0002"]}, ASK_WHICH),
    ("is it in stock?", {"focus_product_id": "P9999"}, ASK_WHICH),
    ("x" * 5000, {}, ASK_WHICH),
])
async def test_without_a_product_to_point_at_it_asks(products, text, slots, expected):
    dispatcher, events = await run(ActionProductDetails(), turn(text, "product_details", slots=slots))
    assert texts(dispatcher) == [expected] and events == {}


async def test_the_product_page_the_shopper_is_on(products):
    dispatcher, _ = await run(ActionProductDetails(), turn("is it in stock?", "product_details",
                                                           metadata={"product_id": "P0003"}))
    assert cards(dispatcher)[0]["id"] == "P0003"


async def test_a_missing_index_is_an_apology(tmp_path, monkeypatch):
    from retrieval.product_index import ProductIndex

    monkeypatch.setattr(product_index, "_shared", ProductIndex(index_path=tmp_path / "none"))
    dispatcher, _ = await run(ActionProductDetails(), turn("is it in stock?", "product_details"))
    assert texts(dispatcher) == ["Sorry, product search isn't available right now. Please try again in a little while."]


@pytest.mark.parametrize(("text", "aspects"), [
    ("is it any good?", {"reviews"}), ("what sizes does it come in", {"sizes"}), ("how much is it", {"price"}),
    ("is the second one still available", {"stock"}), ("what colour is it", {"colour"}), ("tell me more", set()),
])
def test_aspects_of_a_question(text, aspects):
    assert asked_aspects(text) == aspects


async def test_a_question_about_one_thing_gets_that_thing(products, shown):
    boot = products.product(shown[0])
    first_sentence = boot["description"].split(". ")[0]

    async def ask(text, entities=None):
        dispatcher, _ = await run(ActionProductDetails(), turn(text, "product_details", entities,
                                                               slots={"shown_product_ids": shown}))
        return texts(dispatcher)[0]

    sizes = await ask("what sizes does the first one come in")
    assert f"Sizes: {', '.join(boot['sizes'])}." in sizes and first_sentence not in sizes and "$" not in sizes
    stock = await ask("is the first one in stock")
    assert stock.splitlines()[0] == f"{boot['title']} by {boot['brand']}. {stock_line(boot)}" and first_sentence not in stock
    both = await ask(f"is the first one in stock in size {boot['sizes'][0]}", {"size": boot["sizes"][0]})
    assert both.splitlines()[:2] == [f"Yes, the {boot['title']} comes in size {boot['sizes'][0]}.", stock_line(boot)]
    everything = await ask("tell me more about the first one")
    assert first_sentence in everything and f"${boot['price']:.2f}" in everything and "Sizes: " in everything


async def test_a_yes_no_question_about_a_feature_is_answered_from_the_description(products, shown):
    boot = next(products.product(pid) for pid in shown if "waterproof" in products.product(pid)["description"].lower())
    plain = next(p for p in products.products if "waterproof" not in f"{p['title']} {p['description']}".lower()
                 and "waterproof" not in p.get("tags", []))

    async def ask(text, slots):
        dispatcher, _ = await run(ActionProductDetails(), turn(text, "product_details", slots=slots))
        return texts(dispatcher)[0]

    yes = await ask("is it waterproof?", {"shown_product_ids": shown, "focus_product_id": boot["id"]})
    sentence = next(x for x in boot["description"].split(". ") if "waterproof" in x.lower())
    assert yes.startswith(f"The {boot['title']}:\nYes: “") and sentence in yes
    no = await ask("is it waterproof?", {"focus_product_id": plain["id"]})
    assert "doesn't mention “waterproof”" in no and plain["title"] in no
    # words that name the product are not features of it
    assert asked_features(f"is the {boot['title']} in blue", [boot], [boot], entity_values=["blue"]) == []
    assert asked_features("does the first one have a hood?", [boot]) == ["hood"]
    assert asked_features("what's it like?", [boot]) == []
    # nor is the kind of product: "boots" of hiking boots would get "Yes, it's listed as boots"
    assert asked_features("are the first two boots waterproof?", [boot, boot], comparing=True) == ["waterproof"]


async def test_a_feature_said_in_other_words_quotes_the_closest_sentence_without_a_yes(products):
    pan = next(p for p in products.products if "PFAS-free" in p["description"])
    dispatcher, _ = await run(ActionProductDetails(), turn(
        "is it teflon free?", "product_details", slots={"focus_product_id": pan["id"]}))
    [reply] = texts(dispatcher)
    sentence = next(x for x in pan["description"].split(". ") if "PFAS-free" in x)
    assert "doesn't say “teflon free” in those words" in reply and sentence in reply
    assert "Yes" not in reply
    # a feature nothing in the description is close to still gets the plain "doesn't mention"
    dispatcher, _ = await run(ActionProductDetails(), turn(
        "is it dishwasher safe?", "product_details", slots={"focus_product_id": pan["id"]}))
    [reply] = texts(dispatcher)
    assert "doesn't mention “dishwasher safe”" in reply and "closest" not in reply


def test_neighbouring_words_are_one_feature():
    assert asked_features("is it machine washable?", []) == ["machine washable"]
    assert asked_features("is it waterproof and breathable?", []) == ["waterproof", "breathable"]
    assert asked_features("is it free of bpa?", []) == ["free of bpa"]
    assert asked_features("is the lining made of wool or cotton", []) == ["lining", "wool", "cotton"]


async def test_it_means_the_product_in_view_even_when_a_title_shares_the_word(products, shown):
    # "is it waterproof?" once picked the one shown card with "Waterproof" in its title
    boots = [products.product(pid) for pid in shown]
    titled = [b for b in boots if "waterproof" in b["title"].lower()]
    focus = next(b for b in boots if b not in titled)
    dispatcher, _ = await run(ActionProductDetails(), turn(
        "is it waterproof?", "product_details", slots={"shown_product_ids": [titled[0]["id"], focus["id"]],
                                                        "focus_product_id": focus["id"]}))
    assert cards(dispatcher)[0]["id"] == focus["id"]


@pytest.mark.parametrize(("text", "expected"), [
    ("compare the first two", [1, 2]), ("the first and the third one", [1, 3]), ("first one vs second one", [1, 2]),
    ("which is cheaper, the second or the last?", [2, -1]), ("number 1 or number 3", [1, 3]),
    ("how do the top three compare", [1, 2, 3]), ("the first one, and again the first one", [1]),
    ("compare them", []),
])
def test_positions_of_a_comparison(text, expected):
    assert positions(text) == expected


async def test_two_shown_products_side_by_side(products, shown):
    first, third = products.product(shown[0]), products.product(shown[2])
    dispatcher, slots = await run(ActionProductDetails(), turn(
        "what's the difference between the first and the third one?", "product_details",
        slots={"shown_product_ids": shown, "focus_product_id": shown[1]}))
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


async def test_compare_them_compares_what_was_shown(products, shown):
    dispatcher, _ = await run(ActionProductDetails(), turn(
        "which one is better rated?", "product_details", slots={"shown_product_ids": shown[:3]}))
    assert [c["id"] for c in cards(dispatcher)] == shown[:3]
    rated = [products.product(pid) for pid in shown[:3]]
    best = max(rated, key=lambda p: p["rating"])
    if sum(p["rating"] == best["rating"] for p in rated) == 1:
        assert f"Best rated: the {best['title']}" in texts(dispatcher)[0]


async def test_products_named_by_a_word_only_their_title_has(products, shown):
    boots = [products.product(pid) for pid in shown]
    picked = compared_products(f"the {boots[1]['title']} or the {boots[3]['title']}, which is better?", boots)
    assert [p["id"] for p in picked] == [boots[1]["id"], boots[3]["id"]]


async def test_a_comparison_that_does_not_fit_what_was_shown(products, shown):
    for slots, expected in (({"shown_product_ids": shown[:2]}, "I showed you 2 products. Which ones do you mean?"),
                            ({}, "I haven't shown you any products yet. What are you looking for?")):
        dispatcher, events = await run(ActionProductDetails(), turn("compare the first and the fourth", "product_details",
                                                                    slots=slots))
        assert texts(dispatcher) == [expected] and events == {}
    # one card shown: "which is cheaper" is about that card, not a comparison
    assert compared_products("which one is cheaper?", [products.product(shown[0])]) is None


async def test_a_feature_asked_of_compared_products(products, shown):
    boots = [products.product(pid) for pid in shown[:2]]
    dispatcher, _ = await run(ActionProductDetails(), turn(
        "which of the first two is waterproof?", "product_details", slots={"shown_product_ids": shown}))
    lines = texts(dispatcher)[0].splitlines()
    for number, boot in enumerate(boots, start=1):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{number}. {boot['title']}"))
        answer = lines[at + 1]
        assert answer.startswith("   ")
        described = "waterproof" in boot["description"].lower()
        assert answer.strip().startswith("Yes") == (described or "waterproof" in boot["title"].lower()
                                                    or "waterproof" in boot.get("tags", []))


def test_the_cheapest_or_best_rated_one_among_those_shown(products, shown):
    boots = [products.product(pid) for pid in shown]
    assert superlative("is the cheapest one in stock?", boots) is min(boots, key=lambda p: p["price"])
    assert superlative("the most expensive one", boots) is max(boots, key=lambda p: p["price"])
    assert superlative("tell me about the best-rated one", boots) is max(boots, key=lambda p: p["rating"])
    assert superlative("is it in stock?", boots) is None
    assert superlative("the cheapest one", []) is None


async def test_the_cheapest_one_after_a_comparison(products, shown):
    cheapest = min((products.product(pid) for pid in shown), key=lambda p: p["price"])
    dispatcher, slots = await run(ActionProductDetails(), turn(
        "is the cheapest one in stock?", "product_details", slots={"shown_product_ids": shown}))
    assert [c["id"] for c in cards(dispatcher)] == [cheapest["id"]]
    assert cheapest["title"] in texts(dispatcher)[0]
    assert slots == {"focus_product_id": cheapest["id"]}


async def test_a_comparison_offers_a_colleague_once(products, shown):
    dispatcher, _ = await run(ActionProductDetails(), turn(
        "which of them has a heated lining?", "product_details", slots={"shown_product_ids": shown}))
    [reply] = texts(dispatcher)
    assert reply.count("just ask for a human") == 1 and reply.endswith("just ask for a human.")
    assert reply.count("doesn't mention “heated lining”") >= 2


async def test_the_best_rated_one_gets_all_its_details_not_only_reviews(products, shown):
    best = max((products.product(pid) for pid in shown), key=lambda p: p["rating"])
    dispatcher, _ = await run(ActionProductDetails(), turn(
        "tell me about the best rated one", "product_details", slots={"shown_product_ids": shown}))
    [reply] = texts(dispatcher)
    assert best["url"] in reply and f"${best['price']:.2f}" in reply
    assert any(sentence in reply for sentence in best["description"].split(". "))
