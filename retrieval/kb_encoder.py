"""The knowledge base's question encoder: MiniLM fine-tuned on shoppers' questions, each labelled
with the knowledge-base section that answers it (training_data/kb/questions.jsonl).

Shoppers ask "my parcel never showed up" where the document says "lost shipments"; pulling each
question towards its own section and away from the others teaches the encoder the shop's
vocabulary. Products keep the plain MiniLM (the registry's `embedder`).

The encoder is a sentence-transformers folder (safetensors) plus kb_encoder.json, whose `id`
is written into every chunk's metadata, so an index is re-embedded when its encoder changes.
Without a trained encoder the knowledge base uses the plain MiniLM.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.embedder import BASE_ENCODER_ID, ENCODER_META_FILE, Embedder, model_path
from retrieval.kb_documents import Chunk, DocumentError, kb_files, load_chunks
from shop.device import pick_device
from shop.settings import current

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = ROOT / "training_data" / "kb" / "questions.jsonl"


class QuestionFileError(ValueError):
    """The labelled-questions file is missing or malformed; the message names the line."""


class NoQuestionsForTheseDocumentsError(QuestionFileError):
    """No labelled question names a section of the knowledge base (another shop's documents)."""


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    doc: str
    section: str


# An encoder is fine-tuned only on questions that name at least this share of the knowledge
# base's sections. Another shop's documents can share a file and a heading with the demo's
# (delivery.md, "Frequently asked questions"): the demo's questions then name one or two of its
# sections, and an encoder trained on those learns nothing about the rest (one section leaves
# in-batch contrast nothing to contrast) while taking the cut-offs fit for an encoder trained on
# the whole knowledge base, where the plain MiniLM has its own.
MIN_SECTION_SHARE = 0.5


def encoder_path() -> Path:
    return current().kb_encoder_path


def load_questions(path: str | Path) -> list[LabelledQuestion]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QuestionFileError(f"cannot read the labelled questions {path}: {exc.strerror or exc}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append(LabelledQuestion(str(row["question"]).strip(), str(row["doc"]), str(row["section"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise QuestionFileError(
                f"{path}:{number}: expected a JSON object with question, doc and section ({exc})"
            ) from None
    return [r for r in rows if r.question]


def kb_chunks(folder: str | Path) -> list[Chunk]:
    """Every readable chunk of a knowledge-base folder (unreadable files are left out, as in ingest)."""
    folder = Path(folder)
    chunks: list[Chunk] = []
    for path in kb_files(folder):
        try:
            chunks.extend(load_chunks(path, path.relative_to(folder).as_posix()))
        except DocumentError as exc:
            logger.warning("skipped %s", exc)
    return chunks


def fine_tune(
    questions: list[LabelledQuestion],
    chunks: list[Chunk],
    out: str | Path,
    epochs: int = 6,
    learning_rate: float = 2e-5,
    batch_size: int = 16,
    seed: int = 13,
    device: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Trains the encoder and saves it to `out`; returns its kb_encoder.json.

    In-batch contrastive loss: each question against the distinct sections of its batch, its
    own section the target (two questions of one section share that passage, never count it
    as a negative). A section split into several chunks gives each question a random one."""
    import torch
    from sentence_transformers import SentenceTransformer
    from tqdm import tqdm

    passages: dict[tuple[str, str], list[str]] = {}
    for chunk in chunks:
        passages.setdefault((chunk.source, chunk.heading), []).append(chunk.embedding_text())
    usable = [q for q in questions if (q.doc, q.section) in passages]
    if not usable:
        raise NoQuestionsForTheseDocumentsError("none of the labelled questions names a section of this knowledge base")
    named = len({(q.doc, q.section) for q in usable})
    if named < max(2, MIN_SECTION_SHARE * len(passages)):
        raise NoQuestionsForTheseDocumentsError(
            f"the labelled questions name {named} of the {len(passages)} sections of this knowledge base: "
            f"an encoder is fine-tuned on questions naming at least two and {MIN_SECTION_SHARE:.0%} of them"
        )
    fingerprint = hashlib.sha256()
    for q in usable:
        fingerprint.update(f"{q.question}\t{q.doc}\t{q.section}\n".encode())
    for key in sorted(passages):
        fingerprint.update("\n".join(passages[key]).encode())
    fingerprint.update(json.dumps([epochs, learning_rate, batch_size, seed]).encode())
    identity = fingerprint.hexdigest()[:16]
    existing = _saved_meta(Path(out))
    if existing.get("id") == identity:
        # The same questions over the same documents: another shop's `make shop` after the
        # demo's `make run` trains on the demo's documents again, to the encoder already there.
        return {**existing, "reused": True}
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = SentenceTransformer(model_path(), device=pick_device(device))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    started = time.perf_counter()
    order = usable[:]
    steps = epochs * ((len(order) + batch_size - 1) // batch_size)
    losses: list[float] = []
    with tqdm(total=steps, desc="kb encoder", unit="step", disable=not progress) as bar:
        for _ in range(epochs):
            rng.shuffle(order)
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                keys = list(dict.fromkeys((q.doc, q.section) for q in batch))
                texts = [rng.choice(passages[k]) for k in keys]
                q_vectors = model(model.preprocess([q.question for q in batch]))["sentence_embedding"]
                p_vectors = model(model.preprocess(texts))["sentence_embedding"]
                logits = (
                    torch.nn.functional.normalize(q_vectors, dim=-1)
                    @ torch.nn.functional.normalize(p_vectors, dim=-1).T
                )
                targets = torch.tensor([keys.index((q.doc, q.section)) for q in batch], device=logits.device)
                # scale 20, as sentence-transformers' MultipleNegativesRankingLoss
                loss = torch.nn.functional.cross_entropy(logits * 20.0, targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    # Written beside the old encoder and swapped in whole: a reader never finds half of each.
    out = Path(out)
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save(str(staging), safe_serialization=True)
    meta = {
        "id": identity,
        "base": BASE_ENCODER_ID,
        "questions": len(usable),
        "questions_skipped": len(questions) - len(usable),
        "sections": len({(q.doc, q.section) for q in usable}),
        "epochs": epochs,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "seed": seed,
        "train_s": round(time.perf_counter() - started, 1),
        "final_loss": round(sum(losses[-5:]) / len(losses[-5:]), 4),
    }
    (staging / ENCODER_META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return meta


def _saved_meta(folder: Path) -> dict[str, Any]:
    """The kb_encoder.json of an encoder saved in `folder` ({} when there is none or it is unreadable)."""
    try:
        meta = json.loads((folder / ENCODER_META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) and (folder / "model.safetensors").exists() else {}


def trained_encoder(path: str | Path | None = None) -> Embedder | None:
    """The fine-tuned KB encoder in `path` (default `SHOP_KB_ENCODER_PATH`), None when none was trained."""
    folder = Path(path) if path else encoder_path()
    return Embedder(str(folder)) if (folder / ENCODER_META_FILE).exists() else None
