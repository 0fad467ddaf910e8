"""Shared plumbing for actions: the services they are given, and reading the conversation."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker

from retrieval.services import ServiceRegistry, default_registry
from shop.client_address import CLIENT_METADATA_KEY
from shop.handoff import ConversationSignals
from shop.redaction import install_log_redaction, redact
from shop.settings import current

__all__ = ["UsesServices", "redact"]

logger = logging.getLogger(__name__)
# The action server never writes an email or order id to its logs.
install_log_redaction()


class UsesServices:
    """Gives an action its services. rasa-sdk builds each action with no arguments, so it gets
    the process's registry; a test passes a registry of the services (or fakes) it wants.
    A mixin, not an Action: rasa-sdk registers every Action subclass it finds."""

    def __init__(self, services: ServiceRegistry | None = None) -> None:
        self._services = services

    @property
    def services(self) -> ServiceRegistry:
        return self._services or default_registry()

    def message_text(self, tracker: Tracker) -> str:
        """The latest message, cut to the longest the shop accepts."""
        return latest_text(tracker)[: self.services.settings.max_message_chars]


# Rasa's prefix for a message that names its own intent: a button's payload ("/search_product"
# from "Find a product"), which carries no words of the shopper's to search for.
INTENT_PAYLOAD_PREFIX = "/"


def shopper_words(text: str) -> str:
    return "" if text.startswith(INTENT_PAYLOAD_PREFIX) else text


def latest_text(tracker: Tracker) -> str:
    text = (tracker.latest_message or {}).get("text") or ""
    return text if isinstance(text, str) else ""


def latest_shopper_text(tracker: Tracker) -> str:
    """What the shopper last typed, passing over intents the server triggered itself (an
    external event, such as the ticket offered when no agent is left to join)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and not (event.get("metadata") or {}).get("is_external"):
            text = event.get("text") or ""
            return text if isinstance(text, str) else ""
    return ""


def latest_intent(tracker: Tracker) -> str | None:
    intent = (tracker.latest_message or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    return name if isinstance(name, str) else None


def latest_entity_values(tracker: Tracker, entity: str) -> list[str]:
    """The values the NLU tagged as `entity` in the latest message, in order."""
    return [
        e["value"]
        for e in (tracker.latest_message or {}).get("entities") or []
        if isinstance(e, dict) and e.get("entity") == entity and isinstance(e.get("value"), str)
    ]


def client_of(tracker: Tracker) -> str | None:
    """The channel's key for the caller's address (`shop.client_address`), if it gave one."""
    metadata = (tracker.latest_message or {}).get("metadata")
    if not isinstance(metadata, dict):
        user_events = [e for e in tracker.events if e.get("event") == "user"]
        metadata = user_events[-1].get("metadata") if user_events else None
    value = metadata.get(CLIENT_METADATA_KEY) if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None


def slot_text(tracker: Tracker, name: str) -> str | None:
    """A slot as a non-empty string, whatever type the channel or NLU put there."""
    value: Any = tracker.get_slot(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def slot_list(tracker: Tracker, name: str, limit: int = 50) -> list[str]:
    """A list slot as its string items; anything else a channel or a stale tracker put there is []."""
    value: Any = tracker.get_slot(name)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str) and item][:limit]


def mask_email(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


def preload_in_action_server() -> None:
    """Loads the services' models and indexes now when this is the action server's worker
    process (Sanic marks it; its manager process and the tests skip it), so no shopper's
    message pays for them."""
    settings = current()
    if settings.in_sanic_worker or settings.preload:
        default_registry().warm_up()


MISUNDERSTOOD = ("nlu_fallback", "out_of_scope")


def conversation_signals(tracker: Tracker) -> ConversationSignals:
    """Anger, misunderstandings in a row and unanswered questions in this session, as the NLU
    and the FAQ action recorded them (no text is read here)."""
    angry, in_a_row, streak_open = 0, 0, True
    for event in reversed(tracker.events_after_latest_restart()):
        if event.get("event") == "session_started":
            break
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        if any(e.get("entity") == "sentiment" and e.get("value") == "negative" for e in parse.get("entities") or []):
            angry += 1
        if streak_open and (parse.get("intent") or {}).get("name") in MISUNDERSTOOD:
            in_a_row += 1
        else:
            streak_open = False
    unanswered = tracker.get_slot("unanswered_questions") or 0
    return ConversationSignals(angry, in_a_row, int(unanswered))
