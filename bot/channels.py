"""The REST and socket.io channels, guarded.

Rasa's own channels hand any request straight to the pipeline: malformed JSON, a missing
sender or a non-string message end in a 500, an over-long message is processed in full, and
when a custom action fails Rasa drops its events and the shopper hears nothing. These
subclasses keep Rasa's URLs and formats (`/webhooks/rest/webhook`, `/socket.io`) and add:

- REST: a clear 4xx for a malformed request;
- both: a polite reply, without NLU, to empty and over-long messages;
- both: a short apology when a turn produced no reply at all (action server down or slow);
- socket.io: allowed origins from SHOP_ALLOWED_ORIGINS instead of "any origin";
- both: the caller's address, as a keyed hash (`shop.client_address`), in the message metadata,
  so failed order look-ups are throttled per client and not only per (caller-chosen) sender id.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import logging
import re
import uuid
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import rasa.core.actions.action
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import action_response_validation
from bot.agent_console import attach_to_socketio, relay
from shop.client_address import CLIENT_METADATA_KEY, client_key
from shop.redaction import install_log_redaction
from shop.settings import current

logger = logging.getLogger(__name__)
# Rasa's own logs (user messages at debug level) never hold an email or order id whole.
install_log_redaction()

MAX_SENDER_CHARS = 128
TOO_LONG = "That message is a bit long for me (over {limit} characters). Could you send the gist in a sentence or two?"
EMPTY = "It looks like that message was empty. What can I help you with?"
UNAVAILABLE = (
    'Sorry, I\'m having trouble reaching our systems right now. Please try again in a moment, or say "talk to a human".'
)

# Rasa waits 5 minutes for a custom action; a shopper won't. Rasa reads this module constant
# on every call, and offers no setting for it.
rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT = current().action_timeout_s
action_response_validation.install()

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class _ReplyTracker(OutputChannel):
    """Passes every reply through to the real channel and notes that one was sent."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.replied = False
        self.handoff_started = False

    def name(self) -> str:  # type: ignore[override]
        return self.inner.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.replied = True
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "handoff_status" and custom.get("status") == "waiting":
            self.handoff_started = True
        await self.inner.send_response(recipient_id, message)

    def __getattr__(self, item: str) -> Any:
        return getattr(self.inner, item)


# Said when a turn ends without a reply although every action ran: the dialogue had nothing to
# say (a gap in the stories), which is no outage.
GAP = (
    'Sorry, I didn\'t quite follow. Could you put it another way? For example "where is my order?", '
    '"I want to return something" or "how long do refunds take?"'
)
# The failures of this turn's actions, as Rasa's processor logs them (it catches them itself).
_action_failures: ContextVar[list[str] | None] = ContextVar("action_failures", default=None)


class _ActionFailureWatch(logging.Handler):
    """Notes, for the turn being handled, that an action failed (the action server down, slow
    or erroring). Rasa logs it and carries on without the action's events."""

    def emit(self, record: logging.LogRecord) -> None:
        failures = _action_failures.get()
        if failures is not None and record.levelno >= logging.ERROR and "while running action" in record.getMessage():
            failures.append(record.getMessage())


logging.getLogger("rasa.core.processor").addHandler(_ActionFailureWatch())
dialogue_gaps = 0


def guarded(on_new_message: OnNewMessage) -> OnNewMessage:
    """Answers empty and over-long messages itself, and never leaves a turn silent: an action
    that failed gets the outage apology, a turn the dialogue had no answer for a question."""

    async def handle(message: UserMessage) -> None:
        out, sender, text = message.output_channel, message.sender_id, message.text
        if not isinstance(text, str) or not text.strip():
            await out.send_text_message(sender, EMPTY)
            return
        limit = current().max_message_chars
        if len(text) > limit:
            logger.info("message of %d characters from %s not processed", len(text), sender)
            await out.send_text_message(sender, TOO_LONG.format(limit=limit))
            return
        # A person holds the conversation (or the shopper is rating one): not the dialogue's turn.
        try:
            if await relay.intercept(message):
                return
        except Exception:  # the shop DB unreachable: the bot answering beats a 500
            logger.exception("hand-off state of %s unreadable; the assistant answers", sender)
        global dialogue_gaps
        tracker = _ReplyTracker(out)
        message.output_channel = tracker
        failures: list[str] = []
        token = _action_failures.set(failures)
        try:
            await on_new_message(message)
        finally:
            _action_failures.reset(token)
        if tracker.handoff_started:
            await relay.queue_changed()
        if tracker.replied:
            return
        if failures:
            logger.warning("turn from %s produced no reply after a failed action; sending the apology", sender)
            await out.send_text_message(sender, UNAVAILABLE)
        else:
            dialogue_gaps += 1
            logger.warning("dialogue gap %d: turn from %s produced no reply; asking again", dialogue_gaps, sender)
            await out.send_text_message(sender, GAP)

    return handle


def with_client(metadata: dict[str, Any] | None, address: str | None) -> dict[str, Any]:
    """The message's metadata with the channel's client key in place of whatever the caller
    put under that name: a caller who could set it would make each guess a new client."""
    cleaned = {k: v for k, v in (metadata or {}).items() if k != CLIENT_METADATA_KEY}
    if address:
        cleaned[CLIENT_METADATA_KEY] = client_key(address, current().action_secret)
    return cleaned


def request_address(request: Request) -> str:
    """The caller's address: the proxy's forwarded address when Sanic is told to trust one
    (`FORWARDED_SECRET`, `REAL_IP_HEADER`, `PROXIES_COUNT`), else the peer's."""
    return request.remote_addr or request.ip or ""


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def check_request(body: Any) -> tuple[str, str, dict[str, Any] | None] | HTTPResponse:
    """The (sender, message, metadata) of a well-formed request, or the 4xx to send back."""
    if not isinstance(body, dict):
        return _error(400, 'The body must be a JSON object like {"sender": "id", "message": "hi"}.')
    sender, message, metadata = body.get("sender"), body.get("message"), body.get("metadata")
    if not isinstance(sender, str) or not sender.strip():
        return _error(400, '"sender" is required and must be a non-empty string.')
    if len(sender) > MAX_SENDER_CHARS:
        return _error(400, f'"sender" must be at most {MAX_SENDER_CHARS} characters.')
    if not isinstance(message, str):
        return _error(400, '"message" is required and must be a string.')
    if metadata is not None and not isinstance(metadata, dict):
        return _error(400, '"metadata" must be a JSON object when given.')
    return sender, message, metadata


SIGNATURE_HEADER = "X-Shop-Signature"
LOOPBACK = ("127.", "::1", "localhost")


def sender_signature(secret: str, sender: str) -> str:
    """What a messaging-app bridge sends in `X-Shop-Signature`: hex HMAC-SHA256 of the sender id
    under `SHOP_REST_SECRET`, so only the bridge can speak for a sender."""
    return hmac.new(secret.encode(), sender.encode(), hashlib.sha256).hexdigest()


def rest_access_problem(client_ip: str, sender: str, signature: str | None, secret: str | None) -> HTTPResponse | None:
    """Who may speak for `sender` on REST. With `SHOP_REST_SECRET`: whoever signs the sender
    id with it. Without one: this machine only (a local bridge, tests, curl), because an
    unsigned sender id is whatever the caller claims, and anyone who guessed one would carry on
    that shopper's conversation."""
    if secret:
        if signature and hmac.compare_digest(signature.lower(), sender_signature(secret, sender)):
            return None
        return _error(
            401,
            f'Sign the sender id: {SIGNATURE_HEADER} must be the hex HMAC-SHA256 of "sender" '
            "with the shop's REST secret.",
        )
    if client_ip.startswith(LOOPBACK):
        return None
    return _error(
        403,
        "The REST channel is local-only until SHOP_REST_SECRET is set and senders are signed "
        f"({SIGNATURE_HEADER}); see the README.",
    )


class ShopRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        handle = guarded(on_new_message)
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = json.loads(request.body or b"")
            except (ValueError, UnicodeDecodeError):
                return _error(400, "The body is not valid JSON.")
            checked = check_request(body)
            if isinstance(checked, HTTPResponse):
                return checked
            sender, text, metadata = checked
            refused = rest_access_problem(
                request.ip or "", sender, request.headers.get(SIGNATURE_HEADER), current().rest_secret
            )
            if refused is not None:
                logger.warning("REST message for %s from %s refused (%s)", sender, request.ip, refused.status)
                return refused
            # A signed sender is proven by the bridge, which speaks for every shopper from one
            # address: counting failures per address there would pause them all together.
            signed = bool(current().rest_secret)
            metadata = with_client(metadata, None if signed else request_address(request))
            collector = CollectingOutputChannel()
            try:
                await handle(UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata))
            except CancelledError:
                logger.error("message handling timed out for %s", sender)
                return _error(503, "The assistant took too long to answer. Please try again.")
            return response.json(collector.messages)

        return webhook


async def _send_custom_json(
    self: SocketIOOutput, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
) -> None:
    # Rasa 3.6 emits custom JSON as keyword arguments of sio.emit, which fails for any payload
    # that is not shaped like emit's own parameters; the widget gets it under "custom" instead.
    await self._send_message(recipient_id, {"custom": json_message})


SocketIOOutput.send_custom_json = _send_custom_json  # type: ignore[method-assign]


_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class ShopSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = super().blueprint(guarded(on_new_message))
        origins = set(current().allowed_origins)

        def allowed(origin: str | None, wsgi_env: dict[str, Any]) -> bool:
            # Rasa builds its socket.io server with "any origin"; only the shop page, and this
            # server's own pages (the agent console), may connect.
            own = f"{wsgi_env.get('wsgi.url_scheme', 'http')}://{wsgi_env.get('HTTP_HOST', '')}"
            return origin is None or origin in origins or origin == own

        self.sio.eio.cors_allowed_origins = allowed
        if current().store == "postgres":
            # Two Rasa servers: an agent's message emitted on one reaches a socket on the other.
            import socketio

            settings = current()
            manager = socketio.AsyncRedisManager(
                f"redis://{settings.redis_host}:{settings.redis_port}/{settings.redis_db}"
            )
            manager.set_server(self.sio)
            self.sio.manager = manager
        attach_to_socketio(self.sio)
        self._register_session_request()
        self._register_client_address()
        return blueprint

    def _register_client_address(self) -> None:
        """Wraps Rasa's `user_uttered` handler: the metadata the widget sends is the caller's to
        choose, so the client key is set from the connection's own request instead."""
        sio, namespace = self.sio, self.namespace
        rasa_handler = sio.handlers[namespace or "/"]["user_uttered"]

        @sio.on("user_uttered", namespace=namespace)
        async def user_uttered(sid: str, data: Any) -> None:
            if isinstance(data, dict):
                # python-engineio's Sanic driver puts a placeholder in REMOTE_ADDR; the request is real.
                connection = sio.get_environ(sid, namespace=namespace) or {}
                request = connection.get("sanic.request")
                address = request_address(request) if request is not None else None
                metadata = data.get(self.metadata_key)
                if isinstance(metadata, str):
                    try:
                        metadata = json.loads(metadata)
                    except ValueError:
                        metadata = None
                data = {
                    **data,
                    self.metadata_key: with_client(metadata if isinstance(metadata, dict) else None, address),
                }
            await rasa_handler(sid, data)

    def _register_session_request(self) -> None:
        """Replaces Rasa's `session_request` handler: with python-socketio 5.10+ `enter_room` is a
        coroutine that Rasa 3.6 never awaits, so with session persistence the replies (sent to
        the session's room) would never reach the widget."""
        sio = self.sio

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                entered = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(entered):
                    await entered
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            if self.session_persistence:
                await relay.status_on_reconnect(session_id)
