"""The product actions, on the real demo data."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.products import ActionRecommendProducts, ActionSearchProducts
from tests.actions.conftest import load_tracker, texts


@pytest.fixture
def catalog(generated_shop, monkeypatch):
    from retrieval import simple_catalog

    monkeypatch.setenv("SHOP_CATALOG_PATH", str(generated_shop / "catalog.jsonl"))
    simple_catalog.load.cache_clear()
    yield
    simple_catalog.load.cache_clear()


async def test_search_honours_brand_color_and_price(catalog):
    slots = {"product_category": "footwear", "brand": "TrailForge", "price_max": "under 150"}
    dispatcher = CollectingDispatcher()
    await ActionSearchProducts().run(dispatcher, load_tracker("order_form_filled", slots), {})
    cards = dispatcher.messages[0]["custom"]["products"]
    assert cards and all(c["price"] <= 150 and c["title"].startswith("TrailForge") for c in cards)
    assert "Here's what I found" in texts(dispatcher)[0]


async def test_search_with_no_match_says_so(catalog):
    dispatcher = CollectingDispatcher()
    await ActionSearchProducts().run(dispatcher, load_tracker("order_form_filled", {"brand": "Voltix", "price_max": "1"}), {})
    assert "couldn't find" in texts(dispatcher)[0]


async def test_recommend_top_rated_in_category(catalog):
    dispatcher = CollectingDispatcher()
    await ActionRecommendProducts().run(dispatcher, load_tracker("order_form_filled", {"product_category": "electronics"}), {})
    cards = dispatcher.messages[0]["custom"]["products"]
    ratings = [c["rating"] for c in cards]
    assert len(cards) == 5 and ratings == sorted(ratings, reverse=True)
