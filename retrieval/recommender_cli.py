"""`python -m retrieval recommender train` and `python -m retrieval recommender recommend`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from shop.settings import current, offline


def model_dir() -> Path:
    return current().recommender_path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m retrieval recommender", description="The fused recommender.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train on the shop DB's interaction log (thumbs feedback included)")
    train.add_argument("--catalog", help="catalog file (default: $SHOP_CATALOG_PATH or data/catalog.jsonl)")
    train.add_argument("--mapping", help="column mapping JSON for the catalog")
    train.add_argument("--database-url", help="shop DB (default: $SHOP_DATABASE_URL or the demo SQLite DB)")
    train.add_argument("--out", type=Path, help="model folder (default: $SHOP_RECOMMENDER_PATH or models/recommender)")
    rec = sub.add_parser("recommend", help="print recommendations")
    rec.add_argument("--customer")
    rec.add_argument("--context", nargs="*", default=[], help="product ids seen in this conversation")
    rec.add_argument("--query")
    rec.add_argument("--k", type=int, default=5)
    rec.add_argument("--model", type=Path)
    return parser


def train(args: argparse.Namespace) -> int:
    from retrieval.catalog import catalog_path, load_mapping, product_text, read_catalog
    from retrieval.embedder import Embedder
    from retrieval.recommender import FusedRecommender
    from retrieval.review_sentiment import ReviewSentiment
    from shop.db import ShopDB

    started = time.perf_counter()
    products = read_catalog(args.catalog or catalog_path(), load_mapping(args.mapping)).products
    interactions = ShopDB(args.database_url).interactions()
    embedder = Embedder()
    print(f"embedding {len(products)} products ...", flush=True)
    vectors = embedder.encode([product_text(p) for p in products], show_progress=True)
    texts, labels = ReviewSentiment.labelled(products)
    print(f"review sentiment model on {len(texts)} rated reviews ...", flush=True)
    sentiment = ReviewSentiment(embedder).fit(texts, labels)
    model = FusedRecommender().fit(interactions, products, vectors, sentiment.product_scores(products))
    out = args.out or model_dir()
    model.save(out)
    sentiment.save(out / "review_sentiment.safetensors")
    print(
        json.dumps(
            {
                "interactions": len(interactions),
                "products": len(products),
                "customers": len(model.user_ids),
                "collaborative_form": model.ease.form,
                "chosen_on_validation": model.chosen,
                "weights_warm": model.report.get("weights_warm"),
                "weights_cold": model.report.get("weights_cold"),
                "seconds": round(time.perf_counter() - started, 1),
            },
            indent=1,
        )
    )
    print(f"saved {out}")
    return 0


def recommend(args: argparse.Namespace) -> int:
    from retrieval.embedder import Embedder
    from retrieval.recommender import FusedRecommender, RecommenderModelError

    try:
        model = FusedRecommender.load(args.model or model_dir())
    except RecommenderModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    query = Embedder().encode([args.query])[0] if args.query else None
    titles = {item["id"]: item["title"] for item in model.items}
    for rank, r in enumerate(model.recommend(args.customer, args.context, query, k=args.k), start=1):
        print(f"{rank}. {r.score:.3f}  {r.product_id}  {titles.get(r.product_id)}  — {r.why}")
    return 0


def main(argv: list[str] | None = None) -> int:
    offline()
    args = _parser().parse_args(argv)
    return train(args) if args.command == "train" else recommend(args)


if __name__ == "__main__":
    sys.exit(main())
