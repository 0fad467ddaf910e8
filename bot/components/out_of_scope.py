"""How far a message is from what the intent classifier was trained on: the out-of-scope score.

A softmax classifier spreads its probability over the intents it knows, so a message about
something else entirely ("what's the weather in Oslo") still gets one intent with high
confidence: on a public 150-intent benchmark the confidence threshold caught only a third of
the unrelated requests. The distance of the message's sentence vector to the training
examples of the intent it was given holds up better beyond the training data (deep nearest
neighbours, Sun et al., ICML 2022; for intents, Zhou et al., ACL 2022): the score is the mean
cosine similarity of the message to its `neighbours` nearest training examples of the
predicted intent, on the fine-tuned encoder's mean-pooled vector.

The threshold is not a number in config.yml; it comes from the shop's own data at `rasa
train`. A slice of each intent's examples and a few whole intents are held out of a first
fine-tuning: the slice stands for new in-scope messages, the unseen intents for requests the
assistant was never taught. When the data has its own out-of-scope examples, half of them are
held out too and half taught, as a shop's served model is taught all of them: a held-out one
the first model already calls out of scope needs no threshold to catch it, so the more of them
the intent catches, the less the threshold is worth raising. (On the demo shop's 40 out-of-scope
validation messages, tests/nlu/validation.yml, the intent caught 26; the score alone would have
caught about half.)
`balanced_threshold` keeps as much of the one and rejects as much of the other as it can.
Without unseen intents to learn from, `choose_threshold` keeps a fixed share of the slice.
A fixed share cannot fit every shop: on BANKING77, where the unknown half of the intents
sits right beside the known half, keeping 90% let over a third of the unknown requests through,
while a shop whose intents are far apart loses in-scope messages for nothing.

Only numpy here; the component computes the vectors and persists the arrays (safetensors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.clip(norms, 1e-12, None)


def held_out_indices(labels: Sequence[str], fraction: float, seed: int, min_kept: int = 5) -> list[int]:
    """Indices of a stratified slice: `fraction` of each label's examples, rounded down.

    A label keeps at least `min_kept` examples for training, so a small intent gives none.
    """
    rng = np.random.RandomState(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    held: list[int] = []
    for label in sorted(by_label):
        members = by_label[label]
        count = min(int(len(members) * fraction), len(members) - min_kept)
        if count > 0:
            held.extend(int(i) for i in rng.choice(members, size=count, replace=False))
    return sorted(held)


def held_out_intents(labels: Sequence[str], fraction: float, seed: int, exempt: Sequence[str] = ()) -> list[str]:
    """A seeded `fraction` of the intents (rounded, at least one), leaving two or more trained.

    `exempt` intents (the data's own out-of-scope intent) are never chosen.
    """
    candidates = sorted(set(labels) - set(exempt))
    count = min(max(int(round(len(candidates) * fraction)), 1), len(candidates) - 2)
    if fraction <= 0 or count < 1:
        return []
    return sorted(str(x) for x in np.random.RandomState(seed).choice(candidates, size=count, replace=False))


class OutOfScopeScorer:
    """Nearest-neighbour similarity of sentence vectors to the predicted intent's examples."""

    def __init__(self, vectors: np.ndarray, labels: np.ndarray, neighbours: int, threshold: Optional[float]) -> None:
        self.vectors = normalise(vectors)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.neighbours = int(neighbours)
        self.threshold = threshold
        self._members = {int(label): np.flatnonzero(self.labels == label) for label in np.unique(self.labels)}

    def scores(
        self, vectors: np.ndarray, predicted: Sequence[int] | np.ndarray, leave_out: Optional[Sequence[int]] = None
    ) -> np.ndarray:
        """Per message, the mean cosine similarity to its nearest examples of `predicted`.

        `leave_out`: per message, the index of its own vector in the memory, which it is not
        compared with (scoring examples that are stored, as if they were new).
        An intent with no stored example scores 1.0: nothing to compare with, never rejected.
        """
        queries = normalise(vectors)
        result = np.ones(len(queries), dtype=np.float32)
        for row, label in enumerate(predicted):
            members = self._members.get(int(label))
            if leave_out is not None and members is not None:
                members = members[members != leave_out[row]]
            if members is None or not len(members):
                continue
            similarities = self.vectors[members] @ queries[row]
            k = min(self.neighbours, len(similarities))
            result[row] = float(np.sort(similarities)[-k:].mean())
        return result

    def is_out_of_scope(self, scores: np.ndarray) -> np.ndarray:
        if self.threshold is None:
            return np.zeros(len(scores), dtype=bool)
        return np.asarray(scores) < self.threshold

    @staticmethod
    def choose_threshold(held_out_scores: Sequence[float] | np.ndarray, keep_rate: float) -> Optional[float]:
        """The score below which `1 - keep_rate` of the unseen in-scope examples fall."""
        scores = np.asarray(held_out_scores, dtype=np.float64)
        if not len(scores):
            return None
        return float(np.quantile(scores, 1.0 - keep_rate))

    @staticmethod
    def balanced_threshold(
        in_scope_scores: Sequence[float] | np.ndarray,
        unknown_scores: Sequence[float] | np.ndarray,
        min_keep_rate: float,
        rejected_anyway: int = 0,
    ) -> Optional[float]:
        """The threshold that maximises (share of in-scope kept + share of unknown rejected).

        Where a range of thresholds ties, the middle of it: the two groups' scores rarely
        overlap on a shop whose intents are far apart, and the middle of the gap is the
        least fitted to these particular examples. Never one that rejects more than
        `1 - min_keep_rate` of the in-scope scores.

        `rejected_anyway`: unknown examples rejected whatever the threshold (the classifier
        gave them the data's own out-of-scope intent). They count in the unknown share, so the
        more of them, the less the threshold is worth raising for the rest.
        """
        kept = np.sort(np.asarray(in_scope_scores, dtype=np.float64))
        unknown = np.sort(np.asarray(unknown_scores, dtype=np.float64))
        if not len(kept) or not len(unknown) + rejected_anyway:
            return None
        if not len(unknown):
            return float(kept[0]) - 1e-6  # nothing left for the threshold to catch
        values = np.unique(np.concatenate([kept, unknown]))
        # Candidates between neighbouring scores, and beyond both ends.
        candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
        kept_share = 1.0 - np.searchsorted(kept, candidates, side="left") / len(kept)
        rejected_share = (np.searchsorted(unknown, candidates, side="left") + rejected_anyway) / (
            len(unknown) + rejected_anyway
        )
        objective = kept_share + rejected_share
        best = candidates[np.isclose(objective, objective.max())]
        threshold = float(np.median(best))
        cap = float(np.quantile(kept, 1.0 - min_keep_rate))
        return min(threshold, cap)
