"""The windowed SQL tracker store (bot/tracker_store.py): a long conversation loads from its
newest events with the state a full replay gives, and nothing stored is lost or duplicated."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, Restarted, SlotSet, UserUttered

from bot.tracker_store import WindowedSQLTrackerStore

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, order_status, inform, thanks]
entities: [order_id]
slots:
  last_order_id: {type: text, mappings: [{type: custom}]}
  verified: {type: bool, initial_value: false, mappings: [{type: custom}]}
  asked: {type: float, initial_value: 0, max_value: 100, mappings: [{type: custom}]}
  order_id: {type: text, mappings: [{type: custom}]}
forms:
  order_form: {required_slots: [order_id]}
responses:
  utter_greet: [{text: hi}]
  utter_welcome: [{text: welcome}]
actions: [action_order_status]
"""
)
TURN_KINDS = ("greet", "order_status", "inform", "thanks")


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def turn_events(n: int) -> list:  # type: ignore[type-arg]
    """Turn n of a conversation: a message, the bot's actions, slots set, a form now and then."""
    intent = TURN_KINDS[n % len(TURN_KINDS)]
    events = [UserUttered(f"message {n}", {"name": intent, "confidence": 1.0}), ActionExecuted("utter_greet")]
    events.append(BotUttered(f"reply {n}"))
    events.append(SlotSet("asked", float(n)))
    if n % 7 == 3:  # an order form opens and stays open for a turn
        events += [ActionExecuted("order_form"), ActiveLoop("order_form"), SlotSet("requested_slot", "order_id")]
    elif n % 7 == 4:
        events += [
            ActionExecuted("order_form"),
            SlotSet("order_id", f"SO{10000 + n}"),
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            ActionExecuted("action_order_status"),
            SlotSet("last_order_id", f"SO{10000 + n}"),
            SlotSet("verified", n % 2 == 0),
        ]
    events.append(ActionExecuted("action_listen"))
    return events


def talk(store, sender: str, turns: range) -> None:  # type: ignore[no-untyped-def]
    """Each turn as the Rasa server takes it: load, add the turn's events, save."""
    for n in turns:
        tracker = run(store.get_or_create_tracker(sender, append_action_listen=True))
        for event in turn_events(n):
            tracker.update(event)
        run(store.save(tracker))


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "tracker.db")


def windowed(db: str, window: int = 40) -> WindowedSQLTrackerStore:
    return WindowedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=db, window_events=window)


def full(db: str) -> SQLTrackerStore:
    return SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=db)


@pytest.mark.parametrize("turns", [3, 30, 45])  # shorter than the window, and ones cut mid-form
def test_a_windowed_tracker_has_the_state_of_a_full_replay(db, turns):
    store = windowed(db)
    talk(store, "long", range(turns))
    cut, whole = run(store.retrieve("long")), run(full(db).retrieve("long"))
    assert cut.current_slot_values() == whole.current_slot_values()
    assert cut.active_loop_name == whole.active_loop_name
    assert cut.latest_message.text == whole.latest_message.text
    assert cut.latest_action_name == whole.latest_action_name
    assert cut.past_states(DOMAIN)[-5:] == whole.past_states(DOMAIN)[-5:]  # what max_history 5 sees
    if turns > 10:
        prelude = len(DOMAIN.slots) + (1 if cut.active_loop_name else 0)
        assert len(cut.events) <= 40 + prelude < len(whole.events)
        first, second = cut.events[prelude], cut.events[prelude + 1]  # a turn's start
        assert (first.action_name, type(second)) == ("action_listen", UserUttered)


def test_saving_a_windowed_tracker_stores_each_event_once(db):
    store = windowed(db)
    talk(store, "long", range(40))
    talk(store, "long", range(40, 42))
    events = run(full(db).retrieve_full_tracker("long")).events
    users = [e.text for e in events if isinstance(e, UserUttered)]
    assert users == [f"message {n}" for n in range(42)]
    assert sum(1 for e in events if isinstance(e, SlotSet) and e.key == "asked") == 42  # no prelude stored


def test_a_conversation_stored_by_rasas_own_store_loads_whole_then_windowed(db):
    talk(full(db), "older", range(30))
    store = windowed(db)
    assert len(run(store.retrieve("older")).events) == len(run(full(db).retrieve("older")).events)
    talk(store, "older", range(30, 31))
    assert len(run(store.retrieve("older")).events) < len(run(full(db).retrieve("older")).events)


def test_a_restart_inside_the_window_clears_the_stored_slots(db):
    store = windowed(db)
    talk(store, "restarted", range(30))
    tracker = run(store.retrieve("restarted"))
    for event in (UserUttered("/restart", {"name": "restart", "confidence": 1.0}), Restarted()):
        tracker.update(event)
    tracker.update(ActionExecuted("action_listen"))
    run(store.save(tracker))
    talk(store, "restarted", range(1))  # a turn without forms
    cut, whole = run(store.retrieve("restarted")), run(full(db).retrieve("restarted"))
    assert cut.current_slot_values() == whole.current_slot_values()
    assert cut.get_slot("last_order_id") is None


def test_the_sqlite_file_keeps_a_write_ahead_log(db):
    talk(windowed(db), "wal", range(2))
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_window_zero_is_rasas_own_loading(db):
    store = windowed(db, window=0)
    talk(store, "plain", range(30))
    assert len(run(store.retrieve("plain")).events) == len(run(full(db).retrieve("plain")).events)
