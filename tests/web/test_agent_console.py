"""A shopper and a customer-care agent in two browser contexts, through the whole hand-off:
the queue shows the shopper live, the agent claims, both talk over socket.io, the bot stays
silent, the agent resolves, the bot answers again, and the tracker holds every message."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import pytest

from shop.agents import AgentAccounts
from shop.db import ShopDB
from tests.web.conftest import open_page
from tests.web.test_widget import TIMEOUT, open_chat, say

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
PASSWORD = "a long enough password"
# Shorter than the console's 15 s fallback poll: what arrives within it came live.
LIVE_MS = 10_000


@pytest.fixture
def agent_page(browser, web_stack):  # type: ignore[no-untyped-def]
    AgentAccounts(ShopDB(web_stack.env["SHOP_DATABASE_URL"])).add("ana", "Ana", PASSWORD)
    page = open_page(browser, f"{web_stack.rasa_url}/agent")
    yield page
    page.context.close()


def log_in(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Name").fill("ana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("#me-name").wait_for(state="visible", timeout=TIMEOUT)


def tracker_events(stack, sender: str) -> list[dict]:  # type: ignore[no-untyped-def]
    query = urllib.parse.urlencode({"token": stack.auth_token})
    with urllib.request.urlopen(f"{stack.rasa_url}/conversations/{sender}/tracker?{query}", timeout=30) as reply:
        return json.loads(reply.read())["events"]


def test_the_console_asks_for_a_log_in(agent_page):
    agent_page.get_by_label("Password").fill("wrong password")
    agent_page.get_by_label("Name").fill("ana")
    agent_page.get_by_role("button", name="Log in").click()
    agent_page.get_by_role("alert").wait_for(state="visible", timeout=TIMEOUT)
    assert "Wrong name or password" in agent_page.get_by_role("alert").inner_text()
    assert agent_page.locator("#queue").is_hidden()


def test_an_agent_takes_over_a_chat_and_hands_it_back(page, agent_page, web_stack):
    log_in(agent_page)
    open_chat(page)
    say(page, "I want to talk to a human")
    assert "queue" in page.locator(".msg.bot .msg-text").last.inner_text()
    page.locator(".chat-handoff").wait_for(state="visible", timeout=TIMEOUT)
    assert "Waiting for a colleague" in page.locator(".chat-handoff").inner_text()
    sender = page.evaluate("JSON.parse(localStorage.getItem('shop-assistant')).sessionId")

    # The queue shows the shopper without a reload.
    item = agent_page.locator("#queue [data-handoff-id]", has_text="request")
    item.first.wait_for(timeout=LIVE_MS)
    item.first.get_by_role("button", name="Claim").click()
    page.locator(".msg.bot", has_text="Ana from customer care has joined").wait_for(timeout=LIVE_MS)
    page.locator(".chat-handoff", has_text="Ana").wait_for(timeout=LIVE_MS)

    attack = "Hi, I'm Ana <img src=x onerror=alert(1)> how can I help?"
    agent_page.get_by_label("Reply to shopper").fill(attack)
    page.locator(".chat-typing", has_text="Ana is typing").wait_for(timeout=LIVE_MS)
    agent_page.get_by_role("button", name="Send", exact=True).click()
    bubble = page.locator(".msg.agent").last
    bubble.wait_for(timeout=LIVE_MS)
    assert attack in bubble.inner_text() and "Ana" in bubble.inner_text()
    assert page.locator(".chat-log img").count() == 0 and page.dialogs == []

    bots = page.locator(".msg.bot").count()
    box = page.get_by_label("Your message")
    box.fill("my parcel SO10003 is a week late <img src=x onerror=alert(2)>")
    box.press("Enter")
    agent_page.locator("#transcript .from-user", has_text="my parcel SO10003 is a week late").wait_for(timeout=LIVE_MS)
    assert agent_page.locator("#transcript img").count() == 0  # the shopper's text is shown as text
    time.sleep(2)
    assert page.locator(".msg.bot").count() == bots  # the bot stays silent while Ana holds the chat

    agent_page.get_by_role("button", name="Resolve").click()
    page.locator(".msg.bot", has_text="handed you back to the assistant").wait_for(timeout=LIVE_MS)
    page.locator(".chat-handoff").wait_for(state="hidden", timeout=LIVE_MS)
    say(page, "where is my order?")
    assert "order number" in page.locator(".msg.bot .msg-text").last.inner_text().lower()
    assert agent_page.dialogs == []

    events = tracker_events(web_stack, sender)
    users = [e["text"] for e in events if e["event"] == "user"]
    assert users == [
        "I want to talk to a human",
        "my parcel SO10003 is a week late <img src=x onerror=alert(2)>",
        "where is my order?",
    ]
    bots_said = [(e["text"], (e.get("metadata") or {}).get("agent")) for e in events if e["event"] == "bot"]
    assert (attack, "ana") in bots_said
    assert ("Ana from customer care has joined the chat.", None) in bots_said


def test_a_waiting_shopper_is_offered_a_ticket_when_the_last_agent_logs_out(page, agent_page, web_stack):
    log_in(agent_page)
    open_chat(page)
    say(page, "can I talk to a person please")
    page.locator(".chat-handoff").wait_for(state="visible", timeout=TIMEOUT)
    agent_page.get_by_role("button", name="Log out").click()
    # No message from the shopper: the server's sweep (every 15 s) tells them, over socket.io.
    page.locator(".msg.bot", has_text="Nobody from customer care is free").wait_for(timeout=45_000)
    page.locator(".chat-handoff").wait_for(state="hidden", timeout=LIVE_MS)
    assert "email" in page.locator(".msg.bot .msg-text").last.inner_text().lower()
    say(page, "bo@example.com")
    assert "what would you like them to know" in page.locator(".msg.bot .msg-text").last.inner_text().lower()
