"""A real conversation over REST with both servers running as processes."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request

import pytest

from shop.settings import current
from tests.e2e.conftest import Chat

pytestmark = pytest.mark.e2e


def test_greeting(stack):
    reply = Chat(stack, "e2e-greet").text("hi")
    assert "assistant" in reply.lower()


def test_order_status_form_reveals_the_real_status(stack):
    chat = Chat(stack, "e2e-order")
    assert "order number" in chat.text("where is my order").lower()
    assert "email" in chat.text("SO10003").lower()
    reply = chat.text("ana.lopez@example.com")
    assert "SO10003" in reply and "shipped" in reply and "tracking number" in reply
    slots = chat.tracker()["slots"]
    assert slots["verified_customer_id"] == "C0000"


def test_an_order_number_written_with_a_hash_is_one(stack):
    chat = Chat(stack, "e2e-hash")
    assert "order number" in chat.text("where is my order").lower()
    reply = chat.text("#SO10003")
    assert "email" in reply.lower() and "doesn't look like an order number" not in reply
    assert "SO10003" in chat.text("ana.lopez@example.com")


def test_wrong_email_reveals_nothing(stack):
    chat = Chat(stack, "e2e-mismatch")
    chat.text("I want to check the status of my order")
    chat.text("SO10003")
    reply = chat.text("ben.okafor@example.com")
    assert "couldn't find an order" in reply and "tracking" not in reply


def test_faq_in_the_middle_of_a_form_then_the_form_resumes(stack):
    chat = Chat(stack, "e2e-interrupt")
    assert "order number" in chat.text("where's my package?").lower()
    reply = chat.text("how long do refunds take?")
    assert "order number" in reply.lower()  # answered, then the form asks again
    assert "email" in chat.text("SO10004").lower()
    assert "delivered" in chat.text("ana.lopez@example.com")


def test_the_same_customers_next_order_and_it_need_no_email_again(stack):
    chat = Chat(stack, "e2e-context")
    chat.text("where is my order")
    chat.text("SO10003")
    assert "shipped" in chat.text("ana.lopez@example.com")
    # Another of Ana's orders, by its number alone: no email question.
    reply = chat.text("and the other one, SO10001?")
    assert "SO10001" in reply and "email" not in reply.lower()
    # "cancel it" is the order just looked at; declining keeps it.
    reply = chat.text("ok cancel it then")
    assert "SO10001" in reply and "cancel" in reply.lower()
    assert "stays" in chat.text("no").lower()
    # Another customer's order asks for its own email, and reveals nothing before it.
    reply = chat.text("what about SO10008")
    assert "email" in reply.lower() and "SO10008 (" not in reply


def test_a_long_conversation_keeps_its_state_past_the_tracker_window(stack):
    chat = Chat(stack, "e2e-long")
    chat.text("where is my order")
    chat.text("SO10003")
    assert "shipped" in chat.text("ana.lopez@example.com")
    small_talk = ("hi", "thanks", "what can you do?")
    for n in range(45):
        chat.text(small_talk[n % 3])
    with sqlite3.connect(stack.env["RASA_TRACKER_DB"]) as db:
        stored = db.execute("SELECT count(*) FROM events WHERE sender_id = 'e2e-long'").fetchone()[0]
        states = db.execute("SELECT count(*) FROM tracker_windows WHERE sender_id = 'e2e-long'").fetchone()[0]
    assert stored > current().tracker_window_events and states == 1  # the next turn loads a window
    # The verification, 45 turns back, is in the stored slots: Ana's other order needs no email.
    reply = chat.text("and what about SO10001?")
    assert "SO10001" in reply and "email" not in reply.lower()
    users = [e["text"] for e in chat.tracker()["events"] if e["event"] == "user"]
    assert len(users) == 49 and users[0] == "where is my order"  # the API still shows every event


def test_an_order_number_after_a_complaint_is_looked_up(stack):
    chat = Chat(stack, "e2e-complaint")
    chat.text("my parcel is a week late, this is ridiculous")
    reply = chat.text("SO10003")
    assert "email" in reply.lower() and "found" not in reply.lower()


def test_a_policy_question_is_answered_then_the_action_offered_and_yes_takes_it_up(stack):
    """Questions first: the answer from the documents, then the offer with its buttons; a typed
    "yes" starts the return form, the button's payload does too, and "no" leaves it."""
    chat = Chat(stack, "e2e-offer")
    *answer, offer = chat.say("how many days do I have to return something")
    answer_text = "\n".join(m.get("text", "") for m in answer)
    assert "30 days" in answer_text and "_Source:" in answer_text and "helpful" not in answer_text
    assert not any(m.get("buttons") for m in answer)
    assert "start a return" in offer["text"] and [b["payload"] for b in offer["buttons"]] == ["/return_item", "/deny"]
    assert "order number" in chat.text("yes please").lower()
    assert chat.tracker()["active_loop"]["name"] == "return_form"

    button = Chat(stack, "e2e-offer-button")
    button.say("how many days do I have to return something")
    assert "order number" in button.text("/return_item").lower()

    unanswered = Chat(stack, "e2e-offer-person")
    assert "customer care team?" in unanswered.text("how do I become a franchise partner of yours?")
    handed = unanswered.text("yes")
    assert "anything else" not in handed.lower() and ("colleague" in handed or "email" in handed.lower())

    declined = Chat(stack, "e2e-offer-no")
    declined.say("how many days do I have to return something")
    assert "anything else" in declined.text("no thanks").lower()
    assert not (declined.tracker()["active_loop"] or {}).get("name")


def test_never_mind_leaves_the_form_and_says_so(stack):
    chat = Chat(stack, "e2e-stop")
    assert "order number" in chat.text("I want to return something").lower()
    assert "stopped" in chat.text("actually never mind").lower()
    assert "assistant" in chat.text("hi").lower()  # the form is gone: a greeting is a greeting


def test_api_needs_the_token(stack):
    request = urllib.request.Request(f"{stack.rasa_url}/conversations/e2e-greet/tracker")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 401


def test_conversation_survives_in_the_tracker_store(stack):
    chat = Chat(stack, "e2e-persist")
    chat.text("hello")
    chat.text("what can you do?")
    events = [e for e in chat.tracker()["events"] if e["event"] in ("user", "bot")]
    assert [e["event"] for e in events].count("user") == 2
    assert json.dumps(events)  # serialisable, i.e. read back from the SQL store


def _post_raw(stack, body: bytes) -> tuple[int, object]:
    request = urllib.request.Request(
        f"{stack.rasa_url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"message": "hi"}', '"sender"'),
        (b'{"sender": "x", "message": 42}', '"message"'),
        (b'{"sender": "x"}', '"message"'),
        (b'{"sender": 7, "message": "hi"}', '"sender"'),
        (b'{"sender": "x", "message": "hi", "metadata": "page"}', '"metadata"'),
    ],
)
def test_malformed_requests_get_a_clear_4xx(stack, body, needle):
    status, payload = _post_raw(stack, body)
    assert status == 400
    assert needle in payload["error"]


def test_empty_and_huge_messages_get_a_polite_reply_and_are_not_processed(stack):
    chat = Chat(stack, "e2e-bad-input")
    assert "empty" in chat.text("   ")
    assert "bit long" in chat.text("x" * 5000)
    assert "assistant" in chat.text("hi").lower()  # the conversation carries on
    user_events = [e for e in chat.tracker()["events"] if e["event"] == "user"]
    assert [e["text"] for e in user_events] == ["hi"]
