"""The hybrid joiner of product search (retrieval/fusion.py) on tiny rankings, and the product index
joining with it on a tiny catalog (vectors made by hand, no model)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrieval.fusion import HybridJoiner, QueryCoverage, competition_ranks, reciprocal_rank_fusion
from retrieval.product_index import ProductFilters, ProductIndex


def test_equal_scores_share_the_best_of_their_ranks():
    assert competition_ranks(np.array([0.5, 0.9, 0.5, 0.1])).tolist() == [2, 1, 2, 4]
    assert competition_ranks(np.array([0.0, 0.0])).tolist() == [1, 1]


def test_rank_fusion_orders_by_both_rankings_and_ties_stay_tied():
    dense = np.array([0.9, 0.8, 0.1, 0.1])
    lexical = np.array([3.0, 0.0, 5.0, 0.0])
    fused = reciprocal_rank_fusion([dense, lexical], k=60, found=[None, lexical > 0])
    # 0: ranks 1 and 2; 2: ranks 3 (tied) and 1; 1: rank 2 and not found; 3: rank 3 and not found
    assert np.argsort(-fused, kind="stable").tolist() == [0, 2, 1, 3]
    assert math.isclose(fused[0], (1 / 61 + 1 / 62) / (2 / 61), rel_tol=1e-6)
    tied = reciprocal_rank_fusion([np.array([0.5, 0.5, 0.2])], k=60)
    assert tied[0] == tied[1] == 1.0 and tied[2] < 1.0


def test_a_document_one_mode_alone_finds_still_ranks():
    only_lexical = reciprocal_rank_fusion(
        [np.array([0.9, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 2.0, 0.0])],
        found=[np.array([True, True, False, False]), None],
    )
    # document 2 is not in the first list at all, yet comes before document 3, found by neither
    assert only_lexical[2] > 0 and only_lexical[2] > only_lexical[3]
    joiner = HybridJoiner(feedback_depth=0)
    fused = joiner.join(np.array([0.6, 0.1, 0.1]), np.array([0.0, 1.0, 0.0]))
    assert fused[1] > fused[2] and fused[0] > fused[2]


def test_rank_fusion_wants_one_weight_per_signal():
    with pytest.raises(ValueError, match="one weight"):
        reciprocal_rank_fusion([np.zeros(2), np.zeros(2)], weights=[1.0])
    with pytest.raises(ValueError, match="at least one"):
        reciprocal_rank_fusion([])


def test_query_coverage_is_the_idf_weighted_share_of_the_query_words():
    coverage = QueryCoverage([["trail", "shoe", "waterproof"], ["trail", "shoe"], ["road", "shoe"], ["mug"]])
    scores = coverage(["waterproof", "trail", "shoe"])
    assert math.isclose(scores[0], 1.0, rel_tol=1e-6)
    assert scores[0] > scores[1] > scores[2] > scores[3] == 0.0
    # a rare word ("waterproof", one document) says more than a common one ("shoe", three)
    assert coverage(["waterproof", "shoe"])[0] - coverage(["waterproof", "shoe"])[1] > 0.5
    # a word no product has counts in the whole: nothing covers the query completely
    assert coverage(["trail", "shoe", "gore"]).max() < 1.0
    assert not coverage([]).any() and coverage(["unknown"]).tolist() == [0.0] * 4


def test_the_convex_join_weighs_each_side_and_feedback_lifts_the_neighbours_of_the_best():
    cosines = np.array([0.5, 0.5, 0.3, 0.3], dtype=np.float32)
    lexical = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
    assert np.allclose(HybridJoiner(feedback_depth=0).join(cosines, lexical), [0.75, 0.25, 0.15, 0.15])
    assert np.allclose(HybridJoiner(lexical_weight=0.0, feedback_depth=0).join(cosines, lexical), cosines)
    # product 2 lies next to product 0 (the best first join), product 3 far from it
    vectors = np.array([[1, 0, 0], [0, 0, 1], [0.96, 0.28, 0], [0, 1, 0]], dtype=np.float32)
    with_feedback = HybridJoiner(feedback_depth=1).join(cosines, lexical, vectors)
    assert with_feedback[2] > with_feedback[3] and with_feedback[0] == with_feedback.max()
    # without vectors, or with depth 0, there is no feedback
    assert np.allclose(HybridJoiner(feedback_depth=1).join(cosines, lexical), [0.75, 0.25, 0.15, 0.15])


def test_feedback_in_a_pool_reorders_the_first_joins_best_and_lets_nothing_else_in():
    # Product 0 says the query; 1 and 2 are half-way there; 3, next to 0 as a vector, is far
    # below them; 4 lies next to 0 too and is in the pool.
    cosines = np.array([0.6, 0.5, 0.5, 0.1, 0.4], dtype=np.float32)
    lexical = np.array([1.0, 0.5, 0.5, 0.0, 0.3], dtype=np.float32)
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0.6, 0.8], [1, 0, 0], [1, 0, 0]], dtype=np.float32)
    first = HybridJoiner(feedback_depth=0).join(cosines, lexical)
    assert np.argsort(-first, kind="stable").tolist() == [0, 1, 2, 4, 3]
    whole = HybridJoiner(feedback_depth=1, feedback_weight=1.0, feedback_pool=0).join(cosines, lexical, vectors)
    pooled = HybridJoiner(feedback_depth=1, feedback_weight=1.0, feedback_pool=4).join(cosines, lexical, vectors)
    # Over the whole catalog the feedback lifts 3 over 1 and 2; in a pool of four it cannot enter.
    assert whole[3] > whole[1] and np.argsort(-pooled, kind="stable").tolist()[-1] == 3
    # Within the pool, 4 (next to the best) moves up, clear of a tie; outside it nothing changes.
    assert np.argsort(-pooled, kind="stable").tolist()[:2] == [0, 4] and pooled[4] - pooled[1] > 0.1
    assert pooled[3] == first[3]
    with pytest.raises(ValueError, match="must not be negative"):
        HybridJoiner(feedback_pool=-1)


def test_rrf_joiner_and_bad_configurations():
    fused = HybridJoiner(method="rrf", feedback_depth=0).join(np.array([0.9, 0.2, 0.1]), np.array([0.0, 0.0, 1.0]))
    # 2 is third by its cosine and alone in the lexical list: ahead of 0, first by its cosine alone
    assert np.argsort(-fused).tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match="method"):
        HybridJoiner(method="max")
    with pytest.raises(ValueError, match="between 0 and 1"):
        HybridJoiner(lexical_weight=1.5)
    with pytest.raises(ValueError, match="lexical scores"):
        HybridJoiner().join(np.zeros(3), np.zeros(2))


class _Vectors:
    """An embedder that knows a few meanings, one axis each ("wellington" means a boot)."""

    AXES = (("boot", "wellington"), ("rain",), ("mug", "cup"), ("coffee",))

    def warm_up(self) -> None:
        pass

    def known_words(self) -> set[str]:
        return {w for axis in self.AXES for w in axis}

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = (
            np.array(
                [[float(any(w in t.lower() for w in axis)) for axis in self.AXES] for t in texts], dtype=np.float32
            )
            + 1e-3
        )
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _product(pid: str, title: str, category: str, description: str = "") -> dict:
    return {
        "id": pid,
        "title": title,
        "description": description,
        "category": category,
        "subcategory": "",
        "brand": "",
        "color": "",
        "price": 10.0,
        "stock": 1,
        "rating": 4.0,
        "sizes": [],
        "tags": [],
    }


def test_the_product_index_ranks_with_its_joiner(tmp_path):
    products = [
        _product("P1", "Rain Boot", "footwear", "waterproof"),
        _product("P2", "Wellington", "footwear", "rubber, knee high"),
        _product("P3", "Coffee Mug", "home", "for rainy days"),
        _product("P4", "Cup", "home", "stoneware"),
    ]
    embedder = _Vectors()
    index = ProductIndex(
        index_path=tmp_path,
        collection="tiny",
        embedder=embedder,  # type: ignore[arg-type]
        fusion=HybridJoiner(feedback_depth=1),
    )
    index.load_products(products, embedder.encode([f"{p['title']} {p['description']}" for p in products]))
    index.stamp_file.write_text("tiny\n")
    index._stamp = "tiny"  # in memory only: nothing to reload
    hits = index.search("rain boot", ProductFilters(), k=4)
    # P1 says every word; P2 none of them, but the dense side (and the feedback from P1) finds it
    assert [h.product["id"] for h in hits[:2]] == ["P1", "P2"]
    assert hits[0].lexical == pytest.approx(1.0) and hits[1].lexical == 0.0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # the filters apply to the joined ranking as before
    home = index.search("coffee mug", ProductFilters(category="home"), k=5)
    assert [h.product["id"] for h in home] == ["P3", "P4"]
    assert [h.product["id"] for h in index.search("rain boot", ProductFilters(), k=2, mode="bm25")][0] == "P1"
