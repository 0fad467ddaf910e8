"""Counts of failed order verifications, in a store every server of the shop shares.

A prober who spreads guesses over two Rasa servers, or over many sender ids, must still meet
one count. So the count lives where all of them look: Redis when the stack runs with it
(`SHOP_STORE=postgres`, whose lock store is already on Redis), the shop DB otherwise.

Keys are opaque strings the caller chooses (`sender:<id>`, `client:<hash>`); a key's failures
older than the window are forgotten.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

    from shop.db import ShopDB

logger = logging.getLogger(__name__)


class FailedAttempts(Protocol):
    def record(self, key: str) -> None: ...

    def recent(self, key: str, within_s: int) -> int: ...


class ShopDBFailedAttempts:
    """The shop DB's `verification_failures` table (SQLite or Postgres)."""

    def __init__(self, db: ShopDB) -> None:
        self.db = db

    def record(self, key: str) -> None:
        self.db.record_failed_verification(key)

    def recent(self, key: str, within_s: int) -> int:
        return self.db.recent_failed_verifications(key, within_s)


class RedisFailedAttempts:
    """One sorted set per key, scored by the failure's time; members older than `keep_s` are
    dropped on each write and the key expires with its last failure, so Redis holds no more than
    the window needs.

    While Redis cannot be reached the count goes to `fallback` (the shop DB), so a look-up is
    still throttled, and answered, rather than failing."""

    def __init__(
        self, client: redis.Redis, keep_s: int, fallback: FailedAttempts, prefix: str = "shop:failed-verifications:"
    ) -> None:
        self.client = client
        self.keep_s = max(1, int(keep_s))
        self.fallback = fallback
        self.prefix = prefix

    def record(self, key: str) -> None:
        import redis

        name, now = self.prefix + key, time.time()
        try:
            with self.client.pipeline() as pipe:
                pipe.zadd(name, {uuid.uuid4().hex: now})
                pipe.zremrangebyscore(name, "-inf", now - self.keep_s)
                pipe.expire(name, self.keep_s)
                pipe.execute()
        except redis.RedisError as exc:
            logger.warning("Redis unreachable for the verification throttle (%s); counting in the shop DB", exc)
            self.fallback.record(key)

    def recent(self, key: str, within_s: int) -> int:
        import redis

        try:
            in_redis = int(self.client.zcount(self.prefix + key, time.time() - max(0, int(within_s)), "+inf"))
        except redis.RedisError as exc:
            logger.warning("Redis unreachable for the verification throttle (%s); reading the shop DB", exc)
            in_redis = 0
        # Failures counted in the DB during a Redis outage still count once Redis is back.
        return in_redis + self.fallback.recent(key, within_s)
