"""Shared plumbing for actions: one shop-DB handle per process, and input limits."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker

from shop.db import ShopDB
from shop.redaction import install_log_redaction, redact

__all__ = ["redact", "shop_db"]

logger = logging.getLogger(__name__)
# The action server never writes an email or order id to its logs.
install_log_redaction()

MAX_MESSAGE_CHARS = int(os.environ.get("SHOP_MAX_MESSAGE_CHARS", "2000"))



@lru_cache(maxsize=1)
def shop_db() -> ShopDB:
    """The shop DB for this action-server process (engine and pool are reused)."""
    return ShopDB()


def latest_text(tracker: Tracker) -> str:
    text = (tracker.latest_message or {}).get("text") or ""
    return text if isinstance(text, str) else ""


def latest_intent(tracker: Tracker) -> str | None:
    intent = (tracker.latest_message or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    return name if isinstance(name, str) else None


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


def preload_in_action_server(what: str, warm_up: Callable[[], object]) -> None:
    """Runs `warm_up` now when this is the action server's worker process (SANIC_WORKER_NAME is
    set there; its manager process and the tests skip it), so models and indexes are loaded
    before the server answers its first request and no shopper's message pays for it."""
    if "SANIC_WORKER_NAME" not in os.environ and os.environ.get("SHOP_PRELOAD") != "1":
        return
    try:
        warm_up()
    except Exception as exc:  # the action reports it again to the shopper, politely
        logger.error("%s not loaded at start-up: %s", what, exc)
