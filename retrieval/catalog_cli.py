"""`python -m retrieval catalog ingest [PATH] [--mapping FILE]` and `... catalog search "query"`."""

from __future__ import annotations

import argparse
import sys

from retrieval.catalog import CatalogError, catalog_path, load_mapping
from retrieval.product_index import ProductIndex, ProductIndexMissingError
from retrieval.product_search import ProductSearch, SearchRequest
from shop.money import product_price
from shop.settings import offline


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m retrieval catalog", description="The product index.")
    parser.add_argument("--index", help="Chroma folder (default: $SHOP_PRODUCT_INDEX_PATH or models/products)")
    parser.add_argument("--collection", help="collection name (default: products)")
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="index a catalog (CSV or JSONL); unchanged products are skipped")
    ingest.add_argument("path", nargs="?", help="catalog file (default: $SHOP_CATALOG_PATH or data/catalog.jsonl)")
    ingest.add_argument("--mapping", help='JSON file mapping our fields to your columns, e.g. {"id": "sku"}')
    search = sub.add_parser("search", help="search the catalog")
    search.add_argument("query", nargs="?", default="")
    for name in ("category", "brand", "color", "size", "price-min", "price-max"):
        search.add_argument(f"--{name}")
    search.add_argument("--k", type=int, default=5)
    return parser


def main(argv: list[str] | None = None) -> int:
    offline()
    args = _parser().parse_args(argv)
    index = ProductIndex(index_path=args.index, collection=args.collection)
    if args.command == "ingest":
        try:
            report = index.ingest(args.path or catalog_path(), load_mapping(args.mapping))
        except CatalogError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for line, reason in sorted(report.skipped.items()):
            print(f"skipped row {line}: {reason}", file=sys.stderr)
        print(f"{index.collection_name} at {index.index_path}: {report.summary()}")
        return 0
    request = SearchRequest(
        query=args.query,
        category=args.category,
        brand=args.brand,
        color=args.color,
        size=args.size,
        price_min=args.price_min,
        price_max=args.price_max,
    )
    try:
        result = ProductSearch(index).search(request, k=args.k)
    except ProductIndexMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if result.relaxed:
        print(f"(nothing matched everything; dropped {', '.join(result.relaxed)})")
    for rank, hit in enumerate(result.hits, start=1):
        if rank == result.exact + 1 and result.widened:
            print(f"(near matches, without the {result.widened} {result.wanted}:)")
        p = hit.product
        print(
            f"{rank}. {hit.score:.3f}  {p['id']}  {p['title']}  {product_price(p)}  {p['rating']}★  "
            f"[{p['category']}/{p['subcategory']}, {p['color']}]"
        )
    if not result.hits:
        print("no products found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
