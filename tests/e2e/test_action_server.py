"""The action server answers only the Rasa server: a real one, started by the e2e stack."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop.db import ShopDB
from shop.handoff import HandoffDesk


def call(stack, body: bytes, secret: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    request = urllib.request.Request(f"{stack.actions_url}/webhook", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def handoff_call(sender: str) -> bytes:
    tracker = {
        "sender_id": sender,
        "slots": {},
        "latest_message": {"text": "a human please", "intent": {"name": "human_handoff"}},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    }
    return json.dumps(
        {
            "next_action": "action_human_handoff",
            "sender_id": sender,
            "tracker": tracker,
            "domain": {},
            "version": "3.6.0",
        }
    ).encode()


def queued(e2e_dir, sender: str) -> int:
    return len(HandoffDesk(ShopDB(f"sqlite:///{e2e_dir / 'shop.db'}")).history(sender))


def test_a_call_without_the_secret_is_refused_and_runs_nothing(stack, e2e_dir):
    for secret in (None, "wrong", stack.action_secret[:-1]):
        status, body = call(stack, handoff_call("intruder"), secret)
        assert status == 401 and body == {"error": "unauthorized"}
    assert queued(e2e_dir, "intruder") == 0
    status, body = call(stack, handoff_call("rasa-itself"), stack.action_secret)
    assert status == 200 and any(e.get("name") == "handoff_requested" for e in body["events"])
    assert queued(e2e_dir, "rasa-itself") == 1
    with urllib.request.urlopen(f"{stack.actions_url}/health", timeout=10) as response:
        assert response.status == 200  # readiness stays open; it runs nothing
    request = urllib.request.Request(f"{stack.actions_url}/actions")
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("the action list answered without the secret")
    except urllib.error.HTTPError as error:
        assert error.code == 401


def test_the_action_server_listens_on_the_loopback_only(stack):
    port = stack.actions_url.rsplit(":", 1)[1]
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines() if line.strip()}
    assert addresses == {"127.0.0.1"}, listening


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {
            "next_action": st.sampled_from(["action_search_products", "action_human_handoff", "nope", ""]),
            "tracker": json_values,
            "domain": json_values,
            "sender_id": json_values,
            "version": st.sampled_from(["3.6.0", "", "x"]),
        }
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_no_webhook_body_gets_a_500(stack, body):
    status, _ = call(stack, body, stack.action_secret)
    assert status < 500, body
