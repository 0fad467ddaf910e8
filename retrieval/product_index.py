"""The product index: products and their MiniLM vectors in Chroma, searched in memory.

Chroma is the persistent store (vectors, metadata for category / brand / colour / price / stock,
the product itself as JSON). `warm_up()` loads it into one normalised matrix, attribute arrays and
a BM25 index, so a search scores the whole catalog in one matrix product with hard filters as
masks: exact, and fast enough for 10k products on a CPU. The recommender reads the same matrix.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.catalog import catalog_path, product_colors, product_hash, product_text, read_catalog
from retrieval.embedder import Embedder
from retrieval.fusion import HybridJoiner, QueryCoverage
from retrieval.knowledge_base import chroma_client, close_chroma_client
from retrieval.spelling import Speller
from retrieval.text import REASON_FILLER, clauses, joined_words, tokens, words
from shop.settings import current

logger = logging.getLogger(__name__)

CORRECTED_FROM_LETTERS = 5
REBUILD_HINT = "make index  (or: python -m retrieval catalog ingest data/catalog.jsonl)"
# Requests about something other than a shop's products (public data, see the file's header).
OFF_TOPIC_REQUESTS = Path(__file__).resolve().parent / "data" / "off_topic_requests.txt"
# A message comes as close to some product as all but this share of those requests do: it reads
# as a need the catalog meets ("my kelpie drags me on every walk" and the no-pull harness), not as
# chatter. Taken per catalog, since a grocery's products sit nearer everyday words than a craft
# shop's: 0.263 there, 0.281 in the pet shop, 0.292 in the craft shop.
OFF_TOPIC_SHARE_ABOVE = 0.05
_BATCH = 1000


# How many of the most relevant products "cheap ..." orders by price.
CHEAP_POOL = 20
# A word in more than this share of the catalog ("comfortable" in a shop of shoes) says nothing
# about why one product was found.
COMMON_WORD_SHARE = 0.2


class ProductIndexMissingError(RuntimeError):
    """The product index has not been built (or cannot be read)."""


@dataclass
class ProductFilters:
    category: str | None = None
    subcategory: str | None = None
    brand: str | None = None
    color: str | None = None
    size: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    in_stock: bool = True
    # Words every product must mention, stemmed as retrieval.text.tokens does (as for BM25),
    # from a follow-up such as "the wireless ones"; None for none.
    terms: tuple[str, ...] | None = None
    # The product noun ("jacket"), when it names no single subcategory: the title or the
    # subcategory must say it (stemmed words).
    kind: tuple[str, ...] | None = None

    def active(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and k != "in_stock"}


@dataclass(frozen=True)
class ProductHit:
    product: dict[str, Any]
    score: float
    dense: float
    lexical: float


@dataclass
class CatalogIngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: dict[int, str] = field(default_factory=dict)
    total: int = 0
    variant_rows: int = 0  # rows merged into an earlier row's product (retrieval.catalog.merge_variants)

    def summary(self) -> str:
        variants = f", {self.variant_rows} variant rows merged into their products" if self.variant_rows else ""
        return (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, deleted {self.deleted}, "
            f"skipped {len(self.skipped)} rows{variants}; {self.total} products in the index"
        )


class ProductIndex:
    def __init__(
        self,
        index_path: str | Path | None = None,
        collection: str | None = None,
        embedder: Embedder | None = None,
        fusion: HybridJoiner | None = None,
    ) -> None:
        settings = current()
        self.index_path = Path(index_path or settings.product_index_path)
        self.collection_name = collection or settings.product_collection
        self.embedder = embedder or Embedder()
        self.fusion = fusion or HybridJoiner()
        self._lock = threading.Lock()
        self._client: Any = None
        self._stamp: str | None = None
        self.products: list[dict[str, Any]] = []
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self._position: dict[str, int] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self._sizes: list[set[str]] = []
        self._colors: list[set[str]] = []
        self._color_words: list[list[frozenset[str]]] = []
        self._off_topic_cosine: float | None = None
        self._bm25: Any = None
        self._coverage = QueryCoverage([])
        self._texts: list[str] = []
        self._speller: Speller | None = None

    @property
    def stamp_file(self) -> Path:
        return self.index_path / f"{self.collection_name}.stamp"

    def _collection(self, create: bool) -> Any:
        if self._client is None:
            self._client = chroma_client(self.index_path)
        if create:
            return self._client.get_or_create_collection(self.collection_name, metadata={"hnsw:space": "cosine"})
        return self._client.get_collection(self.collection_name)

    # ---- building --------------------------------------------------------------------------

    def ingest(
        self, path: str | Path | None = None, mapping: dict[str, str] | None = None, progress: bool = True
    ) -> CatalogIngestReport:
        """Mirrors the catalog into the collection: changed products re-embedded, removed ones deleted."""
        from tqdm import tqdm

        catalog = read_catalog(path or catalog_path(), mapping)
        self.index_path.mkdir(parents=True, exist_ok=True)
        collection = self._collection(create=True)
        existing = collection.get(include=["metadatas"])
        indexed = {pid: str(m.get("hash")) for pid, m in zip(existing["ids"], existing["metadatas"] or [], strict=True)}
        report = CatalogIngestReport(skipped=catalog.skipped, variant_rows=catalog.variant_rows)
        changed = []
        for product in catalog.products:
            digest = product_hash(product)
            if indexed.get(product["id"]) == digest:
                report.unchanged += 1
                continue
            if product["id"] in indexed:
                report.updated += 1
            else:
                report.added += 1
            changed.append((product, digest))
        for start in tqdm(
            range(0, len(changed), _BATCH), desc="embed products", unit="batch", disable=not progress or not changed
        ):
            batch = changed[start : start + _BATCH]
            vectors = self.embedder.encode([product_text(p) for p, _ in batch])
            collection.upsert(
                ids=[p["id"] for p, _ in batch],
                embeddings=vectors.tolist(),
                documents=[product_text(p) for p, _ in batch],
                metadatas=[
                    {
                        "hash": digest,
                        "category": p["category"],
                        "subcategory": p["subcategory"],
                        "brand": p["brand"],
                        "color": p["color"],
                        "price": float(p["price"]),
                        "stock": int(p["stock"]),
                        "rating": float(p["rating"]),
                        "json": json.dumps(p),
                    }
                    for p, digest in batch
                ],
            )
        gone = sorted(set(indexed) - {p["id"] for p in catalog.products})
        for start in range(0, len(gone), _BATCH):
            collection.delete(ids=gone[start : start + _BATCH])
        report.deleted = len(gone)
        report.total = collection.count()
        self.stamp_file.write_text(f"{uuid.uuid4()}\n", encoding="utf-8")
        return report

    # ---- loading ---------------------------------------------------------------------------

    def warm_up(self) -> None:
        with self._lock:
            if not self.stamp_file.exists():
                raise ProductIndexMissingError(
                    f"no product index '{self.collection_name}' at {self.index_path}. Build it with: {REBUILD_HINT}"
                )
            stamp = self.stamp_file.read_text(encoding="utf-8").strip()
            if stamp == self._stamp:
                return
            self.embedder.warm_up()
            if self._stamp is not None:
                close_chroma_client(self._client)  # another process may have written the folder
                self._client = None
            try:
                data = self._collection(create=False).get(include=["metadatas", "embeddings"])
                products = [json.loads(m["json"]) for m in data["metadatas"]]
            except Exception as exc:
                raise ProductIndexMissingError(
                    f"the product index at {self.index_path} cannot be read ({exc}). "
                    f"Rebuild it with: rm -rf {self.index_path} && {REBUILD_HINT}"
                ) from exc
            order = np.argsort([p["id"] for p in products], kind="stable")
            self.load_products([products[i] for i in order], np.asarray(data["embeddings"], dtype=np.float32)[order])
            self._stamp = stamp

    def load_products(self, products: list[dict[str, Any]], matrix: np.ndarray) -> None:
        """Sets the in-memory catalog (also used by benchmarks with synthetic catalogs)."""
        import bm25s

        self.products = products
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32).reshape(len(products), -1)
        self._position = {p["id"]: i for i, p in enumerate(products)}
        self._arrays = {
            "category": np.asarray([p["category"] for p in products], dtype=object),
            "subcategory": np.asarray([p["subcategory"] for p in products], dtype=object),
            "brand": np.asarray([p["brand"].lower() for p in products], dtype=object),
            "color": np.asarray([p["color"] for p in products], dtype=object),
            "price": np.asarray([p["price"] for p in products], dtype=np.float64),
            "stock": np.asarray([p["stock"] for p in products], dtype=np.int64),
            "rating": np.asarray([p["rating"] for p in products], dtype=np.float64),
        }
        self._sizes = [{str(s).lower() for s in p.get("sizes", [])} for p in products]
        self._colors = [set(product_colors(p)) for p in products]
        self._color_words = [[frozenset(words(c)) for c in colors] for colors in self._colors]
        texts = [product_text(p) for p in products]
        product_tokens = [tokens(t) for t in texts]
        self._phrase_tokens = [_phrase_tokens(t) for t in texts]
        self._tokens = [set(t) for t in product_tokens]
        self._document_frequency = Counter(word for words in self._tokens for word in words)
        self._kind_tokens = [set(tokens(f"{p['title']} {p['subcategory']}")) for p in products]
        # What a product is called (title, type, brand, tags), not what its description mentions:
        # a description that says "lawn" does not make the shop a seller of lawn mowers.
        self._name_tokens = [
            set(
                tokens(
                    " ".join([p["title"], p["subcategory"], p["category"], p["brand"], *map(str, p.get("tags") or [])])
                )
            )
            for p in products
        ]
        self._name_vocabulary = frozenset().union(*self._name_tokens) if products else frozenset()
        self._texts = texts
        self._speller = None
        self._off_topic_cosine = None
        retriever = bm25s.BM25()
        retriever.index([t or ["_"] for t in product_tokens], show_progress=False)
        self._bm25 = retriever
        self._coverage = QueryCoverage(product_tokens)

    def __len__(self) -> int:
        return len(self.products)

    def correct(self, text: str) -> str:
        """The shopper's typos fixed against the catalog's own words ("knitting needels",
        "caligraphy pen"), as the knowledge base fixes them against its documents: a typo
        matches no product's words and embeds as word pieces that mean little. Built on
        first use: the encoder's vocabulary says which real words to leave alone."""
        self.warm_up()
        if self._speller is None:
            # Catalogs are full of short brand and model words ("Apex", "Zinc") one edit from a
            # shopper's own short word ("amex"): words under five letters are left as typed.
            self._speller = Speller(self._texts, self.embedder.known_words(), min_length=CORRECTED_FROM_LETTERS)
        return self._speller.correct(text)

    def name_words(self) -> frozenset[str]:
        """The stemmed words the catalog's products are called by."""
        self.warm_up()
        return self._name_vocabulary

    def count_named(self, stems: AbstractSet[str]) -> int:
        """How many products are called by all of `stems`."""
        self.warm_up()
        return sum(1 for own in self._name_tokens if stems <= own)

    def count_described(self, stems: AbstractSet[str]) -> int:
        """How many products' whole text (descriptions and tags too) says all of `stems`."""
        self.warm_up()
        return sum(1 for own in self._tokens if stems <= own)

    def position(self, product_id: str) -> int | None:
        return self._position.get(product_id)

    def product(self, product_id: str) -> dict[str, Any] | None:
        i = self._position.get(product_id)
        return self.products[i] if i is not None else None

    def matched_phrases(
        self, product: dict[str, Any], query: str, limit: int = 3, ignore: AbstractSet[str] = frozenset()
    ) -> list[str]:
        """The shopper's words that this product's text has, in the query's order: neighbours
        joined when the product says them together too ("cast iron", not "waterproof trail"
        when "waterproof" is elsewhere). At most `limit`, the rarest in the catalog kept; words
        most products have say nothing about why this one was found."""
        self.warm_up()
        i = self._position.get(str(product.get("id")))
        said = self._phrase_tokens[i] if i is not None else _phrase_tokens(product_text(product))
        have = set(said)
        phrases: list[list[str]] = []
        previous: list[str] | None = None
        words = [w for clause in clauses((query or "").lower()[:1000]) for w in [*joined_words(clause), ""]]
        for word in words:
            stems = tokens(word)
            if len(word) <= 2 or word in ignore or word in REASON_FILLER or not stems or not set(stems) <= have:
                previous = None
                continue
            if previous is not None and _says(said, tokens(" ".join([*previous, word]))):
                previous.append(word)
            else:
                previous = [word]
                phrases.append(previous)
        n = max(1, len(self.products))

        def share(phrase: list[str]) -> float:
            return min(self._document_frequency.get(s, 0) / n for w in phrase for s in tokens(w))

        telling = [p for p in phrases if share(p) <= COMMON_WORD_SHARE]
        kept = sorted(telling, key=share)[:limit]
        return [" ".join(p) for p in telling if any(p is k for k in kept)]

    def vocabulary(self, attribute: str) -> set[str]:
        """The distinct values of category, subcategory, brand or color (lowercase)."""
        if attribute == "color":
            return set().union(*self._colors) if self.products else set()
        return {str(v).lower() for v in self._arrays.get(attribute, np.zeros(0)) if v}

    # ---- searching -------------------------------------------------------------------------

    def mask(self, filters: ProductFilters) -> np.ndarray:
        a = self._arrays
        keep = np.ones(len(self.products), dtype=bool)
        for name in ("category", "subcategory"):
            value = getattr(filters, name)
            if value:
                keep &= a[name] == value.lower()
        if filters.color:
            # "green" is a forest green or sage green product's colour too; "light blue" is not
            # plain blue's.
            asked = frozenset(words(filters.color))
            keep &= np.fromiter(
                (any(asked <= named for named in c) for c in self._color_words), dtype=bool, count=len(self._colors)
            )
        if filters.brand:
            keep &= a["brand"] == filters.brand.lower()
        if filters.price_min is not None:
            keep &= a["price"] >= filters.price_min
        if filters.price_max is not None:
            keep &= a["price"] <= filters.price_max
        if filters.in_stock:
            keep &= a["stock"] > 0
        if filters.size:
            size = filters.size.lower()
            keep &= np.fromiter((size in s for s in self._sizes), dtype=bool, count=len(self._sizes))
        if filters.kind:
            nouns = set(filters.kind)
            keep &= np.fromiter((bool(nouns & t) for t in self._kind_tokens), dtype=bool, count=len(self._kind_tokens))
        if filters.terms:
            wanted = set(filters.terms)
            keep &= np.fromiter((wanted <= t for t in self._tokens), dtype=bool, count=len(self._tokens))
        return keep

    def off_topic_cosine(self) -> float:
        """The best product cosine that all but OFF_TOPIC_SHARE_ABOVE of the off-topic requests
        stay under, in this catalog (computed once per catalog loaded)."""
        self.warm_up()
        if self._off_topic_cosine is None:
            lines = OFF_TOPIC_REQUESTS.read_text(encoding="utf-8").splitlines()
            requests = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
            closest = (self.embedder.encode(requests) @ self.matrix.T).max(axis=1) if len(self.products) else [1.0]
            self._off_topic_cosine = float(np.quantile(closest, 1 - OFF_TOPIC_SHARE_ABOVE))
        return self._off_topic_cosine

    def scores(self, query: str, mode: str = "hybrid") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fused, cosine, lexical) for every product; one batched matrix product. The lexical
        score is BM25 divided by the query's best in `bm25` mode, and the query's coverage
        (retrieval.fusion.QueryCoverage) that the joiner mixes in `hybrid` mode."""
        self.warm_up()
        n = len(self.products)
        query = self.correct(query)
        cosines = self.matrix @ self.embedder.encode([query])[0] if mode != "bm25" else np.zeros(n, np.float32)
        lexical = np.zeros(n, dtype=np.float32)
        query_tokens = tokens(query)
        if mode == "hybrid":
            lexical = self._coverage(query_tokens)
            return self.fusion.join(cosines, lexical, self.matrix), cosines, lexical
        if mode == "bm25" and query_tokens:
            raw = np.asarray(self._bm25.get_scores(query_tokens), dtype=np.float32)
            if raw.max() > 0:
                lexical = raw / raw.max()
        if mode == "dense":
            return cosines, cosines, lexical
        return lexical, cosines, lexical

    def search(
        self,
        query: str,
        filters: ProductFilters | None = None,
        k: int = 5,
        offset: int = 0,
        mode: str = "hybrid",
        exclude: set[str] | None = None,
        cheapest_first: bool = False,
    ) -> list[ProductHit]:
        """The best products for `query` that pass every filter; no query ranks by rating.

        `cheapest_first` ("cheap headphones") orders the most relevant CHEAP_POOL products by
        price: sorting every match by price would put a cheap phone case before headphones."""
        if mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"mode must be hybrid, dense or bm25, not {mode!r}")
        self.warm_up()
        keep = self.mask(filters or ProductFilters())
        for product_id in exclude or ():
            i = self._position.get(product_id)
            if i is not None:
                keep[i] = False
        query = (query or "").strip()
        if query:
            fused, cosines, lexical = self.scores(query, mode)
        else:
            cosines = lexical = np.zeros(len(self.products), dtype=np.float32)
            fused = (self._arrays["rating"] / 5.0).astype(np.float32)
        # Rating breaks ties between equally relevant products, never outweighs relevance.
        ranked = np.where(keep, fused + 1e-3 * self._arrays["rating"], -np.inf)
        top = min(int(keep.sum()), max(CHEAP_POOL, offset + k) if cheapest_first else offset + k)
        if top <= offset:
            return []
        candidates = np.argpartition(-ranked, top - 1)[:top] if top < len(ranked) else np.arange(len(ranked))
        if cheapest_first:
            candidates = candidates[np.isfinite(ranked[candidates])]
            order = candidates[np.lexsort((-ranked[candidates], self._arrays["price"][candidates]))]
        else:
            order = candidates[np.argsort(-ranked[candidates], kind="stable")]
        return [
            ProductHit(self.products[i], float(fused[i]), float(cosines[i]), float(lexical[i]))
            for i in order[offset : offset + k]
        ]


def _phrase_tokens(text: str) -> list[str]:
    """The text's tokens with a break where a sentence or a field ends: "cast iron. Trail-tested"
    does not say "iron trail"."""
    words: list[str] = []
    for part in clauses(text):
        words += [*tokens(part), ""]
    return words


def _says(words: list[str], phrase: list[str]) -> bool:
    """Whether `phrase` occurs in `words` as a contiguous run."""
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))
