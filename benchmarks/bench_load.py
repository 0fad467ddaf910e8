"""Load benchmark: concurrent simulated shoppers over REST against the real running stack.

    make bench-load       (or: .venv-actions/bin/python benchmarks/bench_load.py [--only sqlite|postgres])

20 shoppers x 30 turns each (a realistic mix of FAQ, search and refinements, recommendations,
order status and chit-chat), once with the SQLite defaults and once with Postgres + Redis and two
Rasa servers behind a round-robin client. Shoppers send their next message as soon as the reply
arrives, so those runs measure capacity; a third run repeats the SQLite one with shoppers pausing
2-6 s between messages, as people read and type, for the latency a shopper would see. Reports
p50/p95/p99 latency, throughput, errors, and lost events: every message a shopper sent and every
reply they received must be in the tracker store afterwards (replies matched by content).
Writes benchmarks/results/load.json and prints a table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timing import latency_ms  # noqa: E402
from bot.stack import Stack, free_port  # noqa: E402
from bot.two_servers import two_rasa_servers  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
APOLOGY = "Sorry, I'm having trouble reaching our systems right now."

# Conversation pieces a shopper strings together; each is a list of turns.
PIECES = [
    ["hi there"],
    ["how long do refunds take?"],
    ["do you ship to canada"],
    ["can I pay with paypal?"],
    ["what is your warranty on headphones"],
    ["show me running shoes under 120", "something cheaper", "show more"],
    ["I need a navy hoodie", "in black"],
    ["any bluetooth speakers?", "show more"],
    ["can you recommend something for trail running"],
    ["recommend me a gift for my dad"],
    ["where is my order?", "SO10003", "ana.lopez@example.com"],
    ["where is my order SO10004", "ana.lopez@example.com"],
    ["are you a bot?"],
    ["thanks!"],
]


def script(rng: random.Random, turns: int) -> list[str]:
    out: list[str] = []
    while len(out) < turns:
        out.extend(rng.choice(PIECES))
    return out[:turns]


def post(url: str, sender: str, message: str) -> list[dict[str, Any]]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return list(json.loads(response.read()))


def tracker_events(url: str, token: str, sender: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"token": token})
    with urllib.request.urlopen(f"{url}/conversations/{sender}/tracker?{query}", timeout=60) as response:
        return list(json.loads(response.read())["events"])


def run_load(
    urls: list[str], token: str, shoppers: int, turns: int, seed: int, think_s: tuple[float, float] = (0.0, 0.0)
) -> dict[str, Any]:
    """Closed loop: each shopper sends its next message when the last reply has come, after a
    pause drawn from `think_s` (0 = as fast as the servers answer, to measure capacity)."""
    rng = random.Random(seed)
    scripts = {f"load-{uuid.uuid4().hex[:8]}-{i}": script(rng, turns) for i in range(shoppers)}
    latencies: list[float] = []
    errors: list[str] = []
    received: dict[str, list[dict[str, Any]]] = {sender: [] for sender in scripts}
    lock = threading.Lock()
    round_robin = itertools.cycle(urls)

    def shopper(sender: str, messages: list[str]) -> None:
        pauses = random.Random(f"{seed}-{sender}")
        for message in messages:
            if think_s[1] > 0:
                time.sleep(pauses.uniform(*think_s))
            with lock:
                url = next(round_robin)
            start = time.perf_counter()
            try:
                replies = post(url, sender, message)
                problem = None if replies else "no reply"
                if any(APOLOGY in (r.get("text") or "") for r in replies):
                    problem = "apology (action failed)"
            except (urllib.error.URLError, OSError, RuntimeError, ValueError) as exc:
                replies, problem = [], f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                latencies.append(elapsed)
                received[sender].extend(replies)
                if problem:
                    errors.append(problem)

    threads = [threading.Thread(target=shopper, args=item) for item in scripts.items()]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    lost = 0
    lost_detail: list[str] = []
    for sender, messages in scripts.items():
        events = tracker_events(urls[0], token, sender)
        found_user = sum(1 for e in events if e["event"] == "user")
        # Rasa's REST channel splits one bot event into a text reply and a `custom` reply, so
        # replies are matched to the stored bot events by content, not counted.
        texts = [e.get("text") for e in events if e["event"] == "bot" and e.get("text")]
        customs = [
            json.dumps((e.get("data") or {}).get("custom"), sort_keys=True)
            for e in events
            if e["event"] == "bot" and (e.get("data") or {}).get("custom")
        ]
        unmatched = 0
        for reply in received[sender]:
            if reply.get("text") is not None:
                if reply["text"] in texts:
                    texts.remove(reply["text"])
                else:
                    unmatched += 1
            elif reply.get("custom") is not None:
                key = json.dumps(reply["custom"], sort_keys=True)
                if key in customs:
                    customs.remove(key)
                else:
                    unmatched += 1
        missing = max(0, len(messages) - found_user) + unmatched
        if missing:
            lost_detail.append(f"{sender}: user events {found_user}/{len(messages)}, replies not stored {unmatched}")
        lost += missing
    return {
        "shoppers": shoppers,
        "turns_each": turns,
        "think_time_s": list(think_s),
        "messages": len(latencies),
        **latency_ms(latencies, (50, 95, 99), digits=1),
        "throughput_msgs_per_s": round(len(latencies) / wall, 2),
        "wall_s": round(wall, 1),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "lost_events": lost,
        "lost_detail": lost_detail[:5],
    }


# Every simulated shopper comes from this machine's one address; a real crowd doesn't.
ONE_ADDRESS = {"SHOP_MAX_FAILED_VERIFICATIONS_PER_CLIENT": "100000"}


def warm(url: str) -> None:
    for message in ("hi", "how long do refunds take?", "show me shoes", "recommend something"):
        post(url, f"warm-{uuid.uuid4().hex[:6]}", message)


def sqlite_run(args: argparse.Namespace, work: Path) -> dict[str, dict[str, Any]]:
    shutil.copy(ROOT / "data" / "shop.db", work / "shop.db")
    env = {
        "SHOP_DATABASE_URL": f"sqlite:///{work / 'shop.db'}",
        "RASA_TRACKER_DB": str(work / "tracker.db"),
        **ONE_ADDRESS,
    }
    setup = "SQLite tracker store, 1 Rasa server, 1 action server"
    with Stack(
        rasa_port=free_port(), actions_port=free_port(), web_port=None, log_dir=work / "logs-sqlite", env=env
    ) as stack:
        warm(stack.rasa_url)
        capacity = run_load([stack.rasa_url], stack.auth_token, args.shoppers, args.turns, args.seed)
        # The same shoppers at a human pace (a few seconds to read and type), fresh conversations.
        paced = run_load(
            [stack.rasa_url],
            stack.auth_token,
            args.shoppers,
            args.turns,
            args.seed + 1,
            think_s=(args.think_min_s, args.think_max_s),
        )
    return {
        "sqlite": {"setup": setup, **capacity},
        "sqlite_human_pace": {"setup": f"{setup}; shoppers pause between messages", **paced},
    }


def postgres_run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with two_rasa_servers(work / "pg", "load", ONE_ADDRESS) as (stack, first, second):
        warm(first)
        warm(second)
        result = run_load([first, second], stack.auth_token, args.shoppers, args.turns, args.seed)
    return {
        "setup": "Postgres tracker store + Redis lock store, 2 Rasa servers (round robin), 1 action server",
        **result,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=20)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--think-min-s", type=float, default=2.0, help="human-pace run: shortest pause between messages"
    )
    parser.add_argument("--think-max-s", type=float, default=6.0, help="human-pace run: longest pause between messages")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args()
    if not (ROOT / "data" / "shop.db").exists():
        parser.error("no demo shop: run `make data` first (make bench-load does)")
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() and args.only else {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.only in (None, "sqlite"):
            results.update(sqlite_run(args, work))
        if args.only in (None, "postgres"):
            results["postgres_redis_2_servers"] = postgres_run(args, work)
    results["benchmark"] = "load"
    results["command"] = "make bench-load"
    results["machine"] = {"cpu_count": os.cpu_count(), "platform": platform.platform()}
    results["targets"] = {"p95_ms": 250, "throughput_msgs_per_s": 60, "errors": 0, "lost_events": 0}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(
        f"\n{'setup':<26} {'msgs':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'msg/s':>7} {'errors':>6} {'lost':>5}"
    )
    for key in ("sqlite", "sqlite_human_pace", "postgres_redis_2_servers"):
        if key in results:
            r = results[key]
            print(
                f"{key:<26} {r['messages']:>5} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8} "
                f"{r['throughput_msgs_per_s']:>7} {r['errors']:>6} {r['lost_events']:>5}"
            )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
