"""The shop DB module against a generated SQLite DB, and the same core checks on PostgreSQL."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

import shop.db as shop_db
from shop.db import ROOT, Order, ShopDB, find_order_id, normalize_email, normalize_order_id, table_rows
from shop.generate import generate
from tests.shop.conftest import SEED, TODAY

ANA, BEN = "ana.lopez@example.com", "ben.okafor@example.com"
TABLES = {
    "customers",
    "products",
    "orders",
    "order_items",
    "interactions",
    "returns",
    "faq_log",
    "verification_failures",
}
HOSTILE_IDS = [
    "SO10001' OR '1'='1",
    "'; DROP TABLE orders;--",
    "SO10001; DELETE FROM orders",
    "SO10001--",
    "SO1000\x00",
    "\uff33\uff2f\uff11\uff10\uff10\uff10\uff11",
    "SO\u0661\u0660\u0660\u0660\u0661",
    "x" * 5000,
    "SO10001" * 3,
    "",
    " ",
    "SO",
    "SO1000",
    "SO100011",
    "1001",
    "S010001",
    "SO 1 0001",
    None,
    10001,
]
HOSTILE_EMAILS = [
    "",
    " ",
    "not an email",
    "a@b",
    "' OR 1=1 --@x.com",
    "ana.lopez@example.com' OR '1'='1",
    "ana.lopez@example.com; DROP TABLE customers;--",
    "x" * 5000 + "@example.com",
    "ana.lopez@example.com\x00",
    "ana.lopez@exämple.com",
    "%@example.com' --",
    None,
    42,
]


def table_names(db: ShopDB) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def counts(db: ShopDB) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            t: conn.execute(sa.select(sa.func.count()).select_from(shop_db.metadata.tables[t])).scalar_one()
            for t in sorted(TABLES)
        }


# ---- input normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["SO10042", "so-10042", "#SO10042", " 10042 ", "#10042", "So 10042", "so#10042", "\tSO10042\n"]
)
def test_order_ids_fold_to_the_canonical_form(typed):
    assert normalize_order_id(typed) == "SO10042"


@pytest.mark.parametrize("raw", HOSTILE_IDS)
def test_garbage_order_ids_are_rejected(raw):
    assert normalize_order_id(raw) is None


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_order_id_normalisation_never_raises_and_only_yields_canonical_ids(raw):
    result = normalize_order_id(raw)
    assert result is None or re.fullmatch(r"SO[0-9]{5}", result)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my order is 10042", "SO10042"),
        ("it's SO10042.", "SO10042"),
        ("Order #so-10042, thanks!", "SO10042"),
        ("10042 or 10043", None),
        ("call 555-10042", None),
        ("ORD-10042", None),
        ("SO10042' OR '1'='1", None),
        ("order 100420", None),
        ("no number here", None),
        ("", None),
        (None, None),
        ("x" * 300 + " 10042", None),
    ],
)
def test_the_one_order_id_in_a_short_sentence_is_found(text, expected):
    assert find_order_id(text) == expected


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_finding_an_order_id_never_raises_and_only_yields_canonical_ids(text):
    result = find_order_id(text)
    assert result is None or re.fullmatch(r"SO[0-9]{5}", result)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Ana.Lopez@Example.COM ", ANA), ("first.last+shop@mail.example.co.uk", "first.last+shop@mail.example.co.uk")],
)
def test_emails_are_stripped_and_lowercased(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", HOSTILE_EMAILS)
def test_garbage_emails_are_rejected(raw):
    assert normalize_email(raw) is None


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_email_normalisation_never_raises(raw):
    result = normalize_email(raw)
    assert result is None or (result == result.strip().lower() and len(result) <= 254 and "@" in result)


# ---- configuration ---------------------------------------------------------------------------


def test_url_from_argument_then_environment_then_default(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOP_DATABASE_URL", raising=False)
    assert ShopDB().url == f"sqlite:///{ROOT / 'data' / 'shop.db'}"
    monkeypatch.setenv("SHOP_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert ShopDB().url == f"sqlite:///{tmp_path / 'env.db'}"
    assert ShopDB(f"sqlite:///{tmp_path / 'arg.db'}").url == f"sqlite:///{tmp_path / 'arg.db'}"
    assert ShopDB("sqlite:///data/other.db").url == f"sqlite:///{ROOT / 'data' / 'other.db'}"


def test_constructing_is_cheap_and_the_password_stays_out_of_repr():
    db = ShopDB("postgresql+psycopg2://shop:s3cret@203.0.113.1:5432/shop")  # never contacted
    assert "s3cret" not in repr(db) and "***" in repr(db)
    assert "s3cret" in db.url


def test_sqlite_folder_is_created_and_schema_creation_is_idempotent(tmp_path):
    db = ShopDB(f"sqlite:///{tmp_path / 'new' / 'dir' / 'shop.db'}")
    db.create_schema()
    db.create_schema()
    assert table_names(db) == TABLES
    assert db.get_order("SO10001") is None and table_rows(db, "faq_log") == []
    db.dispose()


def test_in_memory_sqlite_keeps_one_database():
    db = ShopDB("sqlite://")
    log_id = db.log_faq_answer("s", "help", None, None)
    assert [row["id"] for row in table_rows(db, "faq_log")] == [log_id]


# ---- orders ----------------------------------------------------------------------------------


def test_verify_order_happy_path(db):
    order = db.verify_order(" so-10003 ", "  Ana.Lopez@EXAMPLE.com")
    assert isinstance(order, Order)
    assert (order.id, order.customer_id, order.email, order.status) == ("SO10003", "C0000", ANA, "shipped")
    assert order.carrier == "UPS" and order.tracking_number == "1Z999AA10123456784"
    assert order.placed_at.tzinfo == timezone.utc and order.shipped_at.tzinfo == timezone.utc
    assert order.delivered_at is None and isinstance(order.estimated_delivery, date)
    assert [i.quantity for i in order.items] == [1, 2]
    assert order.total == pytest.approx(sum(i.unit_price * i.quantity for i in order.items))
    assert db.verify_order("SO10008", BEN).customer_id == "C0001"


def test_unknown_order_and_wrong_email_look_the_same(db):
    assert db.verify_order("SO99999", ANA) is None
    assert db.verify_order("SO10003", BEN) is None
    assert db.verify_order("SO10003", "ana.lopez@example.co") is None


@pytest.mark.parametrize("order_id", HOSTILE_IDS)
def test_hostile_order_ids_find_nothing_and_break_nothing(db, order_id):
    before = counts(db)
    assert db.verify_order(order_id, ANA) is None
    assert db.get_order(order_id) is None
    assert db.cancel_order(order_id) is False
    assert table_names(db) == TABLES and counts(db) == before


@pytest.mark.parametrize("email", HOSTILE_EMAILS)
def test_hostile_emails_find_nothing_and_break_nothing(db, email):
    before = counts(db)
    assert db.verify_order("SO10001", email) is None
    assert db.customer_by_email(email) is None
    assert table_names(db) == TABLES and counts(db) == before


@pytest.mark.parametrize(
    ("order_id", "status"),
    [
        ("SO10001", "placed"),
        ("SO10002", "paid"),
        ("SO10003", "shipped"),
        ("SO10004", "delivered"),
        ("SO10005", "delivered"),
        ("SO10006", "cancelled"),
        ("SO10007", "returned"),
        ("SO10008", "delivered"),
    ],
)
def test_fixture_orders(db, order_id, status):
    order = db.get_order(order_id)
    assert order.status == status and order.items
    days = {"SO10004": 5, "SO10005": 60, "SO10008": 10}
    if order_id in days:
        assert order.delivered_at.date() == TODAY - timedelta(days=days[order_id])


def test_cancel_only_from_placed_or_paid_and_only_once(db):
    assert db.cancel_order("SO10001") is True
    assert db.cancel_order("so-10001") is False
    assert db.get_order("SO10001").status == "cancelled"
    assert db.cancel_order("SO10002") is True
    for order_id in ("SO10003", "SO10004", "SO10006", "SO10007", "SO99999"):
        before = db.get_order(order_id)
        assert db.cancel_order(order_id) is False
        assert db.get_order(order_id) == before


def test_concurrent_cancellations_succeed_exactly_once(db):
    db.engine  # noqa: B018 - create the schema before the threads race
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: db.cancel_order("SO10002"), range(8)))
    assert results.count(True) == 1


def test_create_return(db):
    return_id = db.create_return("SO10004", reason="Doesn't fit")
    assert re.fullmatch(r"R-[0-9A-F]{8}", return_id)
    assert db.create_return("#SO10004") == return_id  # an open return is reused, not duplicated
    assert db.get_order("SO10004").status == "delivered"
    rows = [r for r in table_rows(db, "returns") if r["order_id"] == "SO10004"]
    assert [(r["id"], r["reason"], r["status"]) for r in rows] == [(return_id, "Doesn't fit", "requested")]
    assert db.create_return("SO10008") != return_id
    for bad in ("SO99999", "'; DROP TABLE returns;--"):
        with pytest.raises(ValueError):
            db.create_return(bad)


def test_customers_orders_and_products(db):
    ana = db.customer_by_email(" ANA.LOPEZ@example.com")
    assert (ana["id"], ana["name"], ana["email"]) == ("C0000", "Ana Lopez", ANA)
    assert db.customer_by_email("nobody@example.com") is None
    orders = db.orders_for_customer("C0000")
    assert sorted(o.id for o in orders) == [f"SO1000{n}" for n in range(1, 8)]
    assert [o.placed_at for o in orders] == sorted((o.placed_at for o in orders), reverse=True)
    assert db.orders_for_customer("' OR 1=1 --") == []
    product = db.product("P0001")
    assert product["id"] == "P0001" and product["category"] == "footwear" and isinstance(product["price"], float)
    assert db.product("P9999") is None and db.product("x" * 5000) is None


# ---- support logs, interactions, throttling ----------------------------------------------


def test_faq_log(db):
    log_id = db.log_faq_answer("s1", "what is your return policy?", "kb/returns.md#window", 0.83)
    other = db.log_faq_answer("s1", "something odd", None, None)
    db.set_faq_helpful(log_id, True)
    db.set_faq_helpful(other, False)
    rows = {r["id"]: r for r in table_rows(db, "faq_log")}
    assert (rows[log_id]["answer_source"], rows[log_id]["score"], rows[log_id]["helpful"]) == (
        "kb/returns.md#window",
        0.83,
        True,
    )
    assert rows[other]["helpful"] is False and rows[other]["answer_source"] is None


def test_failed_verifications_are_counted_per_sender_within_the_window(db, monkeypatch):
    start = datetime(2030, 1, 1, 12, 0)
    monkeypatch.setattr(shop_db, "_now", lambda: start)
    for _ in range(3):
        db.record_failed_verification("prober")
    db.record_failed_verification("someone-else")
    assert db.recent_failed_verifications("prober") == 3
    assert db.recent_failed_verifications("nobody") == 0
    monkeypatch.setattr(shop_db, "_now", lambda: start + timedelta(seconds=901))
    assert db.recent_failed_verifications("prober") == 0
    assert db.recent_failed_verifications("prober", within_seconds=3600) == 3


def test_interactions_are_recorded_and_read_back(db):
    before = len(db.interactions())
    assert before == len(table_rows(db, "interactions")) > 30_000
    db.record_interaction("C0000", "P0001", "feedback_up", sender_id="web-123")
    db.record_interaction(None, "P0002", "feedback_down")
    db.record_interaction("C0001", "P0003", "rating", value=4)
    log = db.interactions()
    assert len(log) == before + 3
    assert [(r["customer_id"], r["product_id"], r["event"], r["value"], r["sender_id"]) for r in log[-3:]] == [
        ("C0000", "P0001", "feedback_up", None, "web-123"),
        (None, "P0002", "feedback_down", None, None),
        ("C0001", "P0003", "rating", 4.0, None),
    ]
    assert all(r["ts"].tzinfo == timezone.utc for r in log[-3:])
    assert len(db.interactions(since=log[-3]["ts"])) >= 3
    with pytest.raises(ValueError):
        db.record_interaction("C0000", "P0001", "like")
    with pytest.raises(ValueError):
        db.record_interaction("C0000", "", "view")


def test_generated_interactions_match_the_in_memory_data(db, shop_data):
    log = db.interactions()
    assert len(log) == len(shop_data.interactions)
    assert [(r["customer_id"], r["product_id"], r["event"]) for r in log[:500]] == [
        (r["customer_id"], r["product_id"], r["event"]) for r in shop_data.interactions[:500]
    ]


# ---- PostgreSQL --------------------------------------------------------------------------


@pytest.mark.postgres
def test_core_behaviour_on_postgres(pg_url, tmp_path):
    generate(tmp_path, seed=SEED, today=TODAY, database_url=pg_url, progress=False)
    db = ShopDB(pg_url)
    try:
        assert db.engine.dialect.name == "postgresql"
        assert table_names(db) == TABLES
        order = db.verify_order("so-10003", " Ana.Lopez@Example.com ")
        assert order is not None and order.tracking_number == "1Z999AA10123456784"
        assert order.placed_at.tzinfo == timezone.utc and isinstance(order.total, float)
        assert db.verify_order("SO99999", ANA) is None and db.verify_order("SO10003", BEN) is None
        before = counts(db)
        for hostile in HOSTILE_IDS:
            assert db.verify_order(hostile, ANA) is None and db.cancel_order(hostile) is False
        for hostile in HOSTILE_EMAILS:
            assert db.verify_order("SO10001", hostile) is None
        assert counts(db) == before and table_names(db) == TABLES
        assert db.get_order("SO10004").delivered_at.date() == TODAY - timedelta(days=5)
        assert db.cancel_order("SO10001") is True and db.cancel_order("SO10001") is False
        assert db.cancel_order("SO10003") is False
        return_id = db.create_return("SO10004", "too big")
        assert return_id.startswith("R-") and db.create_return("SO10004") == return_id
        assert db.get_order("SO10004").status == "delivered"
        log_id = db.log_faq_answer("pg-sender", "shipping cost?", "kb/shipping.md", 0.5)
        db.set_faq_helpful(log_id, False)
        db.record_failed_verification("pg-prober")
        db.record_failed_verification("pg-prober")
        assert db.recent_failed_verifications("pg-prober") == 2
        n = len(db.interactions())
        db.record_interaction("C0000", "P0001", "feedback_up", sender_id="pg-sender")
        assert len(db.interactions()) == n + 1 and db.interactions()[-1]["event"] == "feedback_up"
        assert db.customer_by_email(ANA)["id"] == "C0000"
        assert len(db.orders_for_customer("C0000")) == 7
    finally:
        db.dispose()
