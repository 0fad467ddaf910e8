"""Conversation benchmark: multi-turn shopper conversations over REST against the real stack.

    make bench-conversations   (or: .venv-actions/bin/python benchmarks/bench_conversations.py [--set FILE])

The set (tests/conversations/shoppers.yml) was written apart from the training data and the
test stories (tests/conversations/README.md). Each conversation is a fresh sender; each turn's
reply (all bot messages of the turn, joined) must match its `expect` pattern and not its
`reject` pattern. Reports the completion rate (a conversation passes when every turn does),
the turn pass rate, turns with no reply, false outage messages, and p50/p95 reply time.
Writes benchmarks/results/conversations.json and prints a table, with every failed turn.

No peer bot runs beside it: Rasa's retail demo (rasa-demo's successor) is not published for
Rasa Open Source 3.6 and cannot be fetched here, and the stock `rasa init` bot knows no shop,
so every shop turn would fail and the ratio would say nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.timing import percentile  # noqa: E402
from bot.stack import Stack, free_port  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_SET = ROOT / "tests" / "conversations" / "shoppers.yml"
OUTAGE = "having trouble reaching our systems"


def say(url: str, sender: str, text: str) -> tuple[str, float]:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        replies = json.loads(response.read())
    return "\n".join(str(m.get("text") or "") for m in replies), (time.perf_counter() - started) * 1000


def run_set(url: str, conversations: list[dict[str, Any]]) -> dict[str, Any]:
    passed_conversations, turns, passed_turns, empty, outages = 0, 0, 0, 0, 0
    latencies: list[float] = []
    failures: list[dict[str, Any]] = []
    for number, conversation in enumerate(conversations, start=1):
        sender = f"conv-{uuid.uuid4().hex[:12]}"
        ok = True
        for turn in conversation["turns"]:
            reply, ms = say(url, sender, turn["user"])
            latencies.append(ms)
            turns += 1
            empty += not reply.strip()
            outages += OUTAGE in reply
            good = bool(re.search(turn["expect"], reply)) and not (
                turn.get("reject") and re.search(turn["reject"], reply)
            )
            passed_turns += good
            if not good:
                ok = False
                failures.append(
                    {
                        "conversation": conversation["name"],
                        "user": turn["user"],
                        "reply": reply[:300],
                        "expect": turn["expect"],
                        "reject": turn.get("reject"),
                    }
                )
        passed_conversations += ok
        print(f"\r{number}/{len(conversations)} conversations, {passed_conversations} passed", end="", flush=True)
    print()
    return {
        "conversations": len(conversations),
        "completed": passed_conversations,
        "completion_rate": round(passed_conversations / max(1, len(conversations)), 4),
        "turns": turns,
        "turn_pass_rate": round(passed_turns / max(1, turns), 4),
        "turns_without_reply": empty,
        "false_outage_messages": outages,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "failures": failures,
    }


@contextmanager
def private_stack(env: dict[str, str] | None = None) -> Iterator[str]:
    """The real stack on free ports with a throw-away copy of the shop DB and its own tracker
    store (the benchmarks change orders); yields the Rasa server's URL."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(ROOT / "data" / "shop.db", Path(tmp) / "shop.db")
        stack_env = {
            "SHOP_DATABASE_URL": f"sqlite:///{Path(tmp) / 'shop.db'}",
            "RASA_TRACKER_DB": str(Path(tmp) / "tracker.db"),
            **(env or {}),
        }
        stack = Stack(
            rasa_port=free_port(), actions_port=free_port(), web_port=None, log_dir=Path(tmp) / "logs", env=stack_env
        )
        stack.start()
        try:
            yield stack.rasa_url
        finally:
            stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="the conversations YAML")
    args = parser.parse_args(argv)
    conversations = yaml.safe_load(args.set.read_text(encoding="utf-8"))["conversations"]
    # 68 shoppers from this machine's one address: the per-client look-up throttle would
    # count their honest typos together.
    with private_stack({"SHOP_MAX_FAILED_VERIFICATIONS_PER_CLIENT": "100000"}) as url:
        result = run_set(url, conversations)
    result["set"] = str(args.set.relative_to(ROOT)) if args.set.is_relative_to(ROOT) else str(args.set)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "conversations.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{'conversations':<24}{result['conversations']}")
    print(f"{'completion rate':<24}{result['completion_rate']:.3f} ({result['completed']})")
    print(f"{'turn pass rate':<24}{result['turn_pass_rate']:.3f} of {result['turns']}")
    print(f"{'turns without reply':<24}{result['turns_without_reply']}")
    print(f"{'false outage messages':<24}{result['false_outage_messages']}")
    print(f"{'reply p50 / p95 ms':<24}{result['p50_ms']} / {result['p95_ms']}")
    for failure in result["failures"]:
        print(f"- [{failure['conversation']}] {failure['user']!r} -> {failure['reply'][:120]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
