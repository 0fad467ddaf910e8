"""Review sentiment: a logistic head on MiniLM sentence embeddings, trained on the catalog's own
reviews with their star ratings as labels (4-5 stars positive, 1-2 negative)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from retrieval.embedder import Embedder


class ReviewSentiment:
    def __init__(self, embedder: Embedder, epochs: int = 300, seed: int = 42) -> None:
        self.embedder = embedder
        self.epochs = epochs
        self.seed = seed
        self.weight = torch.zeros(0)
        self.bias = torch.zeros(1)

    @staticmethod
    def labelled(products: list[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
        texts, labels = [], []
        for product in products:
            for review in product.get("reviews", []):
                stars = review.get("rating")
                if isinstance(stars, (int, float)) and stars != 3:
                    texts.append(str(review["text"]))
                    labels.append(1.0 if stars >= 4 else 0.0)
        return texts, np.asarray(labels, dtype=np.float32)

    def fit(self, texts: list[str], labels: np.ndarray) -> ReviewSentiment:
        torch.manual_seed(self.seed)
        x = torch.as_tensor(self.embedder.encode(texts))
        y = torch.as_tensor(labels)
        w = torch.zeros(x.shape[1], requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.Adam([w, b], lr=0.05)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + 1e-3 * w.pow(2).sum()
            loss.backward()
            optimizer.step()
        self.weight, self.bias = w.detach(), b.detach()
        return self

    def predict(self, texts: list[str]) -> np.ndarray:
        """P(positive) per text."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        x = torch.as_tensor(self.embedder.encode(texts))
        return torch.sigmoid(x @ self.weight + self.bias).numpy()

    def product_scores(self, products: list[dict[str, Any]]) -> np.ndarray:
        """Mean P(positive) of each product's reviews; 0.5 (no opinion) without reviews."""
        texts, owner = [], []
        for i, product in enumerate(products):
            for review in product.get("reviews", []):
                texts.append(str(review["text"]))
                owner.append(i)
        scores = np.full(len(products), 0.5, dtype=np.float32)
        if texts:
            probs = self.predict(texts)
            sums = np.bincount(owner, weights=probs, minlength=len(products))
            counts = np.bincount(owner, minlength=len(products))
            scores = np.where(counts > 0, sums / np.maximum(counts, 1), 0.5).astype(np.float32)
        return scores

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        save_file({"weight": self.weight.contiguous(), "bias": self.bias.contiguous()}, str(path))

    def load(self, path: Path) -> ReviewSentiment:
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        self.weight, self.bias = tensors["weight"], tensors["bias"]
        return self
