from __future__ import annotations

from dataclasses import replace

import pytest
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.support import ActionHumanHandoff, ActionSubmitHandoffTicket, ValidateHandoffTicketForm
from retrieval.services import ServiceRegistry
from shop.agents import AgentAccounts
from shop.db import ShopDB
from shop.handoff import HandoffDesk
from shop.settings import current
from tests.actions.conftest import load_tracker, slot_events


def services_with_hours(url: str, hours: str, agent_there: bool) -> ServiceRegistry:
    settings = replace(current(), care_hours=hours, care_timezone="UTC")
    db = ShopDB(url)
    if agent_there:
        accounts = AgentAccounts(db, settings)
        accounts.add("ana", "Ana", "a long enough password")
        accounts.seen("ana")
    return ServiceRegistry(settings, shop_db=db, handoff_desk=HandoffDesk(db, settings))


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [m.get("response") for m in dispatcher.messages]


@pytest.mark.parametrize(
    "text", ["I want a real person now", "", "x" * 5000, "my email is ana.lopez@example.com, order SO10003"]
)
async def test_in_care_hours_with_an_agent_there_the_shopper_is_queued(text, shop_db_url):
    services = services_with_hours(shop_db_url, "always", agent_there=True)
    dispatcher = CollectingDispatcher()
    tracker = load_tracker("order_form_filled", text=text, intent="human_handoff", sender_id="needs-help")
    events = await ActionHumanHandoff(services).run(dispatcher, tracker, {})
    assert responses(dispatcher)[0] == "utter_handoff_queued" and dispatcher.messages[0]["position"] == 1
    assert dispatcher.messages[1]["custom"] == {"type": "handoff_status", "status": "waiting", "position": 1}
    assert slot_events(events) == {"handoff_requested": True}
    queued = services.handoff_desk.active("needs-help")
    assert queued["status"] == "waiting" and queued["trigger"] == "request"
    # The queue keeps the reason but never the shopper's email or full order id.
    assert "ana.lopez@example.com" not in queued["reason"] and "SO10003" not in queued["reason"]
    assert len(queued["reason"]) <= 600


@pytest.mark.parametrize(
    ("hours", "agent_there", "response"),
    [
        ("mon 00:00-00:00", True, "utter_handoff_closed"),  # a window that never opens
        ("always", False, "utter_handoff_nobody_there"),
    ],
)
async def test_when_nobody_can_join_the_shopper_gets_a_ticket_and_no_promise(hours, agent_there, response, shop_db_url):
    services = services_with_hours(shop_db_url, hours, agent_there)
    dispatcher = CollectingDispatcher()
    tracker = load_tracker("order_form_filled", text="a person please", intent="human_handoff", sender_id="late")
    events = await ActionHumanHandoff(services).run(dispatcher, tracker, {})
    assert responses(dispatcher) == [response]
    assert FollowupAction("handoff_ticket_form") in events
    assert services.handoff_desk.active("late") is None

    form = ValidateHandoffTicketForm(services)
    dispatcher = CollectingDispatcher()
    assert form.validate_ticket_email("not an email", dispatcher, tracker, {}) == {"ticket_email": None}
    assert responses(dispatcher) == ["utter_ticket_email_invalid"]
    assert form.validate_ticket_email(" Bo@Example.com ", dispatcher, tracker, {}) == {"ticket_email": "bo@example.com"}
    message = form.validate_ticket_message("x" * 5000, dispatcher, tracker, {})["ticket_message"]
    assert len(message) == 2000

    dispatcher = CollectingDispatcher()
    filled = load_tracker(
        "order_form_filled", slots={"ticket_email": "bo@example.com", "ticket_message": "call me"}, sender_id="late"
    )
    events = await ActionSubmitHandoffTicket(services).run(dispatcher, filled, {})
    assert responses(dispatcher) == ["utter_ticket_recorded"] and dispatcher.messages[0]["email"] == "bo@example.com"
    assert slot_events(events) == {"ticket_email": None, "ticket_message": None}


async def test_a_ticket_that_cannot_be_found_says_so(shop_db_url):
    services = services_with_hours(shop_db_url, "always", agent_there=True)
    dispatcher = CollectingDispatcher()
    filled = load_tracker("order_form_filled", slots={"ticket_email": "bo@example.com", "ticket_message": "hi"})
    await ActionSubmitHandoffTicket(services).run(dispatcher, filled, {})
    assert responses(dispatcher) == ["utter_ticket_lost"]
