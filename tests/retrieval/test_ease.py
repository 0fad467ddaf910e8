"""EASE, the recommender's collaborative signal: the closed form, the dense -> low-rank fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retrieval.ease import DENSE_MAX_ITEMS, EASE, choose_form


def tiny_matrix(users: int = 12, items: int = 7, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    X = (rng.random((users, items)) < 0.45).astype(np.float64)
    X[0, :3] = 1.0  # no empty matrix whatever the seed
    return torch.as_tensor(X)


def numpy_ease(X: np.ndarray, l2: float) -> np.ndarray:
    """Steck (2019), as printed in the paper."""
    G = X.T @ X + l2 * np.eye(X.shape[1])
    P = np.linalg.inv(G)
    B = P / (-np.diag(P))
    np.fill_diagonal(B, 0.0)
    return B


def test_the_dense_closed_form_matches_numpy():
    X = tiny_matrix()
    ease = EASE(l2=3.0).fit(X)
    assert ease.form == "dense"
    np.testing.assert_allclose(ease.B.numpy(), numpy_ease(X.numpy(), 3.0), atol=1e-5)
    np.testing.assert_allclose(ease.scores(X).numpy(), X.numpy() @ numpy_ease(X.numpy(), 3.0), atol=1e-5)


def test_by_hand_on_two_items():
    # Two items always bought together by 2 users: G = [[2, 2], [2, 2]], λ = 1 -> P = [[3, -2], [-2, 3]]/5,
    # B_01 = -P_01 / P_11 = 2/3.
    X = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    ease = EASE(l2=1.0).fit(X)
    np.testing.assert_allclose(ease.B.numpy(), [[0.0, 2 / 3], [2 / 3, 0.0]], atol=1e-6)


def test_the_low_rank_form_is_exact_with_few_customers():
    X = tiny_matrix(users=5, items=9)  # rank <= 5 < 9 items: Woodbury is exact, no approximation
    dense = EASE(l2=2.0).fit(X)
    low_rank = EASE(l2=2.0, dense_max_items=0).fit(X)
    assert low_rank.form == "low_rank" and low_rank.V.shape[1] <= 5
    np.testing.assert_allclose(low_rank.scores(X).numpy(), dense.scores(X).numpy(), atol=1e-4)
    np.testing.assert_allclose(low_rank.weights_to(4, [0, 1, 4]).numpy(), dense.B[[0, 1, 4], 4].numpy(), atol=1e-4)


def test_changing_l2_equals_a_fresh_fit():
    X = tiny_matrix()
    for dense_max_items in (DENSE_MAX_ITEMS, 0):
        swept = EASE(l2=1.0, dense_max_items=dense_max_items).fit(X).set_l2(7.0)
        fresh = EASE(l2=7.0, dense_max_items=dense_max_items).fit(X)
        np.testing.assert_allclose(swept.scores(X).numpy(), fresh.scores(X).numpy(), atol=1e-5)


def test_the_threshold_picks_the_form():
    assert choose_form(DENSE_MAX_ITEMS) == "dense"
    assert choose_form(DENSE_MAX_ITEMS + 1) == "low_rank"
    X = tiny_matrix(items=7)
    assert EASE(dense_max_items=7).fit(X).form == "dense"
    assert EASE(dense_max_items=6).fit(X).form == "low_rank"


def test_a_truncated_rank_keeps_the_zero_diagonal():
    # More customers than the rank cap: EASE on the best rank-r Gram matrix, still no self-weight.
    X = tiny_matrix(users=40, items=10, seed=3)
    ease = EASE(l2=1.0, dense_max_items=0, max_rank=3).fit(X.to_sparse())
    assert ease.V.shape[1] == 3
    one_hot = torch.eye(10)
    np.testing.assert_allclose(torch.diagonal(ease.scores(one_hot)).numpy(), 0.0, atol=1e-5)
    assert float(ease.weights_to(2, [2, 5])[0]) == 0.0


@pytest.mark.parametrize("dense_max_items", [DENSE_MAX_ITEMS, 0])
def test_saved_tensors_give_the_same_scores(dense_max_items):
    X = tiny_matrix()
    ease = EASE(l2=2.0, dense_max_items=dense_max_items).fit(X)
    loaded = EASE.from_tensors(ease.tensors(), l2=2.0)
    assert loaded.form == ease.form
    assert torch.equal(loaded.scores(X), ease.scores(X))
    assert torch.equal(loaded.scores_for([[0, 2], [5]]), ease.scores_for([[0, 2], [5]]))
    with pytest.raises(KeyError):
        EASE.from_tensors({"other": torch.zeros(1)}, l2=2.0)
