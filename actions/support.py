"""Hand-off to a human agent."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import UsesServices, latest_intent, latest_text, redact


class ActionHumanHandoff(UsesServices, Action):
    """Marks the conversation for an agent (a row in the shop DB's hand-off queue)."""

    def name(self) -> str:
        return "action_human_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        reason = f"{latest_intent(tracker) or 'unknown'}: {redact(latest_text(tracker))[:500]}"
        ticket = self.services.shop_db.log_handoff(tracker.sender_id, reason)
        dispatcher.utter_message(
            # No one can answer inside this chat yet (issue #22): the reply promises only what happens.
            text=f"I can't bring a person into this chat yet, but I've noted your request for our customer care team "
            f'(reference H-{ticket}). To reach them now, ask me "how can I contact you?" for their email and phone.'
        )
        return [SlotSet("handoff_requested", True)]
