"""Every setting the product reads from the environment, in one place.

Both Python environments import this module (the Rasa side for its channels and launcher, the
action side for its services), so it uses the standard library only. Nothing else in the
project reads `os.environ`: constructors take their settings as arguments and fall back to
`current()`, which reads the environment when it is called (not at import), so a test or a CLI
that sets a variable before building a service is heard.

`SETTINGS` is the single table of variables; the README's configuration table is checked
against it by `tests/tooling/test_settings.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, the attribute of `Settings` it fills, its default
    (as the environment would spell it; "" means unset) and what it means."""

    name: str
    attribute: str
    default: str
    meaning: str
    secret: bool = False


SETTINGS: tuple[Variable, ...] = (
    Variable(
        "SHOP_DATABASE_URL",
        "database_url",
        "sqlite:///data/shop.db",
        "the shop DB (any SQLAlchemy URL, e.g. `postgresql+psycopg2://user@host/db`); a relative "
        "SQLite path is relative to the project",
    ),
    Variable("SHOP_NAME", "shop_name", "Northstar Goods", "the shop's name on the web page (its title and header)"),
    Variable(
        "SHOP_CATALOG_PATH", "catalog_path", "data/catalog.jsonl", "the catalog the product index and the page read"
    ),
    Variable("SHOP_KB_PATH", "kb_path", "models/kb", "the knowledge-base Chroma folder"),
    Variable("SHOP_KB_COLLECTION", "kb_collection", "shop_kb", "the knowledge-base Chroma collection"),
    Variable(
        "SHOP_KB_ENCODER_PATH",
        "kb_encoder_path",
        "models/kb_encoder",
        "the fine-tuned KB question encoder (the plain MiniLM when absent)",
    ),
    Variable(
        "SHOP_KB_MIN_CONFIDENCE",
        "kb_min_confidence",
        "",
        "at or above it an FAQ passage is given as the answer (unset: 0.462, or 0.529 with the "
        "plain MiniLM, chosen by `make bench-retrieval`)",
    ),
    Variable(
        "SHOP_KB_SUGGEST_CONFIDENCE",
        "kb_suggest_confidence",
        "",
        "between this and the answer cut-off the passage is a hedged suggestion; below it the "
        "assistant says it is not sure (unset: 0.343, chosen on public data by `make bench-retrieval`, or 0.435 "
        "with the plain MiniLM)",
    ),
    Variable("SHOP_PRODUCT_INDEX_PATH", "product_index_path", "models/products", "the product Chroma folder"),
    Variable("SHOP_PRODUCT_COLLECTION", "product_collection", "products", "the product Chroma collection"),
    Variable("SHOP_RECOMMENDER_PATH", "recommender_path", "models/recommender", "the recommender model folder"),
    Variable(
        "SHOP_EMBEDDING_MODEL",
        "embedding_model",
        "",
        "a sentence-transformers folder to use instead of the packaged all-MiniLM-L6-v2",
    ),
    Variable("SHOP_MAX_MESSAGE_CHARS", "max_message_chars", "2000", "longer messages are refused politely"),
    Variable("SHOP_ACTION_TIMEOUT_S", "action_timeout_s", "10", "how long Rasa waits for the action server"),
    Variable(
        "SHOP_ACTION_WORKERS",
        "action_workers",
        "0",
        "action server processes `make run` starts (0: one per four cores, at least one; under load one "
        "worker keeps up with a Rasa server, which is one process)",
    ),
    Variable(
        "SHOP_ORDER_ID_PREFIX",
        "order_id_prefix",
        "SO",
        "the letters before the digits of the shop's order numbers (`SO` for SO10042; `none` for plain "
        "numbers); the NLU's order-number regex comes from it: run `make train` after changing it",
    ),
    Variable(
        "SHOP_ORDER_ID_DIGITS",
        "order_id_digits",
        "5",
        "how many digits follow the prefix: a number (`5`) or a range (`4-9`)",
    ),
    Variable(
        "SHOP_CURRENCY",
        "currency",
        "USD",
        "the ISO 4217 code of the shop's prices (`GBP`, `EUR`) where the catalog has no currency column; "
        "prices are shown in each product's own currency",
    ),
    Variable("SHOP_RETURN_WINDOW_DAYS", "return_window_days", "30", "return window after delivery"),
    Variable(
        "SHOP_MAX_FAILED_VERIFICATIONS",
        "max_failed_verifications",
        "5",
        "failed order look-ups allowed per sender within the window",
    ),
    Variable(
        "SHOP_FAILED_VERIFICATION_WINDOW_S",
        "failed_verification_window_s",
        "900",
        "the window of the failed look-up throttle, in seconds",
    ),
    Variable(
        "SHOP_VERIFIED_FOR_S",
        "verified_for_s",
        "1800",
        "after an order and email matched, how long (seconds) the same customer's other orders in that "
        "conversation need no email",
    ),
    Variable(
        "SHOP_MAX_FAILED_VERIFICATIONS_PER_CLIENT",
        "max_failed_verifications_per_client",
        "10",
        "failed order look-ups from one client address (any sender id) before it is paused; "
        "counted in Redis with `SHOP_STORE=postgres`, else in the shop DB",
    ),
    Variable(
        "SHOP_CARE_HOURS",
        "care_hours",
        "mon-fri 09:00-18:00",
        "when customer care answers in the chat, e.g. `mon-fri 09:00-18:00 sat 10:00-14:00` (`always`: "
        "any time); outside them a hand-off becomes a ticket answered by email",
    ),
    Variable("SHOP_CARE_TIMEZONE", "care_timezone", "UTC", "the time zone of `SHOP_CARE_HOURS` (IANA name)"),
    Variable(
        "SHOP_HANDOFF_TRIGGERS",
        "handoff_triggers",
        "request anger fallback kb_unsure",
        "what hands a conversation to a person, space-separated: `request` (the shopper asks), `anger` "
        "(angry twice), `fallback` (two misunderstood messages in a row), `kb_unsure` (two unanswered questions)",
    ),
    Variable("SHOP_AGENT_SESSION_S", "agent_session_s", "28800", "how long an agent console log-in lasts, in seconds"),
    Variable(
        "SHOP_AGENT_AWAY_AFTER_S",
        "agent_away_after_s",
        "120",
        "an agent whose console has not been heard from for this long (seconds) no longer counts as there; "
        "with nobody there a hand-off becomes a ticket",
    ),
    Variable(
        "SHOP_MAX_FAILED_LOGINS",
        "max_failed_logins",
        "5",
        "failed agent log-ins per name, and per client address, within 15 minutes before log-in pauses",
    ),
    Variable(
        "SHOP_TRACKER_WINDOW_EVENTS",
        "tracker_window_events",
        "120",
        "a conversation longer than this many events is loaded from its newest ones on (about 12 turns), "
        "with its slots as stored, so the hundredth turn costs what the tenth does; 0 loads every event",
    ),
    Variable(
        "SHOP_ALLOWED_ORIGINS",
        "allowed_origins",
        "",
        "CORS / socket.io origins, space-separated (unset: the shop page's origin)",
    ),
    Variable("SHOP_HOST", "host", "127.0.0.1", "where the servers listen"),
    Variable("SHOP_RASA_PORT", "rasa_port", "5005", "the Rasa server's port"),
    Variable("SHOP_ACTIONS_PORT", "actions_port", "5055", "the action server's port"),
    Variable("SHOP_WEB_PORT", "web_port", "8080", "the shop page's port"),
    Variable(
        "SHOP_RASA_URL", "rasa_url", "http://127.0.0.1:5005", "where the shop page's widget finds the Rasa server"
    ),
    Variable(
        "RASA_AUTH_TOKEN",
        "rasa_auth_token",
        "",
        "token for Rasa's HTTP API (`?token=…` on every call); only the channel webhooks are "
        "public (unset: random per start, printed)",
        secret=True,
    ),
    Variable(
        "SHOP_ACTION_SECRET",
        "action_secret",
        "",
        "shared secret the Rasa server sends the action server (`Authorization: Bearer …`); calls "
        "without it get 401 (unset: `make run` generates one into `data/action-secret`)",
        secret=True,
    ),
    Variable(
        "SHOP_REST_SECRET",
        "rest_secret",
        "",
        "signs REST senders: each request carries `X-Shop-Signature`, the hex HMAC-SHA256 of "
        "`sender` with it (unset: the REST channel answers this machine only)",
        secret=True,
    ),
    Variable("SHOP_LOG_LEVEL", "log_level", "info", "`debug` runs both servers with `--debug` (still redacted)"),
    Variable(
        "SHOP_STORE",
        "store",
        "sqlite",
        "`postgres`: Postgres tracker store + Redis lock store + Postgres shop DB (`SHOP_PG_*`, `SHOP_REDIS_*`)",
    ),
    Variable("SHOP_PG_HOST", "pg_host", "127.0.0.1", "Postgres host with `SHOP_STORE=postgres`"),
    Variable("SHOP_PG_PORT", "pg_port", "5432", "Postgres port"),
    Variable("SHOP_PG_DB", "pg_db", "shop_assistant", "Postgres database (created when missing)"),
    Variable("SHOP_PG_USER", "pg_user", "postgres", "Postgres user"),
    Variable("SHOP_PG_PASSWORD", "pg_password", "", "Postgres password", secret=True),
    Variable("SHOP_PG_LOGIN_DB", "pg_login_db", "postgres", "the database used to create `SHOP_PG_DB`"),
    Variable("SHOP_REDIS_HOST", "redis_host", "127.0.0.1", "Redis host (lock store) with `SHOP_STORE=postgres`"),
    Variable("SHOP_REDIS_PORT", "redis_port", "6379", "Redis port"),
    Variable("SHOP_REDIS_DB", "redis_db", "0", "Redis database number"),
    Variable(
        "SHOP_PRELOAD",
        "preload",
        "",
        "`1` loads models and indexes when the actions are imported, outside the action server too",
    ),
    Variable(
        "SHOP_TEST_POSTGRES_URL",
        "test_postgres_url",
        "",
        "tests only: the Postgres server the Postgres tests use (unset: the local one, skipped when absent)",
    ),
    # Read by Rasa itself through endpoints.yml; listed so the table is whole.
    Variable(
        "ACTION_SERVER_URL",
        "action_server_url",
        "http://127.0.0.1:5055/webhook",
        "where Rasa calls the actions (endpoints.yml)",
    ),
    Variable(
        "RASA_TRACKER_DB",
        "rasa_tracker_db",
        "data/tracker.db",
        "the SQLite tracker store (conversations survive restarts)",
    ),
)

_BY_ATTRIBUTE = {variable.attribute: variable for variable in SETTINGS}


@dataclass(frozen=True)
class Settings:
    database_url: str
    shop_name: str
    catalog_path: Path
    kb_path: Path
    kb_collection: str
    kb_encoder_path: Path
    kb_min_confidence: float | None
    kb_suggest_confidence: float | None
    product_index_path: Path
    product_collection: str
    recommender_path: Path
    embedding_model: str | None
    max_message_chars: int
    action_timeout_s: int
    action_workers: int
    order_id_prefix: str
    order_id_digits: str
    currency: str
    return_window_days: int
    max_failed_verifications: int
    failed_verification_window_s: int
    verified_for_s: int
    max_failed_verifications_per_client: int
    care_hours: str
    care_timezone: str
    handoff_triggers: tuple[str, ...]
    agent_session_s: int
    agent_away_after_s: int
    max_failed_logins: int
    tracker_window_events: int
    allowed_origins: tuple[str, ...]
    host: str
    rasa_port: int
    actions_port: int
    web_port: int
    rasa_url: str
    rasa_auth_token: str | None = field(repr=False)
    action_secret: str | None = field(repr=False)
    rest_secret: str | None = field(repr=False)
    log_level: str
    store: str
    pg_host: str
    pg_port: int
    pg_db: str
    pg_user: str
    pg_password: str = field(repr=False)
    pg_login_db: str
    redis_host: str
    redis_port: int
    redis_db: int
    preload: bool
    test_postgres_url: str | None
    action_server_url: str
    rasa_tracker_db: Path
    # Set by Sanic in the worker processes it forks; only the action server's worker preloads.
    in_sanic_worker: bool

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for each in fields(cls):
            variable = _BY_ATTRIBUTE.get(each.name)
            if variable is None:
                continue
            raw = environ.get(variable.name, "").strip() or variable.default
            values[each.name] = _parse(variable, raw, str(each.type))
        values["in_sanic_worker"] = "SANIC_WORKER_NAME" in environ
        return cls(**values)  # type: ignore[arg-type]

    def postgres_url(self) -> str:
        auth = self.pg_user + (f":{self.pg_password}" if self.pg_password else "")
        return f"postgresql+psycopg2://{auth}@{self.pg_host}:{self.pg_port}/{self.pg_db}"


def _parse(variable: Variable, raw: str, annotation: str) -> object:
    optional = "None" in annotation
    if optional and not raw:
        return None
    try:
        if annotation.startswith("Path"):
            path = Path(raw)
            return path if path.is_absolute() else ROOT / path
        if annotation.startswith("int"):
            return int(raw)
        if annotation.startswith("float"):
            value = float(raw)
            if not 0.0 <= value <= 1.0:
                raise ValueError(raw)
            return value
    except ValueError:
        kind = "a number between 0 and 1" if annotation.startswith("float") else "a whole number"
        raise ValueError(f"{variable.name} must be {kind}, not {raw!r}") from None
    if annotation.startswith("bool"):
        return raw.lower() in ("1", "true", "yes")
    if annotation.startswith("tuple"):
        return tuple(raw.split())
    return raw


# No model or data set is ever fetched from a hub: the libraries are told so before they load.
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
    "RASA_TELEMETRY_ENABLED": "false",
}


def offline() -> None:
    """Sets the offline switches of Hugging Face, Chroma and Rasa, unless already set."""
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)


def current() -> Settings:
    """The settings as the environment says now."""
    return Settings.from_env()


def configured_database_url() -> str | None:
    """`SHOP_DATABASE_URL` when the environment sets it, None when the default would apply (the
    demo generator then writes beside its catalog)."""
    return os.environ.get("SHOP_DATABASE_URL", "").strip() or None


def store_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables `SHOP_STORE=postgres` implies for the servers `make run` starts: every
    `SHOP_PG_*`/`SHOP_REDIS_*` with its default, and the shop DB on that Postgres unless
    `SHOP_DATABASE_URL` names another."""
    settings = Settings.from_env(environ)
    if settings.store != "postgres":
        return {}
    env = {v.name: environ.get(v.name, v.default) for v in SETTINGS if v.name.startswith(("SHOP_PG_", "SHOP_REDIS_"))}
    if not environ.get("SHOP_DATABASE_URL", "").strip():
        env["SHOP_DATABASE_URL"] = settings.postgres_url()
    return env


def markdown_table() -> str:
    """The README's configuration table, written from `SETTINGS` (`python -m shop.settings`)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for variable in SETTINGS:
        default = f"`{variable.default}`" if variable.default else "unset"
        rows.append(f"| `{variable.name}` | {default} | {variable.meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
