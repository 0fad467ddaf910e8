"""Which products a recommendation may pick from, and the wish that leans the blend.

"recommend me a warm jacket" narrows the candidates to jackets close to the words; "I'm going
skiing in January" names no product but a use tag; "recommend something" after a search leans
the fused recommender towards what was searched, without narrowing to it. The recommender
then ranks the candidates for this shopper and this conversation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval.product_search import ProductSearch, SearchRequest
from retrieval.recommender import FusedRecommender
from retrieval.use_match import UseMatcher

# Above this cosine (plain MiniLM) the shopper's words name a kind of product worth narrowing to.
RELEVANT_COSINE = 0.35
# How many search hits are looked at for closeness to the words.
CANDIDATE_POOL = 40


@dataclass(frozen=True)
class RecommendedProduct:
    product: dict[str, Any]
    why: str
    # The use tag that brought the product in ("skiing"), when one did.
    use: str | None = None


class Recommendations:
    """Product ids in (what the shopper liked, the page they are on), products out. Cheap to
    build; `recommender` is a callable so a retrained model is picked up on the next call."""

    def __init__(
        self,
        search: ProductSearch,
        use_matcher: UseMatcher,
        recommender: Callable[[], FusedRecommender],
        relevant_cosine: float = RELEVANT_COSINE,
        candidate_pool: int = CANDIDATE_POOL,
    ) -> None:
        self.search = search
        self.use_matcher = use_matcher
        self._recommender = recommender
        self.relevant_cosine = relevant_cosine
        self.candidate_pool = candidate_pool

    def warm_up(self) -> None:
        self.search.index.warm_up()
        self._recommender()

    def recommend(
        self,
        text: str,
        customer_id: str | None = None,
        context_ids: Sequence[str] = (),
        category: str | None = None,
        last_search: str | None = None,
        k: int = 5,
    ) -> list[RecommendedProduct]:
        """`category`: the NLU's product word of this message only (an earlier search's category
        is not a wish for gifts). `last_search`: the query of the conversation's last search."""
        recommender = self._recommender()
        search, index = self.search, self.search.index
        # Words about a kind of product narrow the candidates; "recommend me something" does not.
        request = SearchRequest(query=text, category=category)
        # A product word the catalog knows; the NLU also tags words like "muddy".
        filters = search.filters_for(request)
        kind_named = bool(filters.category or filters.subcategory or filters.kind)
        candidates = search.search(request, k=self.candidate_pool, relax=False).hits
        focused = [h for h in candidates if h.dense >= self.relevant_cosine] or (candidates if kind_named else [])
        # One encoding of the message serves the use tags and the blend.
        vector = index.embedder.encode([text])[0] if text.strip() else None
        # "I'm going skiing in January": no product is close to the words, a use tag is.
        uses = (
            {}
            if kind_named or vector is None
            else self.use_matcher.products_with([u.tag for u in self.use_matcher.uses(text, vector)])
        )
        mask, wish_vector = None, None
        if focused or uses:
            # With a use, the products carrying its tag plus the few close ones the words rank
            # first: all the close ones let slippers in for "feet dry on muddy hikes".
            allowed = {h.product["id"] for h in (focused[:k] if uses else focused)} | set(uses)
            mask = np.asarray([pid in allowed for pid in recommender.item_ids])
            wish_vector = vector
        elif last_search:
            # After a search, what the shopper was looking for leans the blend towards it.
            wish_vector = index.embedder.encode([last_search])[0]
        picks = recommender.recommend(customer_id, list(context_ids), wish_vector, k=k, candidate_mask=mask)
        return [
            RecommendedProduct(product, pick.why, uses.get(pick.product_id))
            for pick in picks
            if (product := index.product(pick.product_id)) is not None
        ]
