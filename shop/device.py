"""The one device picker, for every torch model of the project (both environments)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def pick_device(requested: str | None = None) -> str:
    """`auto` (or nothing) picks CUDA when present; a CUDA request without CUDA falls back to
    the CPU with a warning, so a config written on a GPU machine still runs on a laptop."""
    import torch

    requested = (requested or "auto").lower()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        logger.warning("device '%s' requested but CUDA is not available: using the CPU.", requested)
        return "cpu"
    return requested
