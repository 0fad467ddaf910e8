"""`shop.orders.OrderDesk`: the shop's order rules, on a real SQLite shop DB, without any action."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pytest

from shop.db import ShopDB
from shop.orders import OrderDesk


@pytest.fixture
def desk(generated_shop, tmp_path) -> OrderDesk:
    db_file = tmp_path / "shop.db"
    shutil.copy(generated_shop / "shop.db", db_file)
    return OrderDesk(
        ShopDB(f"sqlite:///{db_file}"),
        return_window_days=30,
        max_failed_verifications=3,
        failed_verification_window_s=900,
    )


def some_order(desk: OrderDesk, status: str):
    with desk.db.engine.connect() as connection:
        import sqlalchemy

        order_id = connection.execute(
            sqlalchemy.text("SELECT id FROM orders WHERE status = :s ORDER BY id LIMIT 1"), {"s": status}
        ).scalar_one()
    return desk.db.get_order(order_id)


def test_the_right_email_verifies_and_a_wrong_one_is_the_same_as_an_unknown_order(desk):
    order = some_order(desk, "shipped")
    assert desk.verify("s1", order.id, order.email).order == order
    assert desk.verify("s1", order.id, "someone.else@example.com").outcome == "not_found"
    assert desk.verify("s1", "SO99999", order.email).outcome == "not_found"
    assert desk.verify("s1", None, order.email).outcome == "not_found"


def test_failures_past_the_limit_are_throttled_per_sender(desk):
    order = some_order(desk, "shipped")
    for _ in range(3):
        assert desk.verify("prober", order.id, "wrong@example.com").outcome == "not_found"
    # Even the right pair is refused now, so guessing is not worth it.
    assert desk.verify("prober", order.id, order.email).outcome == "throttled"
    assert desk.verify("someone else", order.id, order.email).outcome == "verified"


def test_only_orders_not_yet_shipped_can_be_cancelled(desk):
    assert desk.cancellable(some_order(desk, "placed")) and desk.cancellable(some_order(desk, "paid"))
    assert not desk.cancellable(some_order(desk, "shipped"))
    assert not desk.cancellable(some_order(desk, "delivered"))


def test_a_return_is_possible_within_the_window_after_delivery(desk):
    delivered = some_order(desk, "delivered")
    when = delivered.delivered_at.replace(tzinfo=delivered.delivered_at.tzinfo or timezone.utc)
    assert desk.return_check(delivered, now=when + timedelta(days=30)).outcome == "eligible"
    late = desk.return_check(delivered, now=when + timedelta(days=31))
    assert late.outcome == "too_late" and late.days == 31
    assert desk.return_check(some_order(desk, "shipped"), now=datetime.now(timezone.utc)).outcome == "not_delivered"


def test_a_new_sender_id_for_each_guess_is_still_throttled_per_client(generated_shop, tmp_path):
    db_file = tmp_path / "shop.db"
    shutil.copy(generated_shop / "shop.db", db_file)
    desk = OrderDesk(
        ShopDB(f"sqlite:///{db_file}"),
        return_window_days=30,
        max_failed_verifications=3,
        failed_verification_window_s=900,
        max_failed_verifications_per_client=5,
    )
    order = some_order(desk, "shipped")
    for attempt in range(5):
        assert desk.verify(f"rotating-{attempt}", order.id, "wrong@example.com", client="k1").outcome == "not_found"
    # A sender id never seen before, with the right pair, from the same client: refused.
    assert desk.verify("rotating-new", order.id, order.email, client="k1").outcome == "throttled"
    # Another client is not held back by this one's guesses.
    assert desk.verify("rotating-new", order.id, order.email, client="k2").outcome == "verified"
    # Without a client key (a signed REST bridge) only the sender's own count applies.
    assert desk.verify("rotating-new", order.id, order.email).outcome == "verified"


def test_a_match_vouches_for_the_same_customers_orders_for_a_while(desk):
    shipped, delivered = some_order(desk, "shipped"), some_order(desk, "delivered")
    now = 1_000_000.0
    assert desk.still_verified(now - 60, now=now)
    assert not desk.still_verified(now - desk.verified_for_s - 1, now=now)
    assert not desk.still_verified(None, now=now)
    assert desk.belongs_to(shipped.id, shipped.email)
    assert desk.belongs_to(delivered.id, delivered.email) and not desk.belongs_to("SO99999", shipped.email)
    others = [o for o in (delivered, some_order(desk, "placed")) if o.customer_id != shipped.customer_id]
    assert all(not desk.belongs_to(o.id, shipped.email) for o in others)
