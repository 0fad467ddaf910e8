"""Hand-off to a person, and the ticket taken when nobody can join the chat."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import UsesServices, conversation_signals, latest_intent, latest_shopper_text, redact, slot_text
from retrieval.services import ServiceRegistry
from shop.db import normalize_email
from shop.handoff import ConversationSignals

TICKET_FORM = "handoff_ticket_form"
MAX_TICKET_MESSAGE_CHARS = 2000


def _request(services: ServiceRegistry, tracker: Tracker, trigger: str):  # type: ignore[no-untyped-def]
    return services.handoff_desk.request(
        tracker.sender_id,
        trigger=trigger,
        reason=f"{latest_intent(tracker) or 'unknown'}: {redact(latest_shopper_text(tracker))[:500]}",
        sentiment=slot_text(tracker, "sentiment"),
        last_intent=latest_intent(tracker),
        order_id=slot_text(tracker, "last_order_id") if tracker.get_slot("verified_at") else None,
    )


def _queued(dispatcher: CollectingDispatcher, position: int | None) -> None:
    dispatcher.utter_message(response="utter_handoff_queued", position=position)
    dispatcher.utter_message(json_message={"type": "handoff_status", "status": "waiting", "position": position})


def hand_off_if_due(
    services: ServiceRegistry, dispatcher: CollectingDispatcher, tracker: Tracker, signals: ConversationSignals
) -> list[EventType] | None:
    """Brings a person in when the conversation keeps going wrong (angry twice, misunderstood
    twice in a row, two unanswered questions) and one can join now; the events to return, or
    None to carry on as usual. With nobody to join, the usual reply (which offers a person)
    stands: an unasked-for ticket form would trap a shopper who only wanted to rephrase."""
    desk = services.handoff_desk
    trigger = desk.due_trigger(signals)
    if trigger is None or desk.active(tracker.sender_id) is not None or not desk.can_join_now():
        return None
    outcome = _request(services, tracker, trigger)
    dispatcher.utter_message(response=f"utter_handoff_because_{trigger}")
    _queued(dispatcher, outcome.position)
    # The turn ends here: the rest of the rule would answer a shopper who now waits for a person.
    return [SlotSet("handoff_requested", True), FollowupAction("action_listen")]


class ActionSentimentApology(UsesServices, Action):
    """The apology an angry shopper gets; the second time, a person when one can join."""

    def name(self) -> str:
        return "action_sentiment_apology"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        handed_off = hand_off_if_due(self.services, dispatcher, tracker, conversation_signals(tracker))
        if handed_off is not None:
            return handed_off
        dispatcher.utter_message(response="utter_sentiment_apology")
        return []


class ActionHumanHandoff(UsesServices, Action):
    """Puts the conversation in the customer-care queue, or, when nobody can join the chat
    (outside care hours, or no agent at the console), opens a ticket answered by email."""

    def name(self) -> str:
        return "action_human_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        outcome = _request(self.services, tracker, "request")
        if outcome.kind == "queued":
            _queued(dispatcher, outcome.position)
            return [SlotSet("handoff_requested", True)]
        response = "utter_handoff_closed" if outcome.why == "closed" else "utter_handoff_nobody_there"
        dispatcher.utter_message(response=response, hours=outcome.hours, ticket=outcome.handoff_id)
        return [SlotSet("handoff_requested", True), FollowupAction(TICKET_FORM)]


class ValidateHandoffTicketForm(UsesServices, FormValidationAction):
    def name(self) -> str:
        return "validate_handoff_ticket_form"

    def validate_ticket_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        email = normalize_email(value) if isinstance(value, str) else None
        if email is None:
            dispatcher.utter_message(response="utter_ticket_email_invalid")
        return {"ticket_email": email}

    def validate_ticket_message(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = value.strip() if isinstance(value, str) else ""
        return {"ticket_message": text[:MAX_TICKET_MESSAGE_CHARS] or None}


class ActionSubmitHandoffTicket(UsesServices, Action):
    def name(self) -> str:
        return "action_submit_handoff_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        email, message = slot_text(tracker, "ticket_email"), slot_text(tracker, "ticket_message")
        ticket = self.services.handoff_desk.record_ticket(tracker.sender_id, email or "", message or "")
        if ticket is None:
            dispatcher.utter_message(response="utter_ticket_lost")
        else:
            dispatcher.utter_message(response="utter_ticket_recorded", ticket=ticket, email=email)
        return [SlotSet("ticket_email", None), SlotSet("ticket_message", None)]
