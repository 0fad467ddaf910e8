"""A person takes over a chat: the real Rasa server, action server and console API, over REST.

REST can't be pushed to, so the agent's messages reach a REST shopper in the reply to their
next message; the browser test (tests/web/test_agent_console.py) covers socket.io's live path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.stack import Stack
from shop.agents import AgentAccounts
from shop.db import ShopDB
from shop.handoff import HandoffDesk, agents, handoff_conversations
from tests.e2e.conftest import AgentConsole, Chat, start_private_stack

pytestmark = pytest.mark.e2e
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def handoff_stack(tmp_path_factory: pytest.TempPathFactory, generated_shop: Path) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("handoff")
    env = {"SHOP_CARE_HOURS": "always", "SHOP_MAX_FAILED_LOGINS": "3"}
    stack = start_private_stack(folder, generated_shop, env)
    accounts = AgentAccounts(ShopDB(stack.env["SHOP_DATABASE_URL"]))
    for name, display in (("ana", "Ana"), ("ben", "Ben"), ("cy", "Cy")):
        accounts.add(name, display, PASSWORD)
    yield stack
    stack.stop()


def desk(stack: Stack) -> HandoffDesk:
    return HandoffDesk(ShopDB(stack.env["SHOP_DATABASE_URL"]))


def texts(replies: list[dict]) -> list[str]:
    return [r["text"] for r in replies if r.get("text")]


def test_with_nobody_at_the_console_the_shopper_gets_a_ticket_and_no_promise(handoff_stack):
    chat = Chat(handoff_stack, "handoff-nobody")
    reply = chat.text("I want to talk to a human")
    assert "Nobody from customer care is free" in reply and "join this chat" not in reply
    assert "email" in chat.text("bo at example dot com").lower()
    assert "what would you like them to know" in chat.text("bo@example.com").lower()
    reply = chat.text("My parcel never arrived, please call me back.")
    assert "they'll reply to bo@example.com" in reply
    table = handoff_conversations
    with desk(handoff_stack).engine.connect() as conn:
        query = sa.select(table.c.status, table.c.email, table.c.message).where(table.c.sender_id == "handoff-nobody")
        tickets = [tuple(row) for row in conn.execute(query)]
    assert tickets == [("ticket", "bo@example.com", "My parcel never arrived, please call me back.")]
    assert "order number" in chat.text("where is my order?").lower()  # the bot carries on


def test_never_mind_leaves_the_ticket_form_and_files_nothing(handoff_stack):
    chat = Chat(handoff_stack, "handoff-never-mind")
    assert "Nobody from customer care is free" in chat.text("can I talk to a real person")
    reply = chat.text("never mind")
    assert "no message sent" in reply.lower() and "email" not in reply.lower()
    with desk(handoff_stack).engine.connect() as conn:
        query = sa.select(handoff_conversations.c.email).where(
            handoff_conversations.c.sender_id == "handoff-never-mind"
        )
        assert [row[0] for row in conn.execute(query)] == [None]  # the request is logged, no message
    assert "order number" in chat.text("where is my order?").lower()


def test_thanks_in_the_ticket_form_is_not_taken_for_the_email(handoff_stack):
    chat = Chat(handoff_stack, "handoff-thanks")
    assert "Nobody from customer care is free" in chat.text("can I talk to a real person")
    reply = chat.text("ok thanks")
    assert "no problem" in reply.lower() and "doesn't look like an email" not in reply
    assert "what would you like them to know" in chat.text("bo@example.com").lower()


def test_an_agent_claims_talks_and_hands_back_and_the_tracker_holds_every_message(handoff_stack):
    ana, ben = AgentConsole(handoff_stack), AgentConsole(handoff_stack)
    assert ana.log_in("ana", PASSWORD) == 200 and ben.log_in("ben", PASSWORD) == 200
    chat = Chat(handoff_stack, "handoff-rest")
    assert "pair of boots" not in chat.text("hi")
    replies = chat.say("I want to talk to a human")
    assert "you're number 1 in the queue" in " ".join(texts(replies))
    assert any(r.get("custom", {}).get("status") == "waiting" for r in replies)
    # Waiting: the shopper's message is kept for the agent, and the bot doesn't answer it.
    replies = chat.say("it's about order SO10003, it's late")
    assert texts(replies) == [
        "Your message is with our customer care team; you're number 1 in the queue. "
        'Say "back to the assistant" to carry on with me meanwhile.'
    ]
    row = ana.waiting_for("handoff-rest")
    assert row["status"] == "waiting" and row["trigger"] == "request" and row["position"] == 1

    status, claimed = ana.call("POST", f"/api/conversations/{row['id']}/claim", {})
    assert status == 200 and claimed["handoff"]["agent"] == "ana"
    status, refused = ben.call("POST", f"/api/conversations/{row['id']}/claim", {})
    assert status == 409 and "ana" in refused["error"]
    status, _ = ben.call("POST", f"/api/conversations/{row['id']}/message", {"text": "I'm not on this one"})
    assert status == 409

    hello = "Hi, Ana here <b>from</b> customer care. Let me check SO10003."
    assert ana.call("POST", f"/api/conversations/{row['id']}/message", {"text": hello})[0] == 200
    assert ana.call("POST", f"/api/conversations/{row['id']}/note", {"text": "carrier delay"})[0] == 200
    replies = chat.say("thanks, any news?")
    # REST: the join notice came from the bot before; now Ana's message, and no bot reply.
    assert [(r["text"], r.get("agent")) for r in replies] == [
        ("Ana from customer care has joined the chat.", None),
        (hello, "Ana"),
    ]
    status, conversation = ana.call("GET", f"/api/conversations/{row['id']}")
    lines = [(line["from"], line["text"]) for line in conversation["transcript"]]
    assert ("user", "thanks, any news?") in lines and ("agent", hello) in lines
    assert ("bot", "Ana from customer care has joined the chat.") in lines
    assert conversation["summary"]["orders"] == ["SO10003"]
    assert [n["text"] for n in conversation["notes"]] == ["carrier delay"]

    assert ana.call("POST", f"/api/conversations/{row['id']}/resolve", {})[0] == 200
    assert ana.queue() == []
    replies = texts(chat.say("5"))
    assert (
        replies[0].startswith("Ana has handed you back to the assistant") and "Thanks for rating us 5/5" in replies[1]
    )
    assert desk(handoff_stack).get(row["id"])["rating"] == 5
    assert "order number" in chat.text("where is my order?").lower()  # the bot answers again

    events = chat.tracker()["events"]
    users = [e["text"] for e in events if e["event"] == "user"]
    assert users == [
        "hi",
        "I want to talk to a human",
        "it's about order SO10003, it's late",
        "thanks, any news?",
        "5",
        "where is my order?",
    ]
    # Every shopper message went through the NLU, the rating and those sent to Ana too.
    assert all((e.get("parse_data") or {}).get("intent", {}).get("name") for e in events if e["event"] == "user")
    agent_lines = [e["text"] for e in events if e["event"] == "bot" and (e.get("metadata") or {}).get("agent") == "ana"]
    assert agent_lines == [hello]


def test_back_to_the_assistant_ends_the_hand_off_from_the_shoppers_side(handoff_stack):
    ana = AgentConsole(handoff_stack)
    assert ana.log_in("ana", PASSWORD) == 200
    chat = Chat(handoff_stack, "handoff-back")
    assert "queue" in chat.text("can I speak to a person please")
    assert ana.waiting_for("handoff-back")
    assert "back with the assistant" in chat.text("back to the assistant")
    assert all(row["sender_id"] != "handoff-back" for row in ana.queue())
    assert "order number" in chat.text("where is my order?").lower()


def test_a_restarted_rasa_server_keeps_the_hand_off(handoff_stack):
    ana = AgentConsole(handoff_stack)
    assert ana.log_in("ana", PASSWORD) == 200
    chat = Chat(handoff_stack, "handoff-restart")
    chat.say("let me talk to a human")
    row = ana.waiting_for("handoff-restart")
    assert ana.call("POST", f"/api/conversations/{row['id']}/claim", {})[0] == 200
    handoff_stack.stop_one("rasa")
    handoff_stack.start_rasa()
    assert ana.call("GET", "/api/queue")[0] == 200  # the session outlived the restart too
    assert ana.call("POST", f"/api/conversations/{row['id']}/message", {"text": "Still here."})[0] == 200
    replies = texts(chat.say("hello? where is my order?"))
    assert replies == ["Ana from customer care has joined the chat.", "Still here."]  # no bot answer
    # Ana hands the conversation to Ben, who ends it; Ana can no longer speak in it.
    assert ana.call("POST", f"/api/conversations/{row['id']}/transfer", {"to": "nobody"})[0] == 400
    assert ana.call("POST", f"/api/conversations/{row['id']}/transfer", {"to": "ben"})[0] == 200
    assert ana.call("POST", f"/api/conversations/{row['id']}/message", {"text": "hi again"})[0] == 409
    ben = AgentConsole(handoff_stack)
    assert ben.log_in("ben", PASSWORD) == 200
    assert ben.call("POST", f"/api/conversations/{row['id']}/message", {"text": "Ben here."})[0] == 200
    replies = texts(chat.say("ok"))
    assert replies == ["Ben from customer care is taking over this chat.", "Ben here."]
    assert ben.call("POST", f"/api/conversations/{row['id']}/resolve", {})[0] == 200


def test_a_shopper_still_waiting_when_every_agent_has_gone_is_offered_a_ticket(handoff_stack):
    ana = AgentConsole(handoff_stack)
    assert ana.log_in("ana", PASSWORD) == 200
    chat = Chat(handoff_stack, "handoff-left")
    assert "queue" in chat.text("can I speak to a person please")
    assert ana.call("POST", "/api/logout", {})[0] == 200
    # The other agents' consoles closed long ago (as after SHOP_AGENT_AWAY_AFTER_S).
    with desk(handoff_stack).engine.begin() as conn:
        conn.execute(sa.update(agents).values(last_seen=None))
    replies = chat.say("hello? is anyone there?")
    assert any(r.get("custom", {}).get("status") == "ended" for r in replies)
    said = " ".join(texts(replies))
    assert "Nobody from customer care is free" in said and "email" in said.lower()
    assert "queue" not in said and "join this chat" not in said
    assert "what would you like them to know" in chat.text("bo@example.com").lower()
    assert "they'll reply to bo@example.com" in chat.text("Where is SO10003? It is a week late.")
    table = handoff_conversations
    with desk(handoff_stack).engine.connect() as conn:
        query = (
            sa.select(table.c.status, table.c.reason, table.c.email)
            .where(table.c.sender_id == "handoff-left")
            .order_by(table.c.id)
        )
        rows = [tuple(row) for row in conn.execute(query)]
    assert [(status, email) for status, _, email in rows] == [("unattended", None), ("ticket", "bo@example.com")]
    assert rows[1][1].endswith("hello? is anyone there?")  # what the shopper typed, not the server's trigger
    users = [e["text"] for e in chat.tracker()["events"] if e["event"] == "user"]
    assert "hello? is anyone there?" in users


# Last: its wrong passwords pause log-in from this machine for the rest of the window.
def test_the_console_needs_a_log_in_and_csrf_and_throttles_wrong_passwords(handoff_stack):
    agent = AgentConsole(handoff_stack)
    assert agent.log_in("ben", PASSWORD) == 200
    stranger = AgentConsole(handoff_stack)
    assert stranger.call("GET", "/api/queue")[0] == 401
    assert stranger.call("POST", "/api/conversations/1/claim", {})[0] == 401
    assert stranger.log_in("cy", "wrong password") == 401
    assert stranger.log_in("cy", "wrong again!") == 401
    assert stranger.log_in("cy", "still wrong") == 401
    assert stranger.log_in("cy", PASSWORD) == 429  # paused, even with the right password
    assert AgentConsole(handoff_stack).log_in("ben", PASSWORD) == 429  # and so is this client, for any name
    assert agent.call("GET", "/api/queue")[0] == 200  # a session opened before goes on
    status, body = agent.call("POST", "/api/logout", {}, csrf=False)
    assert status == 403 and "CSRF" in body["error"]
    page = agent.opener.open(f"{handoff_stack.rasa_url}/agent", timeout=30)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert agent.call("POST", "/api/logout", {})[0] == 200
    assert agent.call("GET", "/api/queue")[0] == 401
