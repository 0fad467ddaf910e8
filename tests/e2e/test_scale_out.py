"""Two Rasa servers and one action server sharing Postgres (tracker store, shop DB) and
Redis (lock store, failed look-up counts): a conversation whose turns alternate between the
servers stays whole, and a prober who spreads guesses over both servers and over new sender
ids meets one count."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from bot.stack import DEFAULT_MODEL, Stack
from bot.two_servers import two_rasa_servers

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

CLIENT_LIMIT = 4


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str, str]]:
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train` first")
    limit = {"SHOP_MAX_FAILED_VERIFICATIONS_PER_CLIENT": str(CLIENT_LIMIT)}
    with two_rasa_servers(tmp_path_factory.mktemp("scale"), "e2e", limit) as servers:
        yield servers


def _say(url: str, sender: str, message: str) -> str:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return "\n".join(m.get("text", "") for m in json.loads(response.read()))


def _events(url: str, token: str, sender: str) -> list[dict]:
    request = urllib.request.Request(f"{url}/conversations/{sender}/tracker?{urllib.parse.urlencode({'token': token})}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["events"]


def test_turns_alternating_between_two_rasa_servers_keep_one_tracker(two_servers):
    stack, first, second = two_servers
    sender = f"scale-{uuid.uuid4().hex[:6]}"
    assert "order number" in _say(first, sender, "where is my order?").lower()
    assert "email" in _say(second, sender, "SO10003").lower()
    reply = _say(first, sender, "ana.lopez@example.com")
    assert "SO10003" in reply and "shipped" in reply

    from_first, from_second = _events(first, stack.auth_token, sender), _events(second, stack.auth_token, sender)
    assert from_first == from_second
    users = [e["text"] for e in from_first if e["event"] == "user"]
    assert users == ["where is my order?", "SO10003", "ana.lopez@example.com"]
    assert sum(1 for e in from_first if e["event"] == "bot") >= 3


# Last in the module: its failures pause this machine's address for the servers' lifetime.
def test_rotating_sender_ids_across_both_servers_do_not_escape_the_throttle(two_servers):
    import redis

    from shop.client_address import client_key
    from shop.settings import current

    stack, first, second = two_servers
    tag = uuid.uuid4().hex[:6]
    for attempt in range(CLIENT_LIMIT):
        server, sender = (first, second)[attempt % 2], f"prober-{tag}-{attempt}"
        _say(server, sender, "where is my order?")
        _say(server, sender, "SO10003")
        assert "couldn't find an order" in _say(server, sender, "wrong.guess@example.com")
    # A sender id never seen, on either server, with the right pair: paused all the same.
    for server in (first, second):
        sender = f"prober-{tag}-fresh-{server[-5:]}"
        _say(server, sender, "where is my order?")
        _say(server, sender, "SO10003")
        reply = _say(server, sender, "ana.lopez@example.com")
        assert "too many unsuccessful attempts" in reply and "shipped" not in reply

    # The count is in Redis, under a keyed hash of the address, never the address itself.
    settings = current()
    client = redis.Redis(host=settings.redis_host, port=settings.redis_port, db=settings.redis_db)
    key = f"shop:failed-verifications:client:{client_key('127.0.0.1', stack.action_secret)}"
    assert client.zcard(key) == CLIENT_LIMIT
    assert not list(client.scan_iter("shop:failed-verifications:*127.0.0.1*"))
    client.delete(key)
