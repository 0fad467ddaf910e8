"""Hand-off row of `make bench-load`: shoppers on the widget's socket.io channel, a third of them
handed to 3 simulated agents who answer through the console's own API.

    .venv-rasa/bin/python benchmarks/bench_handoff.py [--shoppers 20] [--agents 3]

Runs in the Rasa env: python-socketio's client is there (the widget's protocol). It long-polls:
its websocket transport needs an aiohttp newer than rasa 3.6 allows, and a long poll that is
waiting gets a pushed message as soon as a websocket would.

Each shopper chats (FAQ, search, chit-chat); every third asks for a person, then sends messages
while an agent answers each one. Reports:
- the delivery latency of agent messages: from the console's POST to the moment the shopper's
  socket has it, on one clock;
- messages lost: a shopper message the console never showed, an agent reply the socket never
  got, or either missing from the tracker;
- bot replies sent during a hand-off, read from the tracker store: bot utterances between the
  hand-off and its end that are neither the agent's nor the hand-off notices.
Merges `handoff` into benchmarks/results/load.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timing import percentile  # noqa: E402
from bot.stack import Stack, free_port  # noqa: E402
from shop.agents import AgentAccounts  # noqa: E402
from shop.db import ShopDB  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PASSWORD = "benchmark agent password"
CHAT = ["hi there", "how long do refunds take?", "show me running shoes under 120", "are you a bot?"]
HANDED_OFF_MESSAGES = 5


class Shopper:
    def __init__(self, url: str, sender: str) -> None:
        self.url, self.sender = url, sender
        self.client = socketio.AsyncClient(reconnection=False)
        self.heard: list[tuple[float, dict[str, Any]]] = []
        self.arrived = asyncio.Event()
        self.client.on("bot_uttered", self._on_bot)

    async def _on_bot(self, message: dict[str, Any]) -> None:
        self.heard.append((time.perf_counter(), message))
        self.arrived.set()

    async def connect(self) -> None:
        confirmed = asyncio.Event()
        self.client.on("session_confirm", lambda *_: confirmed.set())
        await asyncio.wait_for(self.client.connect(self.url, socketio_path="/socket.io", transports=["polling"]), 30)
        await self.client.emit("session_request", {"session_id": self.sender})
        await asyncio.wait_for(confirmed.wait(), 30)

    async def say(self, text: str, wait_for_reply: bool = True) -> None:
        self.arrived.clear()
        await self.client.emit("user_uttered", {"message": text, "session_id": self.sender})
        if wait_for_reply:
            await asyncio.wait_for(self.arrived.wait(), 60)
            await asyncio.sleep(0.3)  # the rest of a multi-message reply

    def received_at(self, text: str) -> float | None:
        return next((t for t, m in self.heard if m.get("text") == text), None)


class Agent:
    """A simulated agent: claims waiting conversations and answers each shopper message."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.sent: dict[str, float] = {}
        self.shown: set[str] = set()
        self.claimed: dict[int, str] = {}
        self.refused_claims = 0
        self.socket = socketio.AsyncClient(reconnection=False)
        self.socket.on("message", self._on_message, namespace="/agent")

    async def log_in(self) -> None:
        async with self.http.post(f"{self.url}/agent/api/login", json={"name": self.name, "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
            self.csrf = (await r.json())["csrf"]
        cookie = "; ".join(f"{c.key}={c.value}" for c in self.http.cookie_jar)
        await self.socket.connect(
            self.url,
            namespaces=["/agent"],
            socketio_path="/socket.io",
            transports=["polling"],
            headers={"Cookie": cookie},
        )

    async def post(self, path: str, body: dict[str, Any]) -> int:
        headers = {"X-CSRF-Token": self.csrf}
        async with self.http.post(f"{self.url}/agent/api{path}", json=body, headers=headers) as r:
            return r.status

    async def _on_message(self, event: dict[str, Any]) -> None:
        if event.get("from") != "user":
            return
        for _ in range(40):  # the claim's reply may still be on its way back to this agent
            if event.get("handoff_id") in self.claimed:
                break
            await asyncio.sleep(0.05)
        else:
            return
        self.shown.add(event["text"])
        reply = f"agent {self.name} answers {uuid.uuid4().hex[:8]}"
        self.sent[reply] = time.perf_counter()
        await self.post(f"/conversations/{event['handoff_id']}/message", {"text": reply})

    async def work(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            async with self.http.get(f"{self.url}/agent/api/queue") as r:
                queue = (await r.json())["conversations"]
            for row in queue:
                if row["status"] == "waiting":
                    status = await self.post(f"/conversations/{row['id']}/claim", {})
                    if status == 200:
                        self.claimed[row["id"]] = row["sender_id"]
                    else:
                        self.refused_claims += 1
            await asyncio.sleep(0.3)

    async def close(self) -> None:
        await self.socket.disconnect()
        await self.http.close()


async def tracker(url: str, token: str, sender: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/conversations/{sender}/tracker", params={"token": token}) as r:
            return (await r.json())["events"]


async def run(stack: Stack, shoppers: int, agent_count: int) -> dict[str, Any]:
    agents = [Agent(stack.rasa_url, f"agent{i}") for i in range(agent_count)]
    for agent in agents:
        await agent.log_in()
    stop = asyncio.Event()
    workers = [asyncio.create_task(agent.work(stop)) for agent in agents]
    people = [Shopper(stack.rasa_url, f"bench-handoff-{i}-{uuid.uuid4().hex[:6]}") for i in range(shoppers)]
    handed = {p.sender for i, p in enumerate(people) if i % 3 == 0}
    said: dict[str, list[str]] = {p.sender: [] for p in people}

    async def shopper_run(index: int, person: Shopper) -> None:
        await person.connect()
        for text in CHAT[:2]:
            await person.say(text)
            said[person.sender].append(text)
        if person.sender in handed:
            await person.say("I want to talk to a human")
            said[person.sender].append("I want to talk to a human")
            deadline = time.perf_counter() + 60
            while not any("has joined" in (m.get("text") or "") for _, m in person.heard):
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"no agent joined {person.sender}")
                await asyncio.sleep(0.1)
            for n in range(HANDED_OFF_MESSAGES):
                text = f"message {n} from {person.sender}"
                await person.say(text)  # the agent's answer is the reply
                said[person.sender].append(text)
            await person.say("back to the assistant")
            said[person.sender].append("back to the assistant")
        for text in CHAT[2:]:
            await person.say(text)
            said[person.sender].append(text)

    started = time.perf_counter()
    # A bounded wait each: a shopper stuck on a lost message is an error of the row, not a hang.
    outcomes = await asyncio.gather(
        *(asyncio.wait_for(shopper_run(i, p), 300) for i, p in enumerate(people)), return_exceptions=True
    )
    elapsed = time.perf_counter() - started
    await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*workers)
    errors = [repr(o) for o in outcomes if isinstance(o, Exception)]

    delivery, lost, bot_during = [], 0, 0
    sent = {text: t for agent in agents for text, t in agent.sent.items()}
    shown = set().union(*(agent.shown for agent in agents))
    by_sender = {p.sender: p for p in people}
    for text, t0 in sent.items():
        t1 = next((p.received_at(text) for p in people if p.received_at(text) is not None), None)
        if t1 is None:
            lost += 1
        else:
            delivery.append((t1 - t0) * 1000)
    for sender in handed:
        events = await tracker(stack.rasa_url, stack.auth_token, sender)
        users = [e["text"] for e in events if e["event"] == "user"]
        lost += sum(1 for text in said[sender] if text not in users)
        lost += sum(1 for text in said[sender] if text.startswith("message ") and text not in shown)
        bots = {e["text"] for e in events if e["event"] == "bot"}
        lost += sum(1 for text, _ in sent.items() if by_sender[sender].received_at(text) and text not in bots)
        inside = False
        for event in events:
            if event["event"] == "action" and event.get("name") == "action_human_handoff":
                inside = True
            elif event["event"] == "user" and event.get("text") == "back to the assistant":
                inside = False
            elif inside and event["event"] == "bot":
                metadata = event.get("metadata") or {}
                if not metadata.get("agent") and not metadata.get("handoff") and event.get("text"):
                    if "queue" not in event["text"]:  # the hand-off action's own answer
                        bot_during += 1
    for closing in [p.client.disconnect() for p in people] + [a.close() for a in agents]:
        try:
            await asyncio.wait_for(closing, 10)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing is best effort
            pass
    handed_messages = len(handed) * HANDED_OFF_MESSAGES
    return {
        "setup": (
            f"SQLite, 1 Rasa server; {shoppers} shoppers on socket.io, {len(handed)} handed to {agent_count} agents"
        ),
        "shoppers": shoppers,
        "handed_off": len(handed),
        "agent_messages": len(sent),
        "expected_agent_messages": handed_messages,
        "delivery_p50_ms": round(percentile(delivery, 50), 1) if delivery else None,
        "delivery_p95_ms": round(percentile(delivery, 95), 1) if delivery else None,
        "lost_messages": lost,
        "bot_replies_during_handoff": bot_during,
        "refused_double_claims": sum(a.refused_claims for a in agents),
        "errors": errors,
        "seconds": round(elapsed, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=20)
    parser.add_argument("--agents", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args()
    if not (ROOT / "data" / "shop.db").exists():
        parser.error("no demo shop: run `make data` first (make bench-load does)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(ROOT / "data" / "shop.db", work / "shop.db")
        url = f"sqlite:///{work / 'shop.db'}"
        accounts = AgentAccounts(ShopDB(url))
        for i in range(args.agents):
            accounts.add(f"agent{i}", f"Agent {i}", PASSWORD)
        env = {
            "SHOP_DATABASE_URL": url,
            "RASA_TRACKER_DB": str(work / "tracker.db"),
            "SHOP_CARE_HOURS": "always",
            "SHOP_MAX_FAILED_VERIFICATIONS_PER_CLIENT": "100000",
        }
        with Stack(
            rasa_port=free_port(), actions_port=free_port(), web_port=None, log_dir=work / "logs", env=env
        ) as stack:
            print(f"{args.shoppers} shoppers, {args.agents} agents ...", flush=True)
            row = asyncio.run(run(stack, args.shoppers, args.agents))
    row["transport"] = "socket.io long-polling (python-socketio client)"
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["handoff"] = {**row, "targets": {"lost_messages": 0, "bot_replies_during_handoff": 0}}
    results.setdefault("machine", {"cpu_count": os.cpu_count(), "platform": platform.platform()})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'row':<10} {'handed':>6} {'agent msgs':>10} {'p50 ms':>8} {'p95 ms':>8} {'lost':>5} {'bot during':>10}")
    print(
        f"{'handoff':<10} {row['handed_off']:>6} {row['agent_messages']:>10} {row['delivery_p50_ms']!s:>8} "
        f"{row['delivery_p95_ms']!s:>8} {row['lost_messages']:>5} {row['bot_replies_during_handoff']:>10}"
    )
    if row["errors"]:
        print("errors:", *row["errors"], sep="\n  ")
    print(f"wrote {args.out}")
    return 0 if not row["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
