"""Browser tests: the real stack with the shop page, driven in Debian's headless chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.stack import ROOT, Stack
from tests.e2e.conftest import start_private_stack

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "results" / "screenshots"


@pytest.fixture(scope="session")
def web_stack(tmp_path_factory: pytest.TempPathFactory, generated_shop: Path) -> Iterator[Stack]:
    # Care hours "always": the agent-console test hands a chat to a person whenever CI runs.
    env = {"SHOP_CATALOG_PATH": str(generated_shop / "catalog.jsonl"), "SHOP_CARE_HOURS": "always"}
    stack = start_private_stack(tmp_path_factory.mktemp("web"), generated_shop, env, web=True)
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


def open_page(browser, url: str):  # type: ignore[no-untyped-def]
    """A page in a context of its own that records (and dismisses) any dialog it opens."""
    page = browser.new_context().new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    return page


@pytest.fixture
def page(browser, web_stack, request):  # type: ignore[no-untyped-def]
    page = open_page(browser, f"{web_stack.web_url}/")
    context = page.context
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=False)
    context.close()
