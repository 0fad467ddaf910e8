"""Faults with real processes: the action server killed and restarted, the Rasa server restarted
mid-conversation, and what reaches the logs. A private stack, so the shared one is untouched."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.stack import Stack
from tests.e2e.conftest import Chat, start_private_stack

APOLOGY = "Sorry, I'm having trouble reaching our systems right now."


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory, generated_shop: Path) -> Iterator[Stack]:
    env = {
        "SHOP_LOG_LEVEL": "debug",  # Rasa then logs every user message: the redaction must hold
        "SHOP_ACTION_TIMEOUT_S": "5",
    }
    stack = start_private_stack(tmp_path_factory.mktemp("faults"), generated_shop, env)
    yield stack
    stack.stop()


def kill(stack: Stack, name: str) -> None:
    proc = stack.procs.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def user_texts(chat: Chat) -> list[str]:
    return [e["text"] for e in chat.tracker()["events"] if e["event"] == "user"]


def test_action_server_down_gets_an_apology_and_the_conversation_continues_once_it_is_back(fault_stack):
    chat = Chat(fault_stack, "fault-actions")
    assert "assistant" in chat.text("hello").lower()
    kill(fault_stack, "actions")
    reply = chat.text("do you ship to canada?")
    assert reply.startswith(APOLOGY)
    fault_stack.start_actions()
    reply = chat.text("do you ship to canada?")
    assert "Source: Shipping" in reply
    assert user_texts(chat) == ["hello", "do you ship to canada?", "do you ship to canada?"]


def test_rasa_restarted_mid_form_resumes_from_the_tracker_store(fault_stack):
    chat = Chat(fault_stack, "fault-rasa")
    assert "order number" in chat.text("where is my order").lower()
    assert "email" in chat.text("SO10003").lower()
    fault_stack.stop_one("rasa")
    fault_stack.start_rasa()
    reply = chat.text("ana.lopez@example.com")
    assert "SO10003" in reply and "shipped" in reply
    tracker = chat.tracker()
    assert user_texts(chat) == ["where is my order", "SO10003", "ana.lopez@example.com"]
    assert tracker["slots"]["verified_customer_id"] == "C0000"


def test_logs_hold_no_email_or_order_id(fault_stack):
    chat = Chat(fault_stack, "fault-logs")
    chat.text("where is my order SO10004")
    chat.text("ben.okafor@example.com")
    logs = "".join((fault_stack.log_dir / f"{name}.log").read_text(errors="replace") for name in ("rasa", "actions"))
    assert "b***@example.com" in logs  # the debug log did record the message, masked
    for secret in ("ana.lopez@example.com", "ben.okafor@example.com", "SO10003", "SO10004"):
        assert secret not in logs
