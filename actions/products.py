"""Product search and recommendations (attribute filter and top-rated placeholders)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import slot_text
from retrieval import simple_catalog


def _cards(products: list[dict[str, Any]], reason: str) -> dict[str, Any]:
    return {
        "type": "product_cards",
        "products": [
            {
                "id": p["id"], "title": p["title"], "price": p["price"], "currency": p.get("currency", "USD"),
                "rating": p.get("rating"), "image_url": p.get("image_url"), "url": p.get("url"), "reason": reason,
            }
            for p in products
        ],
    }


def _text(intro: str, products: list[dict[str, Any]]) -> str:
    lines = [f"- {p['title']} ({p['brand']}), ${p['price']:.2f}, rated {p.get('rating', '?')}/5" for p in products]
    return "\n".join([intro, *lines])


def _constraints(tracker: Tracker) -> dict[str, Any]:
    return {
        "category": slot_text(tracker, "product_category"),
        "brand": slot_text(tracker, "brand"),
        "color": slot_text(tracker, "color"),
        "size": slot_text(tracker, "size"),
        "price_min": simple_catalog.parse_price(slot_text(tracker, "price_min")),
        "price_max": simple_catalog.parse_price(slot_text(tracker, "price_max")),
    }


class ActionSearchProducts(Action):
    def name(self) -> str:
        return "action_search_products"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        constraints = _constraints(tracker)
        try:
            products = simple_catalog.search(**constraints)
        except FileNotFoundError:
            dispatcher.utter_message(text="Sorry, product search isn't available right now. Please try again later.")
            return []
        if not products:
            dispatcher.utter_message(text="I couldn't find products matching all of that. Could you loosen one of the criteria, like the price or the colour?")
            return []
        dispatcher.utter_message(text=_text("Here's what I found:", products), json_message=_cards(products, "matches your search"))
        return []


class ActionRecommendProducts(Action):
    def name(self) -> str:
        return "action_recommend_products"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        category = slot_text(tracker, "product_category")
        try:
            products = simple_catalog.top_rated(category) or simple_catalog.top_rated()
        except FileNotFoundError:
            dispatcher.utter_message(text="Sorry, recommendations aren't available right now. Please try again later.")
            return []
        dispatcher.utter_message(
            text=_text(f"Our top-rated {category or 'products'}:", products),
            json_message=_cards(products, f"top rated in {category}" if category else "top rated"),
        )
        return []
