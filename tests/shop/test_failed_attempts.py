"""The shared count of failed order look-ups: the shop DB, and a real Redis (what two Rasa
servers behind one load balancer share)."""

from __future__ import annotations

import time
import uuid

import pytest

from shop.failed_attempts import RedisFailedAttempts, ShopDBFailedAttempts
from shop.settings import current


def test_the_shop_db_counts_each_key_apart(db):
    attempts = ShopDBFailedAttempts(db)
    for _ in range(3):
        attempts.record("client:abc")
    attempts.record("sender:abc")
    assert attempts.recent("client:abc", 900) == 3
    assert attempts.recent("sender:abc", 900) == 1
    assert attempts.recent("client:nobody", 900) == 0


@pytest.fixture
def redis_client():
    import redis

    settings = current()
    client = redis.Redis(host=settings.redis_host, port=settings.redis_port, db=settings.redis_db)
    yield client
    client.close()


@pytest.mark.redis
def test_redis_counts_within_the_window_and_keeps_nothing_past_it(redis_client, db):
    prefix = f"shop-test:{uuid.uuid4().hex}:"
    attempts = RedisFailedAttempts(redis_client, keep_s=2, fallback=ShopDBFailedAttempts(db), prefix=prefix)
    for _ in range(4):
        attempts.record("client:abc")
    attempts.record("client:other")
    assert attempts.recent("client:abc", 2) == 4
    assert attempts.recent("client:other", 2) == 1
    assert 0 < redis_client.ttl(prefix + "client:abc") <= 2  # the key goes with its last failure
    time.sleep(2.2)
    assert attempts.recent("client:abc", 2) == 0
    assert not redis_client.exists(prefix + "client:abc")
    assert ShopDBFailedAttempts(db).recent("client:abc", 900) == 0  # nothing went to the DB


@pytest.mark.redis
def test_two_servers_on_one_redis_share_the_count(redis_client, db, tmp_path):
    from shop.db import ShopDB

    prefix = f"shop-test:{uuid.uuid4().hex}:"
    other_db = ShopDB(f"sqlite:///{tmp_path / 'other.db'}")
    first = RedisFailedAttempts(redis_client, keep_s=60, fallback=ShopDBFailedAttempts(db), prefix=prefix)
    second = RedisFailedAttempts(redis_client, keep_s=60, fallback=ShopDBFailedAttempts(other_db), prefix=prefix)
    first.record("client:abc")
    second.record("client:abc")
    assert first.recent("client:abc", 60) == second.recent("client:abc", 60) == 2
    redis_client.delete(prefix + "client:abc")


def test_while_redis_is_unreachable_the_shop_db_keeps_the_count(db, caplog):
    import socket

    import redis

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    attempts = RedisFailedAttempts(unreachable, keep_s=900, fallback=ShopDBFailedAttempts(db))
    attempts.record("client:abc")
    attempts.record("client:abc")
    assert attempts.recent("client:abc", 900) == 2
    assert "Redis unreachable" in caplog.text
