"""How product search joins its lexical and its dense scores: one joiner, configured by its
constructor, and the lexical score it is built for.

The mix it replaces, 0.7 × cosine + 0.3 × BM25 divided by the query's best BM25 score, had its
weight fitted on the demo catalog's judged queries, and dividing by the best score gives the
best lexical match 1.0 however little of the query it has (one common word of five): on another
shop's 20k-product catalog it ranked below that catalog's own BM25 (nDCG@10 0.649 against 0.659),
and so it does on the MovieLens catalog of `make bench-search` (0.526 against 0.554). Which weight
suits depends on how shoppers phrase their queries (sentences on the demo, single tags on
MovieLens) as much as on the catalog, and pseudo-queries made from the catalog show only the
catalog; so no weight is fitted here, and each score is on a scale that means the same in any
catalog:

- the lexical score is `QueryCoverage`, the idf-weighted share of the query's words a product
  has: BM25 with binary term counts divided by its largest possible value, so 1 means "every
  word of the query" in any catalog and a product with one common word of five stays low;
- the dense score is the MiniLM cosine, already on a fixed scale;
- `convex` (the default) weighs the two equally;
- `rrf` is reciprocal rank fusion, for comparison: sum of weight / (k + rank), equal scores share
  the best rank, and a product the lexical side does not find (score 0) gets nothing from it.

Dense feedback reorders the first join's best RERANKED products (on by default): the mean
vector of its FEEDBACK_DEPTH best is mixed into the query's cosine and the pool is joined again,
so products that say the query in other words (a movie nobody tagged "atmospheric" next to the
ones that are) move up among those that say it literally. Over the whole catalog it drifted: for
"cheap noise cancelling headphones" it lifted a $48 portable speaker (close to headphones as a
vector) into the 20 most relevant products that "cheap" orders by price. Within the pool nothing
enters that the first join did not find: the pool keeps its second join's scores, lifted where
needed to stay above the rest.

Equal weights and convex over rrf were chosen on the validation queries of both catalogs of
`make bench-search` (benchmarks/results/search.json, "validation_ndcg_by_fusion"), and so was
the feedback, pool first: the pool is the 20 that "cheap" orders by price, and within it three
products' mean vector at half the dense score had the best validation nDCG@10 on the demo
catalog (0.953 against 0.945 without feedback) and near the best on MovieLens (0.642 against
0.632); every depth (3, 5, 10) and share (0.3, 0.5, 0.7) tried there raised both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

METHODS = ("convex", "rrf")
# The dense feedback's defaults (module docstring): the pool it reorders (the CHEAP_POOL of
# retrieval.product_index), how many of the first join's best give the mean vector, and its share.
RERANKED = 20
FEEDBACK_DEPTH = 3
FEEDBACK_WEIGHT = 0.5


def competition_ranks(scores: np.ndarray) -> np.ndarray:
    """Rank 1 for the highest score; equal scores share the best of their ranks (1, 2, 2, 4)."""
    scores = np.asarray(scores, dtype=np.float64)
    ascending = np.sort(-scores)
    return (np.searchsorted(ascending, -scores, side="left") + 1).astype(np.float64)


def reciprocal_rank_fusion(
    signals: Sequence[np.ndarray],
    weights: Sequence[float] | None = None,
    k: float = 60,
    found: Sequence[np.ndarray | None] | None = None,
) -> np.ndarray:
    """Per document, the sum over signals of weight / (k + its rank in that signal), divided by
    the largest possible sum so the best document of every signal scores 1. `found[i]` (a boolean
    mask, or None for every document) says which documents signal i ranks at all."""
    if not signals:
        raise ValueError("reciprocal_rank_fusion needs at least one signal")
    weights = list(weights) if weights is not None else [1.0] * len(signals)
    masks = list(found) if found is not None else [None] * len(signals)
    if len(weights) != len(signals) or len(masks) != len(signals):
        raise ValueError("one weight and one found mask per signal")
    fused = np.zeros(len(signals[0]), dtype=np.float64)
    for scores, weight, mask in zip(signals, weights, masks, strict=True):
        share = weight / (k + competition_ranks(scores))
        fused += share if mask is None else np.where(mask, share, 0.0)
    best = sum(weights) / (k + 1)
    return (fused / best if best > 0 else fused).astype(np.float32)


class QueryCoverage:
    """The lexical score: the share of the query's words (each weighted by its idf in the catalog)
    that a document has, in [0, 1]. A query word no document has still counts in the whole, so
    a query the catalog has few words of leans on the dense side."""

    def __init__(self, documents: Iterable[Iterable[str]]) -> None:
        postings: dict[str, list[int]] = {}
        count = 0
        for i, words in enumerate(documents):
            count += 1
            for word in set(words):
                postings.setdefault(word, []).append(i)
        self.size = count
        self._postings = {w: np.asarray(ids, dtype=np.int64) for w, ids in postings.items()}

    def idf(self, word: str) -> float:
        # BM25's (Lucene's) idf: never negative, largest for a word no document has.
        df = len(self._postings.get(word, ()))
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def __call__(self, query_tokens: Iterable[str]) -> np.ndarray:
        words = set(query_tokens)
        covered = np.zeros(self.size, dtype=np.float32)
        total = 0.0
        for word in sorted(words):
            weight = self.idf(word)
            total += weight
            ids = self._postings.get(word)
            if ids is not None:
                covered[ids] += weight
        return covered / total if total > 0 else covered


class HybridJoiner:
    """Joins one query's dense and lexical scores over the whole catalog into one score per
    product (about 0..1, higher is better).

    method: "convex" (weighted sum of the scores) or "rrf" (reciprocal rank fusion).
    lexical_weight: the lexical side's share; the dense side gets the rest.
    feedback_depth / feedback_weight: how many of the first join's best products give their mean
    vector, and its share of the dense score in the second join; depth 0 joins once.
    feedback_pool: how many of the first join's best the second join reorders; 0 rescores the
    whole catalog.
    rrf_k: the rank offset of `rrf`.
    """

    def __init__(
        self,
        method: str = "convex",
        lexical_weight: float = 0.5,
        feedback_depth: int = FEEDBACK_DEPTH,
        feedback_weight: float = FEEDBACK_WEIGHT,
        feedback_pool: int = RERANKED,
        rrf_k: float = 60,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        if not 0 <= lexical_weight <= 1 or not 0 <= feedback_weight <= 1:
            raise ValueError("lexical_weight and feedback_weight must be between 0 and 1")
        if feedback_depth < 0 or feedback_pool < 0 or rrf_k < 0:
            raise ValueError("feedback_depth, feedback_pool and rrf_k must not be negative")
        self.method = method
        self.lexical_weight = lexical_weight
        self.feedback_depth = feedback_depth
        self.feedback_weight = feedback_weight
        self.feedback_pool = feedback_pool
        self.rrf_k = rrf_k

    @property
    def config(self) -> dict[str, float | int | str]:
        return {
            "method": self.method,
            "lexical_weight": self.lexical_weight,
            "feedback_depth": self.feedback_depth,
            "feedback_weight": self.feedback_weight,
            "feedback_pool": self.feedback_pool,
            "rrf_k": self.rrf_k,
        }

    def join(self, cosines: np.ndarray, lexical: np.ndarray, vectors: np.ndarray | None = None) -> np.ndarray:
        """`cosines` and `lexical` per document; `vectors` (normalised, one row per document) for
        the dense feedback, which is skipped without them."""
        cosines = np.asarray(cosines, dtype=np.float32)
        lexical = np.asarray(lexical, dtype=np.float32)
        if cosines.shape != lexical.shape:
            raise ValueError(f"{cosines.shape[0]} cosines but {lexical.shape[0]} lexical scores")
        fused = self._join(cosines, lexical)
        depth = min(self.feedback_depth, len(fused))
        if vectors is None or depth == 0 or self.feedback_weight == 0 or len(vectors) != len(fused):
            return fused
        best = np.argpartition(-fused, depth - 1)[:depth]
        centre = vectors[best].mean(axis=0)
        norm = float(np.linalg.norm(centre))
        if norm == 0:
            return fused
        neighbours = vectors @ (centre / norm).astype(np.float32)
        second = self._join((1 - self.feedback_weight) * cosines + self.feedback_weight * neighbours, lexical)
        pool = min(self.feedback_pool, len(fused))
        if pool == 0 or pool == len(fused):
            return second
        first_best = np.argpartition(-fused, pool - 1)[:pool]
        rest = np.ones(len(fused), dtype=bool)
        rest[first_best] = False
        # The pool in its second join's order, lifted where needed to stay above the rest.
        lift = max(0.0, float(fused[rest].max()) - float(second[first_best].min()) + 1e-2)
        out = fused.copy()
        out[first_best] = second[first_best] + lift
        return out

    def _join(self, cosines: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        w = self.lexical_weight
        if self.method == "rrf":
            return reciprocal_rank_fusion([cosines, lexical], [1 - w, w], self.rrf_k, found=[None, lexical > 0])
        return ((1 - w) * cosines + w * lexical).astype(np.float32)
