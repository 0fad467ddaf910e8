"""Product search benchmark: BM25 vs dense vs hybrid on our shopper queries and on a second
catalog nobody tuned on (MovieLens), plus 10k latency.

    make bench-search        (or: .venv-actions/bin/python benchmarks/bench_search.py)
    .venv-actions/bin/python benchmarks/bench_search.py --no-nlu      (no Rasa env or model needed)
    ... --no-movielens      (the demo catalog alone; MovieLens embeds 9,742 movies, about 70 s here)

Demo catalog. Queries: benchmarks/data/search_queries.jsonl, each with attribute rules that
grade every product of the demo catalog (2 = meets every constraint and a use word, 1 = right
kind of product, 0 = not relevant). The three modes rank the whole catalog from the query text
alone, in the same run. The queries are split with a fixed seed into a validation third and a
held-out rest; nDCG@10 is reported on the held-out queries. The hybrid's joiner
(retrieval/fusion.py) is fixed in code, not fitted here: the validation queries only show how
the alternatives compare ("validation_ndcg_by_fusion"). Beside it: `hybrid_former_mix`, the mix
it replaced (0.7 × cosine + 0.3 × BM25 over the query's best BM25, its weight chosen on these
validation queries), `hybrid_without_feedback`, the joiner without its dense feedback (served
before the feedback came in), and `hybrid_with_feedback`, dense feedback over the whole catalog
(not served: retrieval/fusion.py says why).

MovieLens catalog (latest-small, read from --datasets, by default ../shared/datasets next to the
repository). movies.csv becomes a shop's export with its own column names (movieId, title,
genres, user_tags, price), ingested through the project's catalog reader with the mapping
benchmarks/data/movielens_mapping.json, as a shop would: the genres are the tags, and the
description is half of the movie's user tags (a fixed half of the (movie, tag) pairs by hash: a
shop's descriptions say some of what shoppers ask, not all). MovieLens has no prices; every movie
is 3.99. Queries are the user tags (tags.csv, lower-cased) applied to at least 5 movies, less
"in netflix queue" (a user's list, not a property): 177 queries. Grades: 2 = the movie carries
the tag (about half of them have it in their description), 1 = the movie has the genre most
common among the tag's movies, 0 = neither. The queries are split with a fixed seed into a
validation half (for any choice) and a test half (reported). No action row: the NLU is the demo
shop's.

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
import csv
import hashlib
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
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
from retrieval.catalog import catalog_path, load_mapping  # noqa: E402
from retrieval.embedder import Embedder, pick_device  # noqa: E402
from retrieval.fusion import HybridJoiner  # noqa: E402
from retrieval.product_index import ProductFilters, ProductIndex  # noqa: E402
from retrieval.product_search import CONSTRAINT_SLOTS, ProductSearch, SearchRequest, entity_values  # noqa: E402

QUERIES = ROOT / "benchmarks" / "data" / "search_queries.jsonl"
DATASETS = ROOT.parent / "shared" / "datasets"
MOVIE_MAPPING = ROOT / "benchmarks" / "data" / "movielens_mapping.json"
# A tag is a query when users applied it to this many movies.
MIN_TAGGED_MOVIES = 5
# Users' own lists, not something a movie is.
PERSONAL_TAGS = frozenset({"in netflix queue"})
# Beside the served joiner: without its dense feedback (served before it came in), and with
# feedback over the whole catalog, which drifts (retrieval/fusion.py says why it is not served).
NO_FEEDBACK = HybridJoiner(feedback_depth=0)
WHOLE_CATALOG_FEEDBACK = HybridJoiner(feedback_depth=10, feedback_pool=0)
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
RASA_MODEL = ROOT / "models" / "rasa" / "shop.tar.gz"
RESULTS = ROOT / "benchmarks" / "results"
MODES = ("bm25", "dense", "hybrid")
SEED = 42


def grade(product: dict[str, Any], rules: dict[str, Any]) -> int:
    text = " ".join(
        [product["title"], product["description"], " ".join(product.get("tags", [])), product.get("subcategory", "")]
    ).lower()
    terms = [t.lower() for t in rules.get("terms") or []]
    has_term = any(t in text for t in terms)
    category_ok = not rules.get("category") or product["category"] == rules["category"]
    brand_ok = not rules.get("brand") or product["brand"].lower() == str(rules["brand"]).lower()
    color_ok = not rules.get("color") or product["color"] == str(rules["color"]).lower()
    price_ok = (rules.get("price_max") is None or product["price"] <= float(rules["price_max"])) and (
        rules.get("price_min") is None or product["price"] >= float(rules["price_min"])
    )
    if category_ok and brand_ok and color_ok and price_ok and (has_term or not terms):
        return 2
    side = (rules.get("brand") and brand_ok) or (rules.get("color") and color_ok)
    if category_ok and (has_term or side):
        return 1
    return 0


def ndcg_at(ranked_grades: list[int], all_grades: list[int], k: int = 10) -> float:
    def dcg(grades: list[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades[:k]))

    ideal = dcg(sorted(all_grades, reverse=True))
    return dcg(ranked_grades) / ideal if ideal > 0 else 0.0


def demo_grade(product: dict[str, Any], query: dict[str, Any]) -> int:
    return grade(product, query["rules"])


def evaluate(
    index: ProductIndex,
    queries: list[dict],
    mode: str,
    grader: Callable[[dict[str, Any], dict[str, Any]], int] = demo_grade,
) -> float:
    """nDCG@10 of `mode` over the whole catalog from the query text alone; mode "former_mix" is
    the hybrid this project served before retrieval/fusion.py."""
    scores = []
    no_filters = ProductFilters(in_stock=False)
    for q in queries:
        grades = [grader(p, q) for p in index.products]
        if mode == "former_mix":
            ranked = [grades[i] for i in former_mix_top(index, q["query"])]
        else:
            hits = index.search(q["query"], no_filters, k=10, mode=mode)
            ranked = [grades[index.position(h.product["id"])] for h in hits]  # type: ignore[index]
        scores.append(ndcg_at(ranked, grades))
    return float(np.mean(scores))


def former_mix_top(index: ProductIndex, query: str, k: int = 10, bm25_weight: float = 0.3) -> list[int]:
    """The top `k` positions of the former hybrid: (1 - w) × cosine + w × BM25 / the query's best
    BM25 score, rating as the tie-break, as ProductIndex.search ranked them."""
    cosines = index.scores(query, "dense")[1]
    lexical = index.scores(query, "bm25")[2]
    fused = (
        (1 - bm25_weight) * cosines + bm25_weight * lexical + 1e-3 * np.asarray([p["rating"] for p in index.products])
    )
    return [int(i) for i in np.argsort(-fused, kind="stable")[:k]]


def fusion_choices(
    index: ProductIndex, queries: list[dict], grader: Callable[[dict[str, Any], dict[str, Any]], int]
) -> dict[str, float]:
    """Validation nDCG@10 of the served joiner and its neighbours (the joiner is left as served)."""
    served = index.fusion
    choices = {
        "served": served,
        "no_feedback": NO_FEEDBACK,
        "lexical_weight_0.3": HybridJoiner(lexical_weight=0.3, feedback_depth=0),
        "lexical_weight_0.7": HybridJoiner(lexical_weight=0.7, feedback_depth=0),
        "rrf": HybridJoiner(method="rrf", feedback_depth=0),
        # Dense feedback over the whole catalog (feedback_pool=0), and within the first join's best.
        "feedback_depth_5": HybridJoiner(feedback_depth=5, feedback_pool=0),
        "feedback_depth_10": WHOLE_CATALOG_FEEDBACK,
        "feedback_depth_20": HybridJoiner(feedback_depth=20, feedback_pool=0),
        "feedback_depth_10_weight_0.3": HybridJoiner(feedback_depth=10, feedback_weight=0.3, feedback_pool=0),
        "pool_20_depth_5": HybridJoiner(feedback_depth=5, feedback_pool=20),
        "pool_20_depth_10": HybridJoiner(feedback_depth=10, feedback_pool=20),
        "pool_20_depth_3_weight_0.3": HybridJoiner(feedback_depth=3, feedback_weight=0.3, feedback_pool=20),
        "pool_20_depth_3_weight_0.7": HybridJoiner(feedback_depth=3, feedback_weight=0.7, feedback_pool=20),
        "pool_50_depth_3": HybridJoiner(feedback_depth=3, feedback_pool=50),
    }
    scores = {}
    try:
        for name, joiner in choices.items():
            index.fusion = joiner
            scores[name] = round(evaluate(index, queries, "hybrid", grader), 4)
    finally:
        index.fusion = served
    scores["former_mix_bm25_weight_0.3"] = round(evaluate(index, queries, "former_mix", grader), 4)
    scores |= {f"{mode}_alone": round(evaluate(index, queries, mode, grader), 4) for mode in ("bm25", "dense")}
    return scores


def nlu_parses(queries_file: Path, model: Path) -> dict[str, dict]:
    """{query id: {"intent", "entities"}} from the trained Rasa model, parsed in the Rasa env."""
    if not RASA_PYTHON.exists() or not model.exists():
        raise SystemExit(
            f"product_search needs the Rasa env and a trained model ({model}): run `make envs train`, "
            "or pass --no-nlu for the text-only modes"
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "parses.json"
        subprocess.run(
            [
                str(RASA_PYTHON),
                str(ROOT / "benchmarks" / "parse_with_nlu.py"),
                str(queries_file),
                str(out),
                "--model",
                str(model),
            ],
            check=True,
            cwd=ROOT,
        )
        return json.loads(out.read_text(encoding="utf-8"))


def search_request(query: dict, parse: dict) -> SearchRequest:
    """The request `action_search_products` builds for a new search: the whole message plus the
    constraints among this message's entities."""
    entities = entity_values(parse.get("entities"))
    return SearchRequest(
        query=query["query"], **{field: entities.get(slot) for slot, field in CONSTRAINT_SLOTS.items()}
    )


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


# ---- a second catalog nobody tuned on: MovieLens movies as a shop's catalog -----------------


def movie_tags(folder: Path) -> dict[str, set[str]]:
    """{tag (lowercased): the ids of the movies users applied it to}."""
    carriers: dict[str, set[str]] = {}
    with (folder / "tags.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            tag = " ".join(row["tag"].lower().split())
            if tag:
                carriers.setdefault(tag, set()).add(row["movieId"])
    return carriers


def query_tags(carriers: dict[str, set[str]]) -> list[str]:
    """The tags that become queries: applied to at least MIN_TAGGED_MOVIES movies, less the
    users' own lists."""
    return sorted(t for t, movies in carriers.items() if len(movies) >= MIN_TAGGED_MOVIES and t not in PERSONAL_TAGS)


def described(movie: str, tag: str) -> bool:
    """Whether the shop's description of `movie` has `tag`: a fixed half of the (movie, tag)
    pairs, by hash, so half of a query's movies say its words and the rest must be found
    by their other words."""
    return hashlib.sha256(f"{movie}|{tag}".encode()).digest()[0] % 2 == 0


def write_movie_catalog(folder: Path, out: Path) -> Path:
    """movies.csv as a shop's export with its own column names (read through MOVIE_MAPPING):
    the genres as tags and half of the movie's user tags (`described`) as its description.
    MovieLens has no prices: every movie is 3.99."""
    keywords: dict[str, list[str]] = {}
    for tag, movies in sorted(movie_tags(folder).items()):
        for movie in sorted(movies):
            if tag not in PERSONAL_TAGS and described(movie, tag):
                keywords.setdefault(movie, []).append(tag)
    with (
        (folder / "movies.csv").open(encoding="utf-8", newline="") as source,
        out.open("w", encoding="utf-8", newline="") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(["movieId", "title", "genres", "user_tags", "price"])
        for row in csv.DictReader(source):
            genres = "" if row["genres"] == "(no genres listed)" else row["genres"]
            writer.writerow([row["movieId"], row["title"], genres, ", ".join(keywords.get(row["movieId"], [])), "3.99"])
    return out


def movie_queries(folder: Path) -> list[dict[str, Any]]:
    """One query per tag of `query_tags`: its carriers (grade 2) and its most common genre among
    them (grade 1 for any movie of that genre)."""
    with (folder / "movies.csv").open(encoding="utf-8", newline="") as handle:
        genres = {
            row["movieId"]: [g.lower() for g in row["genres"].split("|") if g != "(no genres listed)"]
            for row in csv.DictReader(handle)
        }
    carriers = movie_tags(folder)
    queries = []
    for tag in query_tags(carriers):
        counts = Counter(g for movie in carriers[tag] for g in genres.get(movie, []))
        genre = min(counts, key=lambda g: (-counts[g], g)) if counts else None
        queries.append({"id": f"tag:{tag}", "query": tag, "relevant": frozenset(carriers[tag]), "genre": genre})
    return queries


def movie_grade(product: dict[str, Any], query: dict[str, Any]) -> int:
    if product["id"] in query["relevant"]:
        return 2
    return 1 if query["genre"] and query["genre"] in product["tags"] else 0


def latency(index: ProductIndex, embedder: Embedder, n_products: int, queries: list[dict]) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    base_products, base_matrix = index.products, index.matrix
    products, rows = [], []
    for i in range(n_products):
        source = base_products[i % len(base_products)]
        products.append({**source, "id": f"S{i:05d}", "price": round(source["price"] * rng.uniform(0.7, 1.3), 2)})
        vector = base_matrix[i % len(base_products)] + rng.normal(0, 0.02, base_matrix.shape[1])
        rows.append(vector / np.linalg.norm(vector))
    big = ProductIndex(index_path=index.index_path, collection="latency", embedder=embedder, fusion=index.fusion)
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


def movie_benchmark(folder: Path, embedder: Embedder, fusion: HybridJoiner) -> dict[str, Any]:
    """The MovieLens catalog ingested as a shop's catalog; BM25, dense, hybrid and its alternatives
    on its test half, the joiner's choices on its validation half."""
    if not (folder / "movies.csv").exists() or not (folder / "tags.csv").exists():
        raise SystemExit(
            f"the MovieLens catalog needs movies.csv and tags.csv in {folder}: pass --datasets, "
            "or --no-movielens for the demo catalog alone"
        )
    queries = movie_queries(folder)
    shuffled = queries[:]
    random.Random(SEED).shuffle(shuffled)
    validation, test = shuffled[: len(queries) // 2], shuffled[len(queries) // 2 :]
    with tempfile.TemporaryDirectory() as tmp:
        export = write_movie_catalog(folder, Path(tmp) / "movies.csv")
        index = ProductIndex(index_path=Path(tmp) / "index", collection="movies", embedder=embedder, fusion=fusion)
        started = time.perf_counter()
        report = index.ingest(export, load_mapping(MOVIE_MAPPING), progress=True)
        ingest_s = time.perf_counter() - started
        index.warm_up()
        choices = fusion_choices(index, validation, movie_grade)
        table = {mode: {"ndcg_at_10": round(evaluate(index, test, mode, movie_grade), 4)} for mode in MODES}
        others = alternatives(index, test, movie_grade)
    return {
        "catalog": {
            "source": "movielens-latest-small",
            "products": report.total,
            "skipped": len(report.skipped),
            "mapping": in_repository(MOVIE_MAPPING),
            "ingest_s": round(ingest_s, 1),
        },
        "queries": {
            "total": len(queries),
            "validation": len(validation),
            "test": len(test),
            "min_tagged_movies": MIN_TAGGED_MOVIES,
        },
        "validation_ndcg_by_fusion": choices,
        **table,
        **others,
        "ratios": ratios_of(table),
    }


def alternatives(
    index: ProductIndex, queries: list[dict], grader: Callable[[dict[str, Any], dict[str, Any]], int]
) -> dict[str, dict[str, float]]:
    """The hybrids this project served before (the former mix, and the joiner without its dense
    feedback) and the joiner with feedback over the whole catalog."""
    served = index.fusion
    others = {}
    try:
        for name, joiner in (
            ("hybrid_without_feedback", NO_FEEDBACK),
            ("hybrid_with_feedback", WHOLE_CATALOG_FEEDBACK),
        ):
            index.fusion = joiner
            others[name] = {"ndcg_at_10": round(evaluate(index, queries, "hybrid", grader), 4)}
    finally:
        index.fusion = served
    return {"hybrid_former_mix": {"ndcg_at_10": round(evaluate(index, queries, "former_mix", grader), 4)}, **others}


def ratios_of(table: dict[str, dict[str, float]]) -> dict[str, float]:
    hybrid = table["hybrid"]["ndcg_at_10"]
    best = max(table["bm25"]["ndcg_at_10"], table["dense"]["ndcg_at_10"])
    return {
        "hybrid_over_bm25": round(hybrid / table["bm25"]["ndcg_at_10"], 3),
        "hybrid_over_dense": round(hybrid / table["dense"]["ndcg_at_10"], 3),
        "hybrid_over_better_single": round(hybrid / best, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--catalog", type=Path, default=catalog_path())
    parser.add_argument("--out", type=Path, default=RESULTS / "search.json")
    parser.add_argument(
        "--model", type=Path, default=RASA_MODEL, help="the trained Rasa model whose NLU feeds product_search"
    )
    parser.add_argument("--no-nlu", action="store_true", help="text-only modes; no Rasa env or model needed")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="the folder holding movielens-latest-small")
    parser.add_argument("--no-movielens", action="store_true", help="the demo catalog alone")
    args = parser.parse_args()

    queries = [json.loads(line) for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    shuffled = queries[:]
    random.Random(SEED).shuffle(shuffled)
    validation, test = shuffled[: len(queries) // 3], shuffled[len(queries) // 3 :]
    parses = None if args.no_nlu else nlu_parses(args.queries, args.model)
    embedder = Embedder()
    embedder.warm_up()
    fusion = HybridJoiner()
    with tempfile.TemporaryDirectory() as tmp:
        index = ProductIndex(index_path=tmp, collection="bench", embedder=embedder, fusion=fusion)
        index.ingest(args.catalog, progress=False)
        index.warm_up()
        val_scores = fusion_choices(index, validation, demo_grade)
        table = {mode: {"ndcg_at_10": round(evaluate(index, test, mode), 4)} for mode in MODES}
        others = alternatives(index, test, demo_grade)
        with_nlu: dict[str, dict[str, float]] = {}
        if parses is not None:
            table["product_search"] = {"ndcg_at_10": round(evaluate_with_nlu(index, test, parses, "hybrid"), 4)}
            with_nlu = {
                f"{mode}_with_nlu_filters": {"ndcg_at_10": round(evaluate_with_nlu(index, test, parses, mode), 4)}
                for mode in ("bm25", "dense")
            }
        lat = latency(index, embedder, 10_000, queries)
    movies = None if args.no_movielens else movie_benchmark(args.datasets / "movielens-latest-small", embedder, fusion)

    ratios = ratios_of(table)
    if parses is not None:
        full = table["product_search"]["ndcg_at_10"]
        baselines = {"bm25": table["bm25"], "dense": table["dense"], **with_nlu}
        ratios |= {f"product_search_over_{name}": round(full / row["ndcg_at_10"], 3) for name, row in baselines.items()}
    result = {
        "benchmark": "product search",
        "command": "make bench-search",
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "queries": {"total": len(queries), "validation": len(validation), "test": len(test)},
        "hybrid_fusion": fusion.config,
        "validation_ndcg_by_fusion": val_scores,
        **table,
        **with_nlu,
        **others,
        "ratios": ratios,
        "nlu_model": None if parses is None else in_repository(args.model),
        "latency_10k": lat,
        "movielens": movies,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nProduct search, nDCG@10 (hybrid: {fusion.config})")
    catalogs = {f"demo catalog, {len(test)} held-out queries": {**table, **with_nlu, **others}}
    if movies is not None:
        catalogs[f"MovieLens catalog, {movies['queries']['test']} test tag queries"] = {
            mode: movies[mode] for mode in (*MODES, *others)
        }
    print(f"  {'':<26} " + "  ".join(f"{name:>{len(name)}}" for name in catalogs))
    rows = dict.fromkeys(row for table_ in catalogs.values() for row in table_)
    for row in rows:
        cells = [f"{t[row]['ndcg_at_10']:.3f}" if row in t else "-" for t in catalogs.values()]
        print(f"  {row:<26} " + "  ".join(f"{c:>{len(name)}}" for c, name in zip(cells, catalogs, strict=True)))
    for name, ratio in ratios.items():
        print(f"  demo {name:<44} {ratio:.2f}x")
    if movies is not None:
        for name, ratio in movies["ratios"].items():
            print(f"  MovieLens {name:<39} {ratio:.2f}x")
    print(
        f"search latency, {lat['products']} products on {lat['device']}: p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
