"""Latency percentiles for the benchmarks, defined once so every p50/p95 in
``benchmarks/results/*.json`` is computed the same way.

Runs in both environments (the rasa env's numpy 1.23 and the actions env's numpy 2.x).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, unrounded.

    Method: linear interpolation between the two closest order statistics, numpy's default
    (``np.percentile(values, q)``, method "linear"; Hyndman-Fan type 7, as in R's default and
    Excel's PERCENTILE.INC). Every benchmark computed its percentiles with exactly that call
    before this helper existed, so the numbers already in ``benchmarks/results/`` stay
    comparable. Nearest-rank (``sorted(v)[int(q / 100 * n)]``) would jump by whole samples on
    the 100-200-sample runs and read one sample high at p95.

    Like ``np.percentile``, an empty ``values`` raises IndexError.
    """
    return float(np.percentile(values, q))


def latency_ms(
    values_ms: Sequence[float] | np.ndarray, percentiles: Iterable[float] = (50, 95), digits: int = 2
) -> dict[str, float]:
    """``{"p50_ms": ..., "p95_ms": ...}`` for latencies already in milliseconds, rounded to ``digits``.

    Keys follow ``percentiles`` in order (``p{q}_ms``), so a result dict that unpacks this
    keeps its JSON key order.
    """
    return {f"p{q}_ms": round(percentile(values_ms, q), digits) for q in percentiles}
