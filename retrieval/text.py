"""Tokenising for the lexical (BM25) indexes, shared by the knowledge base and product search."""

from __future__ import annotations

import re

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an the and or of to in on for with is are was were be been can i im i'm my me you your we our us do does "
    "did how what whats when where which who why it its this that these those there if at by from as not so any "
    "have has had get got much many will would could should about please some just need want like also than then "
    "into out up down over am he she they them their his her".split()
)


def stem(word: str) -> str:
    # A light suffix strip so "refunds"/"refunded"/"refunding" meet; a real stemmer over-merges
    # product words ("runner"/"running") that the catalog needs apart.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    # "hoodie" must meet "hoodies" (-> "hoody" above)
    if len(word) > 4 and word.endswith("ie"):
        return word[:-2] + "y"
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def reciprocal_rank_fusion(
    rankings: list[np.ndarray], weights: list[float] | None = None, k: int = 60
) -> dict[int, float]:
    """Fuses ranked lists of document indexes: sum of weight / (k + rank), rank from 1."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, index in enumerate(ranking, start=1):
            fused[int(index)] = fused.get(int(index), 0.0) + weight / (k + rank)
    return fused
