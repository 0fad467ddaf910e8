"""Policy questions in shoppers' words, end to end: each sent as a new shopper over REST to the
real stack, the reply right when it carries the fact.

    make bench-policy   (or: .venv-actions/bin/python benchmarks/bench_policy_questions.py [--set FILE])

The set (benchmarks/data/policy_questions.yml) was written from the shop's documents alone by a
helper that saw no training data, KB training questions or tests. Each question has a pattern for
the fact. Reported: the share answered with the fact through the bot, the share of questions that
mention an order action (cancelling, returning, changing an address) but got an order form
("What's your order number?") instead of the answer, and reply times.

The peers, in the same run, on the same questions: the knowledge base's own top passage, hybrid
and BM25, with no dialogue around it (is the fact in the top passage?). The bot's figure over
the hybrid passage's says what the dialogue loses (a form started, a hedge declined) or adds.
Writes benchmarks/results/policy_questions.json and prints a table with every miss.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_conversations import private_stack, say  # noqa: E402
from benchmarks.timing import percentile  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_SET = ROOT / "benchmarks" / "data" / "policy_questions.yml"
# The order forms' first question (bot/domain/orders.yml, utter_ask_order_id).
ORDER_FORM = re.compile(r"(?i)what's your order number")


def through_the_bot(url: str, questions: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[float]]:
    rows, latencies = [], []
    for number, item in enumerate(questions, start=1):
        reply, ms = say(url, f"policy-{uuid.uuid4().hex[:12]}", item["question"])
        latencies.append(ms)
        rows.append(
            {
                "question": item["question"],
                "right": bool(re.search(item["expect"], reply)),
                "order_form": bool(ORDER_FORM.search(reply)),
                "asks_about_an_order_action": bool(item.get("asks_about_an_order_action")),
                "reply": reply[:300],
            }
        )
        print(f"\r{number}/{len(questions)} questions", end="", flush=True)
    print()
    return rows, latencies


def top_passage_share(questions: list[dict[str, Any]], mode: str) -> float:
    """The share of questions whose top passage (no decision, no dialogue) carries the fact."""
    from retrieval.services import default_registry

    kb = default_registry().knowledge_base
    right = 0
    for item in questions:
        hits = kb.search(item["question"], k=1, mode=mode)
        right += bool(hits and re.search(item["expect"], hits[0].text))
    return round(right / max(1, len(questions)), 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="the questions YAML")
    args = parser.parse_args(argv)
    questions = yaml.safe_load(args.set.read_text(encoding="utf-8"))["questions"]
    with private_stack() as url:
        rows, latencies = through_the_bot(url, questions)
    order_questions = [r for r in rows if r["asks_about_an_order_action"]]
    result = {
        "benchmark": "policy questions end to end",
        "command": "make bench-policy",
        "set": str(args.set.relative_to(ROOT)) if args.set.is_relative_to(ROOT) else str(args.set),
        "questions": len(rows),
        "bot_right": round(sum(r["right"] for r in rows) / max(1, len(rows)), 4),
        "order_action_questions": len(order_questions),
        "order_action_questions_given_a_form": sum(r["order_form"] for r in order_questions),
        "any_question_given_a_form": sum(r["order_form"] for r in rows),
        "kb_top_passage_hybrid": top_passage_share(questions, "hybrid"),
        "kb_top_passage_bm25": top_passage_share(questions, "bm25"),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "misses": [r for r in rows if not r["right"]],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "policy_questions.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    hybrid = result["kb_top_passage_hybrid"]
    print(f"{'questions':<44}{result['questions']}")
    print(f"{'through the bot, reply carries the fact':<44}{result['bot_right']:.3f}")
    print(f"{'KB top passage alone, hybrid (peer)':<44}{hybrid:.3f}")
    print(f"{'KB top passage alone, BM25 (peer)':<44}{result['kb_top_passage_bm25']:.3f}")
    if hybrid:
        print(f"{'bot / hybrid passage':<44}{result['bot_right'] / hybrid:.2f}x")
    print(
        f"{'order-action questions given an order form':<44}"
        f"{result['order_action_questions_given_a_form']} of {result['order_action_questions']}"
    )
    print(f"{'reply p50 / p95 ms':<44}{result['p50_ms']} / {result['p95_ms']}")
    for miss in result["misses"]:
        print(f"- {miss['question']!r} -> {miss['reply'][:120]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
