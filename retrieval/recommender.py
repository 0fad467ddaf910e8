"""The fused product recommender, in torch: collaborative (EASE), sequence (what shoppers pick
after the products touched last), semantic (MiniLM), popularity as of the request, and review
sentiment + rating, mixed by a learned ranker.

    rec = FusedRecommender(); rec.fit(interactions, items, item_vectors, review_sentiment)
    rec.recommend(customer_id, context_product_ids, query_vector, k) -> [Recommendation]

Everything that is not a closed form is chosen on a validation split (each customer's latest
interactions held out by time), never set by hand: EASE's λ, the sequence signal's decays and the
popularity half-life (each signal alone, by NDCG@10 over the full catalog), then the fusion
weights: one set for known customers and one for cold starts, whose signals come from the products
they touched in this conversation instead. The products of this conversation are the newest part
of a shopper's history, so they weigh most in the sequence and semantic signals. Each signal is
standardised over the catalog per shopper before the mix. Every candidate is scored in one batched
tensor computation, on CUDA when present.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from retrieval.ease import DENSE_MAX_ITEMS, EASE, MAX_RANK
from retrieval.item_transitions import ItemTransitions, recent_weights
from retrieval.recent_popularity import RecentPopularity
from shop.device import pick_device

FEATURES = ("collaborative", "sequence", "semantic", "popularity", "sentiment", "rating")
# How much an interaction says about taste; a thumbs down or a bad rating is not a positive.
EVENT_WEIGHTS = {"purchase": 3.0, "feedback_up": 3.0, "cart": 2.0, "view": 1.0}
REBUILD_HINT = "make train-recommender"
K = 10
# The cold-start ranker learns from each validation customer's last few products, as if they were
# all this conversation showed.
COLD_CONTEXT = 3
BASE_TENSORS = {"item_vectors", "popularity", "sentiment", "rating", "w_warm", "w_cold"}


class RecommenderModelError(RuntimeError):
    """The recommender model is missing or unreadable."""


@dataclass(frozen=True)
class Recommendation:
    product_id: str
    score: float
    signals: dict[str, float]
    why: str


def interaction_weight(event: str, value: float | None) -> float:
    if event == "rating":
        return 2.0 if (value or 0) >= 4 else 0.0
    return EVENT_WEIGHTS.get(event, 0.0)


def temporal_split(
    interactions: list[dict[str, Any]], holdout: float = 0.2
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each user's latest `holdout` share of interactions (by time) goes to the second list."""
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in interactions:
        by_user[str(row["customer_id"])].append(row)
    train, held = [], []
    for rows in by_user.values():
        rows.sort(key=lambda r: r["ts"])
        cut = len(rows) - max(1, int(round(len(rows) * holdout))) if len(rows) >= 3 else len(rows)
        train += rows[:cut]
        held += rows[cut:]
    return train, held


def _seconds(moment: datetime | float) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


@dataclass
class _Log:
    """The positive interactions, as the signals read them."""

    sequences: dict[str, list[int]]  # customer -> products, oldest last touch first
    last_seen: dict[str, float]  # customer -> seconds of their latest interaction
    items: np.ndarray
    seconds: np.ndarray
    weights: np.ndarray


class FusedRecommender:
    def __init__(
        self,
        l2_grid: tuple[float, ...] = (10, 50, 100, 200, 500, 1000, 2000),
        decay_grid: tuple[float, ...] = (5, 20, 50),
        recency_grid: tuple[float, ...] = (2, 5, 10),
        half_life_grid: tuple[float | None, ...] = (7, 30, 90, 365, 1095, None),
        window: int = 100,
        recent_items: int = 30,
        max_neighbours: int = 1_000,
        dense_max_items: int = DENSE_MAX_ITEMS,
        max_rank: int = MAX_RANK,
        candidates: int = 100,
        max_validation_users: int = 1_000,
        seed: int = 42,
        device: str | None = None,
        epochs: int | None = None,
    ) -> None:
        # `epochs` trained the BPR model this replaced; every signal is now a closed form or counts,
        # so it is accepted (older callers pass it) and unused.
        self.config: dict[str, Any] = {
            "l2_grid": list(l2_grid),
            "decay_grid": list(decay_grid),
            "recency_grid": list(recency_grid),
            "half_life_grid": list(half_life_grid),
            "window": window,
            "recent_items": recent_items,
            "max_neighbours": max_neighbours,
            "dense_max_items": dense_max_items,
            "max_rank": max_rank,
            "candidates": candidates,
            "max_validation_users": max_validation_users,
            "seed": seed,
        }
        # What validation chose; the defaults serve a model fitted without a validation split.
        self.chosen: dict[str, Any] = {"l2": 200.0, "decay": 20.0, "recency": 5.0, "half_life_days": 365.0}
        self.device = torch.device(pick_device(device))
        self.item_ids: list[str] = []
        self.user_ids: list[str] = []
        self.items: list[dict[str, Any]] = []  # id, title, subcategory, rating, rating_count
        self.tensors: dict[str, torch.Tensor] = {}
        self.user_items: dict[str, list[int]] = {}  # oldest last touch first
        self.report: dict[str, Any] = {}
        self.ease = EASE(device=self.device)
        self.transitions = ItemTransitions(device=self.device)
        # Only on a model fitted in this process: the log that scores a request at a past moment.
        self.popularity: RecentPopularity | None = None
        self._position: dict[str, int] | None = None

    # ---- training ----------------------------------------------------------------------------

    def fit(
        self,
        interactions: list[dict[str, Any]],
        items: list[dict[str, Any]],
        item_vectors: np.ndarray,
        review_sentiment: np.ndarray | None = None,
        progress: bool = True,
    ) -> FusedRecommender:
        """Chooses the signals' settings and the fusion weights on a temporal validation split,
        then fits the signals on all interactions."""
        from tqdm import tqdm

        self.items = [
            {k: item.get(k) for k in ("id", "title", "subcategory", "rating", "rating_count")} for item in items
        ]
        self.item_ids = [str(item["id"]) for item in items]
        self._position = None
        position = self._index()
        interactions = [r for r in interactions if r["product_id"] in position and r.get("customer_id")]
        self.tensors = {
            "item_vectors": torch.as_tensor(np.asarray(item_vectors, dtype=np.float32)).to(self.device),
            "sentiment": torch.as_tensor(
                np.zeros(len(items), np.float32)
                if review_sentiment is None
                else np.asarray(review_sentiment, dtype=np.float32)
            ).to(self.device),
            "rating": self._bayesian_ratings(items).to(self.device),
        }
        with tqdm(total=5, desc="recommender", unit="step", disable=not progress) as bar:
            train, held = temporal_split(interactions)
            validation = self._log(train)
            targets = self._targets(validation, self._log(held))
            bar.set_postfix_str("validation: EASE λ")
            self._fit_signals(validation)
            self.report = {"validation_users": len(targets), "chosen_on_validation": {}}
            if targets:
                self._tune(validation, targets, bar)
            else:
                bar.update(3)
            bar.set_postfix_str("validation: fusion weights")
            self.tensors["w_warm"], self.tensors["w_cold"] = self._fit_fusion(validation, targets)
            bar.update()
            bar.set_postfix_str("final model")
            self._fit_signals(self._log(interactions))
            self.ease.release_training_state()
            bar.update()
        self.report["chosen"] = dict(self.chosen)
        return self

    def _index(self) -> dict[str, int]:
        if self._position is None or len(self._position) != len(self.item_ids):
            self._position = {pid: i for i, pid in enumerate(self.item_ids)}
        return self._position

    @staticmethod
    def _bayesian_ratings(items: list[dict[str, Any]]) -> torch.Tensor:
        counts = np.asarray([float(i.get("rating_count") or 0) for i in items])
        stars = np.asarray([float(i.get("rating") or 0) for i in items])
        prior, strength = (float(np.average(stars, weights=counts)) if counts.sum() else 3.5), 20.0
        return torch.as_tensor(((stars * counts + prior * strength) / (counts + strength) / 5.0).astype(np.float32))

    def _log(self, interactions: list[dict[str, Any]]) -> _Log:
        position = self._index()
        touched: dict[str, dict[int, None]] = defaultdict(dict)
        last_seen: dict[str, float] = {}
        items, seconds, weights = [], [], []
        for r in sorted(interactions, key=lambda r: r["ts"]):
            weight = interaction_weight(r["event"], r.get("value"))
            if weight <= 0:
                continue
            customer, item, moment = str(r["customer_id"]), position[r["product_id"]], _seconds(r["ts"])
            # Re-inserted, so each customer's products end up in the order of their last touch.
            touched[customer].pop(item, None)
            touched[customer][item] = None
            last_seen[customer] = moment
            items.append(item)
            seconds.append(moment)
            weights.append(weight)
        return _Log(
            {c: list(order) for c, order in touched.items()},
            last_seen,
            np.asarray(items, np.int64),
            np.asarray(seconds, np.float64),
            np.asarray(weights, np.float64),
        )

    def _targets(self, train: _Log, held: _Log) -> dict[str, set[int]]:
        """Held-out products of each validation customer that training did not already show them."""
        targets = {
            c: set(items) - set(train.sequences[c]) for c, items in held.sequences.items() if c in train.sequences
        }
        customers = sorted(c for c, t in targets.items() if t)
        cap = self.config["max_validation_users"]
        if len(customers) > cap:
            rng = np.random.default_rng(self.config["seed"])
            customers = sorted(rng.choice(customers, cap, replace=False).tolist())
        return {c: targets[c] for c in customers}

    def _fit_signals(self, log: _Log) -> None:
        cfg, chosen = self.config, self.chosen
        self.user_ids = sorted(log.sequences)
        self.user_items = log.sequences
        n = len(self.item_ids)
        rows = [u for u, customer in enumerate(self.user_ids) for _ in log.sequences[customer]]
        cols = [i for customer in self.user_ids for i in log.sequences[customer]]
        X = torch.sparse_coo_tensor(
            torch.as_tensor([rows, cols], dtype=torch.long).reshape(2, -1),
            torch.ones(len(rows)),
            (len(self.user_ids), n),
            check_invariants=True,
        ).coalesce()
        self.ease = EASE(chosen["l2"], cfg["dense_max_items"], cfg["max_rank"], self.device).fit(X)
        self.transitions = ItemTransitions(
            cfg["window"], chosen["decay"], chosen["recency"], cfg["recent_items"], cfg["max_neighbours"], self.device
        ).fit(log.sequences.values(), n)
        self.popularity = RecentPopularity(chosen["half_life_days"]).fit(log.items, log.seconds, log.weights, n)
        self.tensors["popularity"] = torch.log1p(self.popularity.latest()).to(self.device)

    def _tune(self, log: _Log, targets: dict[str, set[int]], bar: Any) -> None:
        """Each signal's settings, alone, by NDCG@10 on the validation customers."""
        customers = list(targets)
        histories = [log.sequences[c] for c in customers]
        moments = [log.last_seen[c] for c in customers]
        chosen, report = self.chosen, self.report["chosen_on_validation"]

        def pick(name: str, options: list[Any], score: Any) -> Any:
            results = {str(option): self._ndcg(score(option), histories, customers, targets) for option in options}
            best = options[max(range(len(options)), key=lambda i: results[str(options[i])])]
            report[name] = {"ndcg_at_10": results, "chosen": best}
            return best

        def ease_scores(l2: float) -> torch.Tensor:
            return self.ease.set_l2(l2).scores_for(histories)

        chosen["l2"] = float(pick("l2", self.config["l2_grid"], ease_scores))
        self.ease.set_l2(chosen["l2"])
        bar.update()
        bar.set_postfix_str("validation: sequence decays")
        options = [(d, r) for d in self.config["decay_grid"] for r in self.config["recency_grid"]]
        fitted: dict[float, ItemTransitions] = {}

        def sequence_scores(option: tuple[float, float]) -> torch.Tensor:
            decay, recency = option
            if decay not in fitted:
                fitted[decay] = ItemTransitions(
                    self.config["window"],
                    decay,
                    recency,
                    self.config["recent_items"],
                    self.config["max_neighbours"],
                    self.device,
                ).fit(log.sequences.values(), len(self.item_ids))
            fitted[decay].recency = recency
            return fitted[decay].scores(histories)

        chosen["decay"], chosen["recency"] = (float(x) for x in pick("decay, recency", options, sequence_scores))
        self.transitions = fitted[chosen["decay"]]
        self.transitions.recency = chosen["recency"]
        bar.update()
        bar.set_postfix_str("validation: popularity half-life")
        assert self.popularity is not None

        def popularity_scores(half_life: float | None) -> torch.Tensor:
            self.popularity.half_life_days = half_life  # type: ignore[union-attr]
            return self.popularity.at(moments).to(self.device)  # type: ignore[union-attr]

        half_life = pick("half_life_days", self.config["half_life_grid"], popularity_scores)
        chosen["half_life_days"] = None if half_life is None else float(half_life)
        self.popularity.half_life_days = chosen["half_life_days"]
        bar.update()

    def _ndcg(
        self, scores: torch.Tensor, histories: list[list[int]], customers: list[str], targets: dict[str, set[int]]
    ) -> float:
        return ndcg_at_k(scores, histories, [targets[c] for c in customers])

    def _fit_fusion(self, log: _Log, targets: dict[str, set[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """A listwise ranker over the standardised signals: softmax over each validation customer's
        top candidates (as the mix itself ranks them) towards their held-out products."""
        if not targets:
            uniform = torch.full((len(FEATURES),), 1.0 / len(FEATURES), device=self.device)
            return uniform, uniform.clone()
        customers = list(targets)
        histories = [log.sequences[c] for c in customers]
        moments = [log.last_seen[c] for c in customers]
        colds = [h[-COLD_CONTEXT:] for h in histories]
        weights, report = [], self.report
        for label, rows in (("warm", histories), ("cold", colds)):
            features = self._signals(rows, moments=moments)
            w = self._listwise_weights(features, histories, customers, targets)
            weights.append(w)
            report[f"weights_{label}"] = dict(zip(FEATURES, [round(float(x), 4) for x in w], strict=True))
            report[f"validation_ndcg_at_10_{label}"] = {
                "fused": round(ndcg_at_k(features @ w, histories, [targets[c] for c in customers]), 4),
                **{
                    name: round(ndcg_at_k(features[..., j], histories, [targets[c] for c in customers]), 4)
                    for j, name in enumerate(FEATURES)
                },
            }
        return weights[0], weights[1]

    def _listwise_weights(
        self, features: torch.Tensor, histories: list[list[int]], customers: list[str], targets: dict[str, set[int]]
    ) -> torch.Tensor:
        n_features = features.shape[-1]
        seen = torch.zeros(features.shape[:2], dtype=torch.bool, device=features.device)
        relevant = torch.zeros_like(seen)
        for row, (history, customer) in enumerate(zip(histories, customers, strict=True)):
            seen[row, history] = True
            relevant[row, list(targets[customer])] = True
        # A signal flat over the catalog for every shopper (no reviews yet) gets no weight, not
        # whatever the optimiser started it at.
        active = (features.abs().amax(dim=(0, 1)) > 0).float()
        w = active / active.sum().clamp_min(1.0)
        # Twice: the second time on the candidates the first weights put on top.
        for _ in range(2):
            top = torch.topk(
                (features @ w).masked_fill(seen, float("-inf")),
                min(self.config["candidates"], features.shape[1]),
                dim=1,
            ).indices
            candidate_features = torch.gather(features, 1, top.unsqueeze(-1).expand(-1, -1, n_features))
            hits = torch.gather(relevant, 1, top).float()
            keep = hits.sum(1) > 0
            if int(keep.sum()) == 0:
                break
            w = self._fit_softmax(candidate_features[keep] * active, hits[keep] / hits[keep].sum(1, keepdim=True), w)
            w = w * active
        return w.detach()

    def _fit_softmax(self, features: torch.Tensor, target: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(self.config["seed"])
        w = start.clone().requires_grad_(True)
        optimizer = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = -(torch.log_softmax(features @ w, 1) * target).sum(1).mean() + 1e-3 * w.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        return w.detach()

    # ---- scoring -----------------------------------------------------------------------------

    def _signals(
        self,
        histories: list[list[int]],
        query_vector: np.ndarray | None = None,
        moments: list[float] | None = None,
        chunk: int = 128,
    ) -> torch.Tensor:
        """(len(histories), n_items, len(FEATURES)): each signal standardised over the catalog per
        shopper. `moments`: score each at that time (seconds), not at the log's end."""
        out = []
        for start in range(0, len(histories), chunk):
            part = histories[start : start + chunk]
            at = None if moments is None else moments[start : start + chunk]
            out.append(self._signal_chunk(part, query_vector, at))
        if not out:
            return torch.zeros(0, len(self.item_ids), len(FEATURES), device=self.device)
        return torch.cat(out)

    def _signal_chunk(
        self, histories: list[list[int]], query_vector: np.ndarray | None, moments: list[float] | None
    ) -> torch.Tensor:
        t, b, n = self.tensors, len(histories), len(self.item_ids)
        collaborative = self.ease.scores_for(histories)
        sequence = self.transitions.scores(histories)
        vectors = t["item_vectors"]
        context = torch.zeros(b, vectors.shape[1], device=self.device)
        for row, history in enumerate(histories):
            recent, weights = recent_weights(history, self.transitions.recency, self.transitions.recent_items)
            if recent:
                mean = torch.as_tensor(weights, device=self.device) @ vectors[recent]
                context[row] = mean / mean.norm().clamp_min(1e-9)
        if query_vector is not None:
            query = torch.as_tensor(np.asarray(query_vector, np.float32), device=self.device)
            # The wish counts as much as everything seen before it.
            context = context + query / query.norm().clamp_min(1e-9)
        context = context / context.norm(dim=1, keepdim=True).clamp_min(1e-9)
        semantic = context @ vectors.T
        if moments is None:
            popularity = t["popularity"].expand(b, n)
        else:
            if self.popularity is None:
                raise RecommenderModelError("scoring at a past moment needs the model fitted in this process")
            popularity = torch.log1p(self.popularity.at(moments)).to(self.device)
        features = torch.stack(
            [collaborative, sequence, semantic, popularity, t["sentiment"].expand(b, n), t["rating"].expand(b, n)],
            dim=2,
        )
        mean, std = features.mean(1, keepdim=True), features.std(1, keepdim=True)
        return (features - mean) / std.clamp_min(1e-6)

    def _history(self, customer_id: str | None, context: list[int]) -> list[int]:
        return [*self.user_items.get(customer_id or "", []), *context]

    def features(
        self,
        customer_id: str | None,
        context: list[int],
        query_vector: np.ndarray | None,
        at: datetime | float | None = None,
    ) -> torch.Tensor:
        """(n_items, len(FEATURES)) signal matrix for one shopper, in one batched computation."""
        moments = None if at is None else [_seconds(at)]
        return self._signals([self._history(customer_id, context)], query_vector, moments)[0]

    def batch_features(self, customer_ids: list[str], at: list[datetime | float] | None = None) -> torch.Tensor:
        """(len(customer_ids), n_items, len(FEATURES)) for known customers, each scored at its own
        moment when `at` is given (a benchmark that replays the past)."""
        moments = None if at is None else [_seconds(m) for m in at]
        return self._signals([self._history(c, []) for c in customer_ids], None, moments)

    def weights(self, customer_id: str | None) -> torch.Tensor:
        warm = customer_id is not None and customer_id in self.user_items
        return self.tensors["w_warm" if warm else "w_cold"]

    def scores(
        self,
        customer_id: str | None = None,
        context_product_ids: list[str] | None = None,
        query_vector: np.ndarray | None = None,
    ) -> np.ndarray:
        features = self.features(customer_id, self._positions(context_product_ids), query_vector)
        return (features @ self.weights(customer_id)).cpu().numpy()

    def _positions(self, product_ids: list[str] | None) -> list[int]:
        index = self._index()
        return [index[p] for p in product_ids or [] if p in index]

    def recommend(
        self,
        customer_id: str | None = None,
        context_product_ids: list[str] | None = None,
        query_vector: np.ndarray | None = None,
        k: int = 5,
        exclude: set[str] | None = None,
        candidate_mask: np.ndarray | None = None,
        exclude_owned: bool = True,
    ) -> list[Recommendation]:
        context = self._positions(context_product_ids)
        features = self.features(customer_id, context, query_vector)
        contributions = features * self.weights(customer_id)
        total = contributions.sum(1)
        blocked = torch.zeros(len(self.item_ids), dtype=torch.bool, device=self.device)
        if candidate_mask is not None:
            blocked |= ~torch.as_tensor(np.asarray(candidate_mask, bool), device=self.device)
        owned = self.user_items.get(customer_id or "", []) if exclude_owned else []
        hidden = [*owned, *context, *self._positions(sorted(exclude or ()))]
        if hidden:
            blocked[hidden] = True
        total = total.masked_fill(blocked, float("-inf"))
        top = torch.topk(total, min(k, int((~blocked).sum())))
        centred = contributions - contributions.mean(0)
        history = self._history(customer_id, context)
        out = []
        for score, i in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            signals = dict(zip(FEATURES, [round(float(x), 4) for x in features[i].tolist()], strict=True))
            dominant = FEATURES[int(torch.argmax(centred[i]))]
            out.append(
                Recommendation(
                    self.item_ids[i], float(score), signals, self._why(dominant, i, history, query_vector is not None)
                )
            )
        return out

    def _why(self, signal: str, i: int, history: list[int], has_query: bool) -> str:
        item = self.items[i]
        kind = item.get("subcategory") or "products"
        anchor = self._anchor(signal, i, history) if signal in ("collaborative", "sequence", "semantic") else None
        if anchor is not None:
            title = self.items[anchor].get("title")
            if signal == "collaborative":
                return f"shoppers who liked the {title} also chose this"
            if signal == "sequence":
                return f"often chosen next after the {title}"
            return f"similar to the {title} you looked at"
        if signal == "semantic" and has_query:
            return f"a close match for what you asked for ({kind})"
        if signal in ("sentiment", "rating"):
            return f"top rated in {kind} ({item.get('rating')}★ from {item.get('rating_count')} reviews)"
        return f"popular in {kind} right now"

    def _anchor(self, signal: str, i: int, history: list[int]) -> int | None:
        """The product of the shopper's history that most explains recommending `i`."""
        history = [h for h in dict.fromkeys(history) if h != i]
        if not history:
            return None
        if signal == "collaborative":
            weights = self.ease.weights_to(i, history)
            best = int(torch.argmax(weights))
            return history[best] if float(weights[best]) > 0 else None
        if signal == "sequence":
            contributions = self.transitions.weights_to(i, history)
            best_item = max(contributions, key=lambda h: contributions[h], default=None)
            return best_item if best_item is not None and contributions[best_item] > 0 else None
        vectors = self.tensors["item_vectors"]
        return max(history, key=lambda h: float(vectors[h] @ vectors[i]))

    # ---- persistence -------------------------------------------------------------------------

    def save(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # Written beside, then renamed: a running action server reloads when the weights file
        # changes and must never read half a file or new weights with the old item list.
        weights, meta_file = folder / "recommender.safetensors", folder / "recommender.json"
        tensors = {**self.tensors, **self.ease.tensors(), **self.transitions.tensors()}
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(weights) + ".tmp")
        meta = {
            "config": self.config,
            "chosen": self.chosen,
            "features": FEATURES,
            "item_ids": self.item_ids,
            "user_ids": self.user_ids,
            "items": self.items,
            "user_items": self.user_items,
            "sequence": self.transitions.config(),
            "report": self.report,
        }
        Path(str(meta_file) + ".tmp").write_text(json.dumps(meta), encoding="utf-8")
        os.replace(str(meta_file) + ".tmp", meta_file)
        os.replace(str(weights) + ".tmp", weights)

    @classmethod
    def load(cls, folder: str | Path, device: str | None = None) -> FusedRecommender:
        from safetensors.torch import load_file

        folder = Path(folder)
        weights, meta_file = folder / "recommender.safetensors", folder / "recommender.json"
        if not weights.exists() or not meta_file.exists():
            raise RecommenderModelError(f"no recommender model in {folder}: run `{REBUILD_HINT}`")
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            tensors = load_file(str(weights))
        except Exception as exc:
            raise RecommenderModelError(
                f"the recommender model in {folder} is corrupt ({exc}): run `rm -rf {folder} && {REBUILD_HINT}`"
            ) from exc
        stale = RecommenderModelError(
            f"the recommender model in {folder} does not match this code: run `{REBUILD_HINT}`"
        )
        if tuple(meta.get("features", ())) != FEATURES or "chosen" not in meta or not BASE_TENSORS <= set(tensors):
            raise stale
        config = meta["config"]
        model = cls(**{**config, **{k: tuple(config[k]) for k in config if k.endswith("_grid")}}, device=device)
        model.chosen = meta["chosen"]
        try:
            model.ease = EASE.from_tensors(tensors, model.chosen["l2"], device=model.device)
            model.transitions = ItemTransitions.from_tensors(tensors, meta["sequence"], device=model.device)
        except (KeyError, ValueError, TypeError) as exc:
            raise stale from exc
        n = len(meta["item_ids"])
        if model.ease.n_items != n or model.transitions.n_items != n or tensors["item_vectors"].shape[0] != n:
            raise stale
        model.item_ids, model.user_ids, model.items = meta["item_ids"], meta["user_ids"], meta["items"]
        model.user_items, model.report = meta["user_items"], meta["report"]
        model.tensors = {k: tensors[k].to(model.device) for k in BASE_TENSORS}
        return model


def ndcg_at_k(scores: torch.Tensor, histories: list[list[int]], relevant: list[set[int]], k: int = K) -> float:
    """Mean NDCG@k over shoppers: full-catalog ranking, each shopper's own history excluded."""
    if not histories:
        return 0.0
    scores = scores.clone().float()
    for row, history in enumerate(histories):
        if history:
            scores[row, history] = float("-inf")
    top = torch.topk(scores, min(k, scores.shape[1]), dim=1).indices.cpu()
    discounts = 1.0 / torch.log2(torch.arange(2, top.shape[1] + 2, dtype=torch.float64))
    total = 0.0
    for row, items in enumerate(relevant):
        gains = torch.as_tensor([1.0 if i in items else 0.0 for i in top[row].tolist()], dtype=torch.float64)
        ideal = float(discounts[: min(len(items), top.shape[1])].sum())
        total += float((gains * discounts).sum()) / ideal if ideal else 0.0
    return total / len(relevant)
