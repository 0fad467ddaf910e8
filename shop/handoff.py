"""Hand-off to a person: the queue, its states, and customer-care hours (issue #22).

The one source of truth for "who is talking to this shopper" is the `handoff_conversations`
table, keyed by sender id, in the shop DB that every server of the shop shares. Nothing is
kept in process memory, so a restarted Rasa server, or a second one, reads the same state.

States of a hand-off:

    waiting  -> claimed (one agent, by an atomic UPDATE) -> resolved (by the agent, or by the
    shopper's "back to the assistant"); a request outside care hours, or with no agent there,
    is a `ticket`: it is answered by email, never in the chat. A waiting hand-off that nobody
    can take any more (care hours ended, every agent left the console) becomes `unattended`,
    and the shopper is offered a ticket instead of waiting on for nobody.

The tables live on their own `MetaData`, so `python -m shop generate` (which drops and
refills the demo tables) leaves agent accounts and conversations alone.

API::

    CareHours.parse("mon-fri 09:00-18:00 sat 10:00-14:00", "Europe/Berlin"); hours.is_open(when)
    desk = HandoffDesk(db)                       cheap; tables are created on first use
    desk.request(sender, trigger, ...)           HandoffRequest(kind="queued"|"ticket", ...)
    desk.active(sender)                          the waiting or claimed hand-off, or None
    desk.queue()                                 waiting and claimed hand-offs, oldest first
    desk.claim(id, agent)                        the hand-off if this agent got it, else None
    desk.transfer(id, from_agent, to_agent) / desk.resolve(id, agent) / desk.end_by_shopper(sender)
    desk.rating_due(sender) / desk.store_rating(id, rating)
    desk.add_note(id, agent, text) / desk.notes(id)
    desk.record_ticket(sender, email, message)
    desk.release_unattended(sender=None)         waiting hand-offs nobody can take, now `unattended`
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from shop.db import ShopDB
from shop.settings import Settings, current

handoff_metadata = sa.MetaData()
TRIGGERS = ("request", "anger", "fallback", "kb_unsure")
ACTIVE = ("waiting", "claimed")

handoff_conversations = sa.Table(
    "handoff_conversations",
    handoff_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(128), nullable=False, index=True),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("agent", sa.String(64)),
    sa.Column("sentiment", sa.String(16)),
    sa.Column("last_intent", sa.String(64)),
    sa.Column("order_id", sa.String(20)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("ended_by", sa.String(16)),
    sa.Column("email", sa.String(254)),
    sa.Column("message", sa.Text),
    sa.Column("rating_due", sa.Boolean, nullable=False, default=False),
    sa.Column("rating", sa.Integer),
)
handoff_notes = sa.Table(
    "handoff_notes",
    handoff_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("handoff_id", sa.Integer, nullable=False, index=True),
    sa.Column("agent", sa.String(64), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
agents = sa.Table(
    "agents",
    handoff_metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime),
)
agent_sessions = sa.Table(
    "agent_sessions",
    handoff_metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("agent", sa.String(64), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?$")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def as_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class CareHours:
    """When customer care answers: per weekday, a list of (start, end) local times."""

    windows: tuple[tuple[tuple[time, time], ...], ...]
    zone: ZoneInfo
    text: str

    @classmethod
    def parse(cls, spec: str, zone_name: str) -> CareHours:
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"SHOP_CARE_TIMEZONE: unknown time zone {zone_name!r}") from None
        days: list[list[tuple[time, time]]] = [[] for _ in _DAYS]
        words = spec.lower().split()
        if words == ["always"]:
            return cls(tuple(((time(0), time.max),) for _ in _DAYS), zone, "any time")
        if len(words) % 2:
            raise ValueError(f"SHOP_CARE_HOURS: expected pairs like 'mon-fri 09:00-18:00', not {spec!r}")
        for span, hours in zip(words[::2], words[1::2], strict=True):
            day_match, hour_match = _SPAN.match(span), _HOURS.match(hours)
            if not day_match or not hour_match:
                raise ValueError(f"SHOP_CARE_HOURS: can't read {span} {hours!r} (want e.g. 'mon-fri 09:00-18:00')")
            first = _DAYS.index(day_match.group(1))
            last = _DAYS.index(day_match.group(2) or day_match.group(1))
            h1, m1, h2, m2 = (int(g) for g in hour_match.groups())
            start = time(h1, m1)
            end = time.max if (h2, m2) == (24, 0) else time(h2, m2)
            for day in range(first, last + 1):
                days[day].append((start, end))
        return cls(tuple(tuple(d) for d in days), zone, f"{spec} ({zone_name})")

    def is_open(self, when: datetime) -> bool:
        local = when.replace(tzinfo=timezone.utc).astimezone(self.zone) if when.tzinfo is None else when
        local = local.astimezone(self.zone)
        return any(start <= local.time() < end for start, end in self.windows[local.weekday()])


# A second time is a pattern, not a slip: the first gets an apology and the offer of a person.
TRIGGER_AFTER = 2


@dataclass(frozen=True)
class ConversationSignals:
    """What the conversation so far says about how it is going (read from the tracker)."""

    angry_messages: int = 0
    misunderstood_in_a_row: int = 0
    unanswered_questions: int = 0


@dataclass(frozen=True)
class HandoffRequest:
    """What `HandoffDesk.request` did: `queued` (a person will join; `position` in the queue) or
    `ticket` (nobody can join now: `why` is `closed` or `nobody_there`)."""

    kind: str
    handoff_id: int
    position: int | None = None
    why: str | None = None
    hours: str = ""


class HandoffDesk:
    """The hand-off queue in the shop DB. Cheap to construct; tables are made on first use."""

    def __init__(self, db: ShopDB | None = None, settings: Settings | None = None) -> None:
        self.db = db or ShopDB()
        self.settings = settings or current()
        self.hours = CareHours.parse(self.settings.care_hours, self.settings.care_timezone)
        self._ready = False
        self._lock = threading.Lock()

    @property
    def engine(self) -> sa.engine.Engine:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    handoff_metadata.create_all(self.db.engine)
                    self._ready = True
        return self.db.engine

    def trigger_enabled(self, trigger: str) -> bool:
        return trigger in self.settings.handoff_triggers

    def due_trigger(self, signals: ConversationSignals) -> str | None:
        """The enabled trigger these signals fire (`SHOP_HANDOFF_TRIGGERS`), or None."""
        counts = {
            "anger": signals.angry_messages,
            "fallback": signals.misunderstood_in_a_row,
            "kb_unsure": signals.unanswered_questions,
        }
        for trigger, count in counts.items():
            if self.trigger_enabled(trigger) and count >= TRIGGER_AFTER:
                return trigger
        return None

    def can_join_now(self, at: datetime | None = None) -> bool:
        """Within care hours and with an agent at the console: a person could join the chat."""
        at = at or now_utc()
        return self.hours.is_open(at) and self.agents_present(at)

    # ---- the shopper's side ----------------------------------------------------------------

    def agents_present(self, at: datetime | None = None) -> bool:
        """Someone has the console open: it was heard from within `SHOP_AGENT_AWAY_AFTER_S`."""
        cutoff = (at or now_utc()) - timedelta(seconds=self.settings.agent_away_after_s)
        query = sa.select(sa.func.count()).select_from(agents).where(agents.c.last_seen >= cutoff)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one()) > 0

    def request(
        self,
        sender_id: str,
        trigger: str,
        reason: str = "",
        sentiment: str | None = None,
        last_intent: str | None = None,
        order_id: str | None = None,
        at: datetime | None = None,
    ) -> HandoffRequest:
        """Queues the conversation for a person, or records a ticket when nobody can join."""
        at = at or now_utc()
        existing = self.active(sender_id)
        if existing is not None:
            return HandoffRequest("queued", existing["id"], existing.get("position"), hours=self.hours.text)
        why = None
        if not self.hours.is_open(at):
            why = "closed"
        elif not self.agents_present(at):
            why = "nobody_there"
        values = dict(
            sender_id=str(sender_id)[:128],
            trigger=trigger,
            reason=str(reason or "")[:2000],
            status="ticket" if why else "waiting",
            sentiment=sentiment,
            last_intent=last_intent,
            order_id=order_id,
            created_at=at,
            rating_due=False,
        )
        with self.engine.begin() as conn:
            key = conn.execute(handoff_conversations.insert().values(**values)).inserted_primary_key
        assert key is not None  # an autoincrement key
        handoff_id = int(key[0])
        if why:
            return HandoffRequest("ticket", handoff_id, why=why, hours=self.hours.text)
        return HandoffRequest("queued", handoff_id, self._position(handoff_id), hours=self.hours.text)

    def release_unattended(self, sender_id: str | None = None, at: datetime | None = None) -> list[dict[str, Any]]:
        """The waiting hand-offs (of one sender, or all) that nobody can take any more, now
        `unattended`; none while someone could join. Each row changes in one conditional
        UPDATE, so of two servers sweeping at once only one tells the shopper."""
        at = at or now_utc()
        if self.can_join_now(at):
            return []
        why = "closed" if not self.hours.is_open(at) else "nobody_there"
        query = sa.select(handoff_conversations.c.id).where(handoff_conversations.c.status == "waiting")
        if sender_id is not None:
            query = query.where(handoff_conversations.c.sender_id == sender_id)
        released = []
        with self.engine.begin() as conn:
            for (handoff_id,) in conn.execute(query).all():
                done = conn.execute(
                    handoff_conversations.update()
                    .where(handoff_conversations.c.id == handoff_id, handoff_conversations.c.status == "waiting")
                    .values(status="unattended", ended_at=at, ended_by=why)
                ).rowcount
                if done == 1:
                    released.append(handoff_id)
        return [found for found in map(self.get, released) if found is not None]

    def record_ticket(self, sender_id: str, email: str, message: str) -> int | None:
        """Adds the shopper's email and message to their newest ticket; its id, or None."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(handoff_conversations.c.id)
                .where(handoff_conversations.c.sender_id == sender_id, handoff_conversations.c.status == "ticket")
                .order_by(handoff_conversations.c.id.desc())
            ).first()
            if row is None:
                return None
            conn.execute(
                handoff_conversations.update()
                .where(handoff_conversations.c.id == row[0])
                .values(email=email[:254], message=message[:4000])
            )
        return int(row[0])

    def active(self, sender_id: str) -> dict[str, Any] | None:
        """The waiting or claimed hand-off of this sender, or None."""
        return self._newest(sender_id, handoff_conversations.c.status.in_(ACTIVE))

    def state_of(self, sender_id: str) -> dict[str, Any] | None:
        """The newest hand-off of this sender that still matters to its next message: waiting,
        claimed, or ended with a rating asked for. One indexed query: it runs on every message."""
        return self._newest(
            sender_id, sa.or_(handoff_conversations.c.status.in_(ACTIVE), handoff_conversations.c.rating_due.is_(True))
        )

    def _newest(self, sender_id: str, condition: Any) -> dict[str, Any] | None:
        query = (
            sa.select(handoff_conversations)
            .where(handoff_conversations.c.sender_id == sender_id, condition)
            .order_by(handoff_conversations.c.id.desc())
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        found = {**self._public(row), "rating_due": bool(row["rating_due"])}
        if found["status"] == "waiting":
            found["position"] = self._position(found["id"])
        return found

    def end_by_shopper(self, sender_id: str) -> dict[str, Any] | None:
        """The shopper went back to the assistant; the hand-off it ended, or None."""
        found = self.active(sender_id)
        if found is None:
            return None
        with self.engine.begin() as conn:
            done = conn.execute(
                handoff_conversations.update()
                .where(handoff_conversations.c.id == found["id"], handoff_conversations.c.status.in_(ACTIVE))
                .values(status="resolved", ended_at=now_utc(), ended_by="shopper")
            ).rowcount
        return found if done else None

    def rating_due(self, sender_id: str) -> int | None:
        """The hand-off whose rating the shopper was just asked for, if any."""
        query = (
            sa.select(handoff_conversations.c.id)
            .where(handoff_conversations.c.sender_id == sender_id, handoff_conversations.c.rating_due.is_(True))
            .order_by(handoff_conversations.c.id.desc())
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else int(row[0])

    def store_rating(self, handoff_id: int, rating: int | None) -> None:
        """Stores a 1-5 rating (None: the shopper moved on without one) and stops asking."""
        if rating is not None and not 1 <= int(rating) <= 5:
            raise ValueError("a rating is 1 to 5")
        with self.engine.begin() as conn:
            conn.execute(
                handoff_conversations.update()
                .where(handoff_conversations.c.id == int(handoff_id))
                .values(rating=rating, rating_due=False)
            )

    # ---- the agents' side ------------------------------------------------------------------

    def queue(self) -> list[dict[str, Any]]:
        query = (
            sa.select(handoff_conversations)
            .where(handoff_conversations.c.status.in_(ACTIVE))
            .order_by(handoff_conversations.c.id)
        )
        with self.engine.connect() as conn:
            rows = [self._public(r) for r in conn.execute(query).mappings()]
        position = 0
        for row in rows:
            if row["status"] == "waiting":
                position += 1
                row["position"] = position
        return rows

    def history(self, sender_id: str) -> list[dict[str, Any]]:
        """Every hand-off and ticket of one conversation, oldest first."""
        query = (
            sa.select(handoff_conversations)
            .where(handoff_conversations.c.sender_id == sender_id)
            .order_by(handoff_conversations.c.id)
        )
        with self.engine.connect() as conn:
            return [self._public(r) for r in conn.execute(query).mappings()]

    def get(self, handoff_id: int) -> dict[str, Any] | None:
        query = sa.select(handoff_conversations).where(handoff_conversations.c.id == int(handoff_id))
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else self._public(row)

    def claim(self, handoff_id: int, agent: str) -> dict[str, Any] | None:
        """The hand-off, now this agent's; None when another agent was first (or it ended).
        One conditional UPDATE, so two agents can't both win, on SQLite or Postgres."""
        with self.engine.begin() as conn:
            won = conn.execute(
                handoff_conversations.update()
                .where(handoff_conversations.c.id == int(handoff_id), handoff_conversations.c.status == "waiting")
                .values(status="claimed", agent=agent, claimed_at=now_utc())
            ).rowcount
        return self.get(handoff_id) if won == 1 else None

    def transfer(self, handoff_id: int, from_agent: str, to_agent: str) -> bool:
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(agents.c.name).where(agents.c.name == to_agent)).first()
            if exists is None:
                return False
            return (
                conn.execute(
                    handoff_conversations.update()
                    .where(
                        handoff_conversations.c.id == int(handoff_id),
                        handoff_conversations.c.status == "claimed",
                        handoff_conversations.c.agent == from_agent,
                    )
                    .values(agent=to_agent)
                ).rowcount
                == 1
            )

    def resolve(self, handoff_id: int, agent: str) -> dict[str, Any] | None:
        """Ends the agent's hand-off; the bot takes over and asks for a rating."""
        with self.engine.begin() as conn:
            done = conn.execute(
                handoff_conversations.update()
                .where(
                    handoff_conversations.c.id == int(handoff_id),
                    handoff_conversations.c.status == "claimed",
                    handoff_conversations.c.agent == agent,
                )
                .values(status="resolved", ended_at=now_utc(), ended_by="agent", rating_due=True)
            ).rowcount
        return self.get(handoff_id) if done == 1 else None

    def add_note(self, handoff_id: int, agent: str, text: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                handoff_notes.insert().values(
                    handoff_id=int(handoff_id), agent=agent, text=str(text)[:4000], created_at=now_utc()
                )
            )

    def notes(self, handoff_id: int) -> list[dict[str, Any]]:
        query = (
            sa.select(handoff_notes).where(handoff_notes.c.handoff_id == int(handoff_id)).order_by(handoff_notes.c.id)
        )
        with self.engine.connect() as conn:
            return [
                {"agent": r["agent"], "text": r["text"], "ts": r["created_at"].replace(tzinfo=timezone.utc).timestamp()}
                for r in conn.execute(query).mappings()
            ]

    # ---- internals -------------------------------------------------------------------------

    def _position(self, handoff_id: int) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(handoff_conversations)
            .where(handoff_conversations.c.status == "waiting", handoff_conversations.c.id <= int(handoff_id))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _public(row: Any) -> dict[str, Any]:
        created = as_utc(row["created_at"])
        return {
            "id": int(row["id"]),
            "sender_id": row["sender_id"],
            "status": row["status"],
            "trigger": row["trigger"],
            "reason": row["reason"],
            "agent": row["agent"],
            "sentiment": row["sentiment"],
            "last_intent": row["last_intent"],
            "order_id": row["order_id"],
            "created_at": created.timestamp() if created else None,
            "waiting_s": int((datetime.now(timezone.utc) - created).total_seconds()) if created else 0,
            "position": None,
            "rating": row["rating"],
        }
