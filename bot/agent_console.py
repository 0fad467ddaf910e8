"""The customer-care console at `/agent`, and the relay that puts an agent in a shopper's chat (issue #22).

Registered in credentials.yml as a channel (`bot.agent_console.AgentConsoleInput`), so it runs
in the Rasa server: an agent's message reaches the shopper's socket.io room directly, and both
sides' messages go into the conversation's tracker, where the transcript is read from.

Where things live:
- who holds a conversation: `shop.handoff.HandoffDesk` (the shop DB, keyed by sender id);
- agent accounts and log-in sessions: `shop.agents.AgentAccounts` (argon2id, sessions in the DB);
- live updates: socket.io namespace `/agent` on the shopper's socket.io server; with
  `SHOP_STORE=postgres` that server's messages go through Redis (python-socketio's
  `AsyncRedisManager`), so an agent on one Rasa server reaches a shopper on another.

While a conversation is handed off (waiting or claimed) the channels pass the shopper's
messages here instead of to the dialogue (`HandoffRelay.intercept`): each is recorded in the
tracker (NLU runs, no action is predicted), so the bot says nothing. Agent messages are
recorded as bot utterances whose metadata names the agent. Over socket.io they are pushed to
the widget at once; REST cannot push, so a REST shopper gets them in the reply to their next
message (every agent message since their previous one).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOOutput
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from shop.agents import AgentAccounts, AgentSession, LoginPaused, LoginRefused
from shop.client_address import client_key
from shop.handoff import ACTIVE, HandoffDesk
from shop.settings import current

logger = logging.getLogger(__name__)

COOKIE = "shop_agent"
CSRF_HEADER = "X-CSRF-Token"
NAMESPACE = "/agent"
HERE = Path(__file__).resolve().parent
STATIC = HERE / "agent_console" / "static"
SOCKET_IO_CLIENT = HERE / "web" / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
STATIC_FILES = {"agent.js": "text/javascript; charset=utf-8", "agent.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_AGENT_MESSAGE_CHARS = 4000
# The intent whose rule runs `action_human_handoff`: with nobody left to join, it takes a ticket.
HANDOFF_INTENT = "human_handoff"
# How often a server looks for socket.io shoppers waiting for agents who have all gone. The
# agents' own absence is only noticed after SHOP_AGENT_AWAY_AFTER_S, so this need not be fast.
UNATTENDED_SWEEP_S = 15.0

# What the shopper types (or the widget's button sends) to leave a hand-off.
BACK_TO_ASSISTANT = re.compile(r"^\s*(/back_to_assistant|back to (the )?(assistant|bot))\s*[.!]?\s*$", re.IGNORECASE)
# A bare rating, right after the bot asked for one.
RATING = re.compile(r"^\s*([1-5])\s*(/\s*5|stars?)?\s*[.!]?\s*$", re.IGNORECASE)

JOINED = "{name} from customer care has joined the chat."
TRANSFERRED = "{name} from customer care is taking over this chat."
RESOLVED = (
    "{name} has handed you back to the assistant. How would you rate the help you got, from 1 (poor) to 5 "
    "(great)? Or just tell me what you need."
)
BACK_BY_SHOPPER = "You're back with the assistant. What can I help you with?"
RATED = "Thanks for rating us {rating}/5! Anything else I can help with?"
# No "shortly": the queue's wait is not ours to promise, so the shopper hears where they stand.
STILL_WAITING = (
    "Your message is with our customer care team; you're number {n} in the queue. "
    'Say "back to the assistant" to carry on with me meanwhile.'
)


def _sanic_app() -> Sanic:
    return Sanic.get_app("rasa_server")


class HandoffRelay:
    """Moves messages between shoppers and agents while a person holds the conversation.
    One per process (`relay`); the desk and accounts are built on first use."""

    def __init__(self) -> None:
        self._desk: HandoffDesk | None = None
        self._accounts: AgentAccounts | None = None
        self.sio: Any = None

    @property
    def desk(self) -> HandoffDesk:
        if self._desk is None:
            self._desk = HandoffDesk()
        return self._desk

    @property
    def accounts(self) -> AgentAccounts:
        if self._accounts is None:
            self._accounts = AgentAccounts(self.desk.db)
        return self._accounts

    # ---- the tracker -----------------------------------------------------------------------

    @staticmethod
    def _rasa() -> Any:
        return _sanic_app().ctx.agent

    async def _append(self, sender: str, *events: Any) -> None:
        rasa_agent = self._rasa()
        async with rasa_agent.lock_store.lock(sender):
            tracker = await rasa_agent.processor.get_tracker(sender)
            for event in events:
                tracker.update(event)
            await rasa_agent.processor.save_tracker(tracker)

    async def _log_user_message(self, message: UserMessage) -> None:
        """Stores the shopper's message as Rasa's HTTP API does: parsed by the NLU (so later
        turns see its intent), with no action predicted."""
        rasa_agent = self._rasa()
        async with rasa_agent.lock_store.lock(message.sender_id):
            await rasa_agent.processor.log_message(message)

    async def transcript(self, sender: str) -> list[dict[str, Any]]:
        tracker = await self._rasa().tracker_store.retrieve_full_tracker(sender)
        if tracker is None:
            return []
        lines = []
        for event in tracker.events:
            if isinstance(event, UserUttered) and event.text:
                lines.append({"from": "user", "name": None, "text": event.text, "ts": event.timestamp})
            elif isinstance(event, BotUttered) and event.text:
                agent = (event.metadata or {}).get("agent_display")
                lines.append(
                    {"from": "agent" if agent else "bot", "name": agent, "text": event.text, "ts": event.timestamp}
                )
        return lines

    async def summary(self, sender: str) -> dict[str, list[str]]:
        """What the shopper wanted before the hand-off: searches, questions and orders."""
        tracker = await self._rasa().tracker_store.retrieve_full_tracker(sender)
        found: dict[str, list[str]] = {"searches": [], "questions": [], "orders": []}
        if tracker is None:
            return found
        kinds = {
            "search_product": "searches",
            "recommend_product": "searches",
            "cheaper_products": "searches",
            "product_details": "searches",
            "ask_faq": "questions",
        }
        for event in tracker.events:
            if not isinstance(event, UserUttered) or not event.text:
                continue
            kind = kinds.get((event.intent or {}).get("name") or "")
            if kind and event.text not in found[kind]:
                found[kind].append(event.text)
            for entity in event.entities or []:
                value = str(entity.get("value") or "")
                if entity.get("entity") == "order_id" and value and value not in found["orders"]:
                    found["orders"].append(value)
        return {k: v[-10:] for k, v in found.items()}

    # ---- pushing ---------------------------------------------------------------------------

    async def _to_shopper(self, sender: str, event: str, payload: dict[str, Any]) -> None:
        if self.sio is not None:
            await self.sio.emit(event, payload, room=sender)

    async def to_agents(self, event: str, payload: Any) -> None:
        if self.sio is not None:
            await self.sio.emit(event, payload, namespace=NAMESPACE)

    async def queue_changed(self) -> None:
        await self.to_agents("queue", {"conversations": self.queue()})

    def queue(self) -> list[dict[str, Any]]:
        rows = self.desk.queue()
        names = {a["name"]: a["display_name"] for a in self.accounts.names()}
        for row in rows:
            row["agent_display"] = names.get(row["agent"]) if row["agent"] else None
        return rows

    async def bot_says(self, sender: str, text: str, out: OutputChannel | None = None, **custom: Any) -> None:
        """A message of the bot's own during a hand-off: recorded, and sent to the shopper."""
        await self._append(sender, BotUttered(text, metadata={"handoff": True}))
        if out is not None:
            await out.send_text_message(sender, text)
        else:
            await self._to_shopper(sender, "bot_uttered", {"text": text})
        if custom:
            await self._status(sender, out, **custom)

    async def status_on_reconnect(self, sender: str) -> None:
        """A widget that (re)connects learns whether a person holds its conversation."""
        found = self.desk.active(sender)
        if found is None:
            await self._to_shopper(sender, "handoff_status", {"type": "handoff_status", "status": "ended"})
        else:
            agent = self.accounts.display_name(found["agent"]) if found["agent"] else None
            await self._status(sender, None, status=found["status"], position=found["position"], agent=agent)

    async def _status(self, sender: str, out: OutputChannel | None, **status: Any) -> None:
        payload = {"type": "handoff_status", "position": None, "agent": None, **status}
        if isinstance(out, CollectingOutputChannel):
            await out.send_custom_json(sender, payload)
        await self._to_shopper(sender, "handoff_status", payload)

    # ---- the shopper's messages ------------------------------------------------------------

    async def intercept(self, message: UserMessage) -> bool:
        """Handles the shopper's message when a person holds (or is about to hold) the
        conversation, or when it rates the hand-off just ended. False: the dialogue handles it."""
        sender, text, out = message.sender_id, message.text or "", message.output_channel
        state = self.desk.state_of(sender)
        if state is None:
            return False
        rest = isinstance(out, CollectingOutputChannel)
        if state["status"] not in ACTIVE:
            if rest:
                await self._deliver_unseen(sender, out)
            rating = RATING.match(text)
            self.desk.store_rating(state["id"], int(rating.group(1)) if rating else None)
            if not rating:
                return False
            await self._log_user_message(message)
            await self.bot_says(sender, RATED.format(rating=rating.group(1)), out)
            return True
        if state["status"] == "waiting" and self.desk.release_unattended(sender):
            await self.offer_ticket(sender, out, state["id"], message)
            return True
        if BACK_TO_ASSISTANT.match(text):
            if rest:
                await self._deliver_unseen(sender, out)
            ended = self.desk.end_by_shopper(sender)
            await self._log_user_message(message)
            await self.bot_says(sender, BACK_BY_SHOPPER, out, status="ended")
            if ended is not None:
                await self.to_agents("handoff_closed", {"handoff_id": ended["id"], "by": "shopper"})
                await self.queue_changed()
            return True
        rasa_agent = self._rasa()
        async with rasa_agent.lock_store.lock(sender):
            unseen = _since_last_user_message((await rasa_agent.processor.get_tracker(sender)).events)
            # NLU runs and the message is stored; no action is predicted, so the bot stays silent.
            await rasa_agent.processor.log_message(message)
        if rest:
            _deliver(sender, unseen, out)
        await self.to_agents(
            "message", {"handoff_id": state["id"], "from": "user", "name": None, "text": text, "ts": time.time()}
        )
        if state["status"] == "waiting":
            if rest and not unseen:
                out.messages.append({"recipient_id": sender, "text": STILL_WAITING.format(n=state["position"])})
            await self._status(sender, out if rest else None, **_public_status(state))
        return True

    async def offer_ticket(
        self, sender: str, out: OutputChannel, handoff_id: int, message: UserMessage | None = None
    ) -> None:
        """Nobody can take this shopper's waiting hand-off any more (care hours ended, every
        agent left): the shopper stops waiting and the dialogue takes a ticket, as it does for a
        request made with nobody there. Their message, if any, is kept first."""
        rasa_agent = self._rasa()
        await self._status(sender, out if isinstance(out, CollectingOutputChannel) else None, status="ended")
        async with rasa_agent.lock_store.lock(sender):
            if message is not None:
                tracker = await rasa_agent.processor.log_message(message)
            else:
                tracker = await rasa_agent.processor.get_tracker(sender)
            await rasa_agent.processor.trigger_external_user_uttered(HANDOFF_INTENT, [], tracker, out)
        await self.to_agents("handoff_closed", {"handoff_id": handoff_id, "by": "unattended"})
        await self.queue_changed()

    async def sweep_unattended(self) -> int:
        """Offers a ticket to each socket.io shopper whose waiting hand-off nobody can take any
        more; how many. A REST shopper can't be pushed to: their next message does it."""
        if self.sio is None or self.desk.can_join_now():
            return 0
        offered = 0
        for row in self.desk.queue():
            if row["status"] != "waiting":
                continue
            sender = row["sender_id"]
            tracker = await self._rasa().tracker_store.retrieve(sender)
            if tracker is None or tracker.get_latest_input_channel() != "socketio":
                continue
            if self.desk.release_unattended(sender):
                await self.offer_ticket(sender, SocketIOOutput(self.sio, "bot_uttered"), row["id"])
                offered += 1
        return offered

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(UNATTENDED_SWEEP_S)
            try:
                await self.sweep_unattended()
            except Exception:  # the shop DB briefly unreachable: the next sweep tries again
                logger.exception("sweep of unattended hand-offs failed")

    async def _deliver_unseen(self, sender: str, out: CollectingOutputChannel) -> None:
        tracker = await self._rasa().processor.get_tracker(sender)
        _deliver(sender, _since_last_user_message(tracker.events), out)

    # ---- the agents' side ------------------------------------------------------------------

    async def claim(self, handoff_id: int, session: AgentSession) -> dict[str, Any] | None:
        handoff = self.desk.claim(handoff_id, session.agent)
        if handoff is None:
            return None
        sender = handoff["sender_id"]
        await self.bot_says(sender, JOINED.format(name=session.display_name))
        await self._status(sender, None, status="claimed", agent=session.display_name)
        await self.queue_changed()
        return handoff

    async def agent_says(self, handoff: dict[str, Any], session: AgentSession, text: str) -> None:
        sender = handoff["sender_id"]
        metadata = {"agent": session.agent, "agent_display": session.display_name}
        await self._append(sender, BotUttered(text, metadata=metadata))
        await self._to_shopper(sender, "bot_uttered", {"text": text, "agent": session.display_name})
        await self.to_agents(
            "message",
            {
                "handoff_id": handoff["id"],
                "from": "agent",
                "name": session.display_name,
                "text": text,
                "ts": time.time(),
            },
        )

    async def transfer(self, handoff: dict[str, Any], session: AgentSession, to_agent: str) -> bool:
        if not self.desk.transfer(handoff["id"], session.agent, to_agent):
            return False
        name = self.accounts.display_name(to_agent)
        await self.bot_says(handoff["sender_id"], TRANSFERRED.format(name=name))
        await self._status(handoff["sender_id"], None, status="claimed", agent=name)
        await self.queue_changed()
        return True

    async def resolve(self, handoff: dict[str, Any], session: AgentSession) -> bool:
        if self.desk.resolve(handoff["id"], session.agent) is None:
            return False
        await self.bot_says(handoff["sender_id"], RESOLVED.format(name=session.display_name))
        await self._status(handoff["sender_id"], None, status="ended")
        await self.to_agents("handoff_closed", {"handoff_id": handoff["id"], "by": "agent"})
        await self.queue_changed()
        return True


def _since_last_user_message(events: Any) -> list[BotUttered]:
    """What was said in the hand-off (by the agent, or the bot's notices) since the shopper's
    last message: what a REST shopper hasn't been given yet."""
    unseen: list[BotUttered] = []
    for event in reversed(list(events)):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered) and event.text:
            metadata = event.metadata or {}
            if metadata.get("agent_display") or metadata.get("handoff"):
                unseen.append(event)
    return list(reversed(unseen))


def _deliver(sender: str, events: list[BotUttered], out: CollectingOutputChannel) -> None:
    for event in events:
        reply = {"recipient_id": sender, "text": event.text}
        if (event.metadata or {}).get("agent_display"):
            reply["agent"] = event.metadata["agent_display"]
        out.messages.append(reply)


def _public_status(handoff: dict[str, Any]) -> dict[str, Any]:
    return {"status": handoff["status"], "position": handoff.get("position")}


relay = HandoffRelay()


# ---- the console ---------------------------------------------------------------------------


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status, headers={"Cache-Control": "no-store"})


def _same_origin(request: Request) -> bool:
    """A browser's Origin (when it sends one) is this server: a page elsewhere can't post here."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}") or origin in current().allowed_origins


def _is_secure(request: Request) -> bool:
    """Secure cookies except over plain http to this machine (local development and tests)."""
    forwarded = (request.headers.get("x-forwarded-proto") or "").split(",")[0].strip()
    scheme = forwarded or request.scheme
    host = (request.host or "").rsplit(":", 1)[0].strip("[]")
    return scheme == "https" or host not in ("127.0.0.1", "localhost", "::1")


class AgentConsoleInput(InputChannel):
    """Hosts `/agent` (the console page and its JSON API) in the Rasa server."""

    @classmethod
    def name(cls) -> str:
        return "agent_console"

    def url_prefix(self) -> str:
        # Rasa mounts channels at urljoin("/webhooks/", prefix); an absolute prefix keeps /agent.
        return "/agent"

    def blueprint(self, on_new_message: Any) -> Blueprint:
        console = Blueprint("agent_console", __name__)

        @console.listener("after_server_start")
        async def start_sweeping(app: Sanic, _: Any) -> None:
            app.add_task(relay.sweep_forever())

        def signed_in(request: Request) -> AgentSession | None:
            found = relay.accounts.session(request.cookies.get(COOKIE))
            if found is not None:
                relay.accounts.seen(found.agent)
            return found

        def change_allowed(request: Request) -> tuple[AgentSession | None, HTTPResponse | None]:
            found = signed_in(request)
            if found is None:
                return None, _error(401, "Please log in.")
            sent = request.headers.get(CSRF_HEADER, "")
            if not _same_origin(request) or not hmac.compare_digest(sent.encode(), found.csrf.encode()):
                return None, _error(403, "The request is missing its CSRF token. Reload the page.")
            return found, None

        def body_of(request: Request) -> dict[str, Any] | None:
            try:
                body = request.json
            except Exception:  # noqa: BLE001 - Sanic raises its own error types for bad JSON
                return None
            return body if isinstance(body, dict) else None

        def handoff_or_404(handoff_id: int) -> dict[str, Any] | None:
            found = relay.desk.get(handoff_id)
            return found if found is not None and found["status"] in ACTIVE else None

        @console.route("", methods=["GET"], strict_slashes=False)
        async def page(request: Request) -> HTTPResponse:
            return await response.file(
                STATIC / "agent.html", headers={**SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8"}
            )

        @console.route("/static/<name>", methods=["GET"])
        async def static(request: Request, name: str) -> HTTPResponse:
            if name == "socket.io.min.js" and SOCKET_IO_CLIENT.is_file():
                return await response.file(SOCKET_IO_CLIENT, headers={"Content-Type": STATIC_FILES["agent.js"]})
            if name not in STATIC_FILES:
                return _error(404, "No such file.")
            return await response.file(STATIC / name, headers={"Content-Type": STATIC_FILES[name]})

        @console.route("/api/login", methods=["POST"])
        async def log_in(request: Request) -> HTTPResponse:
            if not _same_origin(request):
                return _error(403, "Log in from the console page.")
            if "application/json" not in (request.headers.get("content-type") or ""):
                return _error(415, "Send the log-in as JSON.")
            body = body_of(request)
            if body is None or not isinstance(body.get("name"), str) or not isinstance(body.get("password"), str):
                return _error(400, 'Send {"name": ..., "password": ...}.')
            client = client_key(request.remote_addr or request.ip or "", current().action_secret)
            try:
                session = relay.accounts.log_in(body["name"].strip().lower(), body["password"][:1024], client)
            except LoginPaused as exc:
                return _error(429, str(exc))
            except LoginRefused as exc:
                return _error(401, str(exc))
            reply = response.json(
                {"name": session.agent, "display_name": session.display_name, "csrf": session.csrf},
                headers={"Cache-Control": "no-store"},
            )
            reply.cookies[COOKIE] = session.token
            cookie = reply.cookies[COOKIE]
            cookie["httponly"] = True
            cookie["samesite"] = "Strict"
            cookie["path"] = "/"
            cookie["max-age"] = current().agent_session_s
            if _is_secure(request):
                cookie["secure"] = True
            return reply

        @console.route("/api/me", methods=["GET"])
        async def me(request: Request) -> HTTPResponse:
            found = signed_in(request)
            if found is None:
                return _error(401, "Please log in.")
            return response.json({"name": found.agent, "display_name": found.display_name, "csrf": found.csrf})

        @console.route("/api/logout", methods=["POST"])
        async def log_out(request: Request) -> HTTPResponse:
            found, refused = change_allowed(request)
            if refused is not None:
                return refused
            relay.accounts.log_out(request.cookies.get(COOKIE) or "")
            reply = response.json({"ok": True})
            del reply.cookies[COOKIE]
            return reply

        @console.route("/api/queue", methods=["GET"])
        async def queue(request: Request) -> HTTPResponse:
            if signed_in(request) is None:
                return _error(401, "Please log in.")
            return response.json({"conversations": relay.queue()})

        @console.route("/api/agents", methods=["GET"])
        async def agent_list(request: Request) -> HTTPResponse:
            if signed_in(request) is None:
                return _error(401, "Please log in.")
            return response.json({"agents": relay.accounts.names()})

        @console.route("/api/conversations/<handoff_id:int>", methods=["GET"])
        async def conversation(request: Request, handoff_id: int) -> HTTPResponse:
            if signed_in(request) is None:
                return _error(401, "Please log in.")
            handoff = relay.desk.get(handoff_id)
            if handoff is None:
                return _error(404, "No such conversation.")
            sender = handoff["sender_id"]
            return response.json(
                {
                    "handoff": handoff,
                    "summary": await relay.summary(sender),
                    "transcript": await relay.transcript(sender),
                    "notes": relay.desk.notes(handoff_id),
                }
            )

        @console.route("/api/conversations/<handoff_id:int>/<verb:str>", methods=["POST"])
        async def act(request: Request, handoff_id: int, verb: str) -> HTTPResponse:
            session, refused = change_allowed(request)
            if refused is not None:
                return refused
            assert session is not None
            handoff = handoff_or_404(handoff_id)
            if handoff is None:
                return _error(404, "That conversation is no longer waiting for a person.")
            body = body_of(request) or {}
            if verb == "claim":
                claimed = await relay.claim(handoff_id, session)
                if claimed is None:
                    holder = relay.desk.get(handoff_id) or {}
                    return _error(409, f"Already claimed by {holder.get('agent') or 'another agent'}.")
                return response.json({"handoff": claimed})
            if handoff["status"] != "claimed" or handoff["agent"] != session.agent:
                return _error(409, "Claim the conversation first; another agent may hold it.")
            text = body.get("text")
            if verb in ("message", "note"):
                if not isinstance(text, str) or not text.strip():
                    return _error(400, "The message is empty.")
                if len(text) > MAX_AGENT_MESSAGE_CHARS:
                    return _error(400, f"Keep it under {MAX_AGENT_MESSAGE_CHARS} characters.")
                if verb == "message":
                    await relay.agent_says(handoff, session, text.strip())
                else:
                    relay.desk.add_note(handoff_id, session.agent, text.strip())
                return response.json({"ok": True})
            if verb == "typing":
                await relay._to_shopper(handoff["sender_id"], "agent_typing", {"agent": session.display_name})
                return response.json({"ok": True})
            if verb == "transfer":
                to_agent = body.get("to")
                if not isinstance(to_agent, str) or not await relay.transfer(handoff, session, to_agent):
                    return _error(400, "No such agent to transfer to.")
                return response.json({"ok": True})
            if verb == "resolve":
                await relay.resolve(handoff, session)
                return response.json({"ok": True})
            return _error(404, "Unknown action.")

        return console


def attach_to_socketio(sio: Any) -> None:
    """Gives the relay the shopper's socket.io server and opens the agents' namespace on it."""
    relay.sio = sio

    @sio.on("connect", namespace=NAMESPACE)
    async def connect(sid: str, wsgi_env: dict[str, Any], auth: Any = None) -> bool:
        request = wsgi_env.get("sanic.request")
        token = request.cookies.get(COOKIE) if request is not None else None
        session = relay.accounts.session(token)
        if session is None:
            return False
        relay.accounts.seen(session.agent)
        return True
