"""A shop nobody on the team tuned anything on, end to end through the bot: the MovieLens movies
onboarded with `make shop` as a shop's own catalog, then its shoppers' queries sent over REST.

    make bench-own-shop   (or: .venv-actions/bin/python benchmarks/bench_own_shop.py [--limit N])

The catalog is MovieLens latest-small (../shared/datasets) as `make bench-search` builds it: a
shop's export with its own column names (benchmarks/data/movielens_mapping.json), genres as
tags and half of each movie's user tags as its description. The documents are the demo shop's
(a movie shop has the same policies to ask about). In a copy of the project (the demo's data
and models stay as they are), `make shop` onboards them, generates the NLU data from them,
builds the indexes and trains the Rasa model, exactly as a shop owner would, and nothing else
is configured. The queries are the MovieLens user tags applied to at least five movies
("atmospheric", "time travel", "pixar"), each sent as a new shopper: the words a stranger uses
for what they want, which nobody on the team wrote.

Reported: the share of queries the bot answers with products (the rest by kind: "we don't
carry", an answer from the documents, the list of what it can do, anything else), and the share
whose shown products include a movie that carries the tag. The peer, in the same run on the same
index: the product search alone (what `action_search_products` does with the message, with no
NLU before it), its first five results. Their ratio says what the dialogue loses or adds. About
fifteen minutes here (the Rasa model trains, 9,742 movies are embedded).
Writes benchmarks/results/own_shop.json and prints a table with examples of each kind.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_search import movie_queries, write_movie_catalog  # noqa: E402
from benchmarks.timing import percentile  # noqa: E402
from bot.stack import Stack  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DATASETS = ROOT.parent / "shared" / "datasets"
MAPPING = ROOT / "benchmarks" / "data" / "movielens_mapping.json"
# What the bot shows per page (actions/products.py, PAGE_SIZE); the peer gets as many.
SHOWN = 5
DOCUMENTS_ANSWER = re.compile(r"_Source: |I'm not completely sure, but I think")
CAPABILITIES = re.compile(r"Sorry, I can't help with that")
NOT_CARRIED = re.compile(r"we don't carry", re.I)


def project_copy(dest: Path) -> Path:
    """The project's tracked files (as in the working tree) in `dest`, with the two Python
    environments linked, not copied: a place to onboard another shop without touching this one."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout.split(b"\0")
    for name in filter(None, (t.decode() for t in tracked)):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    for env in (".venv-rasa", ".venv-actions"):
        if not (dest / env).is_symlink():
            (dest / env).symlink_to(ROOT / env)
    # The KB encoder `make run` trained here, as on the machine of a shop that tried the demo
    # first: another shop's `make index` fine-tunes the same one and keeps it when it is there.
    encoder = ROOT / "models" / "kb_encoder"
    if (encoder / "kb_encoder.json").exists() and not (dest / "models" / "kb_encoder").exists():
        shutil.copytree(encoder, dest / "models" / "kb_encoder")
    return dest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_environment() -> dict[str, str]:
    """This process's environment without the shop's settings, as on a new machine."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SHOP_", "RASA_TRACKER"))}


def project_settings(project: Path) -> dict[str, str]:
    return {
        "SHOP_DATABASE_URL": f"sqlite:///{project / 'data' / 'shop.db'}",
        "RASA_TRACKER_DB": str(project / "data" / "tracker.db"),
        "SHOP_KB_PATH": str(project / "models" / "kb"),
        "SHOP_KB_ENCODER_PATH": str(project / "models" / "kb_encoder"),
        "SHOP_PRODUCT_INDEX_PATH": str(project / "models" / "products"),
        "SHOP_RECOMMENDER_PATH": str(project / "models" / "recommender"),
        "SHOP_CATALOG_PATH": str(project / "data" / "catalog.jsonl"),
    }


def project_stack(project: Path, env: dict[str, str] | None = None) -> Stack:
    """The real servers (no web page) on free ports, serving the shop onboarded in `project`."""
    return Stack(
        rasa_port=free_port(),
        actions_port=free_port(),
        web_port=None,
        log_dir=project / "data" / "logs",
        model=project / "models" / "rasa" / "shop.tar.gz",
        env={**project_settings(project), **(env or {})},
    )


def say(url: str, text: str) -> tuple[list[dict[str, Any]], float]:
    body = json.dumps({"sender": f"own-{uuid.uuid4().hex[:12]}", "message": text}).encode()
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        messages = json.loads(response.read())
    return messages, (time.perf_counter() - started) * 1000


def shown_products(messages: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for message in messages:
        custom = message.get("custom") or {}
        if custom.get("type") == "product_cards":
            ids += [str(card["id"]) for card in custom.get("products", [])]
    return ids


def kind_of(messages: list[dict[str, Any]], shown: list[str]) -> str:
    text = "\n".join(str(m.get("text") or "") for m in messages)
    if shown:
        return "products, saying it doesn't carry the words" if NOT_CARRIED.search(text) else "products"
    if NOT_CARRIED.search(text):
        return "we don't carry, no products"
    if DOCUMENTS_ANSWER.search(text):
        return "an answer from the documents"
    if CAPABILITIES.search(text):
        return "what the assistant can do"
    return "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--limit", type=int, default=0, help="send only the first N queries (0: all)")
    parser.add_argument("--out", type=Path, default=RESULTS / "own_shop.json")
    args = parser.parse_args(argv)
    folder = args.datasets / "movielens-latest-small"
    if not (folder / "movies.csv").exists():
        print(f"no MovieLens at {folder}", file=sys.stderr)
        return 2
    queries = movie_queries(folder)
    if args.limit:
        queries = queries[: args.limit]

    with tempfile.TemporaryDirectory(prefix="own-shop-") as tmp:
        project = project_copy(Path(tmp) / "project")
        catalog = write_movie_catalog(folder, Path(tmp) / "movies.csv")
        print(f"make shop in {project} (onboarding, NLU data, indexes, training) ...", flush=True)
        started = time.perf_counter()
        log = Path(tmp) / "make-shop.log"
        with log.open("w") as handle:
            build = subprocess.run(
                ["make", "shop", f"CATALOG={catalog}", f"MAPPING={MAPPING}", f"KB={ROOT / 'shop' / 'kb'}"],
                cwd=project,
                env=clean_environment(),
                stdout=handle,
                stderr=subprocess.STDOUT,
                text=True,
            )
        build_s = time.perf_counter() - started
        if build.returncode != 0:
            print(log.read_text()[-4000:], file=sys.stderr)
            return 1
        report = [
            line for line in log.read_text().splitlines() if line.startswith(("catalog:", "lookups:", "examples:"))
        ]
        print("\n".join(report), flush=True)

        from retrieval.product_search import SearchRequest
        from retrieval.services import ServiceRegistry
        from shop.settings import Settings

        search_alone = ServiceRegistry(Settings.from_env(project_settings(project))).product_search
        stack = project_stack(project)
        stack.start()
        rows, latencies = [], []
        try:
            for number, query in enumerate(queries, start=1):
                messages, ms = say(stack.rasa_url, query["query"])
                latencies.append(ms)
                shown = shown_products(messages)
                peer = [h.product["id"] for h in search_alone.search(SearchRequest(query["query"]), k=SHOWN).hits]
                rows.append(
                    {
                        "query": query["query"],
                        "kind": kind_of(messages, shown),
                        "shown": shown,
                        "bot_hit": bool(set(shown) & query["relevant"]),
                        "search_alone_hit": bool(set(peer) & query["relevant"]),
                        "reply": "\n".join(str(m.get("text") or "") for m in messages)[:200],
                    }
                )
                print(f"\r{number}/{len(queries)} queries", end="", flush=True)
            print()
        finally:
            stack.stop()

    n = max(1, len(rows))
    kinds = Counter(r["kind"] for r in rows)
    with_products = sum(bool(r["shown"]) for r in rows) / n
    bot_hits = sum(r["bot_hit"] for r in rows) / n
    alone_hits = sum(r["search_alone_hit"] for r in rows) / n
    result = {
        "benchmark": "a shop nobody tuned on (MovieLens movies onboarded with make shop), through the bot",
        "command": "make bench-own-shop",
        "queries": len(rows),
        "make_shop_s": round(build_s, 1),
        "make_shop_report": report,
        "answered_with_products": round(with_products, 4),
        "kinds": {k: round(v / n, 4) for k, v in kinds.most_common()},
        "shown_products_carry_the_tag": round(bot_hits, 4),
        "search_alone_top5_carries_the_tag": round(alone_hits, 4),
        "bot_over_search_alone": round(bot_hits / alone_hits, 3) if alone_hits else None,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "examples": {kind: [r for r in rows if r["kind"] == kind][:8] for kind in kinds},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")

    print(f"{'queries':<48}{len(rows)}")
    print(f"{'make shop (onboard, NLU data, indexes, train)':<48}{build_s:.0f} s")
    print(f"{'answered with products':<48}{with_products:.3f}")
    for kind, count in kinds.most_common():
        print(f"{'  ' + kind:<48}{count / n:.3f}")
    print(f"{'shown products include one with the tag':<48}{bot_hits:.3f}")
    print(f"{'search alone, top 5 (peer)':<48}{alone_hits:.3f}")
    if alone_hits:
        print(f"{'bot / search alone':<48}{bot_hits / alone_hits:.2f}x")
    print(f"{'reply p50 / p95 ms':<48}{result['p50_ms']} / {result['p95_ms']}")
    for kind in kinds:
        if kind != "products":
            for row in result["examples"][kind][:4]:
                print(f"- [{kind}] {row['query']!r} -> {row['reply'][:110]!r}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
