"""Product search, follow-up refinements, recommendations and thumbs feedback on product cards.

The actions only read the conversation and format replies: ranking lives in
retrieval.product_search and retrieval.recommender, data access in shop.db.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    UsesServices,
    conversation_signals,
    latest_entity_values,
    latest_intent,
    latest_text,
    shopper_words,
    slot_list,
    slot_text,
)
from actions.faq import passage_in_context, question_answered_last_turn, say_answer
from actions.support import hand_off_if_due
from retrieval.catalog import is_product_id
from retrieval.product_index import ProductHit, ProductIndex, ProductIndexMissingError
from retrieval.product_search import (
    CONSTRAINT_SLOTS,
    SearchRequest,
    entity_values,
    names_another_product,
    parse_price,
    refinement,
)
from retrieval.recommender import RecommenderModelError
from retrieval.text import PRICE_WORDS
from shop.money import limit_text, price_text, product_currency, product_price

logger = logging.getLogger(__name__)

PAGE_SIZE = 5
MAX_TERMS = 5  # words a run of follow-ups may require
UNAVAILABLE = "Sorry, product search isn't available right now. Please try again in a little while."


NOT_CARRIED = "Sorry, we don't carry {product}. Is there something else I can find for you?"


def product_entities(tracker: Tracker) -> list[dict[str, Any]]:
    """The latest message's entities but sentiment, which spans the whole message and says
    nothing about the product."""
    return [
        e
        for e in (tracker.latest_message or {}).get("entities") or []
        if isinstance(e, dict) and e.get("entity") != "sentiment"
    ]


def latest_entities(tracker: Tracker) -> dict[str, Any]:
    return entity_values((tracker.latest_message or {}).get("entities"))


def page_product_id(tracker: Tracker) -> str | None:
    """The product page the shopper is on, sent by the web widget as message metadata."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    value = metadata.get("product_id") if isinstance(metadata, dict) else None
    return value if is_product_id(value) else None


def card(hit_product: dict[str, Any], reason: str) -> dict[str, Any]:
    p = hit_product
    return {
        "id": p["id"],
        "title": p["title"],
        "price": p["price"],
        "price_max": p.get("price_max"),
        "currency": product_currency(p),
        "rating": p.get("rating"),
        "image_url": p.get("image_url"),
        "url": p.get("url"),
        "reason": reason,
    }


def cards_message(cards: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "product_cards", "products": cards}


# Channels whose client draws the product cards itself (the shop page's widget).
CARD_CHANNELS = {"socketio"}


def text_fallback(intro: str, cards: list[dict[str, Any]], tracker: Tracker | None = None) -> str:
    """The intro, plus the products as a list for channels that cannot show cards."""
    if tracker is not None and tracker.get_latest_input_channel() in CARD_CHANNELS:
        return intro
    lines = [f"- {c['title']}, {product_price(c)}, {c['rating']}★: {c['reason']}" for c in cards]
    return "\n".join([intro, *lines])


def search_reason(hit: ProductHit, query: str, index: ProductIndex) -> str:
    p = hit.product
    matched = index.matched_phrases(p, query, ignore=PRICE_WORDS)
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


class ActionSearchProducts(UsesServices, Action):
    """A new search, or a refinement of the last one ("in blue", "cheaper", "show more")."""

    def name(self) -> str:
        return "action_search_products"

    # Whether a new search asks the shop's documents first (a subclass that asked them already says no).
    documents_first = True

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intent = latest_intent(tracker)
        text = shopper_words(self.message_text(tracker))
        search = self.services.product_search
        constraints = {slot: slot_text(tracker, slot) for slot in CONSTRAINT_SLOTS}
        query = slot_text(tracker, "search_query") or ""
        terms = [t for t in slot_list(tracker, "search_terms") if isinstance(t, str)]
        page = 0
        note = ""
        cheapest = 0.0
        cheaper: dict[str, Any] = {}
        not_carried = None
        # A word no product is called by, though descriptions say it ("adultery" in a shop of
        # films): its matches are shown as what mentions it, not as the closest to a lack.
        described_only = None
        if self.new_search(intent, query, tracker):
            # A new search: only this message's constraints count, earlier ones are cleared.
            entities = latest_entities(tracker)
            constraints = {slot: entities.get(slot) for slot in CONSTRAINT_SLOTS}
            query = text
            terms = []
            product_word = search.product_word(latest_text(tracker), product_entities(tracker))
            if isinstance(product_word, str) and not search.carries(product_word):
                if search.describes(product_word):
                    described_only = product_word
                else:
                    not_carried = product_word
        elif intent == "show_more_products":
            page = min(self._page(tracker) + 1, 100)
        elif intent == "inform":
            # "the wireless ones": new words narrow the last search; its entities are slots already
            query, added = refinement(query, text, product_entities(tracker))
            terms = list(dict.fromkeys(terms + added))[-MAX_TERMS:]
        elif intent == "cheaper_products":
            shown = self._shown_prices(tracker, search.index)
            if not query:
                # After recommendations, which leave no query: more of the kind they were.
                query = search.kind_of(slot_list(tracker, "shown_product_ids")) or ""
            if shown:
                cheapest = min(shown)
                currency = self.services.settings.currency
                cheaper = {**constraints, "price_max": f"{max(cheapest - 0.01, 0):.2f}"}
                note = f"Cheaper than {price_text(cheapest, currency)}: "
        if not query and not any(constraints.values()):
            example = search.example_query()
            hint = f' For example "{example[0]} under {limit_text(example[1], example[2])}".' if example else ""
            dispatcher.utter_message(text=f"What are you looking for?{hint}")
            return []
        names_order_action = bool(latest_entity_values(tracker, "order_action"))
        if query == text and self.documents_first and (names_order_action or question_answered_last_turn(tracker)):
            # Right after an answer, a message the documents answer with confidence is a
            # follow-up question that names a product ("what about earbuds I unsealed?" after the
            # answer on opened items), not a search. Not before every search: a product query
            # alone can look like a passage to the encoder ("hoodies under 90": the one on cookies).
            # A message that names returning, cancelling or tracking ("my jacket came 3 weeks ago,
            # is it too late to send it back?") is about the policy even when the documents only
            # suggest their passage.
            question, top, decision = passage_in_context(self.services, tracker, text)
            if top is not None and (decision == "answer" or names_order_action and decision == "suggest"):
                return say_answer(self.services, dispatcher, tracker, question, top, decision)
        try:
            if note:
                result = search.search(self._request(query, cheaper, terms), k=PAGE_SIZE, relax=False)
                if not result.hits:
                    dispatcher.utter_message(
                        text=f"{price_text(cheapest, currency)} is already the lowest price I have for that. "
                        "Want to change something else, like the brand or the colour?"
                    )
                    return []
                constraints = cheaper
            else:
                request = self._request(query, constraints, terms)
                request.newest = tuple(e["entity"] for e in product_entities(tracker) if e.get("entity") in constraints)
                result = search.search(request, k=PAGE_SIZE, offset=page * PAGE_SIZE)
        except ProductIndexMissingError as exc:
            logger.error("product search unavailable: %s", exc)
            dispatcher.utter_message(text=UNAVAILABLE)
            return []
        if query == text and (not_carried or result.relaxed or not result.hits):
            # Nothing matches as asked: words the catalog lacks but the shop's documents answer
            # ("is there a minimum for klarna?", "do you take amex?") were a question, not a
            # search. When the catalog has nothing for the word at all, a hedged suggestion
            # counts too if the passage names the word (`decide_naming`): "we don't carry amex"
            # with three cleansers helps nobody, nor does a page on storing food for "poo bags". A
            # search that only had to drop a constraint still has its near matches to show. Help
            # pages that talk about products answer product words too ("watercolor paper"
            # beside a page on paper weights): the products win where the message wants them.
            question, top, decision = passage_in_context(self.services, tracker, text)
            if not_carried:
                decision = self.services.knowledge_base.decide_naming(top, not_carried)
            hedged_will_do = bool(not_carried or not result.hits)
            if (
                top is not None
                and (decision == "answer" or hedged_will_do and decision == "suggest")
                and not (result.hits and search.rather_than_passage(question, top.confidence, decision == "answer"))
            ):
                return say_answer(self.services, dispatcher, tracker, question, top, decision)
        events: list[EventType] = [SlotSet(slot, value) for slot, value in constraints.items()]
        events += [SlotSet("search_query", query), SlotSet("search_terms", terms), SlotSet("search_page", float(page))]
        if not result.hits:
            if page:
                dispatcher.utter_message(
                    text=(
                        "That's everything I have for this search. Want to change something, like the price or the "
                        "colour?"
                    )
                )
            elif not_carried:
                dispatcher.utter_message(text=NOT_CARRIED.format(product=not_carried))
            else:
                dispatcher.utter_message(text="I couldn't find anything like that. Could you describe it differently?")
            return events
        if not_carried and not search.names_products(text):
            # Nothing else in the message is the catalog's: the "closest" products would only
            # share a stray word with it.
            dispatcher.utter_message(text=NOT_CARRIED.format(product=not_carried))
            return events
        cards = [
            card(hit.product, search_reason(hit, result.query, search.index)) for hit in result.hits[: result.exact]
        ]
        if result.widened and result.wanted:
            cards += [card(hit.product, near_reason(hit.product, result.widened, result.wanted)) for hit in result.near]
        named = self.services.product_questions.named_in_full(text, [c["id"] for c in cards]) if query == text else None
        if named and latest_entity_values(tracker, "size"):
            # "do the <whole title> come in size 42?": a question about that one product, which
            # its details answer (yes or no, and its sizes), not a list of near matches. Its
            # card is then the one shown: "how much are they?" is about it.
            from actions.product_details import ActionProductDetails  # it imports this module

            details = ActionProductDetails(self.services).answer(dispatcher, tracker, [named], [named])
            return [*events, SlotSet("shown_product_ids", [named]), *details]
        if not_carried:
            intro = f"Sorry, we don't carry {not_carried}. The closest I have:"
        elif described_only and not page:
            intro = f"Nothing here is called {described_only}, but these mention it:"
        elif result.relaxed:
            intro = f"Nothing matched all of that, so I left out {result.relaxed[0]}. The closest:"
        elif result.widened and result.wanted:
            intro = f"{note}{near_intro(result.exact, result.widened, page)}"
        elif page:
            intro = "Here are more:"
        else:
            intro = f"{note}Here's what I found{', cheapest first' if result.cheapest_first else ''}:"
        dispatcher.utter_message(text=text_fallback(intro, cards, tracker), json_message=cards_message(cards))
        events.append(SlotSet("shown_product_ids", [c["id"] for c in cards]))
        if named:
            events.append(SlotSet("focus_product_id", named))
        return events

    @staticmethod
    def new_search(intent: str | None, query: str, tracker: Tracker) -> bool:
        """Whether the message starts a search of its own rather than refining the last one."""
        return (
            intent == "search_product"
            or not query
            and intent not in ("show_more_products", "cheaper_products")
            or intent == "inform"
            and names_another_product(latest_entities(tracker).get("product_category"), query)
        )

    @staticmethod
    def _page(tracker: Tracker) -> int:
        value = tracker.get_slot("search_page")
        try:
            return max(0, int(float(value))) if isinstance(value, (int, float, str)) else 0
        except (ValueError, OverflowError):
            return 0

    @staticmethod
    def _request(query: str, constraints: dict[str, Any], terms: list[str] | None = None) -> SearchRequest:
        return SearchRequest(
            query=query, terms=terms or None, **{CONSTRAINT_SLOTS[s]: v for s, v in constraints.items()}
        )

    @staticmethod
    def _shown_prices(tracker: Tracker, index: ProductIndex) -> list[float]:
        prices = []
        for product_id in slot_list(tracker, "shown_product_ids"):
            product = index.product(product_id)
            if product:
                prices.append(float(product["price"]))
        if not prices and (limit := parse_price(slot_text(tracker, "price_max"))):
            prices.append(limit)
        return prices


class ActionProductFeedback(UsesServices, Action):
    """Thumbs up/down on a product card: stored for the next recommender training."""

    def name(self) -> str:
        return "action_product_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        entities = latest_entities(tracker)
        product_id = str(entities.get("product_id") or "").strip()
        feedback = str(entities.get("feedback") or "").strip().lower()
        if feedback not in ("up", "down") or not is_product_id(product_id):
            dispatcher.utter_message(text="Sorry, I didn't catch which product that was about.")
            return []
        try:
            known = self.services.product_search.index.product(product_id) is not None
        except ProductIndexMissingError:
            known = True  # the shop DB still takes it; the next training validates against the catalog
        if not known:
            dispatcher.utter_message(text="Sorry, I didn't catch which product that was about.")
            return []
        self.services.shop_db.record_interaction(
            slot_text(tracker, "verified_customer_id"), product_id, f"feedback_{feedback}", sender_id=tracker.sender_id
        )
        liked = [p for p in slot_list(tracker, "liked_product_ids") if p != product_id]
        if feedback == "up":
            dispatcher.utter_message(text="Thanks! I'll keep that in mind for recommendations.")
            return [SlotSet("liked_product_ids", [*liked, product_id][-10:])]
        dispatcher.utter_message(text="Thanks, noted. I'll show you less like that.")
        return [SlotSet("liked_product_ids", liked)]


class ActionRecommendProducts(UsesServices, Action):
    """Recommendations from the fused recommender, for this shopper and this conversation."""

    def name(self) -> str:
        return "action_recommend_products"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        liked = slot_list(tracker, "liked_product_ids")
        page = page_product_id(tracker)
        # Only this message's product word: an earlier search's category is not a wish for gifts.
        category = latest_entities(tracker).get("product_category")
        last_search = slot_text(tracker, "search_query")
        try:
            picks = self.services.recommendations.recommend(
                self.message_text(tracker),
                slot_text(tracker, "verified_customer_id"),
                [*liked, *([page] if page else [])],
                category if isinstance(category, str) else None,
                last_search[: self.services.settings.max_message_chars] if last_search else None,
                k=PAGE_SIZE,
            )
        except (RecommenderModelError, ProductIndexMissingError) as exc:
            logger.error("recommendations unavailable: %s", exc)
            dispatcher.utter_message(text=UNAVAILABLE)
            return []
        cards = [card(pick.product, f"for {pick.use}: {pick.why}" if pick.use else pick.why) for pick in picks]
        if not cards:
            dispatcher.utter_message(text="Tell me a bit about what you like and I'll suggest something.")
            return []
        dispatcher.utter_message(
            text=text_fallback("You might like:", cards, tracker), json_message=cards_message(cards)
        )
        return [SlotSet("shown_product_ids", [c["id"] for c in cards])]


class ActionUnclearMessage(ActionSearchProducts):
    """A message the NLU was unsure of (or found out of scope): answered from the shop's
    documents when they answer it with confidence (a policy question in words the NLU never saw,
    or a follow-up to the answer just given), else answered about the products in view when it
    asks about their price, sizes, stock, colours or reviews, else searched when its words name products the
    shop has ("dark roast beans") or the NLU tagged a product attribute or price in it, else
    given the passage the documents suggest, hedged, else searched when it describes a need some
    product meets ("my dog pulls on every walk"), else answered with what the assistant can do."""

    documents_first = False

    def name(self) -> str:
        return "action_unclear_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        question, top, decision = passage_in_context(self.services, tracker, self.message_text(tracker))
        try:
            # Only against a passage the documents answer or suggest: beside a declined one,
            # any product outscores chatter.
            products_first = (
                top is not None
                and decision != "decline"
                and self.services.product_search.rather_than_passage(question, top.confidence, decision == "answer")
            )
        except ProductIndexMissingError:
            products_first = False
        if top is not None and decision == "answer" and not products_first:
            return say_answer(self.services, dispatcher, tracker, question, top, decision)
        in_view = slot_list(tracker, "shown_product_ids") or slot_text(tracker, "focus_product_id")
        if in_view and self.services.product_questions.asks_about_products(self.message_text(tracker)):
            # "how much are they" right after the products were shown: about those products,
            # in words too short for the NLU to place.
            from actions.product_details import ActionProductDetails  # it imports this module

            return await ActionProductDetails(self.services).run(dispatcher, tracker, domain)
        try:
            search = self.services.product_search
            named = search.named_products(question) or search.described_products(question)
        except ProductIndexMissingError:
            named = None
        if products_first and named is None:
            named = question
        # Product words or a price the NLU tagged ("something under $50") are a shopping
        # request too, even where other words are not the catalog's.
        if named is None and not any(e.get("entity") in CONSTRAINT_SLOTS for e in product_entities(tracker)):
            handed_off = hand_off_if_due(self.services, dispatcher, tracker, conversation_signals(tracker))
            if handed_off is not None:
                return handed_off
            if top is not None and decision == "suggest":
                # The passage the documents only suggest, hedged and with a person one tap
                # away, helps more than the list of what the assistant can do: a shopper's own
                # words for a policy ("fine. whats your phone number") often score too low for
                # the NLU and for a sure answer, while off-topic chatter rarely reaches even a
                # suggestion (2% of public review sentences, against 60% of Bitext's
                # policy questions).
                return say_answer(self.services, dispatcher, tracker, question, top, decision)
            try:
                described_need = self.services.product_search.needs_products(
                    question, self.services.knowledge_base.words
                )
            except ProductIndexMissingError:
                described_need = False
            if not described_need:
                dispatcher.utter_message(response="utter_capabilities")
                return []
        return await super().run(dispatcher, tracker, domain)

    @staticmethod
    def new_search(intent: str | None, query: str, tracker: Tracker) -> bool:
        return True
