"""The shop database: the only code that reads or writes it (SQLAlchemy Core, SQLite or PostgreSQL).

The URL comes from the constructor argument, else ``SHOP_DATABASE_URL``, else
``sqlite:///data/shop.db``. A relative SQLite path is resolved against the repository root (not
the working directory), and its folder is created if missing. Every statement is parameterised.
Timestamps are stored as naive UTC and returned as timezone-aware UTC datetimes.

API::

    normalize_order_id(raw) -> str | None    "so-10042", "#SO10042", " 10042 " -> "SO10042"; else None
                                             (the format is a setting: shop/order_numbers.py)
    normalize_email(raw) -> str | None       stripped, lower-cased, plausible address; else None
    OrderItem(product_id, title, quantity, unit_price)                     frozen dataclass
    Order(id, customer_id, email, status, placed_at, shipped_at, delivered_at,
          estimated_delivery, carrier, tracking_number, total, items, paid_at)  frozen dataclass

    db = ShopDB(url=None)                    cheap; the engine is created on first use
    db.url / db.engine / repr(db)            repr masks the password
    db.create_schema()                       idempotent (also done on first use)
    db.verify_order(order_id, email)         Order, or None for an unknown id OR a wrong email
    db.get_order(order_id)                   Order | None (no email check: internal use only)
    db.orders_for_customer(customer_id)      [Order], newest first
    db.customer_by_email(email)              {"id", "name", "email", "created_at"} | None
    db.product(product_id)                   {"id", "title", "category", ..., "price", "stock"} | None
    db.cancel_order(order_id)                True if it went placed/paid -> cancelled (one atomic UPDATE)
    db.create_return(order_id, reason=None)  "R-XXXXXXXX"; reuses the open return of that order;
                                             leaves the order status alone; ValueError if no such order
    db.log_faq_answer(sender_id, query, source, score) -> log id; db.set_faq_helpful(log_id, helpful)
    db.record_interaction(customer_id, product_id, event, value=None, sender_id=None)
                                             event in INTERACTION_EVENTS (card thumbs are
                                             feedback_up / feedback_down)
    db.interactions(since=None)              [{"customer_id", "product_id", "event", "value", "ts",
                                               "sender_id"}] oldest first, for the recommender
    db.record_failed_verification(sender_id); db.recent_failed_verifications(sender_id, within_seconds=900)
    db.load_demo_data(rows)                  drop, recreate and fill every table (used by shop.generate)
    db.dispose()                             close pooled connections
    table_rows(db, table)                    every row of a table in id order (tests, tools)

PostgreSQL: ``postgresql+psycopg2://user@host:5432/db``; add ``?options=-csearch_path%3Dmyschema``
to keep the tables in their own schema (the tests use one throw-away schema per test).

Fixture records written by ``python -m shop generate`` whatever the seed (dates relative to
``--today``, T):

    C0000 Ana Lopez  ana.lopez@example.com
      SO10001 placed      placed T-1 (evening), not paid yet
      SO10002 paid        placed and paid T-1
      SO10003 shipped     shipped T-2 with UPS, tracking 1Z999AA10123456784
      SO10004 delivered   delivered on T-5 (inside the 30-day return window)
      SO10005 delivered   delivered on T-60 (outside the return window)
      SO10006 cancelled   placed T-20, cancelled two hours later
      SO10007 returned    delivered T-40, return R-FIX10007 refunded
    C0001 Ben Okafor ben.okafor@example.com
      SO10008 delivered   delivered on T-10
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

from shop.order_numbers import OrderNumberFormat
from shop.settings import ROOT, current

ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
CANCELLABLE = ("placed", "paid")
INTERACTION_EVENTS = ("view", "cart", "purchase", "rating", "feedback_up", "feedback_down")

# Anything longer is not something a person typed as an order number.
_MAX_ORDER_ID_CHARS = 40
_EMAIL_RE = re.compile(r"[a-z0-9._%+-]{1,64}@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", re.ASCII)
_MAX_EMAIL_CHARS = 254
_MAX_SENDER_CHARS = 255


def normalize_order_id(raw: str | None) -> str | None:
    """The shop's order number (``SO`` + 5 digits unless the settings say otherwise,
    shop/order_numbers.py) from what people type; None for anything else (never raises)."""
    if not isinstance(raw, str) or len(raw) > _MAX_ORDER_ID_CHARS:
        return None
    number_format = OrderNumberFormat.from_settings()
    match = number_format.typed_pattern().fullmatch(raw.strip())
    return number_format.canonical(match.group(1)) if match else None


@lru_cache(maxsize=8)
def _order_id_in_text(number_format: OrderNumberFormat) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w#-]){number_format.typed_pattern().pattern}(?!\w)", re.ASCII | re.IGNORECASE)


_PLAIN_WORDS_RE = re.compile(r"[A-Za-z\s,.:;!?'’-]*", re.ASCII)


def find_order_id(text: str | None) -> str | None:
    """The one order number in a short sentence ("my order is 10042", "it's SO10042."); None
    when there is none, more than one, or anything but plain words around it (never raises)."""
    if not isinstance(text, str) or len(text) > 200:
        return None
    number_format = OrderNumberFormat.from_settings()
    matches = list(_order_id_in_text(number_format).finditer(text))
    if len(matches) != 1:
        return None
    rest = text[: matches[0].start()] + " " + text[matches[0].end() :]
    if not _PLAIN_WORDS_RE.fullmatch(rest):
        return None
    return number_format.canonical(matches[0].group(1))


def normalize_email(raw: str | None) -> str | None:
    """The address stripped and lower-cased if it looks like one; None otherwise (never raises)."""
    if not isinstance(raw, str) or len(raw) > _MAX_EMAIL_CHARS + 64:
        return None
    email = raw.strip().lower()
    if len(email) > _MAX_EMAIL_CHARS or not _EMAIL_RE.fullmatch(email):
        return None
    return email


@dataclass(frozen=True)
class OrderItem:
    product_id: str
    title: str
    quantity: int
    unit_price: float


@dataclass(frozen=True)
class Order:
    id: str
    customer_id: str
    email: str
    status: str
    placed_at: datetime
    shipped_at: datetime | None
    delivered_at: datetime | None
    estimated_delivery: date | None
    carrier: str | None
    tracking_number: str | None
    total: float
    items: tuple[OrderItem, ...]
    paid_at: datetime | None = None
    # An order's total is in the shop's currency (SHOP_CURRENCY); the table keeps amounts only.
    currency: str = "USD"


# ---- schema --------------------------------------------------------------------------------

metadata = sa.MetaData()
_Money = sa.Numeric(10, 2, asdecimal=False)
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only
_Sender = sa.String(_MAX_SENDER_CHARS)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("email", sa.String(_MAX_EMAIL_CHARS), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("category", sa.String(32), nullable=False, index=True),
    sa.Column("subcategory", sa.String(64), nullable=False),
    sa.Column("brand", sa.String(64), nullable=False),
    sa.Column("price", _Money, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("color", sa.String(32)),
    sa.Column("stock", sa.Integer, nullable=False),
    sa.Column("rating", sa.Float),
    sa.Column("rating_count", sa.Integer),
    sa.Column("url", sa.String(200)),
    sa.Column("image_url", sa.String(200)),
)
orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("customer_id", sa.String(16), sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("placed_at", sa.DateTime, nullable=False),
    sa.Column("paid_at", sa.DateTime),
    sa.Column("shipped_at", sa.DateTime),
    sa.Column("delivered_at", sa.DateTime),
    sa.Column("cancelled_at", sa.DateTime),
    sa.Column("carrier", sa.String(32)),
    sa.Column("tracking_number", sa.String(40)),
    sa.Column("estimated_delivery", sa.Date),
    sa.Column("total", _Money, nullable=False),
)
order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(16), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("product_id", sa.String(16), sa.ForeignKey("products.id"), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", _Money, nullable=False),
)
# A log: no foreign keys, so recording feedback can never fail on a stale product id.
interactions = sa.Table(
    "interactions",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(64), index=True),
    sa.Column("product_id", sa.String(16), nullable=False, index=True),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("ts", sa.DateTime, nullable=False, index=True),
    sa.Column("sender_id", _Sender),
)
returns = sa.Table(
    "returns",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("order_id", sa.String(16), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
)
faq_log = sa.Table(
    "faq_log",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("sender_id", _Sender, nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("answer_source", sa.String(500)),
    sa.Column("score", sa.Float),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("helpful", sa.Boolean),
)
verification_failures = sa.Table(
    "verification_failures",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("sender_id", _Sender, nullable=False),
    sa.Column("ts", sa.DateTime, nullable=False),
    sa.Index("ix_verification_failures_sender_ts", "sender_id", "ts"),
)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _naive_utc(value: datetime) -> datetime:
    return value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def _sender(sender_id: str | None) -> str:
    return str(sender_id or "")[:_MAX_SENDER_CHARS]


def _resolve_url(raw: str) -> URL:
    url = make_url(raw)
    if (
        url.get_backend_name() == "sqlite"
        and url.database
        and url.database != ":memory:"
        and not url.database.startswith("file:")
    ):
        path = Path(url.database)
        if not path.is_absolute():
            url = url.set(database=str(ROOT / path))
    return url


class ShopDB:
    """Access to the shop database. Cheap to construct; one engine (and pool) per instance."""

    def __init__(self, url: str | None = None, currency: str | None = None) -> None:
        self._url = _resolve_url(url or current().database_url)
        self._currency = currency or current().currency
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._url.render_as_string(hide_password=False)

    def __repr__(self) -> str:
        return f"ShopDB(url={self._url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    engine = self._create_engine()
                    metadata.create_all(engine)
                    self._engine = engine
        return self._engine

    def _create_engine(self) -> Engine:
        url = self._url
        if url.get_backend_name() != "sqlite":
            return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
        if not url.database or url.database == ":memory:":
            # One shared connection, or every pooled connection would see its own empty DB.
            engine = sa.create_engine(
                url, poolclass=StaticPool, connect_args={"check_same_thread": False}, hide_parameters=True
            )
        else:
            if not url.database.startswith("file:"):
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @sa.event.listens_for(engine, "connect")
        def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine

    def create_schema(self) -> None:
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        """Closes pooled connections (tests, and before copying a SQLite file)."""
        if self._engine is not None:
            self._engine.dispose()

    def load_demo_data(self, rows: Mapping[str, Sequence[Mapping[str, Any]]], chunk: int = 5000) -> None:
        """Drops and recreates every table, then inserts ``rows`` ({table name: [row dict]})."""
        engine = self.engine
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                data = rows.get(table.name) or []
                for start in range(0, len(data), chunk):
                    conn.execute(table.insert(), [dict(r) for r in data[start : start + chunk]])

    # ---- orders --------------------------------------------------------------------------

    def _orders(self, where: sa.ColumnElement[bool]) -> list[Order]:
        query = (
            sa.select(orders, customers.c.email)
            .join(customers, customers.c.id == orders.c.customer_id)
            .where(where)
            .order_by(orders.c.placed_at.desc(), orders.c.id.desc())
        )
        with self.engine.connect() as conn:
            heads = conn.execute(query).mappings().all()
            if not heads:
                return []
            items_query = (
                sa.select(order_items)
                .where(order_items.c.order_id.in_([h["id"] for h in heads]))
                .order_by(order_items.c.order_id, order_items.c.id)
            )
            items: dict[str, list[OrderItem]] = {}
            for row in conn.execute(items_query).mappings():
                items.setdefault(row["order_id"], []).append(
                    OrderItem(
                        product_id=row["product_id"],
                        title=row["title"],
                        quantity=int(row["quantity"]),
                        unit_price=float(row["unit_price"]),
                    )
                )
        return [
            Order(
                id=h["id"],
                customer_id=h["customer_id"],
                email=h["email"],
                status=h["status"],
                placed_at=_utc(h["placed_at"]),  # type: ignore[arg-type]
                shipped_at=_utc(h["shipped_at"]),
                delivered_at=_utc(h["delivered_at"]),
                estimated_delivery=h["estimated_delivery"],
                carrier=h["carrier"],
                tracking_number=h["tracking_number"],
                total=float(h["total"]),
                items=tuple(items.get(h["id"], ())),
                paid_at=_utc(h["paid_at"]),
                currency=self._currency,
            )
            for h in heads
        ]

    def get_order(self, order_id: str) -> Order | None:
        normalized = normalize_order_id(order_id)
        if normalized is None:
            return None
        found = self._orders(orders.c.id == normalized)
        return found[0] if found else None

    def verify_order(self, order_id: str, email: str) -> Order | None:
        """The order if the id exists and belongs to that email; one answer for both failures."""
        normalized_id, normalized_email = normalize_order_id(order_id), normalize_email(email)
        if normalized_id is None or normalized_email is None:
            return None
        order = self.get_order(normalized_id)
        # Compare even when the order is unknown, so timing does not tell which case it was.
        stored = order.email.lower() if order else "\x00"
        matches = hmac.compare_digest(stored.encode(), normalized_email.encode())
        return order if order is not None and matches else None

    def orders_for_customer(self, customer_id: str) -> list[Order]:
        return self._orders(orders.c.customer_id == str(customer_id))

    def cancel_order(self, order_id: str) -> bool:
        normalized = normalize_order_id(order_id)
        if normalized is None:
            return False
        stmt = (
            orders.update()
            .where(orders.c.id == normalized, orders.c.status.in_(CANCELLABLE))
            .values(status="cancelled", cancelled_at=_now())
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def create_return(self, order_id: str, reason: str | None = None) -> str:
        normalized = normalize_order_id(order_id)
        if normalized is None:
            raise ValueError("not an order number")
        with self.engine.begin() as conn:
            if conn.execute(sa.select(orders.c.id).where(orders.c.id == normalized)).first() is None:
                raise ValueError(f"no order {normalized}")
            existing = conn.execute(
                sa.select(returns.c.id)
                .where(returns.c.order_id == normalized, returns.c.status == "requested")
                .order_by(returns.c.created_at)
            ).first()
            if existing is not None:
                return str(existing[0])
            return_id = f"R-{secrets.token_hex(4).upper()}"
            conn.execute(
                returns.insert().values(
                    id=return_id,
                    order_id=normalized,
                    reason=reason[:2000] if reason else None,
                    created_at=_now(),
                    status="requested",
                )
            )
        return return_id

    # ---- customers and products ------------------------------------------------------------

    def customer_by_email(self, email: str) -> dict[str, Any] | None:
        normalized = normalize_email(email)
        if normalized is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(customers).where(customers.c.email == normalized)).mappings().first()
        return None if row is None else {**row, "created_at": _utc(row["created_at"])}

    def product(self, product_id: str) -> dict[str, Any] | None:
        if not isinstance(product_id, str) or len(product_id) > 16:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(products).where(products.c.id == product_id)).mappings().first()
        return None if row is None else dict(row)

    # ---- support logs ----------------------------------------------------------------------

    def _insert(self, table: sa.Table, **values: Any) -> int:
        with self.engine.begin() as conn:
            key = conn.execute(table.insert().values(**values)).inserted_primary_key
        assert key is not None  # every table written here has an autoincrement key
        return int(key[0])

    def log_faq_answer(self, sender_id: str, query: str, source: str | None, score: float | None) -> int:
        return self._insert(
            faq_log,
            sender_id=_sender(sender_id),
            query=str(query or "")[:4000],
            answer_source=source[:500] if source else None,
            score=None if score is None else float(score),
            created_at=_now(),
        )

    def set_faq_helpful(self, log_id: int, helpful: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(faq_log.update().where(faq_log.c.id == int(log_id)).values(helpful=bool(helpful)))

    # ---- interactions ----------------------------------------------------------------------

    def record_interaction(
        self,
        customer_id: str | None,
        product_id: str,
        event: str,
        value: float | None = None,
        sender_id: str | None = None,
    ) -> None:
        if event not in INTERACTION_EVENTS:
            raise ValueError(f"unknown interaction event {event!r}; expected one of {INTERACTION_EVENTS}")
        if not isinstance(product_id, str) or not product_id or len(product_id) > 16:
            raise ValueError("product_id must be a product id like P0001")
        if customer_id is not None and len(str(customer_id)) > 64:
            raise ValueError("customer_id is too long")
        with self.engine.begin() as conn:
            conn.execute(
                interactions.insert().values(
                    customer_id=customer_id or None,
                    product_id=product_id,
                    event=event,
                    value=None if value is None else float(value),
                    ts=_now(),
                    sender_id=_sender(sender_id) or None,
                )
            )

    def interactions(self, since: datetime | None = None) -> list[dict[str, Any]]:
        query = sa.select(
            interactions.c.customer_id,
            interactions.c.product_id,
            interactions.c.event,
            interactions.c.value,
            interactions.c.ts,
            interactions.c.sender_id,
        ).order_by(interactions.c.ts, interactions.c.id)
        if since is not None:
            query = query.where(interactions.c.ts >= _naive_utc(since))
        with self.engine.connect() as conn:
            return [{**r, "ts": _utc(r["ts"])} for r in conn.execute(query).mappings()]

    # ---- throttling ------------------------------------------------------------------------

    def record_failed_verification(self, sender_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(verification_failures.insert().values(sender_id=_sender(sender_id), ts=_now()))

    def recent_failed_verifications(self, sender_id: str, within_seconds: int = 900) -> int:
        cutoff = _now() - timedelta(seconds=max(0, int(within_seconds)))
        query = (
            sa.select(sa.func.count())
            .select_from(verification_failures)
            .where(verification_failures.c.sender_id == _sender(sender_id), verification_failures.c.ts >= cutoff)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def table_rows(db: ShopDB, table: str, order_by: Iterable[str] = ("id",)) -> list[dict[str, Any]]:
    """Every row of one table, in a stable order (tests and tools compare these)."""
    t = metadata.tables[table]
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(*(t.c[c] for c in order_by))).mappings()]
