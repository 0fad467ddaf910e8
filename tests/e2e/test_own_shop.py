"""A shop that is not the demo, end to end as its owner would do it: `make shop` with a garden
shop's catalog (its own column names, through a mapping) and documents, in a copy of the project,
then the real servers. Its product words are searched, what it doesn't sell is said so, its
policy questions are answered from its documents, and its own order numbers ("GS-1001") are
asked for, recognised and looked up. About three minutes (the Rasa model trains)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from benchmarks.bench_own_shop import clean_environment, project_copy, project_stack
from bot.stack import ROOT
from shop.db import ShopDB, customers, order_items, orders, products

GARDEN = ROOT / "tests" / "shop" / "data" / "garden-shop"
# The garden shop's order numbers are not the demo's: "GS-1001".
ORDER_NUMBERS = {"SHOP_ORDER_ID_PREFIX": "GS-", "SHOP_ORDER_ID_DIGITS": "4"}
# The suite's 900 s hang guard is shorter than this test's own limits on `make shop` (1200 s, an
# NLU training) and `make data` (300 s), so a busy machine failed it while nothing hung: the
# guard here covers those limits plus the stack's start. Speed is measured by
# `make bench-own-shop`, not here.
pytestmark = pytest.mark.timeout(1800)


def add_an_order(database_url: str) -> None:
    """One shipped order in the shop's own format, as the shop's own system would have it."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    db = ShopDB(database_url)
    with db.engine.begin() as conn:
        conn.execute(
            customers.insert(), [{"id": "GC1", "name": "Gail", "email": "gail@example.com", "created_at": now}]
        )
        conn.execute(
            products.insert(),
            [
                {
                    "id": "G001",
                    "title": "Fernhill Bypass Pruning Shears",
                    "category": "tools",
                    "subcategory": "pruning shears",
                    "brand": "Fernhill",
                    "price": 24.5,
                    "currency": "USD",
                    "stock": 40,
                }
            ],
        )
        conn.execute(
            orders.insert(),
            [
                {
                    "id": "GS-1001",
                    "customer_id": "GC1",
                    "status": "shipped",
                    "placed_at": now - timedelta(days=3),
                    "paid_at": now - timedelta(days=3),
                    "shipped_at": now - timedelta(days=1),
                    "carrier": "UPS",
                    "tracking_number": "1Z999AA10123456784",
                    "estimated_delivery": (now + timedelta(days=2)).date(),
                    "total": 24.5,
                }
            ],
        )
        conn.execute(
            order_items.insert(),
            [
                {
                    "order_id": "GS-1001",
                    "product_id": "G001",
                    "title": "Pruning Shears",
                    "quantity": 1,
                    "unit_price": 24.5,
                }
            ],
        )
    db.dispose()


@pytest.fixture(scope="module")
def garden_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = project_copy(tmp_path_factory.mktemp("garden-project"))
    environment = clean_environment()
    environment.update(ORDER_NUMBERS)
    run = subprocess.run(
        [
            "make",
            "shop",
            f"CATALOG={GARDEN / 'catalog.csv'}",
            f"MAPPING={GARDEN / 'mapping.json'}",
            f"KB={GARDEN / 'kb'}",
        ],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "lookups: product_category" in run.stdout and "samples of search_product" in run.stdout
    assert "order numbers: GS- + 4 digits, like GS-1042" in run.stdout
    return project


def test_make_shop_builds_a_bot_for_that_shop(garden_project: Path):
    assert json.loads((garden_project / "data" / "shop.json").read_text())["products"] == 10
    # The demo is never generated over an onboarded shop.
    make_data = subprocess.run(["make", "data"], cwd=garden_project, capture_output=True, text=True, timeout=300)
    assert make_data.returncode == 0
    assert [json.loads(line)["id"] for line in (garden_project / "data" / "catalog.jsonl").read_text().splitlines()][
        0
    ] == "G001"
    database_url = f"sqlite:///{garden_project / 'data' / 'shop.db'}"
    add_an_order(database_url)
    stack = project_stack(garden_project, ORDER_NUMBERS)
    stack.start()
    try:

        def say(sender: str, text: str) -> str:
            body = json.dumps({"sender": sender, "message": text}).encode()
            request = urllib.request.Request(
                f"{stack.rasa_url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                return "\n".join(m.get("text") or "" for m in json.loads(response.read()))

        shears = say("g1", "pruning shears")
        assert "Pruning Shears" in shears
        assert "Garden Hose" in say("g2", "do you have garden hoses?")
        assert say("g3", "do you sell lawn mowers").startswith("Sorry, we don't carry lawn mowers.")
        assert "come on a pallet" in say("g4", "how do pallet deliveries work")
        assert "within 14 days if unused" in say("g5", "can i return a used spade")
        # Its own order numbers: asked for in its format, tagged by the NLU, looked up.
        assert "It starts with GS, like GS-1042." in say("g6", "where is my order?")
        assert "email address" in say("g7", "where is my order gs-1001?")
        status = say("g7", "gail@example.com")
        assert "GS-1001" in status and "shipped" in status and "1Z999AA10123456784" in status
    finally:
        stack.stop()
