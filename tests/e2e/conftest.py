"""End-to-end fixtures: the real action server and Rasa server as processes, on free ports,
with a private copy of the shop DB and a private tracker store."""

from __future__ import annotations

import json
import secrets
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.stack import DEFAULT_MODEL, ROOT, Stack, free_port


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory, generated_shop: Path) -> Path:
    out = tmp_path_factory.mktemp("e2e")
    shutil.copy(generated_shop / "shop.db", out / "shop.db")
    return out


@pytest.fixture(scope="session")
def stack(e2e_dir: Path) -> Iterator[Stack]:
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train` first (make test does)")
    # The indexes and the recommender come from `make index` (make test builds them first).
    for name in ("kb", "products", "recommender"):
        if not (ROOT / "models" / name).exists():
            pytest.fail(f"no {name} index under models/: run `make index` first (make test does)")
    # A private copy of the knowledge-base index: a test re-ingests documents into it while
    # the servers run, as a shop owner would.
    shutil.copytree(ROOT / "models" / "kb", e2e_dir / "kb-index")
    env = {
        "SHOP_DATABASE_URL": f"sqlite:///{e2e_dir / 'shop.db'}",
        "RASA_TRACKER_DB": str(e2e_dir / "tracker.db"),
        "SHOP_KB_PATH": str(e2e_dir / "kb-index"),
        # Every test's shoppers come from this machine's one address; the client throttle has
        # its own test (test_scale_out), and here it would pause the order tests that follow.
        "SHOP_MAX_FAILED_VERIFICATIONS_PER_CLIENT": "1000",
    }
    # A token that begins with "-", as one in 64 random ones does: `rasa run` once took it for an option.
    stack = Stack(
        rasa_port=free_port(),
        actions_port=free_port(),
        web_port=None,
        log_dir=e2e_dir / "logs",
        env=env,
        auth_token=f"-{secrets.token_urlsafe(24)}",
    )
    stack.start()
    yield stack
    stack.stop()


def start_private_stack(
    folder: Path, generated_shop: Path, env: dict[str, str] | None = None, web: bool = False
) -> Stack:
    """A stack of the test's own under `folder`: a fresh copy of the demo shop DB, its own
    tracker store, and `env` on top. The caller stops it."""
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train` first (make test does)")
    shutil.copy(generated_shop / "shop.db", folder / "shop.db")
    env = {
        "SHOP_DATABASE_URL": f"sqlite:///{folder / 'shop.db'}",
        "RASA_TRACKER_DB": str(folder / "tracker.db"),
        **(env or {}),
    }
    stack = Stack(
        rasa_port=free_port(),
        actions_port=free_port(),
        web_port=free_port() if web else None,
        log_dir=folder / "logs",
        env=env,
    )
    stack.start()
    return stack


class Chat:
    """One shopper talking to the REST channel."""

    def __init__(self, stack: Stack, sender: str) -> None:
        self.stack, self.sender = stack, sender

    def say(self, message: str) -> list[dict]:
        body = json.dumps({"sender": self.sender, "message": message}).encode()
        request = urllib.request.Request(
            f"{self.stack.rasa_url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200
            return json.loads(response.read())

    def text(self, message: str) -> str:
        return "\n".join(m.get("text", "") for m in self.say(message))

    def tracker(self) -> dict:
        # Rasa checks --auth-token as a query parameter (a Bearer header is its JWT path).
        query = urllib.parse.urlencode({"token": self.stack.auth_token})
        request = urllib.request.Request(f"{self.stack.rasa_url}/conversations/{self.sender}/tracker?{query}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


class AgentConsole:
    """One customer-care agent using the console's JSON API, with its cookie and CSRF token."""

    def __init__(self, stack: Stack) -> None:
        import http.cookiejar

        self.stack = stack
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.csrf = ""

    def call(self, method: str, path: str, body: dict | None = None, csrf: bool = True) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.stack.rasa_url}/agent{path}", data=data, headers=headers, method=method
        )
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def log_in(self, name: str, password: str) -> int:
        status, body = self.call("POST", "/api/login", {"name": name, "password": password}, csrf=False)
        self.csrf = body.get("csrf", "")
        return status

    def queue(self) -> list[dict]:
        return self.call("GET", "/api/queue")[1]["conversations"]

    def waiting_for(self, sender: str) -> dict:
        return next(row for row in self.queue() if row["sender_id"] == sender)
