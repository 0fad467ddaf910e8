"""Shared fixtures for the shop tests: one generated demo shop per session, a private copy of
its SQLite DB per test, and a throw-away PostgreSQL schema for the `postgres` tests."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shop.db import ShopDB
from shop.generate import ShopData, build, generate

SEED = 7
TODAY = date(2025, 6, 15)
POSTGRES_URL = os.environ.get("SHOP_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Generated:
    out: Path
    url: str
    summary: dict[str, Any]


@pytest.fixture(scope="session")
def shop_data() -> ShopData:
    """The demo data in memory (what `generate` writes)."""
    return build(SEED, TODAY)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    out = tmp_path_factory.mktemp("shop")
    url = f"sqlite:///{out / 'shop.db'}"
    summary = generate(out, seed=SEED, today=TODAY, database_url=url, progress=False)
    return Generated(out, url, summary)


@pytest.fixture
def db(generated: Generated, tmp_path: Path) -> Iterator[ShopDB]:
    """A private copy of the generated SQLite DB, so tests may change it."""
    shutil.copy(generated.out / "shop.db", tmp_path / "shop.db")
    shop = ShopDB(f"sqlite:///{tmp_path / 'shop.db'}")
    yield shop
    shop.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards (parallel runs don't clash)."""
    sa = pytest.importorskip("sqlalchemy")
    admin = sa.create_engine(POSTGRES_URL)
    schema = f"shop_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))  # noqa: S608 - generated identifier
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL not reachable at {POSTGRES_URL} (set SHOP_TEST_POSTGRES_URL, "
            f"or deselect with -m 'not postgres'): {exc.orig}"
        )
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))  # noqa: S608
        admin.dispose()
