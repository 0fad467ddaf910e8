"""The action server, closed to everyone but the Rasa server.

    python -m actions.server [--host 127.0.0.1] [--port 5055]

rasa-sdk's own `python -m rasa_sdk` listens on every interface (its host comes only from
`SANIC_HOST`, default 0.0.0.0) and runs any action for anyone who can reach the port, with any
slots: the channel's length cap and the per-sender throttles would be skipped. This starts the
same rasa-sdk app on the configured host (`SHOP_HOST`, 127.0.0.1 by default) and requires the
shared secret `SHOP_ACTION_SECRET` on every call but `/health`: Rasa sends it as
`Authorization: Bearer …` (endpoints.yml), and it is compared in constant time. A call without
it gets 401 and runs nothing. Errors answer with a short message instead of rasa-sdk's default,
which echoes the whole request (slots with emails and order ids) back.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import sys
import zlib
from functools import partial

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

from shop.settings import current

logger = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})


class MissingSecretError(RuntimeError):
    """The action server will not start without a secret: it would be open to anyone."""


def authorised(request: Request, secret: str) -> bool:
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {secret}".encode())


# The tracker fields rasa-sdk builds a Tracker from, and the JSON type each must have.
_TRACKER_FIELDS: dict[str, tuple[type, ...]] = {
    "sender_id": (str,),
    "slots": (dict,),
    "latest_message": (dict, type(None)),
    "events": (list,),
    "active_loop": (dict,),
    "active_form": (dict,),
    "followup_action": (str, type(None)),
    "latest_action_name": (str, type(None)),
    "paused": (bool,),
    "stack": (list,),
}


def call_problem(body: bytes, encoding: str | None) -> str | None:
    """What is wrong with a /webhook body, or None when rasa-sdk can run it. Rasa always sends a
    well-formed call; anything else is refused with a 400 rather than failing inside an action."""
    try:
        call = json.loads(zlib.decompress(body) if encoding == "deflate" else body)
    except (ValueError, zlib.error):
        return "the body is not JSON"
    if not isinstance(call, dict):
        return "the body is not a JSON object"
    if not isinstance(call.get("next_action"), str) or not call["next_action"]:
        return "next_action must be an action name"
    tracker = call.get("tracker")
    if not isinstance(tracker, dict) or "sender_id" not in tracker:
        return "tracker must be an object with a sender_id"
    for name, types in _TRACKER_FIELDS.items():
        if name in tracker and not isinstance(tracker[name], types):
            return f"tracker.{name} has the wrong type"
    if "domain" in call and not isinstance(call["domain"], (dict, type(None))):
        return "domain must be an object"
    return None


def create_app(secret: str, actions_package: str = "actions") -> Sanic:
    """rasa-sdk's app for `actions_package`, behind the secret. Module-level, so Sanic's
    workers can build it again in their processes."""
    from rasa_sdk.endpoint import create_app as create_sdk_app
    from rasa_sdk.executor import ActionExecutor

    if not secret:
        raise MissingSecretError("SHOP_ACTION_SECRET is empty: set it (make run generates one)")
    executor = ActionExecutor()
    executor.register_package(actions_package)
    # No CORS: only the Rasa server calls it, never a browser.
    app = create_sdk_app(executor, cors_origins=None)

    @app.on_request
    async def require_secret(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or authorised(request, secret):
            return None
        logger.warning("action server call without the secret from %s refused", request.ip)
        return response.json({"error": "unauthorized"}, status=401)

    @app.on_request
    async def well_formed(request: Request) -> HTTPResponse | None:
        if request.path != "/webhook" or request.method != "POST":
            return None
        problem = call_problem(request.body, request.headers.get("content-encoding"))
        return response.json({"error": problem}, status=400) if problem else None

    @app.on_response
    async def no_echo(request: Request, reply: HTTPResponse) -> HTTPResponse | None:
        # rasa-sdk's error handler answers with the whole request, slots with emails and order
        # ids included; Rasa only needs the status.
        if reply.status >= 500:
            return response.json({"error": "the action failed"}, status=reply.status)
        return None

    return app


def main(argv: list[str] | None = None) -> int:
    settings = current()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.actions_port)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)-8s %(name)s  - %(message)s",
    )
    secret = settings.action_secret or ""
    if not secret:
        print(
            "error: SHOP_ACTION_SECRET is not set: the action server would run any action for anyone "
            "who reaches its port. Set it (make run generates one).",
            file=sys.stderr,
        )
        return 2
    loader = AppLoader(factory=partial(create_app, secret))
    app = loader.load()
    app.prepare(host=args.host, port=args.port, workers=args.workers, access_log=False, motd=False)
    Sanic.serve(primary=app, app_loader=loader)
    return 0


if __name__ == "__main__":
    sys.exit(main())
