"""Who may speak for a sender on the REST channel (bot/channels.py)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from bot.channels import rest_access_problem, sender_signature


def test_the_signature_is_the_hmac_of_the_sender_a_bridge_can_compute():
    assert (
        sender_signature("s3cret", "whatsapp:+15551234")
        == hmac.new(b"s3cret", b"whatsapp:+15551234", hashlib.sha256).hexdigest()
    )


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


def test_the_client_key_replaces_whatever_the_caller_put_under_its_name(monkeypatch):
    from bot.channels import with_client
    from shop.client_address import CLIENT_METADATA_KEY, client_key

    monkeypatch.setenv("SHOP_ACTION_SECRET", "s3cret")
    spoofed = {CLIENT_METADATA_KEY: "a-new-one-each-guess", "page": "/shoes"}
    assert with_client(spoofed, "203.0.113.9") == {
        CLIENT_METADATA_KEY: client_key("203.0.113.9", "s3cret"),
        "page": "/shoes",
    }
    # No address (a signed bridge): the caller's value is dropped, not kept.
    assert with_client(spoofed, None) == {"page": "/shoes"}
    # Keyed: the store never holds the address, and the key differs per shop secret.
    key = client_key("203.0.113.9", "s3cret")
    assert "203.0.113.9" not in key and key != client_key("203.0.113.9", "other")


def test_socketio_messages_carry_the_connections_client_key_not_the_widgets(monkeypatch):
    from types import SimpleNamespace

    from rasa.core.channels.channel import UserMessage

    from bot.channels import ShopSocketIOInput
    from shop.client_address import CLIENT_METADATA_KEY, client_key

    monkeypatch.setenv("SHOP_ACTION_SECRET", "s3cret")
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    channel = ShopSocketIOInput(metadata_key="customData", session_persistence=False)
    channel.blueprint(on_new_message)
    request = SimpleNamespace(remote_addr="", ip="198.51.100.7")
    monkeypatch.setattr(channel.sio, "get_environ", lambda sid, namespace=None: {"sanic.request": request})
    handler = channel.sio.handlers["/"]["user_uttered"]
    asyncio.run(
        handler(
            "sid-1",
            {
                "message": "where is my order",
                "session_id": "s1",
                "customData": {CLIENT_METADATA_KEY: "spoofed", "language": "en"},
            },
        )
    )
    assert received[0].metadata == {CLIENT_METADATA_KEY: client_key("198.51.100.7", "s3cret"), "language": "en"}
