"""`retrieval.product_questions` without any action: which products a question points at, and
what it asks. On the demo catalog in a real product index (fixture `demo_products`)."""

from __future__ import annotations

import pytest

from retrieval.product_questions import (
    ProductQuestions,
    asked_aspects,
    asked_features,
    mention_positions,
    named_product,
    ordinal,
    positions,
    superlative,
)


@pytest.fixture
def products(demo_products):
    return demo_products


@pytest.fixture
def questions(products):
    return ProductQuestions(products)


@pytest.fixture
def shown(products):
    """Five hiking boots, as a search would have shown them."""
    return [p["id"] for p in products.products if p["subcategory"] == "hiking boots"][:5]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tell me more about the second one", 2),
        ("is the 3rd one in stock", 3),
        ("details on the last one", -1),
        ("what about number 4", 4),
        ("option 1 please", 1),
        ("#5?", 5),
        ("is it in stock", None),
        ("do you have it in size 42", None),
        ("no, not that one", None),
    ],
)
def test_ordinals(text, expected):
    assert ordinal(text) == expected


@pytest.mark.parametrize(
    ("text", "aspects"),
    [
        ("is it any good?", {"reviews"}),
        ("what sizes does it come in", {"sizes"}),
        ("how much is it", {"price"}),
        ("is the second one still available", {"stock"}),
        ("what colour is it", {"colour"}),
        ("tell me more", set()),
    ],
)
def test_aspects_of_a_question(text, aspects):
    assert asked_aspects(text) == aspects


def test_neighbouring_words_are_one_feature():
    assert asked_features("is it machine washable?", []) == ["machine washable"]
    assert asked_features("is it waterproof and breathable?", []) == ["waterproof", "breathable"]
    assert asked_features("is it free of bpa?", []) == ["free of bpa"]
    assert asked_features("is the lining made of wool or cotton", []) == ["lining", "wool", "cotton"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("compare the first two", [1, 2]),
        ("the first and the third one", [1, 3]),
        ("first one vs second one", [1, 2]),
        ("which is cheaper, the second or the last?", [2, -1]),
        ("number 1 or number 3", [1, 3]),
        ("how do the top three compare", [1, 2, 3]),
        ("the first one, and again the first one", [1]),
        ("compare them", []),
    ],
)
def test_positions_of_a_comparison(text, expected):
    assert positions(text) == expected


def test_the_cheapest_or_best_rated_one_among_those_shown(products, shown):
    boots = [products.product(pid) for pid in shown]
    assert superlative("is the cheapest one in stock?", boots) is min(boots, key=lambda p: p["price"])
    assert superlative("the most expensive one", boots) is max(boots, key=lambda p: p["price"])
    assert superlative("tell me about the best-rated one", boots) is max(boots, key=lambda p: p["rating"])
    assert superlative("is it in stock?", boots) is None
    assert superlative("the cheapest one", []) is None


def test_products_named_by_a_word_only_their_title_has(questions, products, shown):
    boots = [products.product(pid) for pid in shown]
    question = questions.understand(f"the {boots[1]['title']} or the {boots[3]['title']}, which is better?", shown)
    assert question.kind == "compare"
    assert [p["id"] for p in question.products] == [boots[1]["id"], boots[3]["id"]]


def test_one_card_shown_makes_which_is_cheaper_no_comparison(questions, shown):
    question = questions.understand("which one is cheaper?", shown[:1])
    assert question.kind == "one" and [p["id"] for p in question.products] == shown[:1]


def test_mentions_tagged_by_the_nlu_pick_positions_even_misspelt():
    assert mention_positions(["second"]) == [2]
    assert mention_positions(["secnd"]) == [2]
    assert mention_positions(["first two"]) == [1, 2]
    assert mention_positions(["number 3", "last"]) == [3, -1]
    assert mention_positions(["blue"]) == []


def test_a_misspelt_position_is_read_from_the_nlu_mention(questions, shown):
    # The word list alone cannot read "secnd"; the NLU tagged it as a mention.
    assert questions.understand("is the secnd one in stock", shown).kind == "ask_which"
    question = questions.understand("is the secnd one in stock", shown, mentions=["secnd"])
    assert [p["id"] for p in question.products] == [shown[1]]


def test_a_product_not_shown_is_named_by_brand_and_model(products):
    # Not shown: brand and model are needed, and only one product may carry both.
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


def test_words_that_name_the_product_are_not_features_of_it(products):
    boot = next(p for p in products.products if p["subcategory"] == "hiking boots")
    assert asked_features(f"is the {boot['title']} in blue", [boot], [boot], entity_values=["blue"]) == []
    assert asked_features("does the first one have a hood?", [boot]) == ["hood"]
    assert asked_features("what's it like?", [boot]) == []
    # nor is the kind of product: "boots" of hiking boots would get "Yes, it's listed as boots"
    assert asked_features("are the first two boots waterproof?", [boot, boot], comparing=True) == ["waterproof"]
