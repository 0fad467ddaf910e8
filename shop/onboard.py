"""`python -m shop onboard`: a shop brings its own catalog and documents.

One command takes the shop's catalog (CSV or JSONL, with a JSON mapping of its column names),
its knowledge-base folder (Markdown, text, FAQ CSV/JSON) and optionally its own Rasa NLU files,
and lays them where the build reads them:

- `data/catalog.jsonl`: the catalog, normalised (the product index, the page and the
  recommender read it);
- `data/kb/`: a copy of the documents (the KB index and the generated NLU read it), and
  `data/nlu/` a copy of the shop's own NLU files;
- the shop DB's tables, empty where the shop has no orders yet (`SHOP_DATABASE_URL`);
- `build/nlu/`: NLU data generated from the catalog and the KB (`shop.nlu_data`);
- `data/shop.json`: what was onboarded, so `make data` never overwrites it with the demo shop.

`make shop CATALOG=... MAPPING=... KB=...` runs this and then builds the indexes and the
models (README, "Your own shop").
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from retrieval.catalog import CatalogError, load_mapping, read_catalog
from retrieval.kb_documents import kb_files
from shop.db import ShopDB
from shop.nlu_data import NluDataReport, write_nlu_data
from shop.settings import ROOT

MARKER = "shop.json"


class OnboardError(RuntimeError):
    """The shop's files cannot be used; the message says which and why."""


@dataclass
class OnboardReport:
    products: int
    skipped: dict[int, str]
    documents: int
    nlu: NluDataReport
    data_dir: Path
    # How many products are priced in each currency ({"GBP": 420}).
    currencies: dict[str, int] = field(default_factory=dict)
    # Rows that shared an earlier row's id, merged into its product as variants.
    variant_rows: int = 0

    def summary(self) -> str:
        priced = ", ".join(f"{count} in {code}" for code, count in self.currencies.items())
        lines = [
            f"catalog: {self.products} products -> {self.data_dir / 'catalog.jsonl'}"
            + (f" (prices: {priced})" if priced else "")
        ]
        if self.variant_rows:
            lines.append(
                f"  {self.variant_rows} rows share an earlier row's id: merged into its product as variants "
                "(sizes, colours, stock, lowest price); map id to a per-row column to keep them apart"
            )
        lines += [f"  skipped row {row}: {why}" for row, why in list(self.skipped.items())[:10]]
        if len(self.skipped) > 10:
            lines.append(f"  ... and {len(self.skipped) - 10} more skipped rows")
        lines.append(f"knowledge base: {self.documents} documents -> {self.data_dir / 'kb'}")
        return "\n".join([*lines, self.nlu.summary()])


def onboard(
    catalog: Path,
    kb: Path,
    mapping: Path | None = None,
    extra_nlu: Path | None = None,
    data_dir: Path = ROOT / "data",
    nlu_dir: Path = ROOT / "build" / "nlu",
    database_url: str | None = None,
) -> OnboardReport:
    if not catalog.is_file():
        raise OnboardError(f"catalog {catalog} not found")
    if not kb.is_dir():
        raise OnboardError(f"knowledge-base folder {kb} not found")
    documents = kb_files(kb)
    if not documents:
        raise OnboardError(f"{kb} holds no documents (.md, .txt, .csv or .json)")
    if extra_nlu is not None and not extra_nlu.is_dir():
        raise OnboardError(f"NLU folder {extra_nlu} not found")
    try:
        report = read_catalog(catalog, load_mapping(mapping))
    except CatalogError as exc:
        raise OnboardError(str(exc)) from exc
    if not report.products:
        raise OnboardError(f"no usable product in {catalog}: {_first_reasons(report.skipped)}")
    data_dir.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed, so a failure never leaves half a catalog.
    staged = data_dir / "catalog.jsonl.tmp"
    with staged.open("w", encoding="utf-8") as out:
        for product in report.products:
            out.write(json.dumps(product, ensure_ascii=False) + "\n")
    staged.replace(data_dir / "catalog.jsonl")
    kb_copy = data_dir / "kb"
    if kb.resolve() != kb_copy.resolve():
        shutil.rmtree(kb_copy, ignore_errors=True)
        shutil.copytree(kb, kb_copy, ignore=shutil.ignore_patterns(".*"))
    ShopDB(database_url).create_schema()
    # The shop's own NLU files live in data/nlu, so every later regeneration includes them.
    own_nlu = data_dir / "nlu"
    shutil.rmtree(own_nlu, ignore_errors=True)
    if extra_nlu is not None:
        shutil.copytree(extra_nlu, own_nlu, ignore=shutil.ignore_patterns(".*"))
    nlu = write_nlu_data(report.products, kb_copy, nlu_dir, own_nlu if extra_nlu is not None else None)
    (data_dir / MARKER).write_text(
        json.dumps(
            {
                "catalog": str(catalog.resolve()),
                "mapping": str(mapping.resolve()) if mapping else None,
                "kb": str(kb.resolve()),
                "nlu": str(extra_nlu.resolve()) if extra_nlu else None,
                "products": len(report.products),
                "onboarded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    currencies = dict(Counter(str(p["currency"]) for p in report.products).most_common())
    return OnboardReport(
        len(report.products), report.skipped, len(documents), nlu, data_dir, currencies, report.variant_rows
    )


def _first_reasons(skipped: dict[int, str]) -> str:
    return "; ".join(f"row {row}: {why}" for row, why in list(skipped.items())[:3]) or "the file is empty"
