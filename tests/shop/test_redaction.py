"""Emails and order ids never reach a log line whole."""

from __future__ import annotations

import logging

from shop.redaction import install_log_redaction, redact


def test_redact_masks_emails_and_order_ids():
    text = "order SO10003 for ana.lopez@example.com and so-10004 / x@y.co.uk"
    assert redact(text) == "order SO***03 for a***@example.com and so***04 / x***@y.co.uk"
    assert redact("nothing to hide, 12345") == "nothing to hide, 12345"


def test_every_log_record_is_redacted_after_install(caplog):
    install_log_redaction()
    install_log_redaction()  # idempotent
    logger = logging.getLogger("some.library")
    with caplog.at_level(logging.DEBUG):
        logger.debug("Received user message '%s' from %s", "my order is SO10003", "ana.lopez@example.com")
        logger.info("plain %s", {"email": "ben.okafor@example.com"})
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "Received user message 'my order is SO***03' from a***@example.com"
    assert "b***@example.com" in messages[1] and "ben.okafor" not in messages[1]
