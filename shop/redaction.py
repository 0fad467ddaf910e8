"""Masks emails, order ids, payment card numbers and phone numbers in text and in every log record
of a process (standard library only, so the Rasa server and the action server both install it)."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from shop.order_numbers import OrderNumberFormat

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)")

# A run of digit groups joined by single spaces or dashes, not glued to a word, a decimal point
# or a longer number ("P0001", "$129.99" and "1Z999AA10123456784" are not runs). Card numbers
# are looked for inside a run, so a card followed by its expiry ("4111 1111 1111 1111 12") is
# still found.
_DIGIT_RUN = re.compile(r"(?<![\w.,+-])\d+(?:[ -]\d+)*(?![\w]|[.,]\d)", re.ASCII)
_CARD_DIGITS = range(13, 20)

# Phone numbers: international ("+44 20 7946 0958", "+1 (415) 555-0134", "0044 20 7946 0958"),
# North American ("(415) 555-0134", "415.555.0134", "4155550134") and national with a trunk 0
# ("020 7946 0958", "06 12 34 56 78", "0612345678"). The digit count is checked afterwards, so a
# date ("2025-06-15", "06.12.2025") or a size list ("36 37 38") is never taken for one.
_SEP = r"[ .-]?"
_PHONE = re.compile(
    r"(?<![\w.,+-])(?:"
    rf"(?P<intl>(?:\+|00)\d{{1,3}}(?:{_SEP}(?:\(\d{{1,4}}\)|\d{{1,5}})){{1,6}})"
    rf"|(?P<nanp>(?:\(\d{{3}}\) ?|\d{{3}}[ .-])\d{{3}}[ .-]\d{{4}}|[2-9]\d{{2}}[2-9]\d{{6}})"
    rf"|(?P<national>0\d{{1,4}}(?:{_SEP}\d{{2,4}}){{1,4}})"
    r")(?![\w]|[.,-]?\d)",
    re.ASCII,
)
_PHONE_DIGITS = {"intl": range(8, 17), "nanp": range(10, 11), "national": range(10, 12)}

_installed = False
_FORMATTER = logging.Formatter()


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_shaped(groups: list[str]) -> bool:
    """One unbroken number, or groups of 4-6 digits (4-4-4-4, Amex 4-6-5) with a short last one."""
    return len(groups) == 1 or (all(4 <= len(g) <= 6 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 6)


def _mask_cards_in_run(match: re.Match[str]) -> str:
    run = match.group(0)
    parts = re.split(r"([ -])", run)
    groups, separators = parts[0::2], parts[1::2]
    out: list[str] = []
    start = 0
    while start < len(groups):
        for end in range(len(groups), start, -1):
            digits = "".join(groups[start:end])
            if len(digits) in _CARD_DIGITS and _card_shaped(groups[start:end]) and _luhn_ok(digits):
                out.append(f"***{digits[-4:]}")
                break
        else:
            end = start + 1
            out.append(groups[start])
        if end < len(groups):
            out.append(separators[end - 1])
        start = end
    return "".join(out)


def _mask_phone(match: re.Match[str]) -> str:
    kind = match.lastgroup or "intl"
    digits = re.sub(r"\D", "", match.group(0))
    if len(digits) not in _PHONE_DIGITS[kind]:
        return match.group(0)
    return f"***{digits[-2:]}"


@lru_cache(maxsize=1)
def _configured_order_pattern() -> re.Pattern[str]:
    # Read once per process: the settings do not change while it runs, and a log record must
    # not pay for reading the environment. A wrong setting is reported where order numbers
    # are looked up; logging keeps masking the default format meanwhile.
    try:
        return OrderNumberFormat.from_settings().redaction_pattern()
    except ValueError:
        return OrderNumberFormat().redaction_pattern()


def redact(text: str, order_numbers: OrderNumberFormat | None = None) -> str:
    """'ana.lopez@example.com' -> 'a***@example.com', 'SO10003' -> 'SO***03' (the shop's own
    order-number format, shop/order_numbers.py), '4111 1111 1111 1111' -> '***1111'
    (Luhn-checked), '+44 20 7946 0958' -> '***58'."""
    text = _EMAIL.sub(r"\1***@\2", text)
    text = _DIGIT_RUN.sub(_mask_cards_in_run, text)
    text = _PHONE.sub(_mask_phone, text)
    order = order_numbers.redaction_pattern() if order_numbers else _configured_order_pattern()
    return order.sub(r"\1***\2", text)


def install_log_redaction() -> None:
    """Every log record created from now on in this process carries a redacted message.

    A record factory, unlike a handler filter, also covers handlers that libraries (Rasa,
    Sanic) add later, and runs only for records that pass the level check. A record's traceback
    is formatted here too, redacted, and handlers print that text: an exception's message can
    carry what the user typed (Rasa's own tracker-store engine shows statement parameters).
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
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(redacting_factory)
    _installed = True
