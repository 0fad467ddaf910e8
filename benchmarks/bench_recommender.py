"""Recommender benchmark: MovieLens latest-small, the fused ranker vs strong peers (EASE, item
counts, item-kNN, BPR) and vs its own signals; 10k latency.

    make bench-recommender     (or: .venv-actions/bin/python benchmarks/bench_recommender.py)

MovieLens is read by path from ../shared/datasets/movielens-latest-small (never copied). Each
user's last 20% of ratings by time is held out; every model ranks the FULL catalog for each user
(no sampled negatives), the user's training items excluded. Relevance: any held-out rating.
Everything tuned is tuned on a validation split carved from the training part by time (each
user's last 20% of their training ratings), never on the test split: the fused model's settings
and fusion weights inside `fit`, the peers' λ / neighbourhood size here. The peers run in the
same process on the same split: EASE (Steck 2019, binary matrix, λ from the validation grid; its
scores are checked against the textbook dense inverse), plain item counts, item-kNN (cosine,
neighbours from the validation grid) and BPR (the matrix factorisation the fused model used to
carry). The fused model scores each user at the moment of their last training rating (its
popularity counts only what happened before that moment); the peers use no time.
Latency: recommend() on a 10,000-product synthetic catalog, after fitting on a synthetic log.
Writes benchmarks/results/recommender.json, prints a table.
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
from retrieval.ease import EASE  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.recommender import FEATURES, FusedRecommender, temporal_split  # noqa: E402
from shop.device import pick_device  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "movielens-latest-small"
RESULTS = ROOT / "benchmarks" / "results"
K = 10
EASE_L2_GRID = (50, 100, 200, 500, 1000, 2000)
KNN_GRID = (20, 50, 100, 200, None)  # None: every neighbour


def load_movielens(folder: Path) -> tuple[list[dict], list[dict]]:
    tags: dict[str, list[str]] = defaultdict(list)
    with open(folder / "tags.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            tags[row["movieId"]].append(row["tag"])
    with open(folder / "movies.csv", encoding="utf-8") as handle:
        movies = [
            {
                "id": row["movieId"],
                "title": row["title"],
                "subcategory": row["genres"].split("|")[0].lower(),
                "text": f"{row['title']}. {row['genres'].replace('|', ', ')}. "
                + " ".join(sorted(set(tags[row["movieId"]]))[:20]),
            }
            for row in csv.DictReader(handle)
        ]
    ratings = []
    with open(folder / "ratings.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            ratings.append(
                {
                    "customer_id": row["userId"],
                    "product_id": row["movieId"],
                    "rating": float(row["rating"]),
                    "ts": datetime.fromtimestamp(int(row["timestamp"]), tz=timezone.utc),
                }
            )
    return movies, ratings


def as_interactions(ratings: list[dict]) -> list[dict]:
    """A rating says the user watched it (a view); 4 stars or more also says they liked it."""
    out = []
    for r in ratings:
        out.append({**r, "event": "view", "value": None})
        if r["rating"] >= 4:
            out.append({**r, "event": "rating", "value": r["rating"]})
    return out


def ranking_metrics(scores: torch.Tensor, train_items: list[set[int]], test_items: list[set[int]]) -> dict[str, float]:
    """HR@10 and NDCG@10 over the full catalog, each user's training items excluded."""
    hits, ndcgs = [], []
    for row, (seen, relevant) in enumerate(zip(train_items, test_items, strict=True)):
        s = scores[row].float().clone()
        s[list(seen)] = float("-inf")
        top = torch.topk(s, K).indices.tolist()
        gains = [1.0 if item in relevant else 0.0 for item in top]
        ideal = sum(1 / math.log2(i + 2) for i in range(min(K, len(relevant))))
        hits.append(1.0 if any(gains) else 0.0)
        ndcgs.append(sum(g / math.log2(i + 2) for i, g in enumerate(gains)) / ideal)
    return {"hr_at_10": round(float(np.mean(hits)), 4), "ndcg_at_10": round(float(np.mean(ndcgs)), 4)}


class Split:
    """Users, their training items and their held-out items (relevant: any held-out rating not
    already in training), as item positions."""

    def __init__(self, train: list[dict], held: list[dict], position: dict[str, int]) -> None:
        self.n_items, self.item_of = len(position), position
        self.train_items: dict[str, set[int]] = defaultdict(set)
        self.last_seen: dict[str, datetime] = {}
        for r in train:
            self.train_items[r["customer_id"]].add(position[r["product_id"]])
            self.last_seen[r["customer_id"]] = max(r["ts"], self.last_seen.get(r["customer_id"], r["ts"]))
        self.test_items: dict[str, set[int]] = defaultdict(set)
        for r in held:
            item = position[r["product_id"]]
            if r["customer_id"] in self.train_items and item not in self.train_items[r["customer_id"]]:
                self.test_items[r["customer_id"]].add(item)
        self.users = sorted(u for u, items in self.test_items.items() if items)
        self.all_users = sorted(self.train_items)
        self.train = train

    def matrix(self, users: list[str] | None = None) -> torch.Tensor:
        """(users, items) binary: did the user rate the movie in training."""
        users = self.all_users if users is None else users
        X = torch.zeros(len(users), self.n_items)
        for row, user in enumerate(users):
            X[row, list(self.train_items[user])] = 1.0
        return X

    def metrics(self, scores: torch.Tensor) -> dict[str, float]:
        return ranking_metrics(
            scores, [self.train_items[u] for u in self.users], [self.test_items[u] for u in self.users]
        )


def ease_textbook(X: torch.Tensor, l2: float) -> torch.Tensor:
    """Steck's closed form as written in the paper: B = I - P / diag(P), P = (XᵀX + λI)⁻¹."""
    G = X.T @ X
    G.diagonal().add_(l2)
    P = torch.linalg.inv(G)
    B = -P / P.diagonal()
    B.diagonal().zero_()
    return B


def ease_peer(validation: Split, test: Split, check: bool) -> dict:
    started = time.perf_counter()
    model = EASE(device=pick_device()).fit(validation.matrix())
    query = validation.matrix(validation.users)
    sweep = {str(l2): validation.metrics(model.set_l2(l2).scores(query))["ndcg_at_10"] for l2 in EASE_L2_GRID}
    l2 = max(EASE_L2_GRID, key=lambda x: sweep[str(x)])
    tune_s = time.perf_counter() - started
    started = time.perf_counter()
    model = EASE(l2, device=pick_device()).fit(test.matrix())
    train_s = time.perf_counter() - started
    query = test.matrix(test.users)
    scores = model.scores(query).cpu()
    row = {
        **test.metrics(scores),
        "train_seconds": round(train_s, 1),
        "tune_seconds": round(tune_s, 1),
        "l2": l2,
        "form": model.form,
        "validation_ndcg_at_10": sweep,
    }
    if check:
        started = time.perf_counter()
        textbook = query @ ease_textbook(test.matrix(), float(l2))
        row["textbook_check"] = {
            "max_abs_score_difference": round(float((textbook - scores).abs().max()), 6),
            **test.metrics(textbook),
            "seconds": round(time.perf_counter() - started, 1),
        }
    return row


def knn_scores(X: torch.Tensor, query: torch.Tensor, neighbours: int | None) -> torch.Tensor:
    """Item-kNN: cosine between items' user columns; each item keeps its `neighbours` nearest."""
    G = X.T @ X
    norms = G.diagonal().sqrt().clamp_min(1e-9)
    S = G / norms[:, None] / norms[None, :]
    S.diagonal().zero_()
    if neighbours is not None:
        values, index = torch.topk(S, neighbours, dim=0)  # each target item's nearest neighbours
        S = torch.zeros_like(S).scatter_(0, index, values)
    return query @ S


def knn_peer(validation: Split, test: Split) -> dict:
    started = time.perf_counter()
    X, query = validation.matrix(), validation.matrix(validation.users)
    sweep = {str(k): validation.metrics(knn_scores(X, query, k))["ndcg_at_10"] for k in KNN_GRID}
    neighbours = max(KNN_GRID, key=lambda x: sweep[str(x)])
    tune_s = time.perf_counter() - started
    started = time.perf_counter()
    scores = knn_scores(test.matrix(), test.matrix(test.users), neighbours)
    return {
        **test.metrics(scores),
        "train_seconds": round(time.perf_counter() - started, 1),
        "tune_seconds": round(tune_s, 1),
        "neighbours": neighbours,
        "validation_ndcg_at_10": sweep,
    }


def bpr_scores(test: Split, interactions: list[dict], dim: int, epochs: int, seed: int = 42) -> torch.Tensor:
    """The BPR matrix factorisation the fused model carried until EASE replaced it, unchanged:
    weighted positives sampled in proportion to their interaction weight, uniform negatives."""
    from retrieval.recommender import interaction_weight

    user_of = {u: i for i, u in enumerate(test.all_users)}
    pairs: dict[tuple[int, int], float] = defaultdict(float)
    for r in interactions:
        weight = interaction_weight(r["event"], r.get("value"))
        if weight > 0:
            pairs[(user_of[r["customer_id"]], test.item_of[r["product_id"]])] += weight
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    users_t = torch.nn.Embedding(len(user_of), dim)
    items_t = torch.nn.Embedding(test.n_items, dim)
    torch.nn.init.normal_(users_t.weight, std=0.1, generator=generator)
    torch.nn.init.normal_(items_t.weight, std=0.1, generator=generator)
    keys = torch.as_tensor(list(pairs.keys()), dtype=torch.long)
    weights = torch.as_tensor(list(pairs.values()), dtype=torch.float32)
    optimizer = torch.optim.Adam([users_t.weight, items_t.weight], lr=0.02)
    samples = len(keys) * 4
    for _ in range(epochs):
        chosen = torch.multinomial(weights, samples, replacement=True, generator=generator)
        negatives = torch.randint(0, test.n_items, (samples,), generator=generator)
        for start in range(0, samples, 4096):
            batch = chosen[start : start + 4096]
            pu, qi, qj = users_t(keys[batch, 0]), items_t(keys[batch, 1]), items_t(negatives[start : start + 4096])
            loss = (
                -torch.nn.functional.logsigmoid((pu * (qi - qj)).sum(-1)).mean()
                + 1e-4 * (pu.pow(2).sum(-1) + qi.pow(2).sum(-1) + qj.pow(2).sum(-1)).mean()
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    rows = torch.as_tensor([user_of[u] for u in test.users])
    return (users_t.weight[rows] @ items_t.weight.T).detach()


def popularity_log_end(test: Split, interactions: list[dict], half_life_days: float = 30.0) -> torch.Tensor:
    """The popularity signal as it was: every interaction decayed towards the end of the whole
    log (30-day half-life), the same vector for every user whatever their moment."""
    from retrieval.recommender import interaction_weight

    now = max(r["ts"] for r in interactions)
    pop = torch.zeros(test.n_items, dtype=torch.float64)
    for r in interactions:
        weight = interaction_weight(r["event"], r.get("value"))
        if weight > 0:
            age = (now - r["ts"]).total_seconds()
            pop[test.item_of[r["product_id"]]] += weight * math.exp(-max(age, 0.0) / (half_life_days * 86400.0))
    return pop.float().expand(len(test.users), -1)


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
    interactions = as_interactions(train_ratings)
    started = time.perf_counter()
    model = FusedRecommender().fit(interactions, movies, vectors)
    fit_s = time.perf_counter() - started

    position = {pid: i for i, pid in enumerate(model.item_ids)}
    test = Split(train_ratings, test_ratings, position)
    # The peers' validation split: carved from the training part by time, as the fused model's.
    validation = Split(*temporal_split(train_ratings, holdout=0.2), position)
    features = model.batch_features(test.users, at=[test.last_seen[u] for u in test.users])  # (users, items, F)
    fused = {**test.metrics(features @ model.tensors["w_warm"]), "train_seconds": round(fit_s, 1)}
    signals = {
        name: test.metrics(features[:, :, FEATURES.index(name)])
        for name in ("collaborative", "sequence", "semantic", "popularity")
    }
    # The same model with popularity at the end of the training log for everyone (as the shop
    # serves): the gain over the peers does not come from knowing each user's moment.
    features = model.batch_features(test.users)
    fused["ndcg_at_10_popularity_at_log_end"] = test.metrics(features @ model.tensors["w_warm"])["ndcg_at_10"]
    del features
    peers: dict[str, dict] = {}
    started = time.perf_counter()
    counts = test.matrix().sum(0)
    peers["item_counts"] = {
        **test.metrics(counts.expand(len(test.users), -1)),
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    print("EASE peer (λ on validation) ...", flush=True)
    peers["ease"] = ease_peer(validation, test, check=not args.skip_textbook_check)
    print("item-kNN peer (neighbours on validation) ...", flush=True)
    peers["item_knn"] = knn_peer(validation, test)
    print("BPR peer ...", flush=True)
    started = time.perf_counter()
    bpr = bpr_scores(test, interactions, args.bpr_dim, args.bpr_epochs)
    peers["bpr"] = {
        **test.metrics(bpr),
        "train_seconds": round(time.perf_counter() - started, 1),
        "dim": args.bpr_dim,
        "epochs": args.bpr_epochs,
    }
    peers["popularity_decayed_to_log_end"] = test.metrics(popularity_log_end(test, interactions))
    ease = peers["ease"]["ndcg_at_10"]
    others = max(peers[n]["ndcg_at_10"] for n in ("item_counts", "item_knn", "bpr"))
    return {
        "data": "movielens-latest-small (ratings.csv, movies.csv, tags.csv)",
        "split": "per user, last 20% of ratings by time held out; full-catalog ranking, train items excluded",
        "users_evaluated": len(test.users),
        "items": len(movies),
        "train_ratings": len(train_ratings),
        "test_ratings": len(test_ratings),
        "fused": fused,
        "fused_signals": signals,
        "peers": peers,
        "fused_over_ease": round(fused["ndcg_at_10"] / ease, 3),
        "fused_over_best_other_peer": round(fused["ndcg_at_10"] / others, 3),
        "target": "fused NDCG@10 >= 1.1x EASE and >= 1.2x the best other peer",
        "target_met": fused["ndcg_at_10"] >= 1.1 * ease and fused["ndcg_at_10"] >= 1.2 * others,
        "fusion": model.report,
        "train_seconds": {"embed_items": round(embed_s, 1), "fit_all": round(fit_s, 1)},
    }


def print_table(ml: dict) -> None:
    print(f"\nMovieLens latest-small, {ml['users_evaluated']} users, full ranking of {ml['items']} items")
    print(f"{'model':<44} {'HR@10':>7} {'NDCG@10':>8} {'train s':>8}")
    peers = ml["peers"]
    rows = [
        ("fused (ours)", ml["fused"]),
        (f"EASE (λ={peers['ease']['l2']} on validation)", peers["ease"]),
        ("item counts", peers["item_counts"]),
        (f"item-kNN cosine ({peers['item_knn']['neighbours'] or 'all'} neighbours)", peers["item_knn"]),
        ("BPR (the former collaborative signal)", peers["bpr"]),
        ("popularity decayed to the log's end (before)", peers["popularity_decayed_to_log_end"]),
    ]
    rows += [(f"  fused's {name} signal alone", row) for name, row in ml["fused_signals"].items()]
    for name, row in rows:
        seconds = f"{row['train_seconds']:>8.1f}" if "train_seconds" in row else f"{'':>8}"
        print(f"{name:<44} {row['hr_at_10']:>7.4f} {row['ndcg_at_10']:>8.4f} {seconds}")
    print(
        f"fused with popularity at the log's end for every user: NDCG@10 "
        f"{ml['fused']['ndcg_at_10_popularity_at_log_end']}"
    )
    check = peers["ease"].get("textbook_check")
    if check:
        print(
            f"EASE vs textbook dense inverse: NDCG@10 {check['ndcg_at_10']}, max |Δscore| "
            f"{check['max_abs_score_difference']}"
        )
    print(
        f"fused / EASE = {ml['fused_over_ease']}x, fused / best other peer = {ml['fused_over_best_other_peer']}x "
        f"(target met: {ml['target_met']}); training {ml['train_seconds']}"
    )


def latency(n_products: int = 10_000, n_users: int = 2_000, runs: int = 200) -> dict:
    """A model fitted on a synthetic log (Zipf-popular products, 20 per customer over a year),
    so the large-catalog form (low-rank EASE) is the one timed."""
    rng = np.random.default_rng(0)
    products = [
        {"id": f"S{i:05d}", "title": f"Product {i}", "subcategory": "things", "rating": 4.2, "rating_count": 10}
        for i in range(n_products)
    ]
    popularity = 1.0 / np.arange(1, n_products + 1) ** 0.8
    start_ts = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    log = [
        {
            "customer_id": f"U{u}",
            "product_id": products[int(i)]["id"],
            "event": "view",
            "value": None,
            "ts": datetime.fromtimestamp(start_ts + float(rng.uniform(0, 365 * 86400)), tz=timezone.utc),
        }
        for u in range(n_users)
        for i in rng.choice(n_products, 20, replace=False, p=popularity / popularity.sum())
    ]
    vectors = rng.normal(size=(n_products, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    started = time.perf_counter()
    model = FusedRecommender().fit(log, products, vectors, progress=False)
    fit_s = time.perf_counter() - started
    n_users = len(model.user_ids)
    query = vectors[0]
    timings = []
    for i in range(runs + 10):
        start = time.perf_counter()
        model.recommend(model.user_ids[i % n_users] if i % 2 else None, [model.item_ids[i]], query, k=5)
        if i >= 10:
            timings.append((time.perf_counter() - start) * 1000)
    return {
        "products": n_products,
        "device": pick_device(),
        **latency_ms(timings),
        "calls": runs,
        "ease_form": model.ease.form,
        "fit_seconds": round(fit_s, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--bpr-epochs", type=int, default=20)
    parser.add_argument("--bpr-dim", type=int, default=48)
    parser.add_argument(
        "--skip-textbook-check",
        action="store_true",
        help="skip the dense-inverse EASE check (one 9,742² inverse, ~30 s on 2 cores)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "recommender.json")
    args = parser.parse_args()
    if not args.data.exists():
        parser.error(f"{args.data} not found (the public data sets; see DEVELOPERS.md)")
    embedder = Embedder()
    embedder.warm_up()
    result = {
        "benchmark": "recommender",
        "command": "make bench-recommender",
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "device": pick_device(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "movielens": movielens(args, embedder),
        "latency_10k": latency(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_table(result["movielens"])
    lat = result["latency_10k"]
    print(
        f"recommend() on {lat['products']} products ({lat['device']}): p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
