"""The hand-off across two Rasa servers on Postgres and Redis: the agent's console on one, the
shopper's socket on the other. The queue, the claim and both sides' messages cross between
them (socket.io's Redis manager), and the state lives in the shared stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.stack import DEFAULT_MODEL, Stack
from bot.two_servers import two_rasa_servers
from shop.agents import AgentAccounts
from shop.db import ShopDB
from tests.web.test_agent_console import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
LIVE_MS = 10_000
SHOPPER = "two-servers-shopper"
# The shopper's side, run in a page of the second server: socket.io's client, as the widget uses it.
CONNECT = """sender => new Promise(resolve => {
  window.got = [];
  window.shopper = io(location.origin, {path: "/socket.io", transports: ["websocket"]});
  shopper.on("connect", () => shopper.emit("session_request", {session_id: sender}));
  shopper.on("session_confirm", () => resolve(true));
  shopper.on("bot_uttered", message => got.push(message));
})"""
SAY = """([sender, text]) => shopper.emit("user_uttered", {message: text, session_id: sender})"""


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str, str]]:
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train` first")
    with two_rasa_servers(tmp_path_factory.mktemp("handoff2"), "handoff", {"SHOP_CARE_HOURS": "always"}) as servers:
        AgentAccounts(ShopDB(servers[0].env["SHOP_DATABASE_URL"])).add("ana", "Ana", PASSWORD)
        yield servers


def shopper_heard(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("text => window.got.some(m => (m.text || '').includes(text))", arg=text, timeout=LIVE_MS)


def test_agent_on_one_server_talks_to_a_shopper_on_the_other(browser, two_servers):
    stack, first, second = two_servers
    agent_context, shopper_context = browser.new_context(), browser.new_context()
    try:
        agent = agent_context.new_page()
        agent.goto(f"{first}/agent")
        log_in(agent)
        shopper = shopper_context.new_page()
        shopper.goto(f"{second}/agent")  # a page of the second server that loads socket.io's client
        assert shopper.evaluate(CONNECT, SHOPPER)
        shopper.evaluate(SAY, [SHOPPER, "I want to talk to a human"])
        shopper_heard(shopper, "queue")

        item = agent.locator("#queue [data-handoff-id]")
        item.first.wait_for(timeout=LIVE_MS)  # emitted on the second server, shown by the first
        item.first.get_by_role("button", name="Claim").click()
        shopper_heard(shopper, "Ana from customer care has joined")
        agent.get_by_label("Reply to shopper").fill("Hello from the other server")
        agent.get_by_role("button", name="Send", exact=True).click()
        shopper_heard(shopper, "Hello from the other server")
        assert any(m.get("agent") == "Ana" for m in shopper.evaluate("window.got"))

        shopper.evaluate(SAY, [SHOPPER, "thanks, it's order SO10003"])
        agent.locator("#transcript .from-user", has_text="it's order SO10003").wait_for(timeout=LIVE_MS)
        agent.get_by_role("button", name="Resolve").click()
        shopper_heard(shopper, "handed you back to the assistant")
    finally:
        agent_context.close()
        shopper_context.close()
