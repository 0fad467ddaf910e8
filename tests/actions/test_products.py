"""The product actions through a CollectingDispatcher, on the demo catalog in a real product index."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.products import ActionProductFeedback, ActionRecommendProducts, ActionSearchProducts, ActionUnclearMessage
from retrieval import product_index
from retrieval.services import ServiceRegistry
from shop.db import ShopDB
from tests.actions.conftest import load_tracker, slot_events, texts


@pytest.fixture
def products(demo_products):
    return demo_products


@pytest.fixture
def services(shop_db_url, products, embedder):
    """The actions' services: the test's shop DB and the demo product index. The recommender
    comes from `SHOP_RECOMMENDER_PATH` unless a test gives one."""
    return ServiceRegistry(shop_db=ShopDB(shop_db_url), product_index=products, embedder=embedder)


@pytest.fixture
def recommender(trained_recommender, services):
    """The services with a recommender trained on the demo shop."""
    return replace_settings(services, recommender_path=trained_recommender)


def replace_settings(services: ServiceRegistry, **changed: Any) -> ServiceRegistry:
    """A registry like `services` (same DB and index) whose settings differ, as a shop would configure them."""
    return ServiceRegistry(
        settings=dataclasses.replace(services.settings, **changed),
        shop_db=services.shop_db,
        product_index=services.product_index,
        embedder=services.embedder,
    )


def turn(
    text: str,
    intent: str,
    entities: dict[str, Any] | None = None,
    slots: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    tracker = load_tracker(
        "order_form_filled",
        {"order_id": None, "email": None, **(slots or {})},
        text=text,
        intent=intent,
        sender_id="shopper",
    )
    tracker.latest_message["entities"] = [span(text, k, v) for k, v in (entities or {}).items()]
    tracker.latest_message["metadata"] = metadata or {}
    return tracker


def span(text: str, entity: str, value: Any) -> dict[str, Any]:
    """The entity as the NLU gives it: with its place in the text where the text says it."""
    at = text.lower().find(value.lower()) if isinstance(value, str) else -1
    return {"entity": entity, "value": value} | ({"start": at, "end": at + len(value)} if at >= 0 else {})


async def run(action, tracker: Tracker) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher, slot_events(events)


def cards(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    [message] = dispatcher.messages
    assert message["custom"]["type"] == "product_cards"
    return message["custom"]["products"]


async def test_search_cards_honour_brand_and_price_and_carry_a_reason(products, services):
    dispatcher, slots = await run(
        ActionSearchProducts(services),
        turn(
            "TrailForge trail running shoes under 150",
            "search_product",
            {"brand": "TrailForge", "product_category": "trail running shoes", "price_max": "150"},
        ),
    )
    found = cards(dispatcher)
    assert found and all(c["price"] <= 150 and c["title"].startswith("TrailForge") for c in found)
    assert all(c["reason"] and c["url"].startswith("/product/") and c["image_url"] for c in found)
    # Few products match everything, so near matches of another product type follow them, saying so
    exact = [c for c in found if products.product(c["id"])["subcategory"] == "trail running shoes"]
    near = found[len(exact) :]
    assert exact == found[: len(exact)] and len(exact) == 3 and len(found) == 5
    assert all(c["reason"].startswith("matches") for c in exact)
    assert all(
        c["reason"] == f"{products.product(c['id'])['subcategory']} rather than trail running shoes" for c in near
    )
    # the plain-text fallback lists them too
    assert texts(dispatcher)[0].startswith("Only 3 match everything; after them, some alternatives:")
    assert all(c["title"] in texts(dispatcher)[0] for c in found)
    assert slots["shown_product_ids"] == [c["id"] for c in found] and slots["search_page"] == 0


async def test_other_colours_follow_the_few_in_the_colour_asked_for(products, services):
    dispatcher, _ = await run(
        ActionSearchProducts(services),
        turn("grey yoga mat", "search_product", {"color": "grey", "product_category": "yoga mat"}),
    )
    found = [(c, products.product(c["id"])) for c in cards(dispatcher)]
    grey = [c for c, p in found if p["color"] == "grey"]
    assert grey and len(found) == 5 and [c for c, _ in found[: len(grey)]] == grey
    assert texts(dispatcher)[0].startswith(f"Only {len(grey)} match everything; after them, some in other colours:")
    assert all(
        c["reason"] == f"in {p['color']}, not grey" and p["subcategory"] == "yoga mats" for c, p in found[len(grey) :]
    )


async def test_a_new_search_clears_the_earlier_constraints(products, services):
    _, slots = await run(
        ActionSearchProducts(services),
        turn(
            "show me headphones",
            "search_product",
            {"product_category": "headphones"},
            slots={"color": "pink", "price_max": "20", "search_query": "pink sneakers"},
        ),
    )
    assert slots["color"] is None and slots["price_max"] is None and slots["product_category"] == "headphones"


async def test_several_product_words_are_one_description(products, services):
    tracker = turn("high rise leggings with pockets for yoga", "search_product")
    # three product_category spans, as the NLU tags this message: the last alone ("yoga") would mean yoga mats
    tracker.latest_message["entities"] = [
        {"entity": "product_category", "value": v} for v in ("rise leggings", "pockets", "yoga")
    ]
    dispatcher, slots = await run(ActionSearchProducts(services), tracker)
    assert slots["product_category"] == "rise leggings pockets yoga"
    assert all(products.product(c["id"])["subcategory"] == "leggings" for c in cards(dispatcher))


async def test_follow_ups_keep_the_earlier_constraints(products, services):
    first, slots = await run(
        ActionSearchProducts(services),
        turn("hoodies under 90", "search_product", {"product_category": "hoodies", "price_max": "90"}),
    )
    # "in navy": the NLU fills the colour slot; the query and the price limit stay
    blue, slots2 = await run(
        ActionSearchProducts(services), turn("in navy", "inform", {"color": "navy"}, slots={**slots, "color": "navy"})
    )
    assert all(c["price"] <= 90 and "Hood" in c["title"] for c in cards(blue))
    assert slots2["search_query"] == "hoodies under 90" and slots2["color"] == "navy"
    # "cheaper": below the cheapest product shown so far, still hoodies, or says there is none
    shown = cards(first)
    limit = min(c["price"] for c in shown)
    cheaper, slots3 = await run(
        ActionSearchProducts(services), turn("something cheaper", "cheaper_products", slots=slots)
    )
    exists = any(p["subcategory"] == "hoodies" and p["price"] < limit and p["stock"] for p in products.products)
    if exists:
        assert all(c["price"] < limit and "Hood" in c["title"] for c in cards(cheaper))
        assert texts(cheaper)[0].startswith(f"Cheaper than ${limit:.2f}")
    else:
        assert texts(cheaper) == [
            f"${limit:.2f} is already the lowest price I have for that. "
            "Want to change something else, like the brand or the colour?"
        ]
    # and from a search whose cheapest match was not shown, "cheaper" finds cheaper ones
    for kind in ("hiking boots", "sneakers", "rain jackets", "backpacks"):
        page, slots5 = await run(
            ActionSearchProducts(services), turn(kind, "search_product", {"product_category": kind})
        )
        shown_limit = min(c["price"] for c in cards(page))
        if any(p["subcategory"] == kind and p["price"] < shown_limit and p["stock"] for p in products.products):
            break
    else:
        pytest.fail("every search showed its cheapest match: nothing to ask a cheaper one of")
    cheaper, slots6 = await run(ActionSearchProducts(services), turn("cheaper?", "cheaper_products", slots=slots5))
    kinds = {products.product(c["id"])["subcategory"] for c in cards(cheaper)}  # type: ignore[index]
    assert cards(cheaper) and all(c["price"] < shown_limit for c in cards(cheaper)) and kinds == {kind}
    assert float(slots6["price_max"]) < shown_limit
    # "show more": the next page, nothing repeated
    more, slots4 = await run(ActionSearchProducts(services), turn("show more", "show_more_products", slots=slots))
    assert slots4["search_page"] == 1
    assert not {c["id"] for c in cards(more)} & {c["id"] for c in shown}


async def test_a_follow_up_in_the_shoppers_own_words_narrows_the_search(products, services):
    first, slots = await run(
        ActionSearchProducts(services),
        turn("show me cheap headphones", "search_product", {"product_category": "headphones"}),
    )
    assert texts(first)[0].startswith("Here's what I found, cheapest first:")
    prices = [c["price"] for c in cards(first)]
    assert prices == sorted(prices)
    # "the wireless ones": every exact match mentions it, the search is still headphones
    wireless, slots2 = await run(ActionSearchProducts(services), turn("the wireless ones", "inform", slots=slots))
    assert slots2["search_terms"] == ["wireless"] and slots2["product_category"] == "headphones"
    shown = cards(wireless)
    exact = [c for c in shown if not c["reason"].endswith("rather than headphones")]
    assert exact and all("wireless" in c["reason"] for c in exact)
    assert all(products.product(c["id"])["subcategory"] == "headphones" for c in exact)
    # then "in black": the word stays required, the colour joins it
    black, slots3 = await run(
        ActionSearchProducts(services),
        turn("in black", "inform", {"color": "black"}, slots={**slots2, "color": "black"}),
    )
    assert slots3["search_terms"] == ["wireless"] and slots3["color"] == "black"
    black_exact = [products.product(c["id"]) for c in cards(black) if "not black" not in c["reason"]]
    assert black_exact and all(p["color"] == "black" for p in black_exact)
    # a new search starts over
    _, slots4 = await run(
        ActionSearchProducts(services),
        turn("running shoes", "search_product", {"product_category": "running shoes"}, slots=slots3),
    )
    assert slots4["search_terms"] == []
    # and so does a follow-up naming another product, whatever the NLU called it
    hoodie, slots5 = await run(
        ActionSearchProducts(services),
        turn(
            "purple hoodie",
            "inform",
            {"color": "purple", "product_category": "hoodie"},
            slots={**slots3, "color": "purple", "product_category": "hoodie"},
        ),
    )
    assert slots5["search_terms"] == [] and slots5["search_query"] == "purple hoodie"
    assert all("Hoodie" in c["title"] for c in cards(hoodie))
    # while the same product word refines
    _, slots6 = await run(
        ActionSearchProducts(services),
        turn(
            "wireless headphones in black",
            "inform",
            {"color": "black", "product_category": "headphones"},
            slots={**slots2, "color": "black"},
        ),
    )
    assert slots6["search_terms"] == ["wireless"] and slots6["search_query"].startswith("show me cheap headphones")


async def test_no_match_relaxes_one_constraint_and_says_which(products, services):
    dispatcher, _ = await run(
        ActionSearchProducts(services),
        turn(
            "pink sneakers under 20",
            "search_product",
            {"color": "pink", "product_category": "sneakers", "price_max": "20"},
        ),
    )
    assert texts(dispatcher)[0].startswith("Nothing matched all of that, so I left out the price limit (under $20)")
    assert all("Sneakers" in c["title"] for c in cards(dispatcher))


@pytest.mark.parametrize("text", ["", "x" * 5000, "'; DROP TABLE products;--", "\u0000\u202e😀"])
async def test_odd_input_never_crashes(products, text, services):
    dispatcher, _ = await run(ActionSearchProducts(services), turn(text, "search_product"))
    assert len(dispatcher.messages) == 1 and dispatcher.messages[0]["text"]


async def test_a_missing_index_is_an_apology(tmp_path, embedder, shop_db_url):
    services = ServiceRegistry(
        shop_db=ShopDB(shop_db_url),
        embedder=embedder,
        product_index=product_index.ProductIndex(index_path=tmp_path / "none", embedder=embedder),
    )
    dispatcher, _ = await run(ActionSearchProducts(services), turn("shoes", "search_product"))
    assert texts(dispatcher) == ["Sorry, product search isn't available right now. Please try again in a little while."]


async def test_thumbs_are_stored_for_the_recommender(shop_db_url, products, services):

    dispatcher, slots = await run(
        ActionProductFeedback(services),
        turn(
            '/product_feedback{"product_id": "P0015", "feedback": "up"}',
            "product_feedback",
            {"product_id": "P0015", "feedback": "up"},
            slots={"verified_customer_id": "C0000"},
        ),
    )
    assert slots["liked_product_ids"] == ["P0015"] and "Thanks" in texts(dispatcher)[0]
    await run(
        ActionProductFeedback(services), turn("", "product_feedback", {"product_id": "P0016", "feedback": "down"})
    )
    stored = [
        (i["customer_id"], i["product_id"], i["event"])
        for i in services.shop_db.interactions()
        if i["event"].startswith("feedback")
    ]
    assert stored[-2:] == [("C0000", "P0015", "feedback_up"), (None, "P0016", "feedback_down")]


@pytest.mark.parametrize(
    "entities",
    [
        {"product_id": "P9999", "feedback": "up"},
        {"product_id": "P0001", "feedback": "meh"},
        {"product_id": "x" * 500, "feedback": "up"},
        {},
    ],
)
async def test_bad_feedback_is_refused_politely(shop_db_url, products, entities, services):
    dispatcher, slots = await run(ActionProductFeedback(services), turn("", "product_feedback", entities))
    assert texts(dispatcher) == ["Sorry, I didn't catch which product that was about."] and slots == {}


async def test_recommendations_come_with_a_reason_for_each_card(recommender):
    dispatcher, slots = await run(
        ActionRecommendProducts(recommender), turn("what would you recommend?", "recommend_product")
    )
    found = cards(dispatcher)
    assert len(found) == 5 and all(c["reason"] for c in found)
    assert slots["shown_product_ids"] == [c["id"] for c in found]


async def test_recommendations_follow_the_product_words_and_the_conversation(recommender, products):
    dispatcher, _ = await run(
        ActionRecommendProducts(recommender),
        turn("recommend me some headphones", "recommend_product", {"product_category": "headphones"}),
    )
    assert all(products.product(c["id"])["subcategory"] == "headphones" for c in cards(dispatcher))
    cold, _ = await run(ActionRecommendProducts(recommender), turn("recommend something", "recommend_product"))
    liked, _ = await run(
        ActionRecommendProducts(recommender),
        turn(
            "recommend something",
            "recommend_product",
            slots={"liked_product_ids": ["P0015"]},
            metadata={"product_id": "P0016"},
        ),
    )
    assert [c["id"] for c in cards(liked)] != [c["id"] for c in cards(cold)]
    assert not {"P0015", "P0016"} & {c["id"] for c in cards(liked)}


async def test_recommendations_after_a_search_lean_towards_what_was_searched(recommender, products):
    # "recommend something" right after searching t-shirts once ignored the search entirely.
    # The search leans the blend (clothing), it does not narrow it to t-shirts.
    def clothing(dispatcher) -> int:
        return sum(products.product(c["id"])["category"] == "clothing" for c in cards(dispatcher))

    cold, _ = await run(ActionRecommendProducts(recommender), turn("recommend something for me", "recommend_product"))
    after, _ = await run(
        ActionRecommendProducts(recommender),
        turn("recommend something for me", "recommend_product", slots={"search_query": "organic cotton t-shirt"}),
    )
    assert clothing(after) > clothing(cold)
    assert len(cards(after)) == 5


async def test_a_situation_instead_of_a_product_gets_products_for_that_use(recommender, products):
    # "I'm going skiing in January" names no product, and every product is far from it: the
    # recommendations were the shop's overall favourites (sneakers).
    dispatcher, _ = await run(
        ActionRecommendProducts(recommender), turn("I'm going skiing in January", "recommend_product")
    )
    found = cards(dispatcher)
    assert found and all({"ski", "winter"} & set(products.product(c["id"])["tags"]) for c in found)
    assert all(c["reason"].startswith(("for ski: ", "for winter: ")) for c in found)
    plain, _ = await run(ActionRecommendProducts(recommender), turn("what would you recommend?", "recommend_product"))
    assert not any(c["reason"].startswith("for ") for c in cards(plain))
    # A word the NLU tagged as a product that the catalog has no product for changes nothing
    # (it once made every loosely related product a candidate: slippers for muddy hikes).
    text = "something to keep my feet dry on muddy hikes"
    tagged, _ = await run(
        ActionRecommendProducts(recommender), turn(text, "recommend_product", {"product_category": "muddy"})
    )
    untagged, _ = await run(ActionRecommendProducts(recommender), turn(text, "recommend_product"))
    assert cards(tagged) == cards(untagged)
    assert any(c["reason"].startswith("for hiking: ") for c in cards(tagged))
    assert all(
        "hiking" in products.product(c["id"])["tags"]
        or products.product(c["id"])["subcategory"] in ("trail running shoes", "hiking boots")
        for c in cards(tagged)
    )


async def test_a_known_customer_gets_personal_recommendations(recommender):
    anonymous, _ = await run(ActionRecommendProducts(recommender), turn("any suggestions?", "recommend_product"))
    known, _ = await run(
        ActionRecommendProducts(recommender),
        turn("any suggestions?", "recommend_product", slots={"verified_customer_id": "C0001"}),
    )
    assert [c["id"] for c in cards(known)] != [c["id"] for c in cards(anonymous)]


async def test_a_missing_recommender_is_an_apology(tmp_path, services):
    services = replace_settings(services, recommender_path=tmp_path / "none")
    dispatcher, _ = await run(ActionRecommendProducts(services), turn("recommend something", "recommend_product"))
    assert texts(dispatcher) == ["Sorry, product search isn't available right now. Please try again in a little while."]


async def test_a_product_the_shop_does_not_carry_is_said_so_with_the_closest(services):
    dispatcher, _ = await run(
        ActionSearchProducts(services),
        turn("do you have pizza ovens?", "search_product", {"product_category": "pizza ovens"}),
    )
    [message] = dispatcher.messages
    assert message["text"].startswith("Sorry, we don't carry pizza ovens. The closest I have:")
    assert cards(dispatcher)  # oven-safe cookware
    # No word of the message is one the catalog's products are called by: no "closest"
    # products (a hoodie and dumbbells had been), a question.
    mowers, _ = await run(
        ActionSearchProducts(services),
        turn("do you sell lawnmowers", "search_product", {"product_category": "lawnmowers"}),
    )
    assert texts(mowers) == ["Sorry, we don't carry lawnmowers. Is there something else I can find for you?"]
    assert not mowers.messages[0].get("custom")
    carried, _ = await run(
        ActionSearchProducts(services),
        turn("do you have hiking boots?", "search_product", {"product_category": "hiking boots"}),
    )
    assert "don't carry" not in texts(carried)[0]
    # The NLU stops at the catalog's words ("hiking" of "hiking poles"); the noun after it is
    # part of the product the shopper named, and the hiking products are the closest.
    poles, _ = await run(
        ActionSearchProducts(services),
        turn("do you have hiking poles?", "search_product", {"product_category": "hiking"}),
    )
    assert texts(poles)[0].startswith("Sorry, we don't carry hiking poles. The closest I have:")
    assert any("hiking" in c["title"].lower() or "hiking" in c["reason"] for c in cards(poles))
    for polite in ("do you have hiking boots please", "hiking boots size 42", "comfy hiking boots"):
        entities = {"product_category": "hiking boots"}
        carried, _ = await run(ActionSearchProducts(services), turn(polite, "search_product", entities))
        assert "don't carry" not in texts(carried)[0], polite


async def test_the_find_a_product_button_asks_what_to_find_in_the_shops_own_words(services, products):
    """The button's payload ("/search_product") is no query: the shopper is asked, with an
    example made of the catalog's commonest product type and a round price in its currency."""
    dispatcher, events = await run(ActionSearchProducts(services), turn("/search_product", "search_product"))
    [message] = dispatcher.messages
    kind, limit, _ = services.product_search.example_query()
    assert message["text"] == f'What are you looking for? For example "{kind} under ${limit}".'
    assert not message.get("custom") and events == {}


async def test_an_unclear_message_naming_the_shops_products_is_searched(services, products):
    santoku = next(p for p in products.products if "santoku" in p["title"].lower())
    dispatcher, events = await run(ActionUnclearMessage(services), turn("santoku knife", "nlu_fallback"))
    assert santoku["id"] in [c["id"] for c in cards(dispatcher)]
    assert events["search_query"] == "santoku knife"
    other, events = await run(ActionUnclearMessage(services), turn("tell me a joke", "out_of_scope"))
    assert [m.get("response") for m in other.messages] == ["utter_capabilities"]
    assert events == {}


async def test_an_out_of_scope_message_describing_a_need_a_product_meets_is_searched(services, products):
    """No word of it names a product, and the NLU found it out of scope; it comes closer to a
    product than 95% of off-topic requests come to the catalog, so it is searched."""
    need = "my feet get soaked every time I walk the muddy trails, what should I wear"
    assert services.product_search.named_products(need) is None
    dispatcher, events = await run(ActionUnclearMessage(services), turn(need, "out_of_scope"))
    assert any("waterproof" in f"{c['title']} {c['reason']}".lower() for c in cards(dispatcher)), texts(dispatcher)
    assert events["search_query"]
    cut = products.off_topic_cosine()
    assert 0.1 < cut < 0.5
    for chatter in ("tell me a joke", "what's the capital of Peru", "who won the football game last night"):
        other, events = await run(ActionUnclearMessage(services), turn(chatter, "out_of_scope"))
        assert [m.get("response") for m in other.messages] == ["utter_capabilities"], chatter
        assert events == {}


async def test_cheaper_after_recommendations_looks_for_cheaper_ones_of_the_same_kind(services, products):
    headphones = sorted(
        (p for p in products.products if p["subcategory"] == "headphones"), key=lambda p: -float(p["price"])
    )[:3]
    shown = {"shown_product_ids": [p["id"] for p in headphones], "search_query": None}
    dispatcher, _ = await run(ActionSearchProducts(services), turn("cheaper ones?", "cheaper_products", slots=shown))
    limit = min(float(p["price"]) for p in headphones)
    found = cards(dispatcher)
    assert found and all(float(c["price"]) < limit for c in found)
    assert sum(products.product(c["id"])["subcategory"] == "headphones" for c in found) >= len(found) / 2


async def test_a_search_naming_a_product_in_full_puts_it_in_focus_for_the_next_question(services, products):
    boots = next(p for p in products.products if p["subcategory"] == "hiking boots")
    _, slots = await run(ActionSearchProducts(services), turn(f"the {boots['title']} please", "search_product"))
    assert slots["focus_product_id"] == boots["id"]
    _, slots = await run(ActionSearchProducts(services), turn("hiking boots", "search_product"))
    assert "focus_product_id" not in slots


async def test_a_search_that_names_returning_is_asked_of_the_documents_first(services):
    """The NLU's `order_action` in a message it read as a search: a question about the return
    policy that names a product, answered (or, when the documents are less sure, suggested) from
    them, not searched."""
    dispatcher, events = await run(
        ActionSearchProducts(services),
        turn(
            "can I still return the jacket I got 3 weeks ago?",
            "search_product",
            {"product_category": "jacket", "order_action": "return"},
        ),
    )
    message, *offer = dispatcher.messages
    assert "30 days" in message["text"] and "_Source: Returns" in message["text"]
    # A sure answer is followed by the offer to act; a hedged suggestion is not.
    assert [m.get("response") for m in offer] in ([], ["utter_offer_return"])
    assert "search_query" not in events


async def test_a_size_asked_of_a_product_named_in_full_is_answered_by_its_details(services, products):
    """ "do the <whole title> come in size 42?" is a question about that product: its details
    answer it (the yes or no and its sizes), not a list of near matches, and "how much are
    they?" then is about it."""
    from actions.product_details import ActionProductDetails

    boots = next(p for p in products.products if p["subcategory"] == "hiking boots" and p.get("sizes"))
    dispatcher, slots = await run(
        ActionSearchProducts(services),
        turn(f"do the {boots['title']} come in size 42?", "nlu_fallback", {"size": "42"}),
    )
    [message] = dispatcher.messages
    assert boots["title"] in message["text"] and "size 42" in message["text"]
    assert message["text"].startswith(("Yes, the", "No, the")) and "Here's what I found" not in message["text"]
    assert slots["focus_product_id"] == boots["id"] and slots["shown_product_ids"] == [boots["id"]]

    price = CollectingDispatcher()
    await ActionProductDetails(services).run(price, turn("how much are they", "product_details", slots=slots), {})
    assert f"{float(boots['price']):.2f}" in price.messages[0]["text"]


async def test_a_search_that_matches_nothing_but_the_documents_answer_was_a_question(services):
    dispatcher, events = await run(
        ActionSearchProducts(services),
        turn("is there a minimum amount for klarna?", "search_product", {"brand": "klarna"}),
    )
    [message] = dispatcher.messages
    assert "$35" in message["text"] and "_Source: Payment" in message["text"]
    assert events == {"answered_question": "is there a minimum amount for klarna?", "offered_action": None}


async def test_a_word_the_catalog_lacks_but_the_documents_suggest_gets_the_hedged_passage(services, monkeypatch):
    """ "do you take amex?" read as a search: the shop carries no "amex", and the passage the
    documents only suggest, or that names it, beats "we don't carry amex" with the closest
    cleansers."""
    kb = services.knowledge_base
    question = "do you take amex?"
    [top] = kb.search(question, k=1)
    monkeypatch.setattr(kb, "min_confidence", top.confidence + 0.01)
    monkeypatch.setattr(kb, "suggest_confidence", top.confidence - 0.01)
    dispatcher, _ = await run(
        ActionSearchProducts(services), turn(question, "search_product", {"product_category": "amex"})
    )
    [message] = dispatcher.messages
    assert message["text"].startswith("I'm not completely sure") and "don't carry" not in message["text"]
    assert top.heading in message["text"]
    # Below the suggestion cut-off too, the passage names what "amex" stands for: still hedged.
    monkeypatch.setattr(kb, "suggest_confidence", top.confidence + 0.01)
    named, _ = await run(ActionSearchProducts(services), turn(question, "search_product", {"product_category": "amex"}))
    assert texts(named)[0].startswith("I'm not completely sure") and top.heading in texts(named)[0]
    # A word the passage does not name, even one the documents suggest by its score: the shop
    # doesn't carry it.
    [near] = kb.search("do you take venmo?", k=1)
    monkeypatch.setattr(kb, "min_confidence", near.confidence + 0.01)
    monkeypatch.setattr(kb, "suggest_confidence", near.confidence - 0.01)
    venmo, _ = await run(
        ActionSearchProducts(services), turn("do you take venmo?", "search_product", {"product_category": "venmo"})
    )
    assert texts(venmo)[0].startswith("Sorry, we don't carry venmo.")


async def test_a_search_that_only_dropped_a_constraint_keeps_its_near_matches_over_a_hedged_passage(
    services, monkeypatch
):
    kb = services.knowledge_base
    question = "pink sneakers under 20"
    [top] = kb.search(question, k=1)
    monkeypatch.setattr(kb, "min_confidence", top.confidence + 0.01)
    monkeypatch.setattr(kb, "suggest_confidence", top.confidence - 0.01)
    dispatcher, _ = await run(
        ActionSearchProducts(services),
        turn(question, "search_product", {"color": "pink", "product_category": "sneakers", "price_max": "20"}),
    )
    assert texts(dispatcher)[0].startswith("Nothing matched all of that, so I left out the price limit")
    assert cards(dispatcher)


async def test_right_after_an_answer_a_question_naming_a_product_is_answered_not_searched(services):
    """ "what about earbuds I unsealed?" right after the answer on opened items is a follow-up
    the documents answer with confidence; a search for earbuds then is still a search, and so is
    the same question with no answer just before it (a product query alone can look like a
    passage to the encoder)."""
    answered = "can i return a lipstick i already opened?"

    def after_an_answer(text: str) -> Tracker:
        tracker = turn(text, "search_product", {"product_category": "earbuds"})
        tracker.events.extend(
            [
                {"event": "user", "text": answered, "parse_data": {"intent": {"name": "ask_faq"}}},
                {"event": "action", "name": "action_answer_faq"},
                {"event": "slot", "name": "answered_question", "value": answered},
                {"event": "user", "text": text, "parse_data": {"intent": {"name": "search_product"}}},
            ]
        )
        return tracker

    dispatcher, events = await run(ActionSearchProducts(services), after_an_answer("what about earbuds i unsealed"))
    [message] = dispatcher.messages
    assert "_Source: Returns" in message["text"] and "unsealed" in message["text"]
    assert "answered_question" in events and "search_query" not in events

    searched, events = await run(ActionSearchProducts(services), after_an_answer("do you have earbuds?"))
    assert events["search_query"] == "do you have earbuds?" and "_Source" not in searched.messages[0]["text"]

    alone, events = await run(
        ActionSearchProducts(services),
        turn("what about earbuds i unsealed", "search_product", {"product_category": "earbuds"}),
    )
    assert events["search_query"] == "what about earbuds i unsealed"


async def test_an_unclear_message_with_a_price_the_nlu_tagged_is_searched_within_it(services):
    dispatcher, _ = await run(
        ActionUnclearMessage(services),
        turn("he likes cooking, something under $50", "nlu_fallback", {"price_max": "50"}),
    )
    prices = [float(c["price"]) for c in cards(dispatcher)]
    assert prices and max(prices) <= 50


GARDEN = Path(__file__).resolve().parents[1] / "shop" / "data" / "garden-shop"


def garden_shop_index(tmp_path: Path, embedder: Any, shop_db_url: str, kb_folder: Path) -> Any:
    """The garden-tools shop onboarded with `kb_folder` as its documents, its products indexed."""
    from retrieval.product_index import ProductIndex
    from shop.onboard import onboard

    report = onboard(
        GARDEN / "catalog.csv",
        kb_folder,
        GARDEN / "mapping.json",
        data_dir=tmp_path / "data",
        nlu_dir=tmp_path / "nlu",
        database_url=shop_db_url,
    )
    index = ProductIndex(index_path=tmp_path / "index", embedder=embedder)
    index.ingest(report.data_dir / "catalog.jsonl", progress=False)
    return index


async def test_another_shops_products_are_searched_and_what_it_lacks_is_named(tmp_path, embedder, shop_db_url):
    """A shop of garden tools, onboarded as its owner would, searched through the actions."""
    index = garden_shop_index(tmp_path, embedder, shop_db_url, GARDEN / "kb")
    services = ServiceRegistry(shop_db=ShopDB(shop_db_url), product_index=index, embedder=embedder)
    shears, _ = await run(ActionUnclearMessage(services), turn("pruning shears", "nlu_fallback"))
    assert {c["id"] for c in cards(shears)} >= {"G001", "G002", "G003"}
    mower, _ = await run(
        ActionSearchProducts(services),
        turn("do you sell lawn mowers", "search_product", {"product_category": "lawn mowers"}),
    )
    assert texts(mower)[0].startswith("Sorry, we don't carry lawn mowers.")


async def test_help_pages_about_the_products_do_not_take_a_products_name_from_the_search(
    tmp_path, embedder, shop_db_url, monkeypatch
):
    """A shop whose help pages talk about its products (a care guide): a message made of a
    product's name is searched even where the guide answers it with confidence, and a product
    the message matches more closely than the passage the guide only suggests is shown; a
    question about caring for the product still gets the guide."""
    from retrieval.knowledge_base import KnowledgeBase

    kb_folder = tmp_path / "kb"
    kb_folder.mkdir()
    (kb_folder / "care.md").write_text(
        "# Caring for your tools\n\n## Pruning shears\n"
        "Wipe the blades of your pruning shears after every use, oil the pivot once a month and "
        "sharpen the bypass blade with a fine file along its bevel.\n",
        encoding="utf-8",
    )
    index = garden_shop_index(tmp_path, embedder, shop_db_url, kb_folder)
    kb = KnowledgeBase(index_path=tmp_path / "kb-index", embedder=embedder)
    kb.ingest(kb_folder, progress=False)
    services = ServiceRegistry(shop_db=ShopDB(shop_db_url), product_index=index, knowledge_base=kb, embedder=embedder)

    monkeypatch.setattr(kb, "min_confidence", 0.05)  # the guide is sure of everything
    shears, _ = await run(ActionUnclearMessage(services), turn("pruning shears", "out_of_scope"))
    assert {c["id"] for c in cards(shears)} >= {"G001", "G002", "G003"}
    care, _ = await run(
        ActionUnclearMessage(services), turn("how often should I oil my pruning shears", "out_of_scope")
    )
    assert "oil the pivot once a month" in texts(care)[0] and not care.messages[0].get("custom")

    monkeypatch.setattr(kb, "min_confidence", 0.99)
    monkeypatch.setattr(kb, "suggest_confidence", 0.05)  # the guide only suggests, hedged
    question = "ratchet shears for my weak hands"
    assert index.scores(question, mode="dense")[1].max() > kb.search(question, k=1)[0].confidence
    ratchet, _ = await run(ActionUnclearMessage(services), turn(question, "out_of_scope"))
    assert "G003" in [c["id"] for c in cards(ratchet)]
    hedged, _ = await run(ActionUnclearMessage(services), turn("how do I sharpen the blade", "out_of_scope"))
    assert texts(hedged)[0].startswith("I'm not completely sure") and not hedged.messages[0].get("custom")


async def test_an_unclear_question_about_the_products_in_view_is_answered_about_them(services, products):
    """ "how much are they" right after a product was shown, turned away by the NLU: the price of
    that product, not the list of what the assistant can do. With nothing in view it is not a
    product question."""
    boots = next(p for p in products.products if p["subcategory"] == "hiking boots")
    in_view = {"shown_product_ids": [boots["id"]], "focus_product_id": boots["id"]}
    dispatcher, slots = await run(
        ActionUnclearMessage(services), turn("how much are they", "nlu_fallback", slots=in_view)
    )
    assert f"{float(boots['price']):.2f}" in dispatcher.messages[0]["text"]
    assert slots["focus_product_id"] == boots["id"]
    nothing_shown = {"shown_product_ids": [], "focus_product_id": None}
    other, _ = await run(ActionUnclearMessage(services), turn("how much are they", "nlu_fallback", slots=nothing_shown))
    assert f"{float(boots['price']):.2f}" not in " ".join(m.get("text") or "" for m in other.messages)


async def test_a_word_only_descriptions_say_is_searched_and_shown_as_what_mentions_it(services, description_only_word):
    word = description_only_word
    dispatcher, slots = await run(ActionUnclearMessage(services), turn(word, "nlu_fallback"))
    assert cards(dispatcher) and slots["search_query"] == word
    named, _ = await run(ActionSearchProducts(services), turn(word, "search_product", {"product_category": word}))
    assert texts(named)[0].startswith(f"Nothing here is called {word}, but these mention it:")
    assert cards(named) and "don't carry" not in texts(named)[0]
