"""The hand-off queue (shop.handoff) and agent log-ins (shop.agents), on SQLite and Postgres."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from shop.agents import AgentAccounts, LoginPaused, LoginRefused
from shop.db import ShopDB
from shop.handoff import CareHours, HandoffDesk, agents, handoff_metadata
from shop.settings import current

PASSWORD = "correct horse battery"
# A Wednesday, 10:00 UTC, and the same day at 22:00.
OPEN = datetime(2026, 12, 2, 10, 0)
CLOSED = datetime(2026, 12, 2, 22, 0)


def make_desk(url: str, **changes: object) -> tuple[HandoffDesk, AgentAccounts]:
    settings = replace(current(), care_hours="mon-fri 09:00-18:00", care_timezone="UTC", **changes)
    db = ShopDB(url)
    desk = HandoffDesk(db, settings)
    return desk, AgentAccounts(db, settings)


@pytest.fixture
def desk(db: ShopDB) -> tuple[HandoffDesk, AgentAccounts]:
    return make_desk(db.url)


def present(accounts: AgentAccounts, *names: str) -> None:
    for name in names:
        accounts.add(name, name.title(), PASSWORD)
        accounts.seen(name)


def test_care_hours_read_days_spans_and_time_zones():
    hours = CareHours.parse("mon-fri 09:00-18:00 sat 10:00-14:00", "Europe/Berlin")
    assert hours.is_open(datetime(2026, 12, 2, 8, 30))  # 09:30 in Berlin (UTC+1)
    assert not hours.is_open(datetime(2026, 12, 2, 7, 30))  # 08:30 in Berlin
    assert hours.is_open(datetime(2026, 12, 5, 12, 0))  # Saturday 13:00
    assert not hours.is_open(datetime(2026, 12, 6, 12, 0))  # Sunday
    assert CareHours.parse("always", "UTC").is_open(datetime(2026, 12, 6, 3, 0))
    for bad in ("mon-fri", "someday 09:00-10:00", "mon 9-17"):
        with pytest.raises(ValueError, match="SHOP_CARE_HOURS"):
            CareHours.parse(bad, "UTC")
    with pytest.raises(ValueError, match="SHOP_CARE_TIMEZONE"):
        CareHours.parse("always", "Mars/Olympus")


def test_outside_hours_or_with_nobody_there_a_request_is_a_ticket_not_a_promise(desk):
    handoffs, accounts = desk
    assert handoffs.request("s1", "request", at=OPEN).kind == "ticket"
    assert handoffs.request("s1", "request", at=OPEN).why == "nobody_there"
    present(accounts, "ana")
    closed = handoffs.request("s2", "request", at=CLOSED)
    assert (closed.kind, closed.why) == ("ticket", "closed")
    assert "mon-fri 09:00-18:00" in closed.hours
    assert handoffs.active("s2") is None
    assert handoffs.record_ticket("s2", "bo@example.com", "my parcel never came") == closed.handoff_id


def test_queue_positions_claim_transfer_and_resolve(desk):
    handoffs, accounts = desk
    present(accounts, "ana", "ben")
    first = handoffs.request("s1", "request", at=OPEN, sentiment="negative", last_intent="complaint")
    second = handoffs.request("s2", "anger", at=OPEN)
    assert (first.kind, first.position, second.position) == ("queued", 1, 2)
    assert handoffs.request("s1", "request", at=OPEN).handoff_id == first.handoff_id  # no second ticket
    assert [row["position"] for row in handoffs.queue()] == [1, 2]
    claimed = handoffs.claim(first.handoff_id, "ana")
    assert claimed["status"] == "claimed" and claimed["agent"] == "ana"
    assert handoffs.claim(first.handoff_id, "ben") is None  # already taken
    assert handoffs.active("s2")["position"] == 1  # moved up
    assert not handoffs.transfer(first.handoff_id, "ben", "ana")  # ben doesn't hold it
    assert not handoffs.transfer(first.handoff_id, "ana", "nobody")
    assert handoffs.transfer(first.handoff_id, "ana", "ben")
    assert handoffs.resolve(first.handoff_id, "ana") is None
    assert handoffs.resolve(first.handoff_id, "ben")["status"] == "resolved"
    assert handoffs.active("s1") is None
    assert handoffs.state_of("s1")["rating_due"] is True
    handoffs.store_rating(first.handoff_id, 4)
    assert handoffs.state_of("s1") is None and handoffs.get(first.handoff_id)["rating"] == 4
    with pytest.raises(ValueError):
        handoffs.store_rating(first.handoff_id, 9)
    assert handoffs.end_by_shopper("s2")["id"] == second.handoff_id
    assert handoffs.queue() == []


def test_a_waiting_hand_off_nobody_can_take_any_more_is_released_once(desk, db):
    handoffs, accounts = desk
    present(accounts, "ana")
    waiting = handoffs.request("s1", "request", at=OPEN)
    other = handoffs.request("s2", "request", at=OPEN)
    assert handoffs.release_unattended(at=OPEN) == []  # Ana could still join
    released = handoffs.release_unattended("s1", at=CLOSED)
    assert [(row["id"], row["status"]) for row in released] == [(waiting.handoff_id, "unattended")]
    assert handoffs.release_unattended("s1", at=CLOSED) == []  # told once
    assert handoffs.active("s1") is None and handoffs.active("s2")["id"] == other.handoff_id

    always = HandoffDesk(db, replace(current(), care_hours="always", care_timezone="UTC"))
    assert always.release_unattended() == []  # Ana is at the console
    gone = datetime.utcnow() + timedelta(seconds=current().agent_away_after_s + 5)
    assert [row["id"] for row in always.release_unattended(at=gone)] == [other.handoff_id]
    assert handoffs.queue() == []


def test_notes_stay_with_the_conversation(desk):
    handoffs, accounts = desk
    present(accounts, "ana")
    queued = handoffs.request("s1", "request", at=OPEN)
    handoffs.add_note(queued.handoff_id, "ana", "refund promised <b>today</b>")
    assert [n["text"] for n in handoffs.notes(queued.handoff_id)] == ["refund promised <b>today</b>"]


def race_to_claim(handoffs: HandoffDesk, handoff_id: int, names: list[str]) -> list[str]:
    winners: list[str] = []
    start = threading.Barrier(len(names))

    def claim(name: str) -> None:
        start.wait()
        if handoffs.claim(handoff_id, name) is not None:
            winners.append(name)

    threads = [threading.Thread(target=claim, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return winners


def test_two_agents_claiming_at_once_on_sqlite_one_wins(desk):
    handoffs, accounts = desk
    names = [f"agent{i}" for i in range(8)]
    present(accounts, *names)
    for attempt in range(5):
        queued = handoffs.request(f"race{attempt}", "request", at=OPEN)
        assert len(race_to_claim(handoffs, queued.handoff_id, names)) == 1


@pytest.mark.postgres
def test_two_agents_claiming_at_once_on_postgres_one_wins(pg_url):
    handoffs, accounts = make_desk(pg_url)
    names = [f"agent{i}" for i in range(8)]
    present(accounts, *names)
    for attempt in range(5):
        queued = handoffs.request(f"race{attempt}", "request", at=OPEN)
        assert len(race_to_claim(handoffs, queued.handoff_id, names)) == 1
    handoffs.db.dispose()


def test_passwords_are_argon2_hashes_and_sessions_are_stored_hashed(desk):
    handoffs, accounts = desk
    accounts.add("ana", "Ana", PASSWORD)
    with accounts.engine.connect() as conn:
        stored = conn.execute(agents.select()).mappings().one()["password_hash"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    session = accounts.log_in("ana", PASSWORD, client="c1")
    assert accounts.session(session.token).agent == "ana"
    assert accounts.session(session.token).csrf == session.csrf
    assert accounts.session("not-a-token") is None
    import sqlalchemy as sa

    with accounts.engine.connect() as conn:
        rows = conn.execute(sa.select(handoff_metadata.tables["agent_sessions"])).mappings().all()
    assert session.token not in {r["token_hash"] for r in rows}
    accounts.log_out(session.token)
    assert accounts.session(session.token) is None
    with pytest.raises(ValueError):
        accounts.add("ana", "Ana", "short")
    with pytest.raises(ValueError):
        accounts.add("Bad Name!", "x", PASSWORD)


def test_wrong_passwords_are_throttled_per_name_and_per_client(db):
    _, accounts = make_desk(db.url, max_failed_logins=3)
    accounts.add("ana", "Ana", PASSWORD)
    accounts.add("ben", "Ben", PASSWORD)
    for _ in range(3):
        with pytest.raises(LoginRefused):
            accounts.log_in("ana", "guess", client="prober")
    with pytest.raises(LoginPaused):
        accounts.log_in("ana", PASSWORD, client="elsewhere")  # the name is paused, even with the password
    with pytest.raises(LoginPaused):
        accounts.log_in("ben", PASSWORD, client="prober")  # and so is the client, for any name
    assert accounts.log_in("ben", PASSWORD, client="elsewhere").agent == "ben"
    with pytest.raises(LoginRefused):
        accounts.log_in("nobody", PASSWORD, client="third")


def test_sessions_expire(db):
    _, accounts = make_desk(db.url, agent_session_s=0)
    accounts.add("ana", "Ana", PASSWORD)
    session = accounts.log_in("ana", PASSWORD)
    assert accounts.session(session.token) is None


def test_agents_away_after_the_configured_time(desk):
    handoffs, accounts = desk
    present(accounts, "ana")
    later = datetime.utcnow() + timedelta(seconds=current().agent_away_after_s + 5)
    assert handoffs.agents_present(later) is False
    assert handoffs.agents_present() is True


def test_hostile_sender_ids_and_reasons_are_stored_as_text(desk):
    handoffs, accounts = desk
    present(accounts, "ana")
    sender = "'; DROP TABLE handoff_conversations;--"
    queued = handoffs.request(sender, "request", reason="Robert'); DROP TABLE agents;--" + "x" * 5000, at=OPEN)
    row = handoffs.active(sender)
    assert row["id"] == queued.handoff_id and len(row["reason"]) <= 2000
    assert [h["sender_id"] for h in handoffs.history(sender)] == [sender]
    assert accounts.names() == [{"name": "ana", "display_name": "Ana"}]
