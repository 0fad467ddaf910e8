"""Fine-tuning the joint model: AdamW with linear warm-up and decay, three losses in one step.

Apart from the model (`bot.components.joint_model`) and from Rasa: it takes token ids and
targets, so the component decides what the data is and this module only how to fit it.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Optional

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from bot.components.bio import IGNORED
from bot.components.joint_model import JointModel, pad

logger = logging.getLogger(__name__)

# Called after each epoch with the model (in eval mode), the epoch (from 1) and its stats.
ModelEpochCallback = Callable[[JointModel, int, dict[str, float]], None]


@dataclass(frozen=True)
class FitSettings:
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    warmup_ratio: float
    label_smoothing: float
    # Weights of the sentiment and entity losses relative to the intent loss.
    sentiment_loss_weight: float
    entity_loss_weight: float
    random_seed: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FitSettings:
        return cls(**{field.name: config[field.name] for field in fields(cls)})


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def length_bucketed_batches(
    encoded: Sequence[Sequence[int]], batch_size: int, rng: np.random.RandomState
) -> list[np.ndarray]:
    """Shuffled batches of similar length, so little time goes into padding."""
    order = rng.permutation(len(encoded))
    chunk = batch_size * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort([len(encoded[i]) for i in part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def fit(
    model: JointModel,
    encoded: Sequence[Sequence[int]],
    intent_ids: Sequence[int],
    sentiment_ids: Sequence[int],
    tag_targets: Sequence[Sequence[int]],
    settings: FitSettings,
    *,
    pad_id: int,
    device: str,
    train_sentiment: bool,
    name: str = "JointModel",
    started: Optional[float] = None,
    epoch_callbacks: Sequence[ModelEpochCallback] = (),
) -> list[dict[str, float]]:
    """Trains `model` in place on `device` and returns the per-epoch stats.

    `sentiment_ids` and `tag_targets` hold `IGNORED` where an example (or word piece) has no
    label; `tag_targets` is only read when the model has an entity head. `started` is when the
    caller's timer began, so the stats' seconds include its set-up (loading the encoder).
    """
    started = time.perf_counter() if started is None else started
    intents = np.asarray(intent_ids, dtype=np.int64)
    sentiments = np.asarray(sentiment_ids, dtype=np.int64)
    # A generator of its own, so the batch order depends on the seed only, not on how much
    # of the global generators building the model used.
    rng = np.random.RandomState(settings.random_seed)
    n_batches = math.ceil(len(encoded) / settings.batch_size)
    total_steps = n_batches * settings.epochs

    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for param_name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "LayerNorm" in param_name else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.learning_rate,
    )
    warmup = int(total_steps * settings.warmup_ratio)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    intent_loss_fn = nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
    sentiment_loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORED, label_smoothing=settings.label_smoothing)
    entity_loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORED)
    history: list[dict[str, float]] = []
    model.train()
    for epoch in range(settings.epochs):
        batches = length_bucketed_batches(encoded, settings.batch_size, rng)
        totals = {"loss": 0.0, "intent_acc": 0.0, "n": 0}
        progress = tqdm(batches, desc=f"{name} epoch {epoch + 1}/{settings.epochs}", leave=False, disable=None)
        for batch in progress:
            input_ids, attention = pad([encoded[i] for i in batch], pad_id)
            input_ids, attention = input_ids.to(device), attention.to(device)
            y_intent = torch.from_numpy(intents[batch]).to(device)
            y_sentiment = torch.from_numpy(sentiments[batch]).to(device)
            intent_logits, sentiment_logits, entity_logits = model(input_ids, attention)
            loss = intent_loss_fn(intent_logits, y_intent)
            if train_sentiment and bool((y_sentiment >= 0).any()):
                loss = loss + settings.sentiment_loss_weight * sentiment_loss_fn(sentiment_logits, y_sentiment)
            if entity_logits is not None:
                y_tags, _ = pad([tag_targets[i] for i in batch], IGNORED)
                loss = loss + settings.entity_loss_weight * entity_loss_fn(
                    entity_logits.reshape(-1, entity_logits.shape[-1]), y_tags.to(device).reshape(-1)
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            totals["loss"] += float(loss.detach()) * len(batch)
            totals["intent_acc"] += float((intent_logits.argmax(-1) == y_intent).sum())
            totals["n"] += len(batch)
        stats = {
            "epoch": epoch + 1,
            "loss": totals["loss"] / totals["n"],
            "train_intent_accuracy": totals["intent_acc"] / totals["n"],
            "seconds": time.perf_counter() - started,
        }
        history.append(stats)
        logger.info(
            f"{name} epoch {epoch + 1}: loss {stats['loss']:.4f}, "
            f"train intent accuracy {stats['train_intent_accuracy']:.3f}"
        )
        if epoch_callbacks:
            # Callbacks predict; dropout must be off while they do.
            model.eval()
            for callback in epoch_callbacks:
                callback(model, epoch + 1, stats)
            model.train()
    model.eval()
    return history
