"""Browser tests: the real stack with the shop page, driven in Debian's headless chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.stack import DEFAULT_MODEL, ROOT, Stack
from tests.e2e.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "results" / "screenshots"


@pytest.fixture(scope="session")
def web_stack(tmp_path_factory: pytest.TempPathFactory, generated_shop: Path) -> Iterator[Stack]:
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train` first (make test does)")
    folder = tmp_path_factory.mktemp("web")
    shutil.copy(generated_shop / "shop.db", folder / "shop.db")
    env = {
        "SHOP_DATABASE_URL": f"sqlite:///{folder / 'shop.db'}",
        "RASA_TRACKER_DB": str(folder / "tracker.db"),
        "SHOP_CATALOG_PATH": str(generated_shop / "catalog.jsonl"),
    }
    stack = Stack(
        rasa_port=free_port(), actions_port=free_port(), web_port=free_port(), log_dir=folder / "logs", env=env
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make browser` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, web_stack, request):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{web_stack.web_url}/")
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=False)
    context.close()
