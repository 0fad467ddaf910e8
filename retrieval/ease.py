"""EASE (Steck, WWW 2019), the recommender's collaborative signal: a closed-form linear item-item
model, kept dense for a small catalog and low-rank for a large one.

    ease = EASE(l2=200).fit(X)       # X: (customers, products) implicit feedback, a dense or sparse tensor
    ease.scores(x)                   # x: (batch, products) customer rows -> (batch, products) scores

B = argmin ||X - XB||² + λ||B||² with diag(B) = 0 has the closed form B = I - P·diag(P)⁻¹,
P = (XᵀX + λI)⁻¹.

- Dense (n ≤ DENSE_MAX_ITEMS products): B itself, from one n×n inverse.
- Low-rank (more products): with XᵀX ≈ V S² Vᵀ (V: the top r right singular vectors of X),
  Woodbury gives P = (I - V·diag(c)·Vᵀ)/λ, c = s²/(s² + λ), and
  (xB)_j = x_j - (x_j - y_j)/(1 - d_j), y = ((xV)∘c)Vᵀ, d_j = Σ_k V_jk² c_k,
  so scoring needs V (n×r floats), never an n×n matrix. The rank r is min(customers, MAX_RANK):
  XᵀX has rank ≤ the number of customers, so with up to MAX_RANK customers this is EASE exactly,
  not an approximation (MovieLens latest-small: 610 users, 9,742 movies); with more it is EASE
  on the best rank-r approximation of XᵀX, and the zero diagonal still holds exactly.

Why DENSE_MAX_ITEMS = 5,000: B costs n² floats (100 MB at 5,000 products) and each λ on the
validation grid costs one n×n inverse (n³): 4 s at 5,000 products on the project's 2-core machine
(7 s on one thread, as the benchmark runs), 31 s at 9,742, which the 3-minute training budget
cannot pay for seven λs and the final fit.
"""

from __future__ import annotations

from typing import Literal

import torch

DENSE_MAX_ITEMS = 5_000
MAX_RANK = 1_024

Form = Literal["dense", "low_rank"]


def choose_form(n_items: int, dense_max_items: int = DENSE_MAX_ITEMS) -> Form:
    return "dense" if n_items <= dense_max_items else "low_rank"


class EASE:
    def __init__(
        self,
        l2: float = 200.0,
        dense_max_items: int = DENSE_MAX_ITEMS,
        max_rank: int = MAX_RANK,
        device: str | torch.device = "cpu",
    ) -> None:
        self.l2 = float(l2)
        self.dense_max_items = dense_max_items
        self.max_rank = max_rank
        self.device = torch.device(device)
        self.form: Form = "dense"
        self.n_items = 0
        # Dense: the Gram matrix (kept while fitting, so another λ costs one inverse) and B.
        self._gram: torch.Tensor | None = None
        self.B: torch.Tensor | None = None
        # Low-rank: V (n, r) in float32 for scoring (float64 while fitting), s² (r), and per λ:
        # c (r), 1/(1 - d) (n).
        self.V: torch.Tensor | None = None
        self._V64: torch.Tensor | None = None
        self._s2: torch.Tensor | None = None
        self.c: torch.Tensor | None = None
        self.inv_one_minus_d: torch.Tensor | None = None

    # ---- training ----------------------------------------------------------------------------

    def fit(self, X: torch.Tensor) -> EASE:
        """X: (customers, products), dense or sparse COO. The factorisation does not depend on λ:
        `set_l2` afterwards only redoes the cheap part (one inverse when dense)."""
        n_users, self.n_items = X.shape
        self.form = choose_form(self.n_items, self.dense_max_items)
        X = X.to(self.device)
        if self.form == "dense":
            dense = (X.to_dense() if X.is_sparse else X).double()
            self._gram = dense.T @ dense
        else:
            self._V64, self._s2 = self._right_singular(X, min(n_users, self.n_items, self.max_rank))
            self.V = self._V64.float()
        return self.set_l2(self.l2)

    def _right_singular(self, X: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        n_users = X.shape[0]
        if rank == 0:
            return torch.zeros(self.n_items, 0, dtype=torch.float64, device=self.device), torch.zeros(
                0, dtype=torch.float64, device=self.device
            )
        if n_users <= self.max_rank:
            # Exact: the customers' Gram matrix is small, XᵀX = V S² Vᵀ with V = XᵀU/s.
            dense = (X.to_dense() if X.is_sparse else X).double()
            eigenvalues, U = torch.linalg.eigh(dense @ dense.T)
            keep = eigenvalues > eigenvalues.max().clamp_min(1e-12) * 1e-10
            s2, U = eigenvalues[keep], U[:, keep]
            return (dense.T @ U) / s2.sqrt(), s2
        # Randomized SVD of the sparse matrix; V has orthonormal columns as the formula needs.
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(0)
            _, S, V = torch.svd_lowrank(X.float(), q=rank, niter=4)
        return V.double(), S.double() ** 2

    def set_l2(self, l2: float) -> EASE:
        self.l2 = float(l2)
        if self.form == "dense":
            if self._gram is None:
                raise RuntimeError("set_l2 needs a fitted model (the Gram matrix is not saved)")
            gram = self._gram.clone()
            gram.diagonal().add_(self.l2)
            P = torch.linalg.inv(gram)
            B = -P / P.diagonal()
            B.diagonal().zero_()
            self.B = B.float()
        else:
            if self._V64 is None or self._s2 is None:
                raise RuntimeError("set_l2 needs a fitted model (the singular values are not saved)")
            c = self._s2 / (self._s2 + self.l2)
            one_minus_d = 1.0 - (self._V64**2) @ c
            self.c = c.float()
            self.inv_one_minus_d = (1.0 / one_minus_d.clamp_min(1e-12)).float()
        return self

    def release_training_state(self) -> None:
        """Drops the Gram matrix (n² doubles) or the float64 factors once λ is settled."""
        self._gram = self._V64 = None

    # ---- scoring -----------------------------------------------------------------------------

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, products) weights of what each customer touched -> (batch, products)."""
        x = x.to(self.device, torch.float32)
        if self.form == "dense":
            assert self.B is not None
            return x @ self.B
        assert self.V is not None
        return self._low_rank_scores(x, x @ self.V)

    def _low_rank_scores(self, x: torch.Tensor, xV: torch.Tensor) -> torch.Tensor:
        assert self.V is not None and self.c is not None and self.inv_one_minus_d is not None
        y = (xV * self.c) @ self.V.T
        return x - (x - y) * self.inv_one_minus_d

    def scores_for(self, histories: list[list[int]]) -> torch.Tensor:
        """Scores for customers given as the products they touched (each counts once)."""
        if self.form == "dense" and len(histories) <= 8:
            # A few B rows instead of a (batch, n) x (n, n) product: what one request costs.
            assert self.B is not None
            rows = [
                self.B[sorted(set(h))].sum(0) if h else torch.zeros(self.n_items, device=self.device) for h in histories
            ]
            return torch.stack(rows) if rows else torch.zeros(0, self.n_items, device=self.device)
        x = torch.zeros(len(histories), self.n_items, device=self.device)
        for row, history in enumerate(histories):
            x[row, history] = 1.0
        if self.form == "low_rank" and 0 < len(histories) <= 8:
            # xV from the touched products' rows of V, not a (1, n) x (n, r) product.
            assert self.V is not None
            xV = torch.stack(
                [
                    self.V[sorted(set(h))].sum(0) if h else torch.zeros(self.V.shape[1], device=self.device)
                    for h in histories
                ]
            )
            return self._low_rank_scores(x, xV)
        return self.scores(x)

    def weights_to(self, item: int, history: list[int]) -> torch.Tensor:
        """B[h, item] for each h in history: how much each product touched says about `item`
        (the explanation's anchor)."""
        if self.form == "dense":
            assert self.B is not None
            return self.B[history, item]
        assert self.V is not None and self.c is not None and self.inv_one_minus_d is not None
        V = self.V
        # B_hj = -P_hj / P_jj with P_hj = -(V_h∘c)·V_j / λ for h ≠ j, P_jj = (1 - d_j)/λ.
        out = ((V[history] * self.c) @ V[item]) * self.inv_one_minus_d[item]
        return out.masked_fill(torch.as_tensor(history, device=out.device) == item, 0.0)

    # ---- persistence -------------------------------------------------------------------------

    def tensors(self, prefix: str = "ease.") -> dict[str, torch.Tensor]:
        if self.form == "dense":
            assert self.B is not None
            return {f"{prefix}B": self.B}
        assert self.V is not None and self.c is not None and self.inv_one_minus_d is not None
        return {f"{prefix}V": self.V, f"{prefix}c": self.c, f"{prefix}inv_one_minus_d": self.inv_one_minus_d}

    @classmethod
    def from_tensors(
        cls, tensors: dict[str, torch.Tensor], l2: float, prefix: str = "ease.", device: str | torch.device = "cpu"
    ) -> EASE:
        """Raises KeyError or ValueError when the tensors are not a saved EASE."""
        model = cls(l2=l2, device=device)
        names = {k[len(prefix) :] for k in tensors if k.startswith(prefix)}
        if names == {"B"}:
            model.form, model.B = "dense", tensors[f"{prefix}B"].to(model.device)
            model.n_items = model.B.shape[0]
            if model.B.shape != (model.n_items, model.n_items):
                raise ValueError(f"EASE B has shape {tuple(model.B.shape)}")
        elif names == {"V", "c", "inv_one_minus_d"}:
            model.form = "low_rank"
            model.V, model.c = tensors[f"{prefix}V"].to(model.device), tensors[f"{prefix}c"].to(model.device)
            model.inv_one_minus_d = tensors[f"{prefix}inv_one_minus_d"].to(model.device)
            model.n_items = model.V.shape[0]
            if model.c.shape[0] != model.V.shape[1] or model.inv_one_minus_d.shape[0] != model.n_items:
                raise ValueError("EASE low-rank tensors disagree in shape")
        else:
            raise KeyError(f"no EASE tensors under '{prefix}' (found {sorted(names)})")
        return model
