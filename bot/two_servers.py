"""Two Rasa servers and one action server sharing Postgres (tracker store, shop DB) and Redis
(lock store, failed look-up counts), with a demo shop of their own in a fresh database: the
scale-out test and `make bench-load` both run this setup.

Needs SQLAlchemy and psycopg2 (either env has them), and the Postgres and Redis of `SHOP_PG_*`
and `SHOP_REDIS_*`.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bot.stack import ROOT, Stack, free_port
from shop.settings import current


def _admin(sql: str) -> None:
    import sqlalchemy

    settings = current()
    login_url = dataclasses.replace(settings, pg_db=settings.pg_login_db).postgres_url()
    engine = sqlalchemy.create_engine(login_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(sql))
    engine.dispose()


@contextmanager
def two_rasa_servers(work: Path, name: str, env: Mapping[str, str] | None = None) -> Iterator[tuple[Stack, str, str]]:
    """(stack, first Rasa URL, second Rasa URL); the databases are dropped afterwards."""
    tag = uuid.uuid4().hex[:8]
    shop_db, tracker_db = f"shop_{name}_{tag}", f"rasa_{name}_{tag}"
    _admin(f'CREATE DATABASE "{shop_db}"')
    shop_url = dataclasses.replace(current(), pg_db=shop_db).postgres_url()
    try:
        subprocess.run(
            [sys.executable, "-m", "shop", "generate", "--out", str(work / "shop"), "--database-url", shop_url],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        stack = Stack(
            rasa_port=free_port(),
            actions_port=free_port(),
            web_port=None,
            log_dir=work / "logs",
            env={"SHOP_STORE": "postgres", "SHOP_PG_DB": tracker_db, "SHOP_DATABASE_URL": shop_url, **(env or {})},
        )
        try:
            stack.check_prerequisites()
            stack.start_actions()
            first = stack.start_rasa(name="rasa")
            second = stack.start_rasa(name="rasa2", port=free_port())
            yield stack, first, second
        finally:
            stack.stop()
    finally:
        for database in (shop_db, tracker_db):
            _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
