"""The REST channel of the real Rasa server, fed random bodies: never a 5xx, always a JSON answer."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
messages = st.one_of(
    st.text(max_size=300),  # any unicode, control characters included
    st.text(min_size=1990, max_size=2600),  # around the 2,000-character cap
    st.sampled_from(
        [
            "SO10003",
            "\x00",
            "\u202e\u200b",
            "<img src=x onerror=alert(1)>",
            "/human_handoff{",
            '/faq_feedback{"faq_log_id": "x"}',
        ]
    ),
    json_values,
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {"sender": st.one_of(st.text(min_size=1, max_size=60), json_values), "message": messages},
        optional={"metadata": json_values},
    ).map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
)


def post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(body=bodies)
def test_random_bodies_never_get_a_server_error(stack, body):
    status, payload = post(stack.rasa_url, body)
    assert status in (200, 400), (status, payload[:300])
    parsed = json.loads(payload)
    if status == 200:
        assert isinstance(parsed, list)
    else:
        assert isinstance(parsed.get("error"), str) and parsed["error"]
