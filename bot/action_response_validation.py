"""The action server's replies, validated against Rasa's schema once compiled, not on every call.

Rasa 3.6 checks each action server reply with `jsonschema.validate(result, schema)`, which checks
the schema itself and builds a new validator every time; its event schema is large, so under
load that was about a tenth of the Rasa server's CPU (py-spy, `make bench-load`'s SQLite run).
The schema and the checks are Rasa's own; only the compiled validator is kept.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@functools.lru_cache(maxsize=4)
def _compiled(action_class: type[RemoteAction]) -> Validator:
    schema = action_class.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(action: RemoteAction, result: dict[str, Any]) -> bool:
    validator = _compiled(type(action))  # type: ignore[arg-type]  # classes are hashable
    try:
        validator.validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
