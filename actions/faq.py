"""Policy and FAQ questions, answered from the shop's own documents (retrieval.knowledge_base)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    MISUNDERSTOOD,
    UsesServices,
    conversation_signals,
    latest_entity_values,
    latest_intent,
    latest_shopper_text,
    latest_text,
    redact,
)
from actions.support import hand_off_if_due
from retrieval.kb_documents import CHUNK_CHARS
from retrieval.knowledge_base import Hit, IndexMissingError
from retrieval.services import ServiceRegistry

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
# A reply shows the passage whole: ingest already cuts sections to CHUNK_CHARS, sized to stay a
# readable answer. The former 420 was the demo's own measure (its longest passage is 373
# characters); other shops write 700-character sections whose fact is often in the last lines,
# and the cut lost it for 3 of 52 right passages on one such shop and 7 of 52 on another
# (benchmarks/data/*_shop). Only an FAQ answer longer than a chunk (kept whole at ingest) is cut.
MAX_ANSWER_CHARS = CHUNK_CHARS
NOT_SURE = "I'm not sure I have the right answer to that, and I'd rather not guess."
SUGGESTION = "I'm not completely sure, but I think this is what you're asking about:"
HUMAN_BUTTON = {"title": "Talk to a human", "payload": "/human_handoff"}
COMPLAINT_INTRO = "Here's what our help pages say about that:"
COMPLAINT_SUGGESTION = "This part of our help pages may help:"


def feedback_buttons(log_id: int) -> list[dict[str, str]]:
    return [
        {"title": "Yes, thanks", "payload": f'/faq_feedback{{"faq_log_id": "{log_id}", "helpful": "yes"}}'},
        {"title": "No", "payload": f'/faq_feedback{{"faq_log_id": "{log_id}", "helpful": "no"}}'},
    ]


class ActionAnswerFaq(UsesServices, Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        question, top, decision = passage_in_context(self.services, tracker, latest_text(tracker)[:MAX_QUESTION_CHARS])
        if top is None or decision == "decline":
            self.services.shop_db.log_faq_answer(tracker.sender_id, question, None, top.confidence if top else None)
            signals = conversation_signals(tracker)
            unanswered = signals.unanswered_questions + 1
            counted = SlotSet("unanswered_questions", float(unanswered))
            handed_off = hand_off_if_due(
                self.services, dispatcher, tracker, replace(signals, unanswered_questions=unanswered)
            )
            if handed_off is not None:
                return [counted, *handed_off]
            dispatcher.utter_message(
                text=f"{NOT_SURE} Would you like me to pass your question to our customer care team?",
                buttons=[HUMAN_BUTTON],
            )
            return [counted, SlotSet(OFFERED_ACTION_SLOT, HANDOFF_ACTION)]
        return say_answer(self.services, dispatcher, tracker, question, top, decision)


@dataclass(frozen=True)
class OrderOffer:
    response: str
    form: str


# The NLU's `order_action` values (training_data/nlu/lookups.yml) and what the answer offers.
OFFER_OF_ORDER_ACTION = {
    "return": OrderOffer("utter_offer_return", "return_form"),
    "cancel": OrderOffer("utter_offer_cancel", "cancel_order_form"),
    "track": OrderOffer("utter_offer_track", "order_status_form"),
}
OFFERED_ACTION_SLOT = "offered_action"
# What "yes" to "Would you like me to pass your question to our customer care team?" starts.
HANDOFF_ACTION = "action_human_handoff"


def offer_after_the_answer(tracker: Tracker) -> OrderOffer | None:
    """A question about what the shop allows for something the assistant can also do for an
    order ("can I return opened items?") is answered first; then comes the offer to do it. Only
    outside a form: inside one, the form's own question follows the answer."""
    if tracker.active_loop and tracker.active_loop.get("name"):
        return None
    for value in latest_entity_values(tracker, "order_action"):
        offer = OFFER_OF_ORDER_ACTION.get(value.lower())
        if offer is not None:
            return offer
    return None


class ActionAcceptOffer(Action):
    """ "yes" right after an answer: what it offered starts (the order form, or a person when
    the documents had no answer); with no offer pending, there is nothing to start, and the
    assistant asks what else it can do."""

    def name(self) -> str:
        return "action_accept_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        offered = tracker.get_slot(OFFERED_ACTION_SLOT)
        startable = {offer.form for offer in OFFER_OF_ORDER_ACTION.values()} | {HANDOFF_ACTION}
        if isinstance(offered, str) and offered in startable:
            return [SlotSet(OFFERED_ACTION_SLOT, None), FollowupAction(offered)]
        dispatcher.utter_message(response="utter_anything_else")
        return []


ANSWERED_SLOT = "answered_question"
_RANK = {"answer": 2, "suggest": 1, "decline": 0}


def events_of_the_last_reply(tracker: Tracker) -> list[dict[str, Any]]:
    """The events between the shopper's previous message and the latest one, newest first:
    what the assistant did in its last reply."""
    replied: list[dict[str, Any]] = []
    users_seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users_seen += 1
            if users_seen == 2:
                return replied
        elif users_seen == 1:
            replied.append(event)
    return []


def question_answered_last_turn(tracker: Tracker) -> str | None:
    """The question the assistant answered from the documents in its reply to the shopper's
    previous message (`say_answer` records it), else None."""
    for event in events_of_the_last_reply(tracker):
        if event.get("event") == "slot" and event.get("name") == ANSWERED_SLOT:
            value = event.get("value")
            return value if isinstance(value, str) and value else None
    return None


def passage_in_context(services: ServiceRegistry, tracker: Tracker, question: str) -> tuple[str, Hit | None, str]:
    """The best passage for the question, asked alone first. A follow-up to an answer ("does
    that work for flash sales too?") means little alone: when the NLU could not place it and
    the documents are not sure of it, it is asked again after the question just answered, and
    the surer of the two wins. A message the NLU did place ("can I pay in instalments" after
    a question on payment methods) is a question of its own, and the one before it would only
    pull the answer back to that. Right after the assistant acted on an order, any question is
    also asked with what it did (`order_topic_last_turn`). Returns the question as asked, the
    passage and the knowledge base's decision."""
    top, decision = best_passage(services, question)
    if decision != "answer" and latest_intent(tracker) in MISUNDERSTOOD:
        in_context, top_in_context, decision_in_context = passage_after_the_answer(services, tracker, question)
        if _RANK[decision_in_context] > _RANK[decision]:
            return in_context, top_in_context, decision_in_context
    topic = order_topic_last_turn(tracker)
    if topic is not None:
        # Right after the assistant cancelled or returned an order, "when do I get my money
        # back?" is about that cancellation or return, so it is asked after it. The answer
        # alone is kept only when the documents are surer of it than of the one in context:
        # the words added dilute every match a little, so confidences are not compared.
        in_context = f"{topic} {question}"
        top_in_context, decision_in_context = best_passage(services, in_context)
        if top_in_context is not None and _RANK[decision_in_context] >= _RANK[decision]:
            return in_context, top_in_context, decision_in_context
    return question, top, decision


# What the assistant did for an order, as the shopper would say it before a question about it.
TOPIC_OF_ORDER_ACTION = {
    "action_confirm_cancel_order": "I cancelled my order.",
    "action_cancel_order": "I want to cancel my order.",
    "action_request_return": "I am returning my order.",
}


def order_topic_last_turn(tracker: Tracker) -> str | None:
    """The topic of what the assistant did for an order in its reply to the shopper's previous
    message (`TOPIC_OF_ORDER_ACTION`), else None."""
    for event in events_of_the_last_reply(tracker):
        if event.get("event") == "action" and event.get("name") in TOPIC_OF_ORDER_ACTION:
            return TOPIC_OF_ORDER_ACTION[event["name"]]
    return None


def passage_after_the_answer(services: ServiceRegistry, tracker: Tracker, question: str) -> tuple[str, Hit | None, str]:
    """The question asked after the one answered last turn (none: declined), for a message
    that only makes sense as a follow-up to that answer."""
    answered = question_answered_last_turn(tracker)
    if not answered:
        return question, None, "decline"
    in_context = f"{answered} {question}".strip()[: 2 * MAX_QUESTION_CHARS]
    top, decision = best_passage(services, in_context)
    return in_context, top, decision


def best_passage(services: ServiceRegistry, question: str) -> tuple[Hit | None, str]:
    """The shop documents' best passage for the question, and the knowledge base's decision on
    it (`answer`, `suggest` or `decline`); a missing index declines."""
    kb = services.knowledge_base
    try:
        hits = kb.search(question, k=3)
    except IndexMissingError as exc:
        logger.error("knowledge base unavailable: %s", exc)
        hits = []
    top = hits[0] if hits else None
    return top, kb.decide(top)


def say_answer(
    services: ServiceRegistry,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    question: str,
    top: Hit,
    decision: str,
    intro: str | None = None,
) -> list[EventType]:
    """The passage as the reply, with its source and the feedback buttons; hedged when the
    knowledge base only suggests it. With an `intro` (inside another reply, such as the
    answer to a complaint), the passage follows it and asks for no feedback. A sure answer to
    a question about something the assistant can do for an order ends with the offer to do it
    instead of "Was this helpful?" (one question at a time). The events record the question
    for a follow-up, and the offer."""
    offer = offer_after_the_answer(tracker) if decision == "answer" and intro is None else None
    log_id = services.shop_db.log_faq_answer(
        tracker.sender_id, question, f"{top.source} > {top.heading}", top.confidence
    )
    logger.info("faq %s %s for %r (confidence %.3f)", decision, top.chunk_id, redact(question[:80]), top.confidence)
    source = f"_Source: {top.title} › {top.heading}_"
    if intro is not None:
        dispatcher.utter_message(text=f"{intro}\n\n{top.excerpt(MAX_ANSWER_CHARS)}\n\n{source}")
    elif decision == "suggest":
        # Hedged, with a human one tap away: a wrong guess must not read like a policy.
        dispatcher.utter_message(
            text=f"{SUGGESTION}\n\n{top.excerpt(MAX_ANSWER_CHARS)}\n\n{source}\n\nDid that answer your question?",
            buttons=[*feedback_buttons(log_id), HUMAN_BUTTON],
        )
    elif offer is not None:
        dispatcher.utter_message(text=f"{top.excerpt(MAX_ANSWER_CHARS)}\n\n{source}")
        dispatcher.utter_message(response=offer.response)
    else:
        dispatcher.utter_message(
            text=f"{top.excerpt(MAX_ANSWER_CHARS)}\n\n{source}\n\nWas this helpful?", buttons=feedback_buttons(log_id)
        )
    return [SlotSet(ANSWERED_SLOT, question), SlotSet(OFFERED_ACTION_SLOT, offer.form if offer else None)]


class ActionAnswerComplaint(UsesServices, Action):
    """Between the apology for a complaint and the offer of a person: what the shop's documents
    say about it ("the box arrived crushed" has a policy of its own), plainly when they are
    sure and as "may help" when they only suggest it. Says nothing when they don't know; the
    offer of a person follows either way. Asked "what do I do now?" after that offer, it looks
    up the complaint again rather than the question."""

    def name(self) -> str:
        return "action_answer_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        complaint = latest_complaint(tracker)[:MAX_QUESTION_CHARS]
        top, decision = best_passage(self.services, complaint)
        if top is None or decision == "decline":
            return []
        intro = COMPLAINT_INTRO if decision == "answer" else COMPLAINT_SUGGESTION
        return say_answer(self.services, dispatcher, tracker, complaint, top, decision, intro=intro)


def latest_complaint(tracker: Tracker) -> str:
    """The shopper's latest message the NLU read as a complaint in this session, else their
    latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if (
            event.get("event") == "user"
            and ((event.get("parse_data") or {}).get("intent") or {}).get("name") == "complaint"
        ):
            text = event.get("text")
            if isinstance(text, str) and text:
                return text
    return latest_shopper_text(tracker)


class ActionFaqFeedback(UsesServices, Action):
    """Stores the "Was this helpful?" quick reply on the answer's log row."""

    def name(self) -> str:
        return "action_faq_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        entities: dict[str, Any] = {
            str(e.get("entity")): e.get("value")
            for e in (tracker.latest_message or {}).get("entities") or []
            if isinstance(e, dict)
        }
        helpful = str(entities.get("helpful", "")).strip().lower()
        try:
            log_id = int(str(entities.get("faq_log_id", "")).strip())
        except ValueError:
            log_id = None
        if log_id is None or helpful not in ("yes", "no"):
            dispatcher.utter_message(text="Thanks! Is there anything else I can help with?")
            return []
        self.services.shop_db.set_faq_helpful(log_id, helpful == "yes")
        if helpful == "yes":
            dispatcher.utter_message(text="Glad it helped! Anything else?")
        else:
            dispatcher.utter_message(
                text="Sorry about that. Try asking in other words, or I can pass it to our customer care team.",
                buttons=[HUMAN_BUTTON],
            )
        return []
