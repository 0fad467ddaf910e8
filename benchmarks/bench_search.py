"""Product search benchmark: BM25 vs dense vs hybrid on our shopper queries, plus 10k latency.

    make bench-search        (or: .venv-actions/bin/python benchmarks/bench_search.py)

Queries: benchmarks/data/search_queries.jsonl, each with attribute rules that grade every
product of the demo catalog (2 = meets every constraint and a use word, 1 = right kind of
product, 0 = not relevant). The three modes rank the whole catalog from the query text alone,
in the same run. The BM25 weight of the hybrid is chosen on a seeded validation third of the
queries; nDCG@10 is reported on the rest.

`product_search` is what `action_search_products` does with the same message: the trained Rasa
NLU (models/rasa/shop.tar.gz, parsed in the Rasa env by benchmarks/parse_with_nlu.py) finds the
category, brand, colour, size and price entities, which become hard filters (in stock only, one
constraint relaxed when nothing matches; when only a few products match, near matches in another
colour or of another product type follow them, never over the price limit, of another brand or
in another size) over
the hybrid ranking. The same NLU filters are also
applied to BM25 and dense alone (`*_with_nlu_filters`), so the gain of each part shows.

Latency: a 10,000-product synthetic catalog (the demo products repeated with perturbed vectors),
with hard filters, query embedding included.
Writes benchmarks/results/search.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# CONSTRAINT_SLOTS and entity_values are the action's own mapping from NLU entities to search
# constraints (shared through retrieval.product_search).
from benchmarks.bench_retrieval import in_repository  # noqa: E402
from benchmarks.timing import latency_ms  # noqa: E402
from retrieval.catalog import catalog_path  # noqa: E402
from retrieval.embedder import Embedder, pick_device  # noqa: E402
from retrieval.product_index import ProductFilters, ProductIndex  # noqa: E402
from retrieval.product_search import (  # noqa: E402
    CONSTRAINT_SLOTS,
    ProductSearch,
    SearchRequest,
    entity_values,
)

QUERIES = ROOT / "benchmarks" / "data" / "search_queries.jsonl"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
RASA_MODEL = ROOT / "models" / "rasa" / "shop.tar.gz"
RESULTS = ROOT / "benchmarks" / "results"
MODES = ("bm25", "dense", "hybrid")
SEED = 42


def grade(product: dict[str, Any], rules: dict[str, Any]) -> int:
    text = " ".join([product["title"], product["description"], " ".join(product.get("tags", [])),
                     product.get("subcategory", "")]).lower()
    terms = [t.lower() for t in rules.get("terms") or []]
    has_term = any(t in text for t in terms)
    category_ok = not rules.get("category") or product["category"] == rules["category"]
    brand_ok = not rules.get("brand") or product["brand"].lower() == str(rules["brand"]).lower()
    color_ok = not rules.get("color") or product["color"] == str(rules["color"]).lower()
    price_ok = ((rules.get("price_max") is None or product["price"] <= float(rules["price_max"]))
                and (rules.get("price_min") is None or product["price"] >= float(rules["price_min"])))
    if category_ok and brand_ok and color_ok and price_ok and (has_term or not terms):
        return 2
    side = (rules.get("brand") and brand_ok) or (rules.get("color") and color_ok)
    if category_ok and (has_term or side):
        return 1
    return 0


def ndcg_at(ranked_grades: list[int], all_grades: list[int], k: int = 10) -> float:
    def dcg(grades: list[int]) -> float:
        return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(grades[:k]))

    ideal = dcg(sorted(all_grades, reverse=True))
    return dcg(ranked_grades) / ideal if ideal > 0 else 0.0


def evaluate(index: ProductIndex, queries: list[dict], mode: str) -> float:
    scores = []
    no_filters = ProductFilters(in_stock=False)
    for q in queries:
        grades = [grade(p, q["rules"]) for p in index.products]
        hits = index.search(q["query"], no_filters, k=10, mode=mode)
        ranked = [grades[index.position(h.product["id"])] for h in hits]  # type: ignore[index]
        scores.append(ndcg_at(ranked, grades))
    return float(np.mean(scores))


def nlu_parses(queries_file: Path, model: Path) -> dict[str, dict]:
    """{query id: {"intent", "entities"}} from the trained Rasa model, parsed in the Rasa env."""
    if not RASA_PYTHON.exists() or not model.exists():
        raise SystemExit(f"product_search needs the Rasa env and a trained model ({model}): run `make envs train`, "
                         "or pass --no-nlu for the text-only modes")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "parses.json"
        subprocess.run([str(RASA_PYTHON), str(ROOT / "benchmarks" / "parse_with_nlu.py"), str(queries_file), str(out),
                        "--model", str(model)], check=True, cwd=ROOT)
        return json.loads(out.read_text(encoding="utf-8"))


def search_request(query: dict, parse: dict) -> SearchRequest:
    """The request `action_search_products` builds for a new search: the whole message plus the
    constraints among this message's entities."""
    entities = entity_values(parse.get("entities"))
    return SearchRequest(query=query["query"], **{field: entities.get(slot) for slot, field in CONSTRAINT_SLOTS.items()})


def evaluate_with_nlu(index: ProductIndex, queries: list[dict], parses: dict[str, dict], mode: str) -> float:
    """nDCG@10 of the action's search: NLU filters (in stock, one relaxed if nothing matches) over `mode`."""
    search = ProductSearch(index)
    scores = []
    for q in queries:
        grades = [grade(p, q["rules"]) for p in index.products]
        request = search_request(q, parses[q["id"]])
        result = search.search(request, k=10, mode=mode)
        ranked = [grades[index.position(h.product["id"])] for h in result.hits]  # type: ignore[index]
        scores.append(ndcg_at(ranked, grades))
    return float(np.mean(scores))


def latency(index: ProductIndex, embedder: Embedder, n_products: int, queries: list[dict]) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    base_products, base_matrix = index.products, index.matrix
    products, rows = [], []
    for i in range(n_products):
        source = base_products[i % len(base_products)]
        products.append({**source, "id": f"S{i:05d}", "price": round(source["price"] * rng.uniform(0.7, 1.3), 2)})
        vector = base_matrix[i % len(base_products)] + rng.normal(0, 0.02, base_matrix.shape[1])
        rows.append(vector / np.linalg.norm(vector))
    big = ProductIndex(index_path=index.index_path, collection="latency", embedder=embedder, bm25_weight=index.bm25_weight)
    big.load_products(products, np.asarray(rows, dtype=np.float32))
    big._stamp = "synthetic"  # in memory only: nothing to reload from Chroma
    big.stamp_file.write_text("synthetic\n")
    timings = []
    texts = [q["query"] for q in queries]
    for i in range(5):  # warm up
        big.search(texts[i % len(texts)], ProductFilters(category="footwear", price_max=150), k=5)
    for i in range(200):
        q = queries[i % len(queries)]
        filters = ProductFilters(category=q["rules"].get("category"), price_max=q["rules"].get("price_max"))
        start = time.perf_counter()
        big.search(q["query"], filters, k=5)
        timings.append((time.perf_counter() - start) * 1000)
    return {"products": n_products, "device": pick_device(), **latency_ms(timings), "queries": len(timings)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--catalog", type=Path, default=catalog_path())
    parser.add_argument("--out", type=Path, default=RESULTS / "search.json")
    parser.add_argument("--model", type=Path, default=RASA_MODEL, help="the trained Rasa model whose NLU feeds product_search")
    parser.add_argument("--no-nlu", action="store_true", help="text-only modes; no Rasa env or model needed")
    args = parser.parse_args()

    queries = [json.loads(line) for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    shuffled = queries[:]
    random.Random(SEED).shuffle(shuffled)
    validation, test = shuffled[: len(queries) // 3], shuffled[len(queries) // 3:]
    parses = None if args.no_nlu else nlu_parses(args.queries, args.model)
    embedder = Embedder()
    embedder.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        index = ProductIndex(index_path=tmp, collection="bench", embedder=embedder)
        index.ingest(args.catalog, progress=False)
        index.warm_up()
        weights = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
        val_scores = {}
        for w in weights:
            index.bm25_weight = w
            val_scores[w] = evaluate(index, validation, "hybrid")
        index.bm25_weight = max(weights, key=lambda w: val_scores[w])
        table = {mode: {"ndcg_at_10": round(evaluate(index, test, mode), 4)} for mode in MODES}
        with_nlu: dict[str, dict[str, float]] = {}
        if parses is not None:
            table["product_search"] = {"ndcg_at_10": round(evaluate_with_nlu(index, test, parses, "hybrid"), 4)}
            with_nlu = {f"{mode}_with_nlu_filters": {"ndcg_at_10": round(evaluate_with_nlu(index, test, parses, mode), 4)}
                        for mode in ("bm25", "dense")}
        lat = latency(index, embedder, 10_000, queries)

    hybrid = table["hybrid"]["ndcg_at_10"]
    ratios = {"hybrid_over_bm25": round(hybrid / table["bm25"]["ndcg_at_10"], 3),
              "hybrid_over_dense": round(hybrid / table["dense"]["ndcg_at_10"], 3)}
    if parses is not None:
        full = table["product_search"]["ndcg_at_10"]
        baselines = {"bm25": table["bm25"], "dense": table["dense"], **with_nlu}
        ratios |= {f"product_search_over_{name}": round(full / row["ndcg_at_10"], 3) for name, row in baselines.items()}
    result = {
        "benchmark": "product search",
        "command": "make bench-search",
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "queries": {"total": len(queries), "validation": len(validation), "test": len(test)},
        "hybrid_bm25_weight": index.bm25_weight,
        "validation_ndcg_by_weight": {str(w): round(s, 4) for w, s in val_scores.items()},
        **table,
        **with_nlu,
        "ratios": ratios,
        "nlu_model": None if parses is None else in_repository(args.model),
        "latency_10k": lat,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nProduct search, nDCG@10 on {len(test)} held-out queries (hybrid BM25 weight {index.bm25_weight}, "
          f"chosen on {len(validation)} validation queries)")
    for mode, row in {**table, **with_nlu}.items():
        print(f"  {mode:<26} {row['ndcg_at_10']:.3f}")
    for name, ratio in ratios.items():
        print(f"  {name:<44} {ratio:.2f}x")
    print(f"search latency, {lat['products']} products on {lat['device']}: p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
