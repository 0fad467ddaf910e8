"""Hand-off to a person, and the ticket taken when nobody can join the chat."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import UsesServices, latest_intent, latest_text, redact, slot_text
from shop.db import normalize_email

TICKET_FORM = "handoff_ticket_form"
MAX_TICKET_MESSAGE_CHARS = 2000


class ActionHumanHandoff(UsesServices, Action):
    """Puts the conversation in the customer-care queue, or, when nobody can join the chat
    (outside care hours, or no agent at the console), opens a ticket answered by email."""

    def name(self) -> str:
        return "action_human_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        outcome = self.services.handoff_desk.request(
            tracker.sender_id,
            trigger="request",
            reason=f"{latest_intent(tracker) or 'unknown'}: {redact(latest_text(tracker))[:500]}",
            sentiment=slot_text(tracker, "sentiment"),
            last_intent=latest_intent(tracker),
            order_id=slot_text(tracker, "last_order_id") if tracker.get_slot("verified_at") else None,
        )
        if outcome.kind == "queued":
            dispatcher.utter_message(response="utter_handoff_queued", position=outcome.position)
            dispatcher.utter_message(
                json_message={"type": "handoff_status", "status": "waiting", "position": outcome.position}
            )
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
