"""A shop that sells in pounds: its page, the widget's product cards and the bot's words all say
£, in a real browser against a stack of its own (SHOP_CURRENCY=GBP, its catalog indexed in GBP).
Its running shoes come in a dearer wide fit, a second row under the same id as an export lists
variants, so their cards say "from" the lowest price."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.stack import Stack
from tests.e2e.conftest import start_private_stack
from tests.web.conftest import open_page
from tests.web.test_widget import TIMEOUT, open_chat, say

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
POUNDS = re.compile(r"^(from )?£\d+\.\d\d$")


@pytest.fixture(scope="module")
def pound_stack(tmp_path_factory: pytest.TempPathFactory, generated_shop: Path, embedder) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    from retrieval.product_index import ProductIndex

    folder = tmp_path_factory.mktemp("pounds")
    # The demo catalog as a shop without a currency column exports it; SHOP_CURRENCY prices it.
    catalog = folder / "catalog.jsonl"
    with (generated_shop / "catalog.jsonl").open(encoding="utf-8") as rows, catalog.open("w", encoding="utf-8") as out:
        for line in rows:
            row = json.loads(line)
            row.pop("currency", None)
            out.write(json.dumps(row) + "\n")
            if row["subcategory"] == "running shoes":
                wide = {**row, "price": round(row["price"] + 20, 2), "sizes": ["wide"], "stock": 3}
                out.write(json.dumps(wide) + "\n")
    env = {
        "SHOP_CATALOG_PATH": str(catalog),
        "SHOP_CURRENCY": "GBP",
        "SHOP_PRODUCT_INDEX_PATH": str(folder / "products"),
    }
    index = ProductIndex(index_path=folder / "products", embedder=embedder)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        report = index.ingest(catalog, progress=False)
    assert report.added >= 300 and not report.skipped and report.variant_rows > 0
    stack = start_private_stack(folder, generated_shop, env, web=True)
    yield stack
    stack.stop()


def test_a_pound_shop_shows_pounds_on_its_page_in_its_cards_and_in_its_words(browser, pound_stack):  # type: ignore[no-untyped-def]
    page = open_page(browser, f"{pound_stack.web_url}/")
    try:
        assert POUNDS.match(page.locator(".grid .product").first.locator(".price").inner_text())
        open_chat(page)
        say(page, "show me running shoes under 120 pounds")
        page.locator(".cards .card").first.wait_for(timeout=TIMEOUT)
        prices = page.locator(".card .card-price").all_inner_texts()
        assert prices and all(POUNDS.match(p) for p in prices), prices
        assert all(float(p.removeprefix("from ").lstrip("£")) <= 120 for p in prices)
        assert any(p.startswith("from £") for p in prices), prices
        words = page.locator(".msg.bot .msg-text").all_inner_texts()
        assert "$" not in " ".join(words + prices)
    finally:
        page.context.close()
