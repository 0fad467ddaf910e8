"""The sequence signal: forward transitions, scored from the shopper's most recent products."""

from __future__ import annotations

import torch

from retrieval.item_transitions import ItemTransitions, recent_weights


def test_recent_weights_favour_the_newest_and_keep_each_product_once():
    items, weights = recent_weights([1, 2, 3, 2], recency=5.0, limit=10)
    assert items == [2, 3, 1]  # newest first; 2 counts at its last touch
    assert weights[0] == 1.0 and weights[0] > weights[1] > weights[2]
    assert recent_weights([1, 2, 3], recency=5.0, limit=2)[0] == [3, 2]


def test_the_newest_product_weighs_most():
    # Shoppers go 0 -> 2 and 1 -> 3 equally often.
    seq = ItemTransitions(window=1, recency=2.0).fit([[0, 2], [1, 3]], n_items=4)
    newest_is_1 = seq.scores([[0, 1]])[0]
    newest_is_0 = seq.scores([[1, 0]])[0]
    assert newest_is_1[3] > newest_is_1[2]
    assert newest_is_0[2] > newest_is_0[3]


def test_transitions_go_forward_and_fade_with_distance():
    seq = ItemTransitions(window=3, decay=1.0).fit([[0, 1, 2, 3], [0, 1, 2, 3]], n_items=5)
    after_0 = seq.scores([[0]])[0]
    assert after_0[1] > after_0[2] > after_0[3] > 0 and after_0[4] == 0 and after_0[0] == 0
    assert seq.scores([[3]])[0].abs().sum() == 0  # nothing ever came after 3


def test_max_neighbours_keeps_the_strongest_successors():
    seq = ItemTransitions(window=1, max_neighbours=1).fit([[0, 1], [0, 1], [0, 2]], n_items=3)
    scores = seq.scores([[0]])[0]
    assert scores[1] > 0 and scores[2] == 0 and seq.nnz == 1


def test_weights_to_names_the_product_that_led_there():
    seq = ItemTransitions(window=1).fit([[0, 2], [1, 3]], n_items=4)
    contributions = seq.weights_to(3, [0, 1])
    assert contributions[1] > 0 and contributions[0] == 0


def test_saved_tensors_give_the_same_scores():
    seq = ItemTransitions(window=2, decay=3.0, recency=4.0).fit([[0, 1, 2], [2, 1, 3], [3, 0]], n_items=4)
    loaded = ItemTransitions.from_tensors(seq.tensors(), seq.config())
    histories = [[0, 1], [3], []]
    assert torch.equal(loaded.scores(histories), seq.scores(histories))


def test_no_sequences_scores_zero():
    seq = ItemTransitions().fit([[0], []], n_items=3)
    assert seq.scores([[0], []]).abs().sum() == 0
