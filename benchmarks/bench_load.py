"""Load benchmark: concurrent simulated shoppers over REST against the real running stack.

    make bench-load       (or: .venv-actions/bin/python benchmarks/bench_load.py [--only sqlite|postgres|stock])

20 shoppers x 30 turns each (a realistic mix of FAQ, search and refinements, recommendations,
order status and chit-chat), once with the SQLite defaults and once with Postgres + Redis and two
Rasa servers behind a round-robin client. Shoppers send their next message as soon as the reply
arrives, so those runs measure capacity; a third run repeats the SQLite one with shoppers pausing
2-6 s between messages, as people read and type, for the latency a shopper would see.

The peer in the same run: the stock `rasa init` bot (DIET + TED), trained in a temporary folder
with the same Rasa env, under the same back-to-back load with the chit-chat it knows; ours runs
that chit-chat too, and `ours_over_stock` compares throughputs. One shopper then holds a
conversation of `--long-turns` (120) turns: the mean reply time of turns 91-100 over that of
turns 1-10 (plot: benchmarks/results/long_conversation.png). The peak resident memory of each
server's processes under the shop-mix load is reported too. Reports
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
import signal
import subprocess
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


# What the stock `rasa init` bot can also answer: the chit-chat half of the comparison.
CHITCHAT = [["hi there"], ["thanks!"], ["bye"], ["are you a bot?"], ["hello"], ["good morning"]]


def script(rng: random.Random, turns: int, pieces: list[list[str]] | None = None) -> list[str]:
    out: list[str] = []
    while len(out) < turns:
        out.extend(rng.choice(pieces or PIECES))
    return out[:turns]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of a process and all its children, summed, in MB."""
    total_kb = 0
    for each in _descendants(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return round(total_kb / 1024, 1)


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
    urls: list[str],
    token: str,
    shoppers: int,
    turns: int,
    seed: int,
    think_s: tuple[float, float] = (0.0, 0.0),
    pieces: list[list[str]] | None = None,
    per_turn: list[list[float]] | None = None,
) -> dict[str, Any]:
    """Closed loop: each shopper sends its next message when the last reply has come, after a
    pause drawn from `think_s` (0 = as fast as the servers answer, to measure capacity).
    `per_turn`, when given, gets each shopper's reply times in turn order."""
    rng = random.Random(seed)
    scripts = {f"load-{uuid.uuid4().hex[:8]}-{i}": script(rng, turns, pieces) for i in range(shoppers)}
    latencies: list[float] = []
    errors: list[str] = []
    received: dict[str, list[dict[str, Any]]] = {sender: [] for sender in scripts}
    lock = threading.Lock()
    round_robin = itertools.cycle(urls)

    def shopper(sender: str, messages: list[str]) -> None:
        pauses = random.Random(f"{seed}-{sender}")
        mine: list[float] = []
        if per_turn is not None:
            per_turn.append(mine)
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
            mine.append(elapsed)
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
        print("shop mix, back to back ...", flush=True)
        capacity = run_load([stack.rasa_url], stack.auth_token, args.shoppers, args.turns, args.seed)
        memory = {
            "rasa_server_peak_rss_mb": peak_rss_mb(stack.procs["rasa"].pid),
            "action_server_peak_rss_mb": peak_rss_mb(stack.procs["actions"].pid),
        }
        print("chit-chat only, back to back ...", flush=True)
        chitchat = run_load(
            [stack.rasa_url], stack.auth_token, args.shoppers, args.turns, args.seed + 2, pieces=CHITCHAT
        )
        print("shop mix at a human pace ...", flush=True)
        # The same shoppers at a human pace (a few seconds to read and type), fresh conversations.
        paced = run_load(
            [stack.rasa_url],
            stack.auth_token,
            args.shoppers,
            args.turns,
            args.seed + 1,
            think_s=(args.think_min_s, args.think_max_s),
        )
        print(f"one shopper, {args.long_turns} turns ...", flush=True)
        long_row = long_conversation(stack, args, work)
    return {
        "sqlite": {"setup": setup, **capacity, "memory": memory},
        "sqlite_chitchat": {"setup": f"{setup}; greetings, thanks, bye only", **chitchat},
        "sqlite_human_pace": {"setup": f"{setup}; shoppers pause between messages", **paced},
        "long_conversation": long_row,
    }


def long_only(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    shutil.copy(ROOT / "data" / "shop.db", work / "shop.db")
    env = {"SHOP_DATABASE_URL": f"sqlite:///{work / 'shop.db'}", "RASA_TRACKER_DB": str(work / "tracker.db")}
    with Stack(
        rasa_port=free_port(), actions_port=free_port(), web_port=None, log_dir=work / "logs-long", env=env
    ) as stack:
        warm(stack.rasa_url)
        return long_conversation(stack, args, work)


def long_conversation(stack: Stack, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One shopper, `--long-turns` turns of the shop mix: does the hundredth turn cost more?"""
    per_turn: list[list[float]] = []
    run_load([stack.rasa_url], stack.auth_token, 1, args.long_turns, args.seed + 3, per_turn=per_turn)
    times = per_turn[0]
    first, late = times[:10], times[90:100]
    row: dict[str, Any] = {
        "turns": len(times),
        "turns_1_10_mean_ms": round(sum(first) / len(first), 1),
        "turns_91_100_mean_ms": round(sum(late) / len(late), 1) if late else None,
        "per_10_turns_mean_ms": [
            round(sum(times[i : i + 10]) / len(times[i : i + 10]), 1) for i in range(0, len(times), 10)
        ],
        "target_ratio": 1.2,
    }
    row["ratio"] = round(row["turns_91_100_mean_ms"] / row["turns_1_10_mean_ms"], 2) if late else None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(7, 3.5))
        axis.plot(range(1, len(times) + 1), times, lw=0.8, label="reply time")
        axis.plot([i + 5 for i in range(0, len(times), 10)], row["per_10_turns_mean_ms"], "o-", label="mean of 10")
        axis.set_xlabel("turn")
        axis.set_ylabel("ms")
        axis.set_title("Reply time over one conversation (shop mix, REST)")
        axis.legend()
        figure.tight_layout()
        figure.savefig(RESULTS / "long_conversation.png", dpi=110)
        plt.close(figure)
    except ImportError:
        pass
    return row


def stock_run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The stock `rasa init` bot (DIET + TED, trained here with the same Rasa env) under the
    same back-to-back load, with the chit-chat it knows."""
    rasa_bin = ROOT / ".venv-rasa" / "bin" / "rasa"
    project = work / "stock"
    project.mkdir(parents=True, exist_ok=True)
    print("training the stock `rasa init` bot ...", flush=True)
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [str(rasa_bin), "init", "--no-prompt", "--init-dir", str(project)],
        cwd=project.parent,
        env=env,
        check=True,
        capture_output=True,
    )
    port, token = free_port(), uuid.uuid4().hex
    log = (work / "stock.log").open("wb")
    server = subprocess.Popen(
        [
            str(rasa_bin),
            "run",
            "--port",
            str(port),
            "--interface",
            "127.0.0.1",
            "--enable-api",
            f"--auth-token={token}",
        ],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{url}/", timeout=5):
                    break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the stock bot did not start; see {work / 'stock.log'}") from None
                time.sleep(2)
        for message in ("hi", "bye"):
            post(url, "warm-stock", message)
        print("stock bot, chit-chat, back to back ...", flush=True)
        row = run_load([url], token, args.shoppers, args.turns, args.seed + 2, pieces=CHITCHAT)
        row["memory"] = {"rasa_server_peak_rss_mb": peak_rss_mb(server.pid)}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
    return {"setup": "stock `rasa init` bot (DIET + TED), SQLite-free in-memory tracker, 1 Rasa server", **row}


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
    parser.add_argument("--only", choices=["sqlite", "postgres", "stock", "long"])
    parser.add_argument("--long-turns", type=int, default=120, help="turns of the one long conversation")
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
        if args.only == "long":
            results["long_conversation"] = long_only(args, work)
        if args.only in (None, "postgres"):
            results["postgres_redis_2_servers"] = postgres_run(args, work)
        if args.only in (None, "stock"):
            results["stock_rasa_init"] = stock_run(args, work)
    stock = results.get("stock_rasa_init", {}).get("throughput_msgs_per_s")
    if stock:
        results["ours_over_stock"] = {
            "shop_mix": round(results["sqlite"]["throughput_msgs_per_s"] / stock, 2) if "sqlite" in results else None,
            "chitchat": round(results["sqlite_chitchat"]["throughput_msgs_per_s"] / stock, 2)
            if "sqlite_chitchat" in results
            else None,
            "targets": {"shop_mix": 0.8, "chitchat": 1.0},
        }
    results["benchmark"] = "load"
    results["command"] = "make bench-load"
    results["machine"] = {"cpu_count": os.cpu_count(), "platform": platform.platform()}
    results["targets"] = {
        "p95_ms": 250,
        "errors": 0,
        "lost_events": 0,
        "long_conversation_ratio": 1.2,
        "rasa_server_peak_rss_mb": 2048,
        "action_server_peak_rss_mb": 1229,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(
        f"\n{'setup':<26} {'msgs':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'msg/s':>7} {'errors':>6} {'lost':>5}"
    )
    for key in ("sqlite", "sqlite_chitchat", "sqlite_human_pace", "postgres_redis_2_servers", "stock_rasa_init"):
        if key in results:
            r = results[key]
            print(
                f"{key:<26} {r['messages']:>5} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8} "
                f"{r['throughput_msgs_per_s']:>7} {r['errors']:>6} {r['lost_events']:>5}"
            )
    if "ours_over_stock" in results:
        ratio = results["ours_over_stock"]
        print(
            f"ours / stock rasa init throughput: shop mix {ratio['shop_mix']} (target 0.8), "
            f"chit-chat {ratio['chitchat']} (target 1.0)"
        )
    if "long_conversation" in results:
        row = results["long_conversation"]
        print(
            f"one conversation of {row['turns']} turns: turns 1-10 {row['turns_1_10_mean_ms']} ms, "
            f"91-100 {row['turns_91_100_mean_ms']} ms, ratio {row['ratio']} (target 1.2)"
        )
    if "sqlite" in results and "memory" in results["sqlite"]:
        memory = results["sqlite"]["memory"]
        print(
            f"peak RSS under load: Rasa server {memory['rasa_server_peak_rss_mb']} MB (target 2048), "
            f"action server {memory['action_server_peak_rss_mb']} MB (target 1229)"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
