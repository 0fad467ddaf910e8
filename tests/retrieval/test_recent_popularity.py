"""Popularity as of a moment: only what happened before it counts, older interactions fade."""

from __future__ import annotations

import numpy as np

from retrieval.recent_popularity import RecentPopularity

DAY = 86400.0


def test_only_interactions_up_to_the_moment_count():
    pop = RecentPopularity(half_life_days=None).fit([0, 1, 1], [0.0, 10 * DAY, 20 * DAY], [1.0, 1.0, 1.0], n_items=2)
    np.testing.assert_allclose(pop.at([5 * DAY, 15 * DAY, 25 * DAY]).numpy(), [[1, 0], [1, 1], [1, 2]])


def test_an_interaction_halves_every_half_life():
    pop = RecentPopularity(half_life_days=10).fit([0, 1], [0.0, 10 * DAY], [4.0, 1.0], n_items=2)
    np.testing.assert_allclose(pop.at([10 * DAY])[0].numpy(), [2.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(pop.latest().numpy(), [2.0, 1.0], rtol=1e-6)  # the log ends at day 10


def test_an_empty_log_is_all_zero():
    assert RecentPopularity().fit([], [], [], n_items=3).latest().abs().sum() == 0
