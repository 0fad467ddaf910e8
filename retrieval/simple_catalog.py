"""Attribute filtering over the catalog file.

The placeholder behind `action_search_products` and `action_recommend_products` until the
hybrid product index and the fused recommender are built.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
Product = dict[str, Any]


def catalog_path() -> Path:
    return Path(os.environ.get("SHOP_CATALOG_PATH", ROOT / "data" / "catalog.jsonl"))


@lru_cache(maxsize=4)
def load(path: Path | None = None) -> tuple[Product, ...]:
    path = path or catalog_path()
    if not path.exists():
        raise FileNotFoundError(f"catalog {path} is missing: run `make data`")
    with path.open(encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def _stem(text: str) -> str:
    return re.sub(r"(es|s)$", "", text.strip().lower())


def parse_price(value: Any) -> float | None:
    match = re.search(r"\d+(?:\.\d+)?", str(value or ""))
    return float(match.group()) if match else None


def _matches_kind(product: Product, kind: str) -> bool:
    kind = _stem(kind)
    haystack = " ".join(str(product.get(k, "")) for k in ("category", "subcategory", "title")).lower()
    return kind in haystack or any(_stem(word) == kind for word in haystack.split())


def search(
    category: str | None = None, brand: str | None = None, color: str | None = None, size: str | None = None,
    price_min: float | None = None, price_max: float | None = None, in_stock: bool = True, limit: int = 5,
) -> list[Product]:
    """Products meeting every given attribute, best rated first."""
    found = []
    for product in load():
        if in_stock and not product.get("stock"):
            continue
        if category and not _matches_kind(product, category):
            continue
        if brand and str(product.get("brand", "")).lower() != brand.lower():
            continue
        if color and str(product.get("color", "")).lower() != color.lower():
            continue
        if size and size.lower() not in [str(s).lower() for s in product.get("sizes", [])]:
            continue
        if price_min is not None and product["price"] < price_min:
            continue
        if price_max is not None and product["price"] > price_max:
            continue
        found.append(product)
    found.sort(key=lambda p: (-float(p.get("rating", 0)), -int(p.get("rating_count", 0)), p["id"]))
    return found[:limit]


def top_rated(category: str | None = None, limit: int = 5) -> list[Product]:
    return search(category=category, limit=limit)
