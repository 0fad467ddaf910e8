"""Masks emails and order ids in text and in every log record of a process (standard library only,
so the Rasa server and the action server both install it)."""

from __future__ import annotations

import logging
import re
from typing import Any

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)")
_ORDER = re.compile(r"\b(SO)-?\d{3}(\d{2})\b", re.IGNORECASE)
_installed = False


def redact(text: str) -> str:
    """'ana.lopez@example.com' -> 'a***@example.com', 'SO10003' -> 'SO***03'."""
    return _ORDER.sub(r"\1***\2", _EMAIL.sub(r"\1***@\2", text))


def install_log_redaction() -> None:
    """Every log record created from now on in this process carries a redacted message.

    A record factory, unlike a handler filter, also covers handlers that libraries (Rasa,
    Sanic) add later, and runs only for records that pass the level check.
    """
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug; leave the record as is
            return record
        record.msg, record.args = redact(message), ()
        return record

    logging.setLogRecordFactory(redacting_factory)
    _installed = True
