"""The recommender's sequence signal: which products shoppers go on to after the ones this shopper
touched last.

    seq = ItemTransitions(window=100, decay=20, recency=5).fit(sequences, n_items)
    seq.scores([history, ...])       # each history oldest -> newest -> (batch, products)

Each customer's products, in the order they last touched them, give transitions h -> j for every j
up to `window` steps after h, worth exp(-(d - 1)/decay) at distance d. Each row is divided by the
square root of its total, so a product that comes before everything says less about any one.
A shopper is scored from their latest `recent_items` products, the newest weighing most
(exp(-age/recency), age counted in products): in the shop, the products viewed in this
conversation come last. Direction matters: on MovieLens validation, following transitions forward
ranks better than the symmetric co-occurrence. Stored sparse (CSR, at most `max_neighbours`
successors per product), so memory grows with the interaction log, not with the catalog squared.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch


def recent_weights(history: Sequence[int], recency: float, limit: int) -> tuple[list[int], list[float]]:
    """The latest `limit` distinct products of `history` (oldest first) with exp(-age/recency)
    weights, the newest first."""
    seen: set[int] = set()
    items: list[int] = []
    for item in reversed(history):
        if item not in seen:
            seen.add(item)
            items.append(item)
            if len(items) == limit:
                break
    return items, [math.exp(-age / recency) for age in range(len(items))]


class ItemTransitions:
    def __init__(
        self,
        window: int = 100,
        decay: float = 20.0,
        recency: float = 5.0,
        recent_items: int = 30,
        max_neighbours: int = 1_000,
        device: str | torch.device = "cpu",
    ) -> None:
        self.window, self.decay, self.recency = int(window), float(decay), float(recency)
        self.recent_items, self.max_neighbours = int(recent_items), int(max_neighbours)
        self.device = torch.device(device)
        self.n_items = 0
        self.crow = torch.zeros(1, dtype=torch.long)
        self.col = torch.zeros(0, dtype=torch.long)
        self.val = torch.zeros(0)

    def fit(self, sequences: Iterable[Sequence[int]], n_items: int) -> ItemTransitions:
        self.n_items = n_items
        rows, cols, vals = [], [], []
        for sequence in sequences:
            items = np.asarray(sequence, dtype=np.int64)
            for d in range(1, min(self.window, len(items) - 1) + 1):
                rows.append(items[:-d])
                cols.append(items[d:])
                vals.append(np.full(len(items) - d, math.exp(-(d - 1) / self.decay)))
        if not rows:
            self.crow = torch.zeros(n_items + 1, dtype=torch.long, device=self.device)
            self.col, self.val = self.col.to(self.device), self.val.to(self.device)
            return self
        keys, inverse = np.unique(np.concatenate(rows) * n_items + np.concatenate(cols), return_inverse=True)
        summed = np.bincount(inverse, weights=np.concatenate(vals)).astype(np.float64)
        row, col = keys // n_items, keys % n_items
        val = summed / np.sqrt(np.bincount(row, weights=summed, minlength=n_items))[row]
        # Each product's strongest successors, in row order (CSR).
        order = np.lexsort((-val, row))
        row, col, val = row[order], col[order], val[order]
        starts = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n_items))])
        keep = np.arange(len(row)) - starts[row] < self.max_neighbours
        row, col, val = row[keep], col[keep], val[keep]
        self.crow = torch.as_tensor(
            np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n_items))]), device=self.device
        )
        self.col = torch.as_tensor(col, device=self.device)
        self.val = torch.as_tensor(val, dtype=torch.float32, device=self.device)
        return self

    @property
    def nnz(self) -> int:
        return int(self.col.numel())

    def scores(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        rows, items, weights = [], [], []
        for b, history in enumerate(histories):
            recent, w = recent_weights(history, self.recency, self.recent_items)
            rows += [b] * len(recent)
            items += recent
            weights += w
        out = torch.zeros(len(histories), self.n_items, device=self.device)
        if not items:
            return out
        items_t = torch.as_tensor(items, device=self.device)
        starts, ends = self.crow[items_t], self.crow[items_t + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        if total == 0:
            return out
        # The CSR rows of the recent products, gathered in one go.
        offsets = torch.repeat_interleave(starts - (torch.cumsum(lengths, 0) - lengths), lengths) + torch.arange(
            total, device=self.device
        )
        values = self.val[offsets] * torch.repeat_interleave(torch.as_tensor(weights, device=self.device), lengths)
        out.index_put_(
            (torch.repeat_interleave(torch.as_tensor(rows, device=self.device), lengths), self.col[offsets]),
            values,
            accumulate=True,
        )
        return out

    def weights_to(self, item: int, history: Sequence[int]) -> dict[int, float]:
        """What each recent product of `history` adds to `item`'s score (the explanation's anchor)."""
        recent, weights = recent_weights(history, self.recency, self.recent_items)
        out = {}
        for h, w in zip(recent, weights, strict=True):
            start, end = int(self.crow[h]), int(self.crow[h + 1])
            hits = (self.col[start:end] == item).nonzero()
            out[h] = float(self.val[start + int(hits[0])]) * w if len(hits) else 0.0
        return out

    # ---- persistence -------------------------------------------------------------------------

    def tensors(self, prefix: str = "seq.") -> dict[str, torch.Tensor]:
        return {f"{prefix}crow": self.crow, f"{prefix}col": self.col, f"{prefix}val": self.val}

    def config(self) -> dict[str, float | int]:
        return {
            "window": self.window,
            "decay": self.decay,
            "recency": self.recency,
            "recent_items": self.recent_items,
            "max_neighbours": self.max_neighbours,
        }

    @classmethod
    def from_tensors(
        cls,
        tensors: dict[str, torch.Tensor],
        config: dict[str, float | int],
        prefix: str = "seq.",
        device: str | torch.device = "cpu",
    ) -> ItemTransitions:
        model = cls(**config, device=device)  # type: ignore[arg-type]
        model.crow = tensors[f"{prefix}crow"].to(model.device)
        model.col = tensors[f"{prefix}col"].to(model.device)
        model.val = tensors[f"{prefix}val"].to(model.device)
        model.n_items = model.crow.shape[0] - 1
        if model.col.shape != model.val.shape or int(model.crow[-1]) != model.col.shape[0]:
            raise ValueError("sequence tensors disagree in shape")
        return model
