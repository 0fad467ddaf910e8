"""Who may speak for a sender on the REST channel (bot/channels.py)."""

from __future__ import annotations

import hashlib
import hmac

from bot.channels import rest_access_problem, sender_signature


def test_the_signature_is_the_hmac_of_the_sender_a_bridge_can_compute():
    assert sender_signature("s3cret", "whatsapp:+15551234") == hmac.new(
        b"s3cret", b"whatsapp:+15551234", hashlib.sha256).hexdigest()


def test_with_a_secret_only_a_signed_sender_gets_through_from_anywhere():
    signature = sender_signature("s3cret", "shopper-1")
    assert rest_access_problem("203.0.113.9", "shopper-1", signature, "s3cret") is None
    assert rest_access_problem("203.0.113.9", "shopper-1", signature.upper(), "s3cret") is None
    for wrong in (None, "", sender_signature("s3cret", "shopper-2"), sender_signature("other", "shopper-1")):
        refused = rest_access_problem("203.0.113.9", "shopper-1", wrong, "s3cret")
        assert refused is not None and refused.status == 401
    # Signing is on: even this machine must sign.
    assert rest_access_problem("127.0.0.1", "shopper-1", None, "s3cret").status == 401


def test_without_a_secret_the_channel_answers_this_machine_only():
    assert rest_access_problem("127.0.0.1", "anyone", None, None) is None
    assert rest_access_problem("::1", "anyone", None, "") is None
    refused = rest_access_problem("198.51.100.7", "anyone", None, None)
    assert refused is not None and refused.status == 403 and b"SHOP_REST_SECRET" in refused.body
