"""Recommender benchmark: MovieLens latest-small, each signal alone vs the fused ranker; 10k latency.

    make bench-recommender     (or: .venv-actions/bin/python benchmarks/bench_recommender.py)

MovieLens is read by path from ../shared/datasets/movielens-latest-small (never copied). Each
user's last 20% of ratings by time is held out; every model ranks the FULL catalog for each user
(no sampled negatives), the user's training items excluded. Relevance: any held-out rating.
The fusion weights are fitted on a validation split carved from the training part by time.
Latency: recommend() on a 10,000-product synthetic catalog. Writes
benchmarks/results/recommender.json and recommender_ndcg.png, prints a table.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.timing import latency_ms  # noqa: E402
from retrieval.embedder import Embedder, pick_device  # noqa: E402
from retrieval.recommender import FEATURES, FusedRecommender, temporal_split  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "movielens-latest-small"
RESULTS = ROOT / "benchmarks" / "results"
K = 10


def load_movielens(folder: Path) -> tuple[list[dict], list[dict]]:
    tags: dict[str, list[str]] = defaultdict(list)
    with open(folder / "tags.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            tags[row["movieId"]].append(row["tag"])
    with open(folder / "movies.csv", encoding="utf-8") as handle:
        movies = [{"id": row["movieId"], "title": row["title"], "subcategory": row["genres"].split("|")[0].lower(),
                   "text": f"{row['title']}. {row['genres'].replace('|', ', ')}. {' '.join(sorted(set(tags[row['movieId']]))[:20])}"}
                  for row in csv.DictReader(handle)]
    ratings = []
    with open(folder / "ratings.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            ratings.append({"customer_id": row["userId"], "product_id": row["movieId"], "rating": float(row["rating"]),
                            "ts": datetime.fromtimestamp(int(row["timestamp"]), tz=timezone.utc)})
    return movies, ratings


def as_interactions(ratings: list[dict]) -> list[dict]:
    """A rating says the user watched it (a view); 4 stars or more also says they liked it."""
    out = []
    for r in ratings:
        out.append({**r, "event": "view", "value": None})
        if r["rating"] >= 4:
            out.append({**r, "event": "rating", "value": r["rating"]})
    return out


def ranking_metrics(scores: torch.Tensor, train_items: dict[int, set[int]], test_items: dict[int, set[int]],
                    users: list[int]) -> dict[str, float]:
    hits, ndcgs = [], []
    for row, user in enumerate(users):
        s = scores[row].clone()
        s[list(train_items.get(user, ()))] = float("-inf")
        top = torch.topk(s, K).indices.tolist()
        relevant = test_items[user]
        gains = [1.0 if item in relevant else 0.0 for item in top]
        ideal = sum(1 / math.log2(i + 2) for i in range(min(K, len(relevant))))
        hits.append(1.0 if any(gains) else 0.0)
        ndcgs.append(sum(g / math.log2(i + 2) for i, g in enumerate(gains)) / ideal)
    return {"hr_at_10": round(float(np.mean(hits)), 4), "ndcg_at_10": round(float(np.mean(ndcgs)), 4)}


def movielens(args: argparse.Namespace, embedder: Embedder) -> dict:
    movies, ratings = load_movielens(args.data)
    train_ratings, test_ratings = temporal_split(ratings, holdout=0.2)
    # Rating prior from the training part only (no peeking at held-out ratings).
    stats: dict[str, list[float]] = defaultdict(list)
    for r in train_ratings:
        stats[r["product_id"]].append(r["rating"])
    for movie in movies:
        values = stats.get(movie["id"], [])
        movie["rating"], movie["rating_count"] = (float(np.mean(values)) if values else 0.0), len(values)
    started = time.perf_counter()
    vectors = embedder.encode([m["text"] for m in movies], show_progress=True)
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    model = FusedRecommender(dim=args.dim, epochs=args.epochs).fit(as_interactions(train_ratings), movies, vectors)
    fit_s = time.perf_counter() - started

    position = {pid: i for i, pid in enumerate(model.item_ids)}
    train_items: dict[int, set[int]] = defaultdict(set)
    test_items: dict[int, set[int]] = defaultdict(set)
    user_of = {u: i for i, u in enumerate(model.user_ids)}
    for r in train_ratings:
        train_items[user_of[r["customer_id"]]].add(position[r["product_id"]])
    for r in test_ratings:
        if r["customer_id"] in user_of and r["product_id"] in position:
            item = position[r["product_id"]]
            if item not in train_items[user_of[r["customer_id"]]]:
                test_items[user_of[r["customer_id"]]].add(item)
    users = sorted(u for u in test_items if test_items[u])
    features = torch.stack([model.features(model.user_ids[u], [], None) for u in users])  # (users, items, F)
    table = {}
    for name, column in (("popularity", "popularity"), ("collaborative", "collaborative"), ("content", "semantic")):
        table[name] = ranking_metrics(features[:, :, FEATURES.index(column)], train_items, test_items, users)
    table["fused"] = ranking_metrics(features @ model.tensors["w_warm"], train_items, test_items, users)
    best_single = max(table[n]["ndcg_at_10"] for n in ("popularity", "collaborative", "content"))
    return {
        "data": "movielens-latest-small (ratings.csv, movies.csv, tags.csv)",
        "split": "per user, last 20% of ratings by time held out; full-catalog ranking, train items excluded",
        "users_evaluated": len(users), "items": len(movies), "train_ratings": len(train_ratings),
        "test_ratings": len(test_ratings), **table,
        "fused_over_best_single": round(table["fused"]["ndcg_at_10"] / best_single, 3) if best_single else None,
        "fusion": model.report, "train_seconds": {"embed_items": round(embed_s, 1), "fit_all": round(fit_s, 1)},
    }


def latency(n_products: int = 10_000, n_users: int = 2_000, dim: int = 48, runs: int = 200) -> dict:
    rng = np.random.default_rng(0)
    model = FusedRecommender(dim=dim)
    model.item_ids = [f"S{i:05d}" for i in range(n_products)]
    model.items = [{"id": pid, "title": f"Product {pid}", "subcategory": "things", "rating": 4.2, "rating_count": 10}
                   for pid in model.item_ids]
    model.user_ids = [f"U{i}" for i in range(n_users)]
    model.user_items = {u: sorted(rng.choice(n_products, 20, replace=False).tolist()) for u in model.user_ids}
    vectors = rng.normal(size=(n_products, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    model.tensors = {
        "user_emb": torch.randn(n_users, dim), "item_emb": torch.randn(n_products, dim),
        "item_vectors": torch.as_tensor(vectors), "popularity": torch.rand(n_products),
        "sentiment": torch.rand(n_products), "rating": torch.rand(n_products),
        "w_warm": torch.rand(len(FEATURES)), "w_cold": torch.rand(len(FEATURES)),
    }
    query = vectors[0]
    timings = []
    for i in range(runs + 10):
        start = time.perf_counter()
        model.recommend(model.user_ids[i % n_users] if i % 2 else None, [model.item_ids[i]], query, k=5)
        if i >= 10:
            timings.append((time.perf_counter() - start) * 1000)
    return {"products": n_products, "device": pick_device(), **latency_ms(timings), "calls": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dim", type=int, default=48)
    parser.add_argument("--out", type=Path, default=RESULTS / "recommender.json")
    args = parser.parse_args()
    if not args.data.exists():
        parser.error(f"{args.data} not found (the public data sets; see DEVELOPERS.md)")
    embedder = Embedder()
    embedder.warm_up()
    result = {"benchmark": "recommender", "command": "make bench-recommender",
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
              "movielens": movielens(args, embedder), "latency_10k": latency()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    ml = result["movielens"]
    print(f"\nMovieLens latest-small, {ml['users_evaluated']} users, full ranking of {ml['items']} items")
    print(f"{'signal':<14} {'HR@10':>7} {'NDCG@10':>8}")
    for name in ("popularity", "collaborative", "content", "fused"):
        print(f"{name:<14} {ml[name]['hr_at_10']:>7.4f} {ml[name]['ndcg_at_10']:>8.4f}")
    print(f"fused / best single NDCG@10 = {ml['fused_over_best_single']}x; training {ml['train_seconds']}")
    lat = result["latency_10k"]
    print(f"recommend() on {lat['products']} products ({lat['device']}): p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
