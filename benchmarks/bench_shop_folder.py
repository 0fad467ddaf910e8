"""Another shop, end to end, exactly as its owner would set it up: its catalog export (with a
mapping), its help-centre documents and its order-number format go through `make shop` in a copy
of the project, and its shoppers' product queries and policy questions go to the running bot over
REST, each as a new shopper.

    make bench-shop-folder SHOP_FOLDER=benchmarks/data/craft_shop
    (or: .venv-actions/bin/python benchmarks/bench_shop_folder.py benchmarks/data/craft_shop)

The folder holds `shop.yml` (where its catalog, mapping and documents are, and the environment
its owner sets, such as SHOP_ORDER_ID_PREFIX) and `queries.yml`:

- `product_queries`: `query`, and either `relevant_title` (a pattern; a shown product whose
  title matches it is what the shopper wanted) or `carried: false` (the shop doesn't sell it:
  right when the reply says so and offers no form and no refusal);
- `policy_questions`: `question`, `expect` (a pattern for the fact), `asks_about_an_order_action`.

Reported: product queries answered with products, and with a wanted product among the five
shown; the peer, in the same run on the same index, is the product search alone (what
`action_search_products` does with the message, no NLU before it), its first five. Policy
questions answered with the fact, and those given an order form; the peer is the knowledge
base's own top passage (hybrid, no decision, no dialogue). The bot over each peer says what the
dialogue loses or adds on a shop nobody tuned it on.
Writes benchmarks/results/shop_folder_<folder name>.json and prints a table with every miss.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_own_shop import (  # noqa: E402
    clean_environment,
    kind_of,
    project_copy,
    project_settings,
    project_stack,
    say,
    shown_products,
)
from benchmarks.timing import percentile  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SHOWN = 5
ORDER_FORM = re.compile(r"(?i)what's your order number")
NOT_CARRIED = re.compile(r"(?i)we don't carry|nothing here is called")
REFUSED = re.compile(r"Sorry, I can't help with that")


def load_shop(folder: Path) -> dict[str, Any]:
    shop = yaml.safe_load((folder / "shop.yml").read_text(encoding="utf-8"))
    queries = yaml.safe_load((folder / "queries.yml").read_text(encoding="utf-8"))
    return {
        "name": shop.get("name", folder.name),
        "catalog": folder / shop["catalog"],
        "mapping": folder / shop["mapping"],
        "kb": folder / shop["kb"],
        "environment": {str(k): str(v) for k, v in (shop.get("environment") or {}).items()},
        "product_queries": queries.get("product_queries") or [],
        "policy_questions": queries.get("policy_questions") or [],
    }


def make_shop(project: Path, shop: dict[str, Any], log: Path) -> tuple[bool, float]:
    started = time.perf_counter()
    with log.open("w") as handle:
        build = subprocess.run(
            ["make", "shop", f"CATALOG={shop['catalog']}", f"MAPPING={shop['mapping']}", f"KB={shop['kb']}"],
            cwd=project,
            env={**clean_environment(), **shop["environment"]},
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return build.returncode == 0, time.perf_counter() - started


def titles_of(catalog_path: Path) -> dict[str, str]:
    titles = {}
    with catalog_path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                product = json.loads(line)
                titles[str(product["id"])] = str(product.get("title") or "")
    return titles


def understood(stack: Any, text: str) -> str:
    """The NLU's intent and entities for the text (Rasa's HTTP API), to read a miss by."""
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(
        f"{stack.rasa_url}/model/parse?token={stack.auth_token}",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        parsed = json.loads(response.read())
    intent = parsed.get("intent") or {}
    entities = " ".join(
        f"{e.get('entity')}={e.get('value')}" for e in parsed.get("entities") or [] if e.get("entity") != "sentiment"
    )
    return f"{intent.get('name')} {float(intent.get('confidence') or 0):.2f} {entities}".strip()


def product_rows(stack: Any, shop: dict[str, Any], search_alone: Any, titles: dict[str, str]) -> list[dict[str, Any]]:
    from retrieval.product_search import SearchRequest

    rows = []
    for number, item in enumerate(shop["product_queries"], start=1):
        messages, ms = say(stack.rasa_url, item["query"])
        text = "\n".join(str(m.get("text") or "") for m in messages)
        shown = shown_products(messages)
        carried = item.get("carried", True)
        row: dict[str, Any] = {
            "query": item["query"],
            "carried": carried,
            "kind": kind_of(messages, shown),
            "intent": understood(stack, item["query"]),
            "order_form": bool(ORDER_FORM.search(text)),
            "shown": [titles.get(i, i) for i in shown],
            "reply": text[:200],
            "ms": ms,
        }
        if carried:
            wanted = re.compile(item["relevant_title"])
            peer = [h.product["id"] for h in search_alone.search(SearchRequest(item["query"]), k=SHOWN).hits]
            row["right"] = any(wanted.search(titles.get(i, "")) for i in shown[:SHOWN])
            row["search_alone_right"] = any(wanted.search(titles.get(i, "")) for i in peer)
        else:
            row["right"] = bool(NOT_CARRIED.search(text)) and not row["order_form"] and not REFUSED.search(text)
        rows.append(row)
        print(f"\r{number}/{len(shop['product_queries'])} product queries", end="", flush=True)
    print()
    return rows


def policy_rows(stack: Any, shop: dict[str, Any], knowledge_base: Any) -> list[dict[str, Any]]:
    rows = []
    for number, item in enumerate(shop["policy_questions"], start=1):
        messages, ms = say(stack.rasa_url, item["question"])
        text = "\n".join(str(m.get("text") or "") for m in messages)
        hits = knowledge_base.search(item["question"], k=1, mode="hybrid")
        rows.append(
            {
                "question": item["question"],
                "intent": understood(stack, item["question"]),
                "right": bool(re.search(item["expect"], text)),
                "top_passage_right": bool(hits and re.search(item["expect"], hits[0].text)),
                "order_form": bool(ORDER_FORM.search(text)),
                "asks_about_an_order_action": bool(item.get("asks_about_an_order_action")),
                "reply": text[:300],
                "ms": ms,
            }
        )
        print(f"\r{number}/{len(shop['policy_questions'])} policy questions", end="", flush=True)
    print()
    return rows


def share(rows: list[dict[str, Any]], key: str) -> float:
    return round(sum(bool(r[key]) for r in rows) / max(1, len(rows)), 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the shop folder (shop.yml, queries.yml, its export and documents)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="build the shop's project in this folder and keep it (reused when it holds a model) to read misses by",
    )
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    shop = load_shop(folder)
    out = args.out or RESULTS / f"shop_folder_{folder.name}.json"

    with contextlib.ExitStack() as cleanup:
        tmp = args.keep or Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="shop-folder-")))
        project, log = tmp / "project", tmp / "make-shop.log"
        build_s = 0.0
        if (project / "models" / "rasa" / "shop.tar.gz").exists():
            # A kept project: this tree's code over its trained model and indexes (built from
            # the shop's data with the code of its first run).
            project_copy(project)
        else:
            shutil.rmtree(project, ignore_errors=True)
            project_copy(project)
            print(f"make shop in {project} (onboarding, NLU data, indexes, training) ...", flush=True)
            built, build_s = make_shop(project, shop, log)
            if not built:
                print(log.read_text()[-4000:], file=sys.stderr)
                return 1
        report = [
            line
            for line in log.read_text().splitlines()
            if line.startswith(("catalog:", "lookups:", "examples:", "order numbers:"))
        ]
        print("\n".join(report), flush=True)

        from retrieval.services import ServiceRegistry
        from shop.settings import Settings

        registry = ServiceRegistry(Settings.from_env({**project_settings(project), **shop["environment"]}))
        titles = titles_of(project / "data" / "catalog.jsonl")
        stack = project_stack(project, shop["environment"])
        stack.start()
        try:
            products = product_rows(stack, shop, registry.product_search, titles)
            policies = policy_rows(stack, shop, registry.knowledge_base)
        finally:
            stack.stop()

    carried = [r for r in products if r["carried"]]
    not_carried = [r for r in products if not r["carried"]]
    order_questions = [r for r in policies if r["asks_about_an_order_action"]]
    latencies = [r["ms"] for r in products + policies]
    bot_products, alone_products = share(carried, "right"), share(carried, "search_alone_right")
    bot_policy, alone_policy = share(policies, "right"), share(policies, "top_passage_right")
    result = {
        "benchmark": f"another shop ({shop['name']}) set up with make shop, its shoppers' messages over REST",
        "command": f"make bench-shop-folder SHOP_FOLDER={args.folder}",
        "make_shop_s": round(build_s, 1),
        "reused_project": bool(args.keep and not build_s),
        "make_shop_report": report,
        "product_queries": len(carried),
        "answered_with_products": share(carried, "shown"),
        "kinds": dict(Counter(r["kind"] for r in carried).most_common()),
        "wanted_product_in_top5": bot_products,
        "search_alone_top5": alone_products,
        "bot_over_search_alone": round(bot_products / alone_products, 3) if alone_products else None,
        "not_carried_queries": len(not_carried),
        "not_carried_said_so": share(not_carried, "right"),
        "policy_questions": len(policies),
        "policy_bot_right": bot_policy,
        "policy_top_passage_right": alone_policy,
        "policy_bot_over_top_passage": round(bot_policy / alone_policy, 3) if alone_policy else None,
        "policy_order_forms": sum(r["order_form"] for r in policies),
        "order_action_questions": len(order_questions),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "product_misses": [r for r in carried if not r["right"]],
        "not_carried_misses": [r for r in not_carried if not r["right"]],
        "policy_misses": [r for r in policies if not r["right"]],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")

    print(f"{'make shop (onboard, NLU data, indexes, train)':<52}{build_s:.0f} s")
    print(f"{'product queries':<52}{len(carried)}")
    print(f"{'  answered with products':<52}{result['answered_with_products']:.3f}")
    print(f"{'  a wanted product in the five shown':<52}{bot_products:.3f}")
    print(f"{'  search alone, top 5 (peer)':<52}{alone_products:.3f}")
    if alone_products:
        print(f"{'  bot / search alone':<52}{bot_products / alone_products:.2f}x")
    print(f"{'products the shop does not sell: said so':<52}{result['not_carried_said_so']:.3f} of {len(not_carried)}")
    print(f"{'policy questions':<52}{len(policies)}")
    print(f"{'  answered with the fact':<52}{bot_policy:.3f}")
    print(f"{'  the KB top passage carries it (peer)':<52}{alone_policy:.3f}")
    print(
        f"{'  given an order form':<52}{result['policy_order_forms']} ({len(order_questions)} mention an order action)"
    )
    print(f"{'reply p50 / p95 ms':<52}{result['p50_ms']} / {result['p95_ms']}")
    for row in result["product_misses"]:
        print(f"- [product, {row['kind']}] {row['query']!r} -> {row['shown'][:3]} {row['reply'][:90]!r}")
    for row in result["not_carried_misses"]:
        print(f"- [not carried] {row['query']!r} -> {row['reply'][:110]!r}")
    for row in result["policy_misses"]:
        print(f"- [policy{', FORM' if row['order_form'] else ''}] {row['question']!r} -> {row['reply'][:110]!r}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
