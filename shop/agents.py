"""Customer-care agent accounts and console log-ins (issue #22).

Passwords are hashed with argon2id (argon2-cffi, its default parameters); only the hash is
stored. A log-in opens a session: a random token for the cookie, of which the DB keeps only the
SHA-256 (a stolen table opens no session), and a CSRF token the console sends back on every
change. Sessions live in the shop DB, so they survive a restart and work on every Rasa server.

Failed log-ins are counted per agent name and per client address in the same shared store as
failed order look-ups (`shop.failed_attempts`), and pause log-in for that name or client.

    accounts = AgentAccounts(db)
    accounts.add("ana", "Ana", password)          python -m shop agents add ana
    session = accounts.log_in("ana", password, client="<hashed address>")   AgentSession | raises
    accounts.session(token) -> AgentSession | None; accounts.log_out(token); accounts.seen(name)
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shop.db import ShopDB
from shop.failed_attempts import FailedAttempts, ShopDBFailedAttempts
from shop.handoff import agent_sessions, agents, handoff_metadata, now_utc
from shop.settings import Settings, current

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD_CHARS = 10
LOGIN_WINDOW_S = 900
_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class LoginRefused(Exception):
    """Wrong name or password (the message never says which)."""


class LoginPaused(Exception):
    """Too many failed log-ins for this name or from this client."""


@dataclass(frozen=True)
class AgentSession:
    agent: str
    display_name: str
    csrf: str
    token: str = ""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgentAccounts:
    def __init__(
        self, db: ShopDB | None = None, settings: Settings | None = None, failures: FailedAttempts | None = None
    ) -> None:
        self.db = db or ShopDB()
        self.settings = settings or current()
        self.failures = failures or ShopDBFailedAttempts(self.db)
        self._ready = False

    @property
    def engine(self) -> sa.engine.Engine:
        if not self._ready:
            handoff_metadata.create_all(self.db.engine)
            self._ready = True
        return self.db.engine

    def add(self, name: str, display_name: str, password: str) -> None:
        """Creates the agent, or sets a new password and display name for an existing one."""
        if not NAME.match(name):
            raise ValueError("an agent name is 1-64 lower-case letters, digits, '.', '_' or '-'")
        if len(password) < MIN_PASSWORD_CHARS:
            raise ValueError(f"a password has at least {MIN_PASSWORD_CHARS} characters")
        values = {"display_name": (display_name or name).strip()[:100], "password_hash": _hasher.hash(password)}
        with self.engine.begin() as conn:
            updated = conn.execute(agents.update().where(agents.c.name == name).values(**values)).rowcount
            if not updated:
                conn.execute(agents.insert().values(name=name, created_at=now_utc(), **values))

    def names(self) -> list[dict[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(agents.c.name, agents.c.display_name).order_by(agents.c.name)).all()
        return [{"name": r[0], "display_name": r[1]} for r in rows]

    def display_name(self, name: str) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(agents.c.display_name).where(agents.c.name == name)).first()
        return row[0] if row else name

    def log_in(self, name: str, password: str, client: str = "") -> AgentSession:
        keys = [f"agent-login:{name[:64]}"] + ([f"agent-login-client:{client}"] if client else [])
        limit = self.settings.max_failed_logins
        if any(self.failures.recent(key, LOGIN_WINDOW_S) >= limit for key in keys):
            raise LoginPaused("Too many failed log-ins. Wait 15 minutes, or ask an admin to reset the password.")
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(agents).where(agents.c.name == name)).mappings().first()
        stored = row["password_hash"] if row else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
            ok = row is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None:
            for key in keys:
                self.failures.record(key)
            raise LoginRefused("Wrong name or password.")
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = now_utc()
        with self.engine.begin() as conn:
            if _hasher.check_needs_rehash(stored):
                conn.execute(agents.update().where(agents.c.name == name).values(password_hash=_hasher.hash(password)))
            conn.execute(
                agent_sessions.insert().values(
                    token_hash=_digest(token),
                    agent=name,
                    csrf=csrf,
                    created_at=now,
                    expires_at=now + timedelta(seconds=self.settings.agent_session_s),
                )
            )
            conn.execute(agents.update().where(agents.c.name == name).values(last_seen=now))
        return AgentSession(name, row["display_name"], csrf, token)

    def session(self, token: str | None) -> AgentSession | None:
        if not token or len(token) > 128:
            return None
        query = (
            sa.select(agent_sessions.c.agent, agent_sessions.c.csrf, agents.c.display_name)
            .join(agents, agents.c.name == agent_sessions.c.agent)
            .where(agent_sessions.c.token_hash == _digest(token), agent_sessions.c.expires_at > now_utc())
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else AgentSession(row[0], row[2], row[1])

    def seen(self, name: str) -> None:
        """The agent's console is open: hand-offs can be offered in the chat."""
        with self.engine.begin() as conn:
            conn.execute(agents.update().where(agents.c.name == name).values(last_seen=now_utc()))

    def log_out(self, token: str) -> None:
        found = self.session(token)
        with self.engine.begin() as conn:
            conn.execute(agent_sessions.delete().where(agent_sessions.c.token_hash == _digest(token)))
            if found is not None:
                # Logged out is away: no new hand-off is promised on this agent's account.
                conn.execute(agents.update().where(agents.c.name == found.agent).values(last_seen=None))
