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


def tracker_with(messages: list[tuple[str, str]], sender: str = "s", slots: dict | None = None):  # type: ignore[no-untyped-def]
    """A tracker whose user turns had these (intent, sentiment) readings."""
    from rasa_sdk import Tracker

    events = [{"event": "session_started"}]
    for intent, sentiment in messages:
        parse = {"intent": {"name": intent}, "entities": [{"entity": "sentiment", "value": sentiment}]}
        events += [{"event": "user", "text": "...", "parse_data": parse}, {"event": "bot", "text": "ok"}]
    latest = events[-2]["parse_data"] if messages else {}
    return Tracker(sender, slots or {}, {**latest, "text": "..."}, events, False, None, None, "action_listen")


def test_signals_count_anger_and_misunderstandings_in_a_row_within_the_session():
    from actions.common import conversation_signals

    tracker = tracker_with(
        [("complaint", "negative"), ("nlu_fallback", "neutral"), ("greet", "negative"), ("out_of_scope", "neutral")]
    )
    tracker.events.insert(
        0, {"event": "user", "text": "old", "parse_data": {"entities": [{"entity": "sentiment", "value": "negative"}]}}
    )
    signals = conversation_signals(tracker)
    assert (signals.angry_messages, signals.misunderstood_in_a_row) == (2, 1)
    signals = conversation_signals(tracker_with([("nlu_fallback", "neutral"), ("out_of_scope", "neutral")]))
    assert signals.misunderstood_in_a_row == 2
    assert conversation_signals(tracker_with([], slots={"unanswered_questions": 2.0})).unanswered_questions == 2


@pytest.mark.parametrize(
    ("triggers", "agent_there", "angry_messages", "hands_off"),
    [
        ("request anger", True, 2, True),
        ("request anger", True, 1, False),  # once is a slip: the apology and the offer
        ("request", True, 2, False),  # switched off
        ("request anger", False, 2, False),  # nobody to join: no ticket form the shopper didn't ask for
    ],
)
async def test_a_second_angry_message_brings_a_person_in_when_one_can_join(
    triggers, agent_there, angry_messages, hands_off, shop_db_url
):
    from actions.support import ActionSentimentApology

    services = services_with_hours(shop_db_url, "always", agent_there)
    settings = replace(services.settings, handoff_triggers=tuple(triggers.split()))
    services = ServiceRegistry(settings, shop_db=services.shop_db, handoff_desk=HandoffDesk(services.shop_db, settings))
    dispatcher = CollectingDispatcher()
    tracker = tracker_with([("greet", "neutral")] + [("order_status", "negative")] * angry_messages, sender="angry")
    events = await ActionSentimentApology(services).run(dispatcher, tracker, {})
    if hands_off:
        assert responses(dispatcher)[:2] == ["utter_handoff_because_anger", "utter_handoff_queued"]
        assert FollowupAction("action_listen") in events
        assert services.handoff_desk.active("angry")["trigger"] == "anger"
    else:
        assert responses(dispatcher) == ["utter_sentiment_apology"] and events == []
        assert services.handoff_desk.history("angry") == []


async def test_two_misunderstood_messages_or_two_unanswered_questions_bring_a_person_in(shop_db_url):
    from actions.support import hand_off_if_due
    from shop.handoff import ConversationSignals

    services = services_with_hours(shop_db_url, "always", agent_there=True)
    for sender, signals, trigger in (
        ("lost", ConversationSignals(misunderstood_in_a_row=2), "fallback"),
        ("curious", ConversationSignals(unanswered_questions=2), "kb_unsure"),
    ):
        dispatcher = CollectingDispatcher()
        events = hand_off_if_due(services, dispatcher, tracker_with([], sender=sender), signals)
        assert events is not None and responses(dispatcher)[0] == f"utter_handoff_because_{trigger}"
        assert services.handoff_desk.active(sender)["trigger"] == trigger
        # Already waiting: no second hand-off.
        assert hand_off_if_due(services, CollectingDispatcher(), tracker_with([], sender=sender), signals) is None
