"""The fused product recommender, in torch: collaborative (BPR matrix factorisation), semantic
(MiniLM), popularity with recency, and review sentiment + rating, mixed by a learned ranker.

    rec = FusedRecommender(); rec.fit(interactions, items, item_vectors, review_sentiment)
    rec.recommend(customer_id, context_product_ids, query_vector, k) -> [Recommendation]

The fusion weights are fitted on a validation split (each user's latest interactions held out by
time), never set by hand: one weight set for known customers and one for cold starts, whose
collaborative signal is folded in from the products they touched in this conversation instead.
Every candidate is scored in one batched tensor operation, on CUDA when present.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from retrieval.embedder import pick_device

FEATURES = ("collaborative", "semantic", "popularity", "sentiment", "rating")
# How much an interaction says about taste; a thumbs down or a bad rating is not a positive.
EVENT_WEIGHTS = {"purchase": 3.0, "feedback_up": 3.0, "cart": 2.0, "view": 1.0}
REBUILD_HINT = "make train-recommender"


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


def temporal_split(interactions: list[dict[str, Any]], holdout: float = 0.2
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


class FusedRecommender:
    def __init__(self, dim: int = 48, epochs: int = 30, learning_rate: float = 0.02, weight_decay: float = 1e-4,
                 half_life_days: float = 30.0, seed: int = 42, device: str | None = None) -> None:
        self.config: dict[str, Any] = {"dim": dim, "epochs": epochs, "learning_rate": learning_rate, "weight_decay": weight_decay,
                       "half_life_days": half_life_days, "seed": seed}
        self.device = torch.device(pick_device(device))
        self.item_ids: list[str] = []
        self.user_ids: list[str] = []
        self.items: list[dict[str, Any]] = []  # id, title, subcategory, rating, rating_count
        self.tensors: dict[str, torch.Tensor] = {}
        self.user_items: dict[str, list[int]] = {}
        self.report: dict[str, Any] = {}
        self._user_index: dict[str, int] | None = None

    # ---- training ----------------------------------------------------------------------------

    def fit(self, interactions: list[dict[str, Any]], items: list[dict[str, Any]], item_vectors: np.ndarray,
            review_sentiment: np.ndarray | None = None, progress: bool = True) -> FusedRecommender:
        """Learns the collaborative model on all interactions after fitting the fusion weights on
        a temporal validation split."""
        self.items = [{k: item.get(k) for k in ("id", "title", "subcategory", "rating", "rating_count")} for item in items]
        self.item_ids = [str(item["id"]) for item in items]
        position = {pid: i for i, pid in enumerate(self.item_ids)}
        interactions = [r for r in interactions if r["product_id"] in position and r.get("customer_id")]
        vectors = torch.as_tensor(np.asarray(item_vectors, dtype=np.float32))
        sentiment = torch.as_tensor(np.zeros(len(items), np.float32) if review_sentiment is None
                                    else np.asarray(review_sentiment, dtype=np.float32))
        ratings = self._bayesian_ratings(items)
        # 1. Fusion weights, on the validation split.
        train, held = temporal_split(interactions)
        self._fit_signals(train, position, vectors, sentiment, ratings, progress, "validation model")
        self.tensors["w_warm"], self.tensors["w_cold"], self.report = self._fit_fusion(held, position)
        # 2. The deployed collaborative model and priors, on everything.
        weights = (self.tensors["w_warm"], self.tensors["w_cold"])
        self._fit_signals(interactions, position, vectors, sentiment, ratings, progress, "final model")
        self.tensors["w_warm"], self.tensors["w_cold"] = weights
        return self

    @staticmethod
    def _bayesian_ratings(items: list[dict[str, Any]]) -> torch.Tensor:
        counts = np.asarray([float(i.get("rating_count") or 0) for i in items])
        stars = np.asarray([float(i.get("rating") or 0) for i in items])
        prior, strength = (float(np.average(stars, weights=counts)) if counts.sum() else 3.5), 20.0
        return torch.as_tensor(((stars * counts + prior * strength) / (counts + strength) / 5.0).astype(np.float32))

    def _fit_signals(self, interactions: list[dict[str, Any]], position: dict[str, int], vectors: torch.Tensor,
                     sentiment: torch.Tensor, ratings: torch.Tensor, progress: bool, label: str) -> None:
        users = sorted({str(r["customer_id"]) for r in interactions})
        user_pos = {u: i for i, u in enumerate(users)}
        now = max((r["ts"] for r in interactions), default=None)
        pop = np.zeros(len(self.item_ids), np.float64)
        pairs: dict[tuple[int, int], float] = defaultdict(float)
        user_items: dict[str, set[int]] = defaultdict(set)
        half_life = self.config["half_life_days"] * 86400.0
        for r in interactions:
            weight = interaction_weight(r["event"], r.get("value"))
            if weight <= 0:
                continue
            item = position[r["product_id"]]
            age = (now - r["ts"]).total_seconds()
            pop[item] += weight * math.exp(-max(age, 0.0) / half_life)
            pairs[(user_pos[str(r["customer_id"])], item)] += weight
            user_items[str(r["customer_id"])].add(item)
        self.user_ids = users
        self.user_items = {u: sorted(items) for u, items in user_items.items()}
        user_emb, item_emb = self._train_bpr(len(users), pairs, progress, label)
        self.tensors.update({
            "user_emb": user_emb, "item_emb": item_emb, "item_vectors": vectors,
            "popularity": torch.as_tensor(np.log1p(pop) / max(np.log1p(pop).max(), 1e-9), dtype=torch.float32),
            "sentiment": sentiment, "rating": ratings,
        })

    def _train_bpr(self, n_users: int, pairs: dict[tuple[int, int], float], progress: bool, label: str
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        from tqdm import tqdm

        cfg = self.config
        generator = torch.Generator().manual_seed(cfg["seed"])
        torch.manual_seed(cfg["seed"])
        n_items = len(self.item_ids)
        users_t = nn.Embedding(max(n_users, 1), cfg["dim"])
        items_t = nn.Embedding(n_items, cfg["dim"])
        nn.init.normal_(users_t.weight, std=0.1, generator=generator)
        nn.init.normal_(items_t.weight, std=0.1, generator=generator)
        if not pairs:
            return users_t.weight.detach(), items_t.weight.detach()
        keys = torch.as_tensor(list(pairs.keys()), dtype=torch.long)
        weights = torch.as_tensor(list(pairs.values()), dtype=torch.float32)
        optimizer = torch.optim.Adam([users_t.weight, items_t.weight], lr=cfg["learning_rate"])
        samples = len(keys) * 4
        for _ in tqdm(range(cfg["epochs"]), desc=f"BPR ({label})", unit="epoch", disable=not progress):
            # Stronger interactions are sampled more often; negatives uniformly from the catalog.
            chosen = torch.multinomial(weights, samples, replacement=True, generator=generator)
            negatives = torch.randint(0, n_items, (samples,), generator=generator)
            for start in range(0, samples, 4096):
                batch = chosen[start:start + 4096]
                u, i = keys[batch, 0], keys[batch, 1]
                j = negatives[start:start + 4096]
                pu, qi, qj = users_t(u), items_t(i), items_t(j)
                diff = (pu * (qi - qj)).sum(-1)
                loss = -torch.nn.functional.logsigmoid(diff).mean() + cfg["weight_decay"] * (
                    pu.pow(2).sum(-1) + qi.pow(2).sum(-1) + qj.pow(2).sum(-1)).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return users_t.weight.detach(), items_t.weight.detach()

    def _fit_fusion(self, held: list[dict[str, Any]], position: dict[str, int]
                    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Pairwise logistic ranker over the standardised signals: held-out items above random ones."""
        rng = np.random.default_rng(self.config["seed"])
        held_by_user: dict[str, set[int]] = defaultdict(set)
        for r in held:
            if interaction_weight(r["event"], r.get("value")) > 0:
                held_by_user[str(r["customer_id"])].add(position[r["product_id"]])
        pos_rows, neg_rows, cold_pos, cold_neg = [], [], [], []
        for user, targets in held_by_user.items():
            if user not in self.user_items:
                continue
            seen = set(self.user_items[user])
            warm = self.features(user, [], None).cpu().numpy()
            cold = self.features(None, self.user_items[user][-3:], None).cpu().numpy()
            for target in targets - seen:
                for negative in rng.integers(0, len(self.item_ids), 4):
                    if negative in targets or negative in seen:
                        continue
                    pos_rows.append(warm[target])
                    neg_rows.append(warm[negative])
                    cold_pos.append(cold[target])
                    cold_neg.append(cold[negative])
        report: dict[str, Any] = {"validation_users": len(held_by_user), "pairs": len(pos_rows)}
        if not pos_rows:
            uniform = torch.full((len(FEATURES),), 1.0 / len(FEATURES))
            return uniform, uniform.clone(), report
        w_warm = self._pairwise_weights(np.asarray(pos_rows), np.asarray(neg_rows))
        w_cold = self._pairwise_weights(np.asarray(cold_pos), np.asarray(cold_neg))
        report["weights_warm"] = dict(zip(FEATURES, [round(float(x), 4) for x in w_warm], strict=True))
        report["weights_cold"] = dict(zip(FEATURES, [round(float(x), 4) for x in w_cold], strict=True))
        return w_warm, w_cold, report

    def _pairwise_weights(self, positives: np.ndarray, negatives: np.ndarray) -> torch.Tensor:
        torch.manual_seed(self.config["seed"])
        diff = torch.as_tensor(positives - negatives, dtype=torch.float32)
        scale = diff.abs().mean(0).clamp_min(1e-6)
        w = torch.zeros(diff.shape[1], requires_grad=True)
        optimizer = torch.optim.LBFGS([w], max_iter=200)

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = -torch.nn.functional.logsigmoid((diff / scale) @ w).mean() + 1e-3 * w.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        return (w.detach() / scale).float()

    # ---- scoring -----------------------------------------------------------------------------

    def features(self, customer_id: str | None, context: list[int], query_vector: np.ndarray | None) -> torch.Tensor:
        """(n_items, len(FEATURES)) signal matrix for one shopper, in one batched computation."""
        t = {k: v.to(self.device) for k, v in self.tensors.items() if k not in ("w_warm", "w_cold")}
        n = len(self.item_ids)
        items = t["item_emb"]
        if customer_id is not None and customer_id in self.user_items:
            user = t["user_emb"][self._user_position(customer_id)]
            history = self.user_items[customer_id] + list(context)
        else:
            user = items[context].mean(0) if context else torch.zeros_like(items[0])  # folded in from this conversation
            history = list(context)
        collaborative = items @ user
        parts = []
        if history:
            parts.append(t["item_vectors"][history].mean(0))
        if query_vector is not None:
            parts.append(torch.as_tensor(np.asarray(query_vector, np.float32), device=self.device) * max(1, len(parts)))
        if parts:
            context_vector = torch.stack(parts).sum(0)
            context_vector = context_vector / context_vector.norm().clamp_min(1e-9)
            semantic = t["item_vectors"] @ context_vector
        else:
            semantic = torch.zeros(n, device=self.device)
        return torch.stack([collaborative, semantic, t["popularity"], t["sentiment"], t["rating"]], dim=1)

    def scores(self, customer_id: str | None = None, context_product_ids: list[str] | None = None,
               query_vector: np.ndarray | None = None) -> np.ndarray:
        features = self.features(customer_id, self._positions(context_product_ids), query_vector)
        return (features @ self._weights(customer_id).to(self.device)).cpu().numpy()

    def _user_position(self, customer_id: str) -> int:
        index = self._user_index
        if index is None or len(index) != len(self.user_ids):
            index = self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        return index[customer_id]

    def _weights(self, customer_id: str | None) -> torch.Tensor:
        warm = customer_id is not None and customer_id in self.user_items
        return self.tensors["w_warm" if warm else "w_cold"]

    def _positions(self, product_ids: list[str] | None) -> list[int]:
        index = {pid: i for i, pid in enumerate(self.item_ids)}
        return [index[p] for p in product_ids or [] if p in index]

    def recommend(self, customer_id: str | None = None, context_product_ids: list[str] | None = None,
                  query_vector: np.ndarray | None = None, k: int = 5, exclude: set[str] | None = None,
                  candidate_mask: np.ndarray | None = None, exclude_owned: bool = True) -> list[Recommendation]:
        context = self._positions(context_product_ids)
        features = self.features(customer_id, context, query_vector)
        weights = self._weights(customer_id).to(self.device)
        contributions = features * weights
        total = contributions.sum(1)
        blocked = torch.zeros(len(self.item_ids), dtype=torch.bool, device=self.device)
        if candidate_mask is not None:
            blocked |= ~torch.as_tensor(np.asarray(candidate_mask, bool), device=self.device)
        owned = self.user_items.get(customer_id or "", []) if exclude_owned else []
        for i in [*owned, *context, *self._positions(sorted(exclude or ()))]:
            blocked[i] = True
        total = total.masked_fill(blocked, float("-inf"))
        top = torch.topk(total, min(k, int((~blocked).sum())))
        centred = contributions - contributions.mean(0)
        out = []
        for score, i in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            signals = dict(zip(FEATURES, [round(float(x), 4) for x in features[i].tolist()], strict=True))
            dominant = FEATURES[int(torch.argmax(centred[i]))]
            out.append(Recommendation(self.item_ids[i], float(score), signals,
                                      self._why(dominant, i, customer_id, context, query_vector is not None)))
        return out

    def _why(self, signal: str, i: int, customer_id: str | None, context: list[int], has_query: bool) -> str:
        item = self.items[i]
        kind = item.get("subcategory") or "products"
        history = (self.user_items.get(customer_id or "", []) + context) if signal in ("collaborative", "semantic") else []
        if history:
            space = self.tensors["item_emb" if signal == "collaborative" else "item_vectors"]
            anchor = max(history, key=lambda h: float(space[h] @ space[i]))
            title = self.items[anchor].get("title")
            if signal == "collaborative":
                return f"shoppers who liked the {title} also chose this"
            return f"similar to the {title} you looked at"
        if signal == "semantic" and has_query:
            return f"a close match for what you asked for ({kind})"
        if signal in ("sentiment", "rating"):
            return f"top rated in {kind} ({item.get('rating')}★ from {item.get('rating_count')} reviews)"
        return f"popular in {kind} right now"

    # ---- persistence -------------------------------------------------------------------------

    def save(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # Written beside, then renamed: a running action server reloads when the weights file
        # changes and must never read half a file or new weights with the old item list.
        weights, meta_file = folder / "recommender.safetensors", folder / "recommender.json"
        save_file({k: v.detach().cpu().contiguous() for k, v in self.tensors.items()}, str(weights) + ".tmp")
        meta = {"config": self.config, "features": FEATURES, "item_ids": self.item_ids, "user_ids": self.user_ids,
                "items": self.items, "user_items": self.user_items, "report": self.report}
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
        expected = {"user_emb", "item_emb", "item_vectors", "popularity", "sentiment", "rating", "w_warm", "w_cold"}
        if set(tensors) != expected or tuple(meta.get("features", ())) != FEATURES \
                or tensors["item_emb"].shape[0] != len(meta["item_ids"]):
            raise RecommenderModelError(f"the recommender model in {folder} does not match this code: run `{REBUILD_HINT}`")
        model = cls(device=device, **{k: meta["config"][k] for k in ("dim", "epochs", "learning_rate", "weight_decay",
                                                                      "half_life_days", "seed")})
        model.item_ids, model.user_ids, model.items = meta["item_ids"], meta["user_ids"], meta["items"]
        model.user_items, model.report, model.tensors = meta["user_items"], meta["report"], dict(tensors)
        return model
