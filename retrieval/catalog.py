"""Reads a shop's catalog (CSV or JSONL) into one product shape, through an optional column mapping.

A mapping is a JSON object from our field names to the shop's column names, for example
`{"id": "sku", "title": "name", "reviews": "review_texts"}`; unmapped fields keep their names.

Rows that share an id are the variants of one product, as a platform's export lists them (one
row per size or colour under the product's handle): they become one product whose sizes and
colours are those of its variants, whose stock is theirs together and whose price is the lowest,
with `price_max` the highest where they differ. Dropping every row after the first would leave a
dog food that comes in 3 kg only, and the 20 kg bag a shopper asks for "not carried".
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from retrieval.text import words
from shop.money import CurrencyError, currency_code, price_number
from shop.settings import current

FIELDS = (
    "id",
    "title",
    "description",
    "category",
    "subcategory",
    "brand",
    "price",
    "currency",
    "color",
    "sizes",
    "stock",
    "rating",
    "rating_count",
    "reviews",
    "tags",
    "image_url",
    "url",
)
# Written by `merge_variants` where a product's variants differ, and read back from the
# catalog it wrote (`make shop` writes data/catalog.jsonl, `make index` reads it): every colour
# the product comes in, and its dearest variant's price. A shop's own column may fill either.
VARIANT_FIELDS = ("colors", "price_max")
REQUIRED = ("id", "title")
# What a platform writes in an option column of a product that has no options (Shopify's
# "Default Title"): no size a shopper could ask for.
NO_OPTION = frozenset({"default title"})
MAX_ID_CHARS = 64


class CatalogError(ValueError):
    """A catalog file or mapping that cannot be read at all."""


@dataclass
class CatalogReport:
    products: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # line/row number -> reason
    variant_rows: int = 0  # rows that were another variant of an earlier row's product


# What a product id may look like when it comes from outside (widget metadata, a button
# payload): any shop's ids fit, and nothing else reaches a query or a log.
_SAFE_PRODUCT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_product_id(value: object) -> bool:
    return isinstance(value, str) and _SAFE_PRODUCT_ID.fullmatch(value) is not None


def catalog_path() -> Path:
    return current().catalog_path


def load_mapping(path: str | Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError(f"column mapping {path}: {exc}") from exc
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise CatalogError(f"column mapping {path}: expected a JSON object of field -> column name")
    unknown = sorted(set(mapping) - set(FIELDS) - set(VARIANT_FIELDS))
    if unknown:
        known = ", ".join((*FIELDS, *VARIANT_FIELDS))
        raise CatalogError(f"column mapping {path}: unknown fields {unknown}; known: {known}")
    return mapping


def read_catalog(
    path: str | Path | None = None, mapping: dict[str, str] | None = None, currency: str | None = None
) -> CatalogReport:
    """Products from a CSV or JSONL file, priced in `currency` (the shop's, `SHOP_CURRENCY`, unless
    given) where a row names none; rows that cannot be used are skipped with a reason."""
    path = Path(path or catalog_path())
    try:
        currency = currency_code(currency or current().currency)
    except CurrencyError as exc:
        raise CatalogError(f"SHOP_CURRENCY: {exc}") from exc
    if not path.exists():
        raise CatalogError(f"catalog {path} not found (the demo catalog is built by `make data`)")
    mapping = mapping or {}
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = _jsonl_rows(path)
    elif suffix == ".csv":
        rows = _csv_rows(path)
    else:
        raise CatalogError(f"catalog {path}: expected .csv or .jsonl, not {suffix!r}")
    report = CatalogReport()
    variants: dict[str, list[dict[str, Any]]] = {}
    for number, row in rows:
        if isinstance(row, str):
            report.skipped[number] = row
            continue
        try:
            raw = {name: row.get(mapping.get(name, name)) for name in (*FIELDS, *VARIANT_FIELDS)}
            product = normalise(raw, currency)
        except ValueError as exc:
            report.skipped[number] = str(exc)
            continue
        if product["id"] in variants:
            variants[product["id"]].append(product)
            report.variant_rows += 1
        else:
            variants[product["id"]] = [product]
    report.products = [merge_variants(rows_of_one) for rows_of_one in variants.values()]
    if not report.products:
        raise CatalogError(f"catalog {path}: no usable products ({len(report.skipped)} rows skipped)")
    return report


def merge_variants(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """One product from the rows of its variants (see the module's docstring): the first row's
    words, the sizes and colours of the variants in stock (of all of them when none is), their
    stock together and their lowest price; `price_max` and `colors` only where they differ."""
    if len(variants) == 1:
        return variants[0]
    offered = [v for v in variants if v["stock"] > 0] or variants
    product = dict(variants[0])
    product["sizes"] = list(dict.fromkeys(size for v in offered for size in v["sizes"]))
    product["stock"] = sum(v["stock"] for v in variants)
    product["price"] = min(v["price"] for v in offered)
    product.pop("price_max", None)
    dearest = max(v.get("price_max") or v["price"] for v in offered)
    if dearest > product["price"]:
        product["price_max"] = dearest
    colors = list(dict.fromkeys(color for v in offered for color in product_colors(v)))
    product["color"] = colors[0] if colors else ""
    if len(colors) > 1:
        product["colors"] = colors
    product["tags"] = list(dict.fromkeys(tag for v in variants for tag in v["tags"]))
    return product


def product_colors(product: dict[str, Any]) -> list[str]:
    """Every colour a product comes in: its variants' where they differ, else its one colour."""
    colors = product.get("colors")
    if isinstance(colors, list) and colors:
        return [str(c) for c in colors]
    return [product["color"]] if product.get("color") else []


def color_named(product: dict[str, Any], asked: str) -> str | None:
    """The product's colour that the shopper's colour names, by its words: "green" names forest
    green (as the search's colour filter matches it), "light green" does not name green."""
    wanted = set(words(asked))
    return next((c for c in product_colors(product) if wanted and wanted <= set(words(c))), None)


def _jsonl_rows(path: Path) -> list[tuple[int, dict[str, Any] | str]]:
    rows: list[tuple[int, dict[str, Any] | str]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                rows.append((number, f"malformed JSON ({exc.msg})"))
                continue
            rows.append((number, row if isinstance(row, dict) else "not a JSON object"))
    return rows


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any] | str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(number, dict(row)) for number, row in enumerate(csv.DictReader(handle), start=2)]


# Exports separate a cell's list with "|", ";" or ", " (Shopify's tags); a comma inside a number
# ("2,5 kg") is not followed by a space and stays.
_LIST_SEPARATORS = re.compile(r"\s*(?:[|;]|,\s)\s*")


def _list(value: Any, separators: re.Pattern[str] | None = None) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
                return parsed if isinstance(parsed, list) else [parsed]
            except json.JSONDecodeError:
                pass
        parts = separators.split(text) if separators is not None else text.split("|")
        return [part.strip() for part in parts if part.strip()]
    return [value]


def _number(value: Any, name: str, default: float | None = None) -> float | None:
    if value is None or value == "":
        return default
    try:
        number = price_number(value)
    except ValueError as exc:
        raise ValueError(f"{name} is not a number: {str(value)[:40]!r}") from exc
    if number != number or number < 0:  # NaN or negative
        raise ValueError(f"{name} must be a non-negative number")
    return number


def _stock(value: Any) -> int:
    """Units in stock. Platforms that let a shop keep selling when out of stock (Shopify's
    "continue selling", WooCommerce's backorders) export an oversold item's stock below zero: it
    is out of stock, not a broken row (skipping it lost the product)."""
    text = "" if value is None else str(value).strip()
    oversold = text.startswith("-")
    number = _number(text[1:] if oversold else value, "stock", 1)
    return 0 if oversold else int(number or 0)


# Block elements end a line of the text; list items start one with "- ", as the help pages do.
_BLOCK_TAGS = frozenset({"p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6"})
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>|&[a-zA-Z]+;|&#\d+;")


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n- " if tag == "li" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(value: str) -> str:
    """A cell's text without its HTML: exports carry descriptions as the shop's HTML ("Body
    (HTML)" on Shopify, WooCommerce's descriptions), and tags would otherwise reach the shopper's
    reply, the search words and the vectors. Text with no markup is returned as it is."""
    if not _MARKUP.search(value):
        return value.strip()
    parser = _TextOfHtml()
    parser.feed(value)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line and line != "-")


def normalise(raw: dict[str, Any], currency: str = "USD") -> dict[str, Any]:
    """One product in our shape, priced in `currency` unless it names its own; raises ValueError
    naming the bad field."""
    for name in REQUIRED:
        if raw.get(name) in (None, ""):
            raise ValueError(f"missing {name}")
    product_id = str(raw["id"]).strip()
    if len(product_id) > MAX_ID_CHARS:
        raise ValueError("id is too long")
    reviews = []
    for review in _list(raw.get("reviews")):
        if isinstance(review, dict) and review.get("text"):
            reviews.append({"text": plain_text(str(review["text"])), "rating": review.get("rating")})
        elif isinstance(review, str) and review.strip():
            reviews.append({"text": plain_text(review), "rating": None})
    price = _number(raw.get("price"), "price")
    if price is None:
        raise ValueError("missing price")
    product = {
        "id": product_id,
        "title": plain_text(str(raw["title"])),
        "description": plain_text(str(raw.get("description") or "")),
        "category": str(raw.get("category") or "").strip().lower(),
        "subcategory": str(raw.get("subcategory") or "").strip().lower(),
        "brand": str(raw.get("brand") or "").strip(),
        "price": round(price, 2),
        "currency": currency_code(str(raw.get("currency") or currency), currency),
        "color": str(raw.get("color") or "").strip().lower(),
        "sizes": [str(s) for s in _list(raw.get("sizes"), _LIST_SEPARATORS) if str(s).lower() not in NO_OPTION],
        "stock": _stock(raw.get("stock")),
        "rating": round(_number(raw.get("rating"), "rating", 0.0) or 0.0, 2),
        "rating_count": int(_number(raw.get("rating_count"), "rating_count", 0) or 0),
        "reviews": reviews,
        "tags": [str(t).lower() for t in _list(raw.get("tags"), _LIST_SEPARATORS)],
        "image_url": str(raw.get("image_url") or ""),
        "url": str(raw.get("url") or f"/product/{product_id}"),
    }
    colors = list(dict.fromkeys(str(c).strip().lower() for c in _list(raw.get("colors"), _LIST_SEPARATORS)))
    if len(colors) > 1:
        product["colors"] = colors
        product["color"] = product["color"] or colors[0]
    price_max = _number(raw.get("price_max"), "price_max")
    if price_max is not None and price_max > round(price, 2):
        product["price_max"] = round(price_max, 2)
    return product


def product_text(product: dict[str, Any]) -> str:
    """What search embeds and indexes: the words a shopper would use for this product."""
    parts = [
        product["title"],
        product.get("subcategory", ""),
        product.get("category", ""),
        product.get("brand", ""),
        " ".join(product_colors(product)),
        " ".join(product.get("tags", [])),
        product.get("description", ""),
    ]
    return ". ".join(p for p in parts if p)


def product_hash(product: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(product, sort_keys=True).encode("utf-8")).hexdigest()[:32]
