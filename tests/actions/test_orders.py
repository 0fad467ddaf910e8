"""Order actions against a real generated SQLite shop DB (fixture orders SO10001-SO10008)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import orders
from tests.actions.conftest import load_tracker, slot_events, texts

pytestmark = pytest.mark.usefixtures("shop_db_url")
ANA = "ana.lopez@example.com"
BEN = "ben.okafor@example.com"


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher, events


async def test_order_status_happy_path_reveals_status_and_tracking(services):
    dispatcher, events = await run(orders.ActionCheckOrderStatus(services), load_tracker("order_form_filled"))
    reply = texts(dispatcher)[0]
    assert "SO10003" in reply and "shipped" in reply
    order = services.shop_db.get_order("SO10003")
    assert order is not None and order.tracking_number and order.tracking_number in reply
    slots = slot_events(events)
    assert slots["verified_customer_id"] == "C0000"
    assert slots["order_id"] is None  # the next look-up asks again


async def test_unknown_order_and_wrong_email_get_the_same_reply(services):
    unknown, ev1 = await run(
        orders.ActionCheckOrderStatus(services),
        load_tracker("order_form_filled", {"order_id": "SO99999"}, sender_id="a"),
    )
    mismatch, ev2 = await run(
        orders.ActionCheckOrderStatus(services), load_tracker("order_form_filled", {"email": BEN}, sender_id="b")
    )
    assert texts(unknown) == texts(mismatch) == [orders.NOT_FOUND]
    for events in (ev1, ev2):
        assert slot_events(events) == {"order_id": None, "email": None}
        assert "verified_customer_id" not in slot_events(events)


async def test_email_is_compared_case_insensitively(services):
    dispatcher, _ = await run(
        orders.ActionCheckOrderStatus(services),
        load_tracker("order_form_filled", {"email": "  Ana.Lopez@Example.COM "}),
    )
    assert "SO10003" in texts(dispatcher)[0]


async def test_repeated_failures_are_throttled(services):
    for _ in range(services.orders.max_failed_verifications):
        await run(
            orders.ActionCheckOrderStatus(services),
            load_tracker("order_form_filled", {"order_id": "SO99999"}, sender_id="prober"),
        )
    # Even the right details are refused while throttled, so guessing gains nothing.
    dispatcher, _ = await run(
        orders.ActionCheckOrderStatus(services), load_tracker("order_form_filled", sender_id="prober")
    )
    assert texts(dispatcher) == [orders.THROTTLED]
    other, _ = await run(
        orders.ActionCheckOrderStatus(services), load_tracker("order_form_filled", sender_id="someone-else")
    )
    assert "SO10003" in texts(other)[0]


async def test_a_new_sender_id_for_each_guess_is_throttled_by_the_channels_client_key(services):
    from shop.client_address import CLIENT_METADATA_KEY

    same_client = {CLIENT_METADATA_KEY: "k-prober"}
    for attempt in range(services.orders.max_failed_verifications_per_client):
        tracker = load_tracker(
            "order_form_filled", {"order_id": "SO99999"}, sender_id=f"rotating-{attempt}", metadata=same_client
        )
        dispatcher, _ = await run(orders.ActionCheckOrderStatus(services), tracker)
        assert texts(dispatcher) == [orders.NOT_FOUND]
    fresh_sender = load_tracker("order_form_filled", sender_id="rotating-new", metadata=same_client)
    dispatcher, _ = await run(orders.ActionCheckOrderStatus(services), fresh_sender)
    assert texts(dispatcher) == [orders.THROTTLED]
    other_client = load_tracker(
        "order_form_filled", sender_id="rotating-new", metadata={CLIENT_METADATA_KEY: "k-shopper"}
    )
    dispatcher, _ = await run(orders.ActionCheckOrderStatus(services), other_client)
    assert "SO10003" in texts(dispatcher)[0]


async def test_cancel_asks_for_confirmation_then_cancels(services):
    dispatcher, events = await run(
        orders.ActionCancelOrder(services), load_tracker("order_form_filled", {"order_id": "SO10001"})
    )
    assert "cancel" in texts(dispatcher)[0].lower()
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert slot_events(events)["awaiting_cancel_confirmation"] is True
    assert services.shop_db.get_order("SO10001").status == "placed"  # nothing changes before confirmation

    dispatcher, events = await run(
        orders.ActionConfirmCancelOrder(services), load_tracker("cancel_awaiting_confirmation")
    )
    assert "cancelled" in texts(dispatcher)[0]
    assert services.shop_db.get_order("SO10001").status == "cancelled"
    assert slot_events(events)["awaiting_cancel_confirmation"] is False


async def test_the_cancellation_says_when_the_money_comes_back_as_the_shops_documents_do(
    shop_db_url, embedder, demo_kb
):
    """No refund timing is written in the action: the shop's documents give it (the demo's
    say 3 business days for an order cancelled before it ships), or none is promised."""
    from retrieval.services import ServiceRegistry
    from shop.db import ShopDB

    with_documents = ServiceRegistry(shop_db=ShopDB(shop_db_url), embedder=embedder, knowledge_base=demo_kb)
    dispatcher, _ = await run(
        orders.ActionConfirmCancelOrder(with_documents), load_tracker("cancel_awaiting_confirmation")
    )
    [reply] = texts(dispatcher)
    assert reply.startswith("Done: order SO10001 is cancelled.") and "3 business days" in reply
    assert "5-7" not in reply


async def test_cancel_declined_keeps_the_order(services):
    tracker = load_tracker("cancel_awaiting_confirmation", text="no", intent="deny")
    dispatcher, _ = await run(orders.ActionConfirmCancelOrder(services), tracker)
    assert dispatcher.messages[0].get("response") == "utter_cancel_kept"
    assert services.shop_db.get_order("SO10001").status == "placed"


async def test_cancel_refused_once_shipped(services):
    dispatcher, events = await run(
        orders.ActionCancelOrder(services), load_tracker("order_form_filled", {"order_id": "SO10003"})
    )
    assert "already shipped" in texts(dispatcher)[0]
    assert slot_events(events)["awaiting_cancel_confirmation"] is False
    assert services.shop_db.get_order("SO10003").status == "shipped"


async def test_confirm_without_pending_cancellation_changes_nothing(services):
    tracker = load_tracker("cancel_awaiting_confirmation", {"awaiting_cancel_confirmation": False})
    dispatcher, _ = await run(orders.ActionConfirmCancelOrder(services), tracker)
    assert "no cancellation waiting" in texts(dispatcher)[0]
    assert services.shop_db.get_order("SO10001").status == "placed"


@pytest.mark.parametrize(
    ("order_id", "expected"),
    [
        ("SO10004", "return"),  # delivered 5 days ago: inside the window
        ("SO10005", "outside our 30-day"),  # delivered 60 days ago
        ("SO10002", "cancel it instead"),  # paid, not shipped
        ("SO10003", "still on its way"),  # shipped
        ("SO10007", "already been returned"),
    ],
)
async def test_return_checks_the_window_and_status(order_id, expected, services):
    dispatcher, _ = await run(
        orders.ActionRequestReturn(services), load_tracker("order_form_filled", {"order_id": order_id})
    )
    assert expected in texts(dispatcher)[0]


async def test_return_inside_window_is_recorded_and_explained_as_the_shops_documents_do(shop_db_url, embedder, demo_kb):
    """Nothing is promised that the assistant doesn't do (it sends no email): how to send the
    items back is the shop's own process, from its documents."""
    from retrieval.services import ServiceRegistry
    from shop.db import ShopDB

    with_documents = ServiceRegistry(shop_db=ShopDB(shop_db_url), embedder=embedder, knowledge_base=demo_kb)
    dispatcher, _ = await run(
        orders.ActionRequestReturn(with_documents), load_tracker("order_form_filled", {"order_id": "SO10004"})
    )
    [reply] = texts(dispatcher)
    assert reply.startswith("Your return R") and "for order SO10004 is started." in reply
    assert "prepaid return label" in reply and "14 days" not in reply


HOSTILE = ["", " ", "x" * 5000, "SO10001' OR '1'='1", "'; DROP TABLE orders;--", "SO1000\x00", "ＳＯ１０００１"]


@pytest.mark.parametrize("value", HOSTILE)
async def test_order_id_validation_rejects_bad_input(value):
    dispatcher = CollectingDispatcher()
    result = orders.ValidateOrderStatusForm().validate_order_id(
        value, dispatcher, load_tracker("order_form_filled"), {}
    )
    assert result == {"order_id": None}
    assert texts(dispatcher) == [orders.bad_order_id_reply()]


@pytest.mark.parametrize(
    "value", ["", "not an email", "a@b", "x" * 5000 + "@example.com", "' OR 1=1 --@x.com", None, 42]
)
async def test_email_validation_rejects_bad_input(value):
    dispatcher = CollectingDispatcher()
    result = orders.ValidateCancelOrderForm().validate_email(value, dispatcher, load_tracker("order_form_filled"), {})
    assert result == {"email": None}
    assert texts(dispatcher) == [orders.BAD_EMAIL]


async def test_order_id_validation_normalises_what_people_type():
    for typed in ("so-10003", "#SO10003", " SO10003 ", "10003"):
        result = orders.ValidateReturnForm().validate_order_id(
            typed, CollectingDispatcher(), load_tracker("order_form_filled"), {}
        )
        assert result == {"order_id": "SO10003"}


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_slot_values_reveal_nothing_and_break_nothing(value, services):
    for action in (
        orders.ActionCheckOrderStatus(services),
        orders.ActionCancelOrder(services),
        orders.ActionRequestReturn(services),
    ):
        dispatcher, _ = await run(
            action, load_tracker("order_form_filled", {"order_id": value}, sender_id=f"h{hash(value)}")
        )
        assert texts(dispatcher) == [orders.NOT_FOUND]
    assert services.shop_db.get_order("SO10001") is not None  # the orders table survived


async def test_a_misread_value_for_a_slot_not_asked_for_is_dropped_silently():
    # "ORD-99999" while the form asks for the order number: the NLU once read "-99999" as an email.
    asking_order_id = load_tracker("order_form_filled", {"requested_slot": "order_id"})
    dispatcher = CollectingDispatcher()
    assert orders.ValidateOrderStatusForm().validate_email("-99999", dispatcher, asking_order_id, {}) == {"email": None}
    assert texts(dispatcher) == []
    asking_email = load_tracker("order_form_filled", {"requested_slot": "email"})
    dispatcher = CollectingDispatcher()
    assert orders.ValidateOrderStatusForm().validate_email("-99999", dispatcher, asking_email, {}) == {"email": None}
    assert texts(dispatcher) == [orders.BAD_EMAIL]


async def test_the_order_number_is_found_in_a_short_reply():
    tracker = load_tracker("order_form_filled", {"requested_slot": "order_id"})
    for typed in ("my order is 10003", "it's SO10003.", "the number is so-10003 please"):
        assert orders.ValidateCancelOrderForm().validate_order_id(typed, CollectingDispatcher(), tracker, {}) == {
            "order_id": "SO10003"
        }
    for typed in ("10003 or maybe 10004", "call 555-10003", "ORD-10003"):
        dispatcher = CollectingDispatcher()
        assert orders.ValidateCancelOrderForm().validate_order_id(typed, dispatcher, tracker, {}) == {"order_id": None}
        assert texts(dispatcher) == [orders.bad_order_id_reply()]


# ---- the conversation's own orders (issue #26) ------------------------------------------------


def form_turn(
    text: str,
    intent: str,
    slots: dict[str, Any],
    order_id_entity: str | None = None,
    sender_id: str = "s",
    mention: str | None = None,
) -> Tracker:
    """A form's validation call for one shopper message: the slots as the conversation left
    them, the message, and the order id Rasa extracted from it (if it named one)."""
    tracker = load_tracker(
        "order_form_filled",
        {"order_id": None, "requested_slot": None, **slots},
        text=text,
        intent=intent,
        sender_id=sender_id,
    )
    entities = [{"entity": "order_id", "value": order_id_entity}] if order_id_entity else []
    if mention:
        entities.append({"entity": "mention", "value": mention})
    tracker.latest_message["entities"] = entities
    tracker.events.append(
        {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": entities}}
    )
    if order_id_entity:
        tracker.events.append({"event": "slot", "name": "order_id", "value": order_id_entity})
        tracker.slots["order_id"] = order_id_entity
    return tracker


# What Rasa sends the validation actions about the forms (bot/domain/orders.yml).
FORMS_DOMAIN = {
    "forms": {name: {"required_slots": ["order_id", "email"]} for name in ("order_status_form", "return_form")}
}


def slots_after(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_a_verified_customers_other_order_needs_no_email_again(services):
    kept = {"email": ANA, "verified_at": time.time() - 60, "last_order_id": "SO10003"}
    tracker = form_turn("and where is SO10001?", "order_status", kept, order_id_entity="SO10001")
    events = await orders.ValidateOrderStatusForm(services).run(CollectingDispatcher(), tracker, FORMS_DOMAIN)
    assert slots_after(events).get("order_id") == "SO10001" and "email" not in slots_after(events)


async def test_an_order_the_kept_email_does_not_match_asks_for_the_email_again(services):
    kept = {"email": ANA, "verified_at": time.time() - 60}
    for other in ("SO10008", "SO99999"):  # another customer's order, and none at all: the same question
        tracker = form_turn(f"what about {other}", "order_status", kept, order_id_entity=other)
        events = await orders.ValidateOrderStatusForm(services).run(CollectingDispatcher(), tracker, FORMS_DOMAIN)
        assert slots_after(events)["email"] is None
    assert services.orders.failed_attempts.recent("sender:s", 900) == 0  # asking again is no failure


async def test_the_kept_email_expires(services):
    stale = {"email": ANA, "verified_at": time.time() - services.orders.verified_for_s - 5}
    tracker = form_turn("where is SO10001", "order_status", stale, order_id_entity="SO10001")
    events = await orders.ValidateOrderStatusForm(services).run(CollectingDispatcher(), tracker, FORMS_DOMAIN)
    assert slots_after(events)["email"] is None


async def test_return_it_means_the_order_just_looked_at(services):
    after_status = {"email": ANA, "verified_at": time.time() - 60, "last_order_id": "SO10004"}
    tracker = form_turn("ok I want to return it", "return_item", after_status)
    events = await orders.ValidateReturnForm(services).run(CollectingDispatcher(), tracker, FORMS_DOMAIN)
    assert slots_after(events).get("order_id") == "SO10004" and "email" not in slots_after(events)
    # "where is my order?" could be any order: it is asked for.
    tracker = form_turn("where is my order?", "order_status", after_status)
    events = await orders.ValidateOrderStatusForm(services).run(CollectingDispatcher(), tracker, FORMS_DOMAIN)
    assert "order_id" not in slots_after(events)


@pytest.mark.parametrize("mention", ["it", "that one", "that order"])
async def test_a_status_question_pointing_at_the_order_just_discussed_needs_no_number(mention, services):
    after_status = {"email": ANA, "verified_at": time.time() - 60, "last_order_id": "SO10003"}
    tracker = form_turn(f"so when will {mention} get here", "order_status", after_status, mention=mention)
    events = await orders.ValidateOrderStatusForm(services).run(CollectingDispatcher(), tracker, FORMS_DOMAIN)
    assert slots_after(events).get("order_id") == "SO10003" and "email" not in slots_after(events)


@pytest.mark.parametrize("mention", ["other", "another one", "the other"])
async def test_the_other_order_is_asked_for_not_taken_from_the_conversation(mention, services):
    after_status = {"email": ANA, "verified_at": time.time() - 60, "last_order_id": "SO10004"}
    for intent, form in (("order_status", orders.ValidateOrderStatusForm), ("return_item", orders.ValidateReturnForm)):
        tracker = form_turn(f"what about my {mention} order?", intent, after_status, mention=mention)
        events = await form(services).run(CollectingDispatcher(), tracker, FORMS_DOMAIN)
        assert "order_id" not in slots_after(events)


def test_mentions_of_another_order():
    from shop.orders import mention_means_another_order

    assert mention_means_another_order("the other one") and mention_means_another_order("Another")
    assert not mention_means_another_order("it") and not mention_means_another_order("that order")


async def test_a_match_remembers_the_order_and_when(services):
    before = time.time()
    _, events = await run(orders.ActionCheckOrderStatus(services), load_tracker("order_form_filled"))
    slots = slot_events(events)
    assert slots["last_order_id"] == "SO10003" and slots["verified_customer_id"] == "C0000"
    assert before <= slots["verified_at"] <= time.time()


async def test_yes_inside_a_form_gets_a_hint_once_then_the_offer_to_stop():
    tracker = load_tracker("order_form_filled", {"requested_slot": "email"}, text="yes", intent="affirm")
    tracker.events.append({"event": "active_loop", "name": "order_status_form"})
    dispatcher, _ = await run(orders.ActionNudgeForm(), tracker)
    assert dispatcher.messages[0]["response"] == "utter_nudge_email"
    tracker.events.append({"event": "action", "name": "action_nudge_form"})
    dispatcher, _ = await run(orders.ActionNudgeForm(), tracker)
    assert dispatcher.messages[0]["response"] == "utter_offer_stop_order_form"


async def test_thanks_inside_the_ticket_form_gets_the_email_hint_then_the_offer_to_leave_it():
    tracker = load_tracker("order_form_filled", {"requested_slot": "ticket_email"}, text="ok thanks", intent="thank")
    tracker.events.append({"event": "active_loop", "name": "handoff_ticket_form"})
    tracker.active_loop = {"name": "handoff_ticket_form"}
    dispatcher, _ = await run(orders.ActionNudgeForm(), tracker)
    assert dispatcher.messages[0]["response"] == "utter_nudge_ticket_email"
    tracker.events.append({"event": "action", "name": "action_nudge_form"})
    dispatcher, _ = await run(orders.ActionNudgeForm(), tracker)
    assert dispatcher.messages[0]["response"] == "utter_offer_stop_ticket_form"


async def test_an_order_question_pointing_back_at_an_answer_is_answered_as_a_follow_up(services):
    """ "and if it already shipped?" right after the answer on changing an address: no order is
    in the conversation, so "it" is the answer's topic; a plain order request starts the form."""
    from rasa_sdk.events import FollowupAction

    def after_answer(text: str, mention: str | None, slots: dict[str, Any] | None = None) -> Tracker:
        tracker = form_turn(text, "order_status", slots or {}, mention=mention, sender_id="follow-up")
        tracker.events[-1:-1] = [
            {
                "event": "user",
                "text": "can I change the delivery address?",
                "parse_data": {"intent": {"name": "ask_faq"}},
            },
            {"event": "action", "name": "action_answer_faq"},
            {"event": "slot", "name": "answered_question", "value": "can I change the delivery address?"},
        ]
        return tracker

    dispatcher = CollectingDispatcher()
    events = await orders.ActionFollowUpOrOrderForm(services).run(
        dispatcher, after_answer("and if it already shipped?", "it"), {}
    )
    assert "Changing the delivery address_" in dispatcher.messages[0]["text"]
    assert slots_after(events) == {
        "answered_question": "can I change the delivery address? and if it already shipped?",
        "offered_action": None,
    }

    for text, mention, slots in (
        ("where is my order?", None, {}),
        ("and when will it arrive?", "it", {"last_order_id": "SO10003"}),
    ):
        dispatcher = CollectingDispatcher()
        events = await orders.ActionFollowUpOrOrderForm(services).run(
            dispatcher, after_answer(text, mention, slots), {}
        )
        assert events == [FollowupAction("order_status_form")] and dispatcher.messages == []


async def test_the_order_number_is_asked_for_and_checked_in_the_shops_own_format(monkeypatch):
    ask = CollectingDispatcher()
    await orders.ActionAskOrderId().run(ask, load_tracker("order_form_filled"), {})
    assert texts(ask) == ["What's your order number? It starts with SO, like SO10042."]
    monkeypatch.setenv("SHOP_ORDER_ID_PREFIX", "WC-")
    monkeypatch.setenv("SHOP_ORDER_ID_DIGITS", "4")
    ask = CollectingDispatcher()
    await orders.ActionAskOrderId().run(ask, load_tracker("order_form_filled"), {})
    assert texts(ask) == ["What's your order number? It starts with WC, like WC-1042."]
    form = orders.ValidateOrderStatusForm()
    assert form.validate_order_id("wc 1234", CollectingDispatcher(), load_tracker("order_form_filled"), {}) == {
        "order_id": "WC-1234"
    }
    refused = CollectingDispatcher()
    assert form.validate_order_id("SO10042", refused, load_tracker("order_form_filled"), {}) == {"order_id": None}
    assert texts(refused) == ["That doesn't look like an order number. Order numbers look like WC-1042."]
