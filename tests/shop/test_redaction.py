"""Emails, order ids, payment card numbers and phone numbers never reach a log line whole."""

from __future__ import annotations

import io
import logging

import pytest

from shop.redaction import install_log_redaction, redact


def test_redact_masks_emails_and_order_ids():
    text = "order SO10003 for ana.lopez@example.com and so-10004 / x@y.co.uk"
    assert redact(text) == "order SO***03 for a***@example.com and so***04 / x***@y.co.uk"
    assert redact("nothing to hide, 12345") == "nothing to hide, 12345"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 please", "card ***1111 please"),
        ("4111-1111-1111-1111", "***1111"),
        ("4111111111111111", "***1111"),
        ("mastercard 5555 5555 5555 4444.", "mastercard ***4444."),
        ("amex 3782 822463 10005", "amex ***0005"),  # 4-6-5, 15 digits
        ("amex 3714 4963 5398 431", "amex ***8431"),  # 4-4-4-3
        ("6011000990139424", "***9424"),  # 16 digits, Discover
        ("4111 1111 1111 1111 12/27", "***1111 12/27"),  # the expiry after it stays
    ],
)
def test_luhn_valid_card_numbers_are_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me on +44 20 7946 0958 today", "call me on ***58 today"),
        ("+44 (0)20 7946 0958", "***58"),
        ("+1 (415) 555-0134", "***34"),
        ("+14155550134", "***34"),
        ("+33 6 12 34 56 78.", "***78."),
        ("0044 20 7946 0958", "***58"),
        ("(415) 555-0134", "***34"),
        ("415-555-0134", "***34"),
        ("415.555.0134", "***34"),
        ("my number is 4155550134", "my number is ***34"),
        ("020 7946 0958", "***58"),
        ("ring 07700 900123, thanks", "ring ***23, thanks"),
        ("06 12 34 56 78", "***78"),
        ("0612345678", "***78"),
    ],
)
def test_phone_numbers_are_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails the Luhn check
        "1234567890123",  # 13 digits, fails the Luhn check
        "price $129.99, was $1,299.99",
        "delivered 2025-06-15, or 06.12.2025, or 15/06/2025 at 14:30",
        "product P0001 in size 42",
        "sizes 36 37 38 39 40 41 42 43",  # a list of numbers, not a phone or a card
        "order 10042, zip 94103",
        "tracking 1Z999AA10123456784",
        "2025-12-05 09:20:15,123 INFO listening on 127.0.0.1:5005",
        "2025-12-05T09:20:15+00:00 confidence 0.4873219876",
        "sender 3b83ef96387f14655fc854ddc3c6bd57 id 123e4567-e89b-12d3-a456-426614174000",
    ],
)
def test_numbers_that_are_neither_cards_nor_phones_are_left_alone(text):
    assert redact(text) == text


def test_order_ids_prices_and_sizes_survive_beside_masked_numbers():
    text = "SO10042 ($129.99, P0001 size 42) paid with 4111 1111 1111 1111, call +1 415 555 0134"
    assert redact(text) == "SO***42 ($129.99, P0001 size 42) paid with ***1111, call ***34"


def test_every_log_record_is_redacted_after_install(caplog):
    install_log_redaction()
    install_log_redaction()  # idempotent
    logger = logging.getLogger("some.library")
    with caplog.at_level(logging.DEBUG):
        logger.debug("Received user message '%s' from %s", "my order is SO10003", "ana.lopez@example.com")
        logger.info("plain %s", {"email": "ben.okafor@example.com"})
        logger.info("message %r", "card 4111 1111 1111 1111, phone +44 20 7946 0958")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "Received user message 'my order is SO***03' from a***@example.com"
    assert "b***@example.com" in messages[1] and "ben.okafor" not in messages[1]
    assert messages[2] == "message 'card ***1111, phone ***58'"


def test_a_logged_traceback_is_redacted_too():
    install_log_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("some.store")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("insert failed [parameters: ('ana.lopez@example.com', '4111 1111 1111 1111')]")
        except ValueError:
            logger.exception("could not save the event of %s", "ben.okafor@example.com")
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert "Traceback" in logged and "ValueError: insert failed" in logged
    assert "a***@example.com" in logged and "***1111" in logged and "b***@example.com" in logged
    assert "ana.lopez" not in logged and "4111 1111" not in logged and "ben.okafor" not in logged


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///{tmp}/shop.db", "postgresql+psycopg2://shop@203.0.113.1:5432/shop"]
)
def test_every_shop_db_engine_hides_statement_parameters(url, tmp_path):
    from shop.db import ShopDB

    engine = ShopDB(url.format(tmp=tmp_path))._create_engine()  # creating an engine connects nowhere
    try:
        assert engine.hide_parameters
    finally:
        engine.dispose()


def test_a_database_error_does_not_carry_the_email_it_was_given():
    sa = pytest.importorskip("sqlalchemy")
    from datetime import datetime

    from shop.db import ShopDB, customers

    db = ShopDB("sqlite://")
    row = {"id": "C9000", "name": "Ana Lopez", "email": "ana.lopez@example.com", "created_at": datetime(2025, 6, 15)}
    with db.engine.begin() as conn:
        conn.execute(sa.insert(customers), row)
    with pytest.raises(sa.exc.IntegrityError) as error, db.engine.begin() as conn:
        conn.execute(sa.insert(customers), {**row, "id": "C9001"})  # the same email twice
    text = f"{error.value}\n{error.value!r}"
    assert "ana.lopez" not in text
    assert "hidden" in text  # SQLAlchemy says the parameters were left out
    db.dispose()
