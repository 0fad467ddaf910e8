"""A SQL tracker store whose cost per turn does not grow with the conversation (issue #23).

Rasa's `SQLTrackerStore` loads every event of the conversation session and replays it into a
tracker on every message; the policies then compute a dialogue state for every earlier action
(`Domain.states_for_tracker_history`), and the whole tracker travels to the action server.
Measured on a 120-turn conversation that made the hundredth reply three times as slow as the
first, all of it spent on turns the policies (`max_history: 5`) and actions never look at.

This store keeps every event in the same `events` table (transcripts, `retrieve_full_tracker`
and Rasa's HTTP API are unchanged) and, beside it, one row per conversation with the slots and
active loop as they stood after its newest event. A session longer than `window_events`
events is then loaded from that row plus its newest `window_events` events (cut at a turn's
start), which yields the same slots, active loop, latest message and latest action as a full
replay: each slot's last change inside the window is its last change overall. Older turns
fall out of what the policies and actions see, as a session expiry would drop them.

Rasa has no such option (its `max_event_history` truncates the tracker in memory, after which
`SQLTrackerStore.save` counts stored events against the truncated list and stops saving), so it
is written here. Configured in `endpoints.yml` with `type: bot.tracker_store.WindowedSQLTrackerStore`;
`SHOP_TRACKER_WINDOW_EVENTS` sets the window (0: load every event, as Rasa does).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActiveLoop, Event, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from shop.settings import current

logger = logging.getLogger(__name__)

window_metadata = sa.MetaData()
tracker_windows = sa.Table(
    "tracker_windows",
    window_metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    # The newest event this state includes; a window is only built on a state that matches.
    sa.Column("last_event_id", sa.Integer, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
)
# How many events of the tracker were stored when it was loaded or last saved: what a save adds.
_STORED_MARK = "_shop_stored_events"


class WindowedSQLTrackerStore(SQLTrackerStore):
    engine: sa.engine.Engine  # Rasa's, or the pooled one that replaces it for SQLite

    def __init__(self, *args: Any, window_events: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.window_events = current().tracker_window_events if window_events is None else int(window_events)
        if self.engine.dialect.name == "sqlite":
            self._keep_sqlite_connections()
        window_metadata.create_all(self.engine)

    def _keep_sqlite_connections(self) -> None:
        """Rasa's SQLite engine (SQLAlchemy 1.4's NullPool) opens and closes a connection for
        every read and every save; opening, closing and the pragmas cost a twentieth of the
        server's time under load (py-spy). A small pool keeps them. A write-ahead log makes a
        save one append whose commit needs no sync of the whole file, lets readers (the agent
        console's transcripts) go on while a save runs, and loses nothing committed if the
        process dies."""
        engine = sa.create_engine(
            self.engine.url, poolclass=sa.pool.QueuePool, connect_args={"check_same_thread": False}
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")  # kept in the file itself
        self.engine.dispose()
        self.engine = engine
        self.sessionmaker.configure(bind=engine)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        if self.window_events <= 0 or self.domain is None:
            return await super().retrieve(sender_id)
        with self.session_scope() as session:
            newest_first = session.execute(self._newest_events(sender_id, self.window_events + 1)).all()
            if len(newest_first) <= self.window_events:
                return self._tracker(sender_id, [], newest_first[::-1])
            stored = session.execute(
                sa.select(tracker_windows.c.last_event_id, tracker_windows.c.state).where(
                    tracker_windows.c.sender_id == sender_id
                )
            ).first()
        if stored is None or stored.last_event_id != newest_first[0].id:
            # Written before this store was configured, or by another writer: a full replay.
            logger.debug("no stored state for the newest event of %s; loading every event", sender_id)
            return await super().retrieve(sender_id)
        state = json.loads(stored.state)
        prelude: list[Event] = [SlotSet(name, value) for name, value in state["slots"].items()]
        if state.get("active_loop"):
            prelude.append(ActiveLoop(state["active_loop"]))
        return self._tracker(sender_id, prelude, _from_a_turns_start(newest_first[: self.window_events][::-1]))

    def _newest_events(self, sender_id: str, limit: int) -> Any:
        """Rasa's query for the events of the latest session, newest first, as plain rows of the
        columns read here: building ORM objects cost more than the query itself (py-spy)."""
        event = self.SQLEvent
        session_start = (
            sa.select(sa.func.max(event.timestamp))
            .where(event.sender_id == sender_id, event.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        return (
            sa.select(event.id, event.type_name, event.action_name, event.data)
            .where(event.sender_id == sender_id, sa.or_(session_start.is_(None), event.timestamp >= session_start))
            .order_by(event.id.desc())
            .limit(limit)
        )

    def _tracker(self, sender_id: str, prelude: list[Event], rows: list[Any]) -> DialogueStateTracker | None:
        if not rows:
            return None
        events = prelude + [event for row in rows if (event := _event(json.loads(row.data))) is not None]
        assert self.domain is not None
        tracker = DialogueStateTracker.from_events(sender_id, events, self.domain.slots)
        setattr(tracker, _STORED_MARK, len(tracker.events))
        return tracker

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        stored = getattr(tracker, _STORED_MARK, None)
        if stored is None:  # a tracker this store did not load: Rasa's count of stored events
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        with self.session_scope() as session:
            added = [self._row(tracker.sender_id, event) for event in self._additional_events(session, tracker)]
            session.add_all(added)
            session.flush()  # gives the rows their ids
            if added:
                state = {"slots": tracker.current_slot_values(), "active_loop": tracker.active_loop_name}
                session.execute(tracker_windows.delete().where(tracker_windows.c.sender_id == tracker.sender_id))
                session.execute(
                    tracker_windows.insert().values(
                        sender_id=tracker.sender_id, last_event_id=added[-1].id, state=json.dumps(state)
                    )
                )
            session.commit()
        setattr(tracker, _STORED_MARK, len(tracker.events))

    def _row(self, sender_id: str, event: Event) -> Any:
        """The `events` row Rasa's own `save` writes for this event."""
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across a process crash
    cursor.close()


@functools.cache
def _event_class(type_name: str) -> type[Event] | None:
    # Rasa's Event.resolve_by_type walks every subclass of Event, calling inspect.isabstract on
    # each, for every event it reads: a tenth of the Rasa server's time under load (py-spy).
    # Which class a type name means does not change once the event classes are imported.
    return Event.resolve_by_type(type_name)


def _event(data: dict[str, Any]) -> Event | None:
    """`Event.from_parameters`, with the class looked up once per type name."""
    event_class = _event_class(data.get("event") or "")
    return event_class._from_parameters(data) if event_class is not None else None


def _from_a_turns_start(rows: list[Any]) -> list[Any]:
    """The rows from the first `action_listen` that a shopper's message follows: a window that
    starts mid-turn would show the policies a turn with no message."""
    for index in range(len(rows) - 1):
        if rows[index].type_name == "action" and rows[index].action_name == ACTION_LISTEN_NAME:
            if rows[index + 1].type_name == "user":
                return rows[index:]
    return rows
