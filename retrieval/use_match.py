"""The catalog's use tags a shopper's situation points to: "I'm going skiing in January" -> ski.

A shopper who describes a situation instead of a product ("best thing for a long flight")
shares few words with any product, and MiniLM puts the whole message far from every
description (cosine about 0.3 for the right headphones), so the recommender fell back to what
is popular overall. The same model places the message close to a short tag the catalog already
has ("travel", "ski", "music"), and the products carrying that tag are the candidates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from retrieval.product_index import ProductIndex

# Cosine (plain MiniLM) the best tag needs. On tests/retrieval/data/need_tags.jsonl (24
# situations with the tags that suit them, 12 requests that name no use, written for our
# catalog) the no-use requests reach 0.41 and the situations start at 0.49; at 0.45 every
# situation finds a tag, no request without a use does, and 23 of 24 get only suitable tags
# ("stay hydrated on long rides" also gets the skincare tag "hydrating").
MIN_SIMILARITY = 0.45
# Tags this close to the best one are kept with it ("ski" and "winter").
MARGIN = 0.05


@dataclass(frozen=True)
class UseMatch:
    tag: str
    similarity: float


class UseMatcher:
    """Cheap to build; tag vectors are computed on first use and again when the catalog changes."""

    def __init__(self, index: ProductIndex, min_similarity: float = MIN_SIMILARITY, margin: float = MARGIN) -> None:
        self.index = index
        self.min_similarity = min_similarity
        self.margin = margin
        self._lock = threading.Lock()
        self._catalog: int | None = None
        self._carriers: dict[str, list[str]] = {}  # tag -> ids of the products carrying it
        self._tags: list[str] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    def _tag_vectors(self) -> tuple[list[str], np.ndarray, dict[str, list[str]]]:
        self.index.warm_up()
        with self._lock:
            products = self.index.products
            if self._catalog != id(products):
                carriers: dict[str, list[str]] = {}
                for product in products:
                    for tag in dict.fromkeys(str(t).strip().lower() for t in product.get("tags", [])):
                        if tag:
                            carriers.setdefault(tag, []).append(product["id"])
                tags = sorted(carriers)
                vectors = self.index.embedder.encode(tags) if tags else np.zeros((0, 0), dtype=np.float32)
                self._tags, self._vectors, self._carriers, self._catalog = tags, vectors, carriers, id(products)
            return self._tags, self._vectors, self._carriers

    def uses(self, text: str, vector: np.ndarray | None = None) -> list[UseMatch]:
        """The tags the text points to, best first; none when it names no use. `vector` is the
        text's encoding when the caller already has it."""
        text = (text or "").strip()
        tags, vectors, _ = self._tag_vectors()
        if not text or not tags:
            return []
        similarities = vectors @ (vector if vector is not None else self.index.embedder.encode([text[:1000]])[0])
        best = float(similarities.max())
        if best < self.min_similarity:
            return []
        floor = max(self.min_similarity, best - self.margin)
        order = np.argsort(-similarities, kind="stable")
        return [UseMatch(tags[i], round(float(similarities[i]), 4)) for i in order if similarities[i] >= floor]

    def products_with(self, tags: list[str]) -> dict[str, str]:
        """{product id: the first of `tags` it carries} for the products carrying any of them."""
        carriers = self._tag_vectors()[2]
        found: dict[str, str] = {}
        for tag in dict.fromkeys(t.lower() for t in tags):
            for product_id in carriers.get(tag, []):
                found.setdefault(product_id, tag)
        return found
