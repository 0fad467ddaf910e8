"""Policy and FAQ questions, answered from the shop's own documents (retrieval.knowledge_base)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import UsesServices, conversation_signals, latest_intent, latest_text, previous_user_text, redact
from actions.support import hand_off_if_due
from retrieval.knowledge_base import Hit, IndexMissingError
from retrieval.services import ServiceRegistry
from retrieval.text import sentences, tidy_whitespace

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
# The rules send these here only right after an answer (training_data/rules/faq.yml).
FOLLOW_UP_INTENTS = ("nlu_fallback", "out_of_scope")
MAX_ANSWER_CHARS = 420
NOT_SURE = "I'm not sure I have the right answer to that, and I'd rather not guess."
SUGGESTION = "I'm not completely sure, but I think this is what you're asking about:"
HUMAN_BUTTON = {"title": "Talk to a human", "payload": "/human_handoff"}


def short_answer(passage: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """The passage with whitespace tidied, cut at a sentence boundary near `limit`."""
    text = tidy_whitespace(passage)
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in sentences(text):
        if kept and len(kept) + len(sentence) + 1 > limit:
            break
        kept = f"{kept} {sentence}".strip()
    return kept if len(kept) <= limit else kept[: limit - 1].rstrip() + "…"


def feedback_buttons(log_id: int) -> list[dict[str, str]]:
    return [
        {"title": "Yes, thanks", "payload": f'/faq_feedback{{"faq_log_id": "{log_id}", "helpful": "yes"}}'},
        {"title": "No", "payload": f'/faq_feedback{{"faq_log_id": "{log_id}", "helpful": "no"}}'},
    ]


class ActionAnswerFaq(UsesServices, Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        question = latest_text(tracker)[:MAX_QUESTION_CHARS]
        if latest_intent(tracker) in FOLLOW_UP_INTENTS:
            # A follow-up ("and if it already shipped?") means little alone; the question it
            # follows says what it is about.
            question = f"{previous_user_text(tracker)} {question}".strip()[: 2 * MAX_QUESTION_CHARS]
        top, decision = best_passage(self.services, question)
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
            return [counted]
        say_answer(self.services, dispatcher, tracker, question, top, decision)
        return []


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
) -> None:
    """The passage as the reply, with its source and the feedback buttons; hedged when the
    knowledge base only suggests it."""
    log_id = services.shop_db.log_faq_answer(
        tracker.sender_id, question, f"{top.source} > {top.heading}", top.confidence
    )
    logger.info("faq %s %s for %r (confidence %.3f)", decision, top.chunk_id, redact(question[:80]), top.confidence)
    source = f"_Source: {top.title} › {top.heading}_"
    if decision == "suggest":
        # Hedged, with a human one tap away: a wrong guess must not read like a policy.
        dispatcher.utter_message(
            text=f"{SUGGESTION}\n\n{short_answer(top.text)}\n\n{source}\n\nDid that answer your question?",
            buttons=[*feedback_buttons(log_id), HUMAN_BUTTON],
        )
        return
    dispatcher.utter_message(
        text=f"{short_answer(top.text)}\n\n{source}\n\nWas this helpful?", buttons=feedback_buttons(log_id)
    )


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
