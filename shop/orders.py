"""The shop's order rules: who may see an order, and whether it can be cancelled or returned.

The actions ask and phrase the answer; the rules (the throttle on failed look-ups, the return
window, which statuses can still be cancelled) live here, with their numbers from the settings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from shop.db import CANCELLABLE, Order, ShopDB
from shop.failed_attempts import FailedAttempts, ShopDBFailedAttempts
from shop.settings import current


@dataclass(frozen=True)
class Verification:
    outcome: Literal["verified", "not_found", "throttled"]
    order: Order | None = None


@dataclass(frozen=True)
class ReturnCheck:
    """`eligible`: delivered within the window. `too_late`: delivered `days` ago, past it.
    `not_delivered`: no return possible yet (or any more); the order's status says why."""

    outcome: Literal["eligible", "too_late", "not_delivered"]
    days: int | None = None


# Words that make a mention point away from the order just discussed ("my other order",
# "another one"). English function words, not any shop's vocabulary.
_ANOTHER = frozenset({"other", "another", "different", "else", "next", "second", "new"})


def mention_means_another_order(mention: str) -> bool:
    """Whether the NLU's order `mention` ("it", "that one", "my other order") asks about an
    order other than the one this conversation was just about."""
    return any(word in _ANOTHER for word in mention.lower().replace("-", " ").split())


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class OrderDesk:
    """Order look-ups and changes with the shop's rules. An unknown order and a wrong email
    give the same outcome, so nobody can probe which order ids exist.

    Failed look-ups are counted per sender and per client (the channel's keyed hash of the
    caller's address): a new sender id for each guess escapes the first count, not the second.
    The client limit is the higher one because shoppers behind one address (an office, a
    carrier's NAT) share it."""

    def __init__(
        self,
        db: ShopDB,
        return_window_days: int | None = None,
        max_failed_verifications: int | None = None,
        failed_verification_window_s: int | None = None,
        max_failed_verifications_per_client: int | None = None,
        failed_attempts: FailedAttempts | None = None,
        verified_for_s: int | None = None,
    ) -> None:
        settings = current()
        self.db = db
        self.return_window_days = return_window_days or settings.return_window_days
        self.max_failed_verifications = max_failed_verifications or settings.max_failed_verifications
        self.failed_verification_window_s = failed_verification_window_s or settings.failed_verification_window_s
        self.max_failed_verifications_per_client = (
            max_failed_verifications_per_client or settings.max_failed_verifications_per_client
        )
        self.failed_attempts = failed_attempts or ShopDBFailedAttempts(db)
        self.verified_for_s = verified_for_s or settings.verified_for_s

    def verify(
        self, sender_id: str, order_id: str | None, email: str | None, client: str | None = None
    ) -> Verification:
        limits = {f"sender:{sender_id}": self.max_failed_verifications}
        if client:
            limits[f"client:{client}"] = self.max_failed_verifications_per_client
        window = self.failed_verification_window_s
        if any(self.failed_attempts.recent(key, window) >= limit for key, limit in limits.items()):
            return Verification("throttled")
        order = self.db.verify_order(order_id, email) if order_id and email else None
        if order is None:
            for key in limits:
                self.failed_attempts.record(key)
            return Verification("not_found")
        return Verification("verified", order)

    def still_verified(self, verified_at: float | None, now: float | None = None) -> bool:
        """Whether an email that matched at `verified_at` (epoch seconds) still vouches for the
        same customer's other orders in the conversation."""
        if verified_at is None:
            return False
        return 0 <= (time.time() if now is None else now) - verified_at <= self.verified_for_s

    def belongs_to(self, order_id: str, email: str) -> bool:
        """Whether the order was placed with this email. Not counted as a failure: the form
        only decides from it whether to ask for the email again, whatever the order."""
        return self.db.verify_order(order_id, email) is not None

    @staticmethod
    def cancellable(order: Order) -> bool:
        return order.status in CANCELLABLE

    def return_check(self, order: Order, now: datetime | None = None) -> ReturnCheck:
        if order.status != "delivered" or order.delivered_at is None:
            return ReturnCheck("not_delivered")
        days = ((now or datetime.now(timezone.utc)) - _as_utc(order.delivered_at)).days
        return ReturnCheck("eligible" if days <= self.return_window_days else "too_late", days)
