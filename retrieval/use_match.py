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
        self._tags: list[str] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    def _tag_vectors(self) -> tuple[list[str], np.ndarray]:
        self.index.warm_up()
        with self._lock:
            if self._catalog != id(self.index.products):
                tags = sorted({str(t).strip().lower() for p in self.index.products for t in p.get("tags", []) if str(t).strip()})
                vectors = self.index.embedder.encode(tags) if tags else np.zeros((0, 0), dtype=np.float32)
                self._tags, self._vectors, self._catalog = tags, vectors, id(self.index.products)
            return self._tags, self._vectors

    def uses(self, text: str) -> list[UseMatch]:
        """The tags the text points to, best first; none when it names no use."""
        text = (text or "").strip()
        tags, vectors = self._tag_vectors()
        if not text or not tags:
            return []
        similarities = vectors @ self.index.embedder.encode([text[:1000]])[0]
        best = float(similarities.max())
        if best < self.min_similarity:
            return []
        floor = max(self.min_similarity, best - self.margin)
        order = np.argsort(-similarities, kind="stable")
        return [UseMatch(tags[i], round(float(similarities[i]), 4)) for i in order if similarities[i] >= floor]

    def products_with(self, tags: list[str]) -> dict[str, str]:
        """{product id: the first of `tags` it carries} for the products carrying any of them."""
        wanted = list(dict.fromkeys(t.lower() for t in tags))
        found: dict[str, str] = {}
        for product in self.index.products:
            own = {str(t).strip().lower() for t in product.get("tags", [])}
            tag = next((t for t in wanted if t in own), None)
            if tag is not None:
                found[product["id"]] = tag
        return found


_shared: UseMatcher | None = None
_shared_lock = threading.Lock()


def shared_use_matcher(index: ProductIndex) -> UseMatcher:
    """The process-wide matcher on the action server's product index."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.index is not index:
            _shared = UseMatcher(index)
        return _shared
