"""Product search, follow-up refinements, recommendations and thumbs feedback on product cards.

The actions only read the conversation and format replies: ranking lives in
retrieval.product_search and retrieval.recommender, data access in shop.db.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    MAX_MESSAGE_CHARS,
    latest_intent,
    latest_text,
    preload_in_action_server,
    shop_db,
    slot_list,
    slot_text,
)
from retrieval.product_index import (
    ProductHit,
    ProductIndex,
    ProductIndexMissingError,
    shared_product_index,
)
from retrieval.product_search import ProductSearch, SearchRequest, parse_price, refinement
from retrieval.recommender import RecommenderModelError, shared_recommender
from retrieval.text import tokens
from retrieval.use_match import shared_use_matcher

logger = logging.getLogger(__name__)

PAGE_SIZE = 5
MAX_TERMS = 5  # words a run of follow-ups may require
# Above this cosine the shopper's words name a kind of product worth narrowing to.
RELEVANT_COSINE = 0.35
CONSTRAINT_SLOTS = {
    "product_category": "category", "brand": "brand", "color": "color", "size": "size",
    "price_min": "price_min", "price_max": "price_max",
}
UNAVAILABLE = "Sorry, product search isn't available right now. Please try again in a little while."
_PRODUCT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def entity_values(entities: Any) -> dict[str, Any]:
    """{entity name: value} of one message. Several product words are one description
    ("cozy slippers" + "memory foam"), so they are joined in order; for any other entity
    the last value wins."""
    found: dict[str, Any] = {}
    for entity in entities if isinstance(entities, list) else []:
        if isinstance(entity, dict) and isinstance(entity.get("entity"), str):
            name, value = entity["entity"], entity.get("value")
            earlier = found.get(name)
            if name == "product_category" and isinstance(earlier, str) and isinstance(value, str) and value not in earlier:
                value = f"{earlier} {value}"
            found[name] = value
    return found


def product_entities(tracker: Tracker) -> list[dict[str, Any]]:
    """The latest message's entities but sentiment, which spans the whole message and says
    nothing about the product."""
    return [e for e in (tracker.latest_message or {}).get("entities") or []
            if isinstance(e, dict) and e.get("entity") != "sentiment"]


def names_another_product(tracker: Tracker, query: str) -> bool:
    """A follow-up that names a product the last search did not ("purple hoodie" after
    "waterproof jackets") is a new search, not a refinement of the old one."""
    word = latest_entities(tracker).get("product_category")
    return isinstance(word, str) and bool(set(tokens(word)) - set(tokens(query)))


def latest_entities(tracker: Tracker) -> dict[str, Any]:
    return entity_values((tracker.latest_message or {}).get("entities"))


def page_product_id(tracker: Tracker) -> str | None:
    """The product page the shopper is on, sent by the web widget as message metadata."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    value = metadata.get("product_id") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and _PRODUCT_ID.match(value) else None


def card(hit_product: dict[str, Any], reason: str) -> dict[str, Any]:
    p = hit_product
    return {
        "id": p["id"], "title": p["title"], "price": p["price"], "currency": p.get("currency", "USD"),
        "rating": p.get("rating"), "image_url": p.get("image_url"), "url": p.get("url"), "reason": reason,
    }


def cards_message(cards: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "product_cards", "products": cards}


# Channels whose client draws the product cards itself (the shop page's widget).
CARD_CHANNELS = {"socketio"}
_PRICE_WORDS = {"under", "over", "below", "above", "less", "more", "cheap", "cheaper", "dollar", "dollars",
                "buck", "bucks", "price", "between", "show", "find", "looking", "something", "want"}


def text_fallback(intro: str, cards: list[dict[str, Any]], tracker: Tracker | None = None) -> str:
    """The intro, plus the products as a list for channels that cannot show cards."""
    if tracker is not None and tracker.get_latest_input_channel() in CARD_CHANNELS:
        return intro
    lines = [f"- {c['title']}, ${c['price']:.2f}, {c['rating']}★: {c['reason']}" for c in cards]
    return "\n".join([intro, *lines])


def search_reason(hit: ProductHit, query: str, index: ProductIndex) -> str:
    p = hit.product
    matched = index.matched_phrases(p, query, ignore=_PRICE_WORDS)
    if matched:
        return "matches " + ", ".join(f"“{w}”" for w in matched)
    return f"{p['subcategory'] or p['category']} close to what you described"


def near_reason(product: dict[str, Any], widened: str, wanted: str) -> str:
    """Why a near match is shown although it misses one of the shopper's constraints."""
    if widened == "color":
        return f"in {product['color']}, not {wanted}"
    return f"{product['subcategory']} rather than {wanted}"


def near_intro(exact: int, widened: str, page: int) -> str:
    others = "in other colours" if widened == "color" else "alternatives"
    if not exact:
        return f"More, {others}:"
    if page:
        return f"Here are more; after the first {exact}, some {others}:"
    only = "Only 1 matches" if exact == 1 else f"Only {exact} match"
    return f"{only} everything; after {'it' if exact == 1 else 'them'}, some {others}:"


class ActionSearchProducts(Action):
    """A new search, or a refinement of the last one ("in blue", "cheaper", "show more")."""

    def name(self) -> str:
        return "action_search_products"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = latest_intent(tracker)
        text = latest_text(tracker)[:MAX_MESSAGE_CHARS]
        constraints = {slot: slot_text(tracker, slot) for slot in CONSTRAINT_SLOTS}
        query = slot_text(tracker, "search_query") or ""
        terms = [t for t in slot_list(tracker, "search_terms") if isinstance(t, str)]
        page = 0
        note = ""
        cheapest = 0.0
        cheaper: dict[str, Any] = {}
        if (intent == "search_product" or not query and intent not in ("show_more_products", "cheaper_products")
                or intent == "inform" and names_another_product(tracker, query)):
            # A new search: only this message's constraints count, earlier ones are cleared.
            entities = latest_entities(tracker)
            constraints = {slot: entities.get(slot) for slot in CONSTRAINT_SLOTS}
            query = text
            terms = []
        elif intent == "show_more_products":
            page = min(self._page(tracker) + 1, 100)
        elif intent == "inform":
            # "the wireless ones": new words narrow the last search; its entities are slots already
            query, added = refinement(query, text, product_entities(tracker))
            terms = list(dict.fromkeys(terms + added))[-MAX_TERMS:]
        elif intent == "cheaper_products":
            shown = self._shown_prices(tracker)
            if shown:
                cheapest = min(shown)
                cheaper = {**constraints, "price_max": f"{max(cheapest - 0.01, 0):.2f}"}
                note = f"Cheaper than ${cheapest:.2f}: "
        if not query and not any(constraints.values()):
            dispatcher.utter_message(text="What are you looking for? For example \"trail running shoes under $120\".")
            return []
        try:
            if note:
                result = ProductSearch().search(self._request(query, cheaper, terms), k=PAGE_SIZE, relax=False)
                if not result.hits:
                    dispatcher.utter_message(text=f"${cheapest:.2f} is already the lowest price I have for that. "
                                                  "Want to change something else, like the brand or the colour?")
                    return []
                constraints = cheaper
            else:
                result = ProductSearch().search(self._request(query, constraints, terms), k=PAGE_SIZE,
                                                offset=page * PAGE_SIZE)
        except ProductIndexMissingError as exc:
            logger.error("product search unavailable: %s", exc)
            dispatcher.utter_message(text=UNAVAILABLE)
            return []
        events: list[EventType] = [SlotSet(slot, value) for slot, value in constraints.items()]
        events += [SlotSet("search_query", query), SlotSet("search_terms", terms), SlotSet("search_page", float(page))]
        if not result.hits:
            if page:
                dispatcher.utter_message(text="That's everything I have for this search. Want to change something, like the price or the colour?")
            else:
                dispatcher.utter_message(text="I couldn't find anything like that. Could you describe it differently?")
            return events
        cards = [card(hit.product, search_reason(hit, result.query, shared_product_index())) for hit in result.hits[:result.exact]]
        if result.widened and result.wanted:
            cards += [card(hit.product, near_reason(hit.product, result.widened, result.wanted)) for hit in result.near]
        if result.relaxed:
            intro = f"Nothing matched all of that, so I left out {result.relaxed[0]}. The closest:"
        elif result.widened and result.wanted:
            intro = f"{note}{near_intro(result.exact, result.widened, page)}"
        elif page:
            intro = "Here are more:"
        else:
            intro = f"{note}Here's what I found{', cheapest first' if result.cheapest_first else ''}:"
        dispatcher.utter_message(text=text_fallback(intro, cards, tracker), json_message=cards_message(cards))
        events.append(SlotSet("shown_product_ids", [c["id"] for c in cards]))
        return events

    @staticmethod
    def _page(tracker: Tracker) -> int:
        value = tracker.get_slot("search_page")
        try:
            return max(0, int(float(value))) if isinstance(value, (int, float, str)) else 0
        except (ValueError, OverflowError):
            return 0

    @staticmethod
    def _request(query: str, constraints: dict[str, Any], terms: list[str] | None = None) -> SearchRequest:
        return SearchRequest(query=query, terms=terms or None, **{CONSTRAINT_SLOTS[s]: v for s, v in constraints.items()})

    @staticmethod
    def _shown_prices(tracker: Tracker) -> list[float]:
        index = ProductSearch().index
        prices = []
        for product_id in slot_list(tracker, "shown_product_ids"):
            product = index.product(product_id)
            if product:
                prices.append(float(product["price"]))
        if not prices and (limit := parse_price(slot_text(tracker, "price_max"))):
            prices.append(limit)
        return prices


class ActionProductFeedback(Action):
    """Thumbs up/down on a product card: stored for the next recommender training."""

    def name(self) -> str:
        return "action_product_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        entities = latest_entities(tracker)
        product_id = str(entities.get("product_id") or "").strip()
        feedback = str(entities.get("feedback") or "").strip().lower()
        if feedback not in ("up", "down") or not _PRODUCT_ID.match(product_id):
            dispatcher.utter_message(text="Sorry, I didn't catch which product that was about.")
            return []
        try:
            known = ProductSearch().index.product(product_id) is not None
        except ProductIndexMissingError:
            known = True  # the shop DB still takes it; the next training validates against the catalog
        if not known:
            dispatcher.utter_message(text="Sorry, I didn't catch which product that was about.")
            return []
        shop_db().record_interaction(
            slot_text(tracker, "verified_customer_id"), product_id, f"feedback_{feedback}", sender_id=tracker.sender_id
        )
        liked = [p for p in slot_list(tracker, "liked_product_ids") if p != product_id]
        if feedback == "up":
            dispatcher.utter_message(text="Thanks! I'll keep that in mind for recommendations.")
            return [SlotSet("liked_product_ids", [*liked, product_id][-10:])]
        dispatcher.utter_message(text="Thanks, noted. I'll show you less like that.")
        return [SlotSet("liked_product_ids", liked)]


class ActionRecommendProducts(Action):
    """Recommendations from the fused recommender, for this shopper and this conversation."""

    def name(self) -> str:
        return "action_recommend_products"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = latest_text(tracker)[:MAX_MESSAGE_CHARS]
        liked = slot_list(tracker, "liked_product_ids")
        context = [*liked, *([page] if (page := page_product_id(tracker)) else [])]
        # Only this message's product word: an earlier search's category is not a wish for gifts.
        category = latest_entities(tracker).get("product_category")
        try:
            recommender = shared_recommender()
            search = ProductSearch()
            # Words about a kind of product narrow the candidates; "recommend me something" does not.
            request = SearchRequest(query=text, category=category if isinstance(category, str) else None)
            # A product word the catalog knows; the NLU also tags words like "muddy".
            filters = search.filters_for(request)
            kind_named = bool(filters.category or filters.subcategory or filters.kind)
            candidates = search.search(request, k=40, relax=False).hits
            focused = [h for h in candidates if h.dense >= RELEVANT_COSINE] or (candidates if kind_named else [])
            # "I'm going skiing in January": no product is close to the words, a use tag is.
            matcher = shared_use_matcher(search.index)
            # One encoding of the message serves the use tags and the blend.
            vector = search.index.embedder.encode([text])[0] if text.strip() else None
            uses = {} if kind_named or vector is None else \
                matcher.products_with([u.tag for u in matcher.uses(text, vector)])
            mask, wish_vector = None, None
            if focused or uses:
                # With a use, the products carrying its tag plus the few close ones the words
                # rank first: all the close ones let slippers in for "feet dry on muddy hikes".
                allowed = {h.product["id"] for h in (focused[:PAGE_SIZE] if uses else focused)} | set(uses)
                mask = np.asarray([pid in allowed for pid in recommender.item_ids])
                wish_vector = vector
            else:
                # "recommend something" after a search: what the shopper was looking for leans
                # the blend towards it, without narrowing to it.
                wish = slot_text(tracker, "search_query")
                wish_vector = search.index.embedder.encode([wish[:MAX_MESSAGE_CHARS]])[0] if wish else None
            picks = recommender.recommend(
                slot_text(tracker, "verified_customer_id"), context, wish_vector, k=PAGE_SIZE, candidate_mask=mask,
            )
        except (RecommenderModelError, ProductIndexMissingError) as exc:
            logger.error("recommendations unavailable: %s", exc)
            dispatcher.utter_message(text=UNAVAILABLE)
            return []
        products = [(search.index.product(r.product_id), r) for r in picks]
        cards = [card(p, f"for {uses[p['id']]}: {r.why}" if p["id"] in uses else r.why) for p, r in products if p is not None]
        if not cards:
            dispatcher.utter_message(text="Tell me a bit about what you like and I'll suggest something.")
            return []
        dispatcher.utter_message(text=text_fallback("You might like:", cards, tracker), json_message=cards_message(cards))
        return [SlotSet("shown_product_ids", [c["id"] for c in cards])]


preload_in_action_server("product index", lambda: shared_product_index().warm_up())
preload_in_action_server("recommender", shared_recommender)
preload_in_action_server("use tags", lambda: shared_use_matcher(shared_product_index()).uses("warm up"))
