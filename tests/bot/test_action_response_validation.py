"""bot.action_response_validation: Rasa's check of the action server's reply, compiled once."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

import bot.channels  # noqa: F401  (installs the compiled check, as the Rasa server does)
from bot import action_response_validation

ACTION = RemoteAction("action_check_order_status", EndpointConfig("http://127.0.0.1:1/webhook"))
VALID = {
    "events": [{"event": "slot", "name": "order_id", "value": None, "timestamp": None}],
    "responses": [{"text": "Order SO10003 has shipped."}],
}


def test_the_server_uses_the_compiled_check():
    assert RemoteAction._validate_action_result is action_response_validation.validate_action_result


def test_a_valid_reply_passes_and_the_schema_is_compiled_once():
    action_response_validation._compiled.cache_clear()
    for _ in range(3):
        assert ACTION._validate_action_result(VALID) is True
    assert action_response_validation._compiled.cache_info().misses == 1


@pytest.mark.parametrize(
    "reply",
    [
        {"events": "not a list"},
        {"events": [{"event": "slot", "name": 42}]},
        {"events": [{"event": "no_such_event"}]},
        {"responses": "text"},
    ],
)
def test_an_invalid_reply_is_refused_with_rasas_message(reply):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        ACTION._validate_action_result(reply)
