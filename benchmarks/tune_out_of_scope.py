"""How the out-of-scope score and its keep rate were chosen: BANKING77's *train* split only.

Half the intents (RandomState(seed).choice) are known. Of each known intent's training rows,
10% calibrate the threshold, 10% are the known evaluation, the rest train the joint model as
the component does (bot.components.training.fit, the component's default settings). Twelve
training rows of every unknown intent are the unknown evaluation. The test split is never
read. Scores compared: softmax confidence, max logit, energy, nearest-neighbour cosine (1 and
10 over every training vector, 5 within the predicted intent: what the component serves),
Mahalanobis distance (Podolskiy et al., AAAI 2021), and the served score plus the softmax
confidence. For each: AUROC of known against unknown,
and at keep rates 0.85 / 0.9 / 0.95 (threshold = that quantile of the calibration scores) the
known accuracy, the unknown recall and their mean.

    .venv-rasa/bin/python -m benchmarks.tune_out_of_scope [--seed 7]

Writes benchmarks/results/out_of_scope_validation.json. About 15 minutes on two cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KEEP_RATES = (0.85, 0.9, 0.95)


def normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def split(rows: list[tuple[str, str]], seed: int):
    intents = sorted({i for _, i in rows})
    rng = np.random.RandomState(seed)
    known = sorted(rng.choice(intents, size=len(intents) // 2, replace=False).tolist())
    by_intent: dict[str, list[str]] = {}
    for text, intent in rows:
        by_intent.setdefault(intent, []).append(text)
    train, calibration, known_eval, unknown_eval = [], [], [], []
    for intent in intents:
        texts = list(by_intent[intent])
        rng.shuffle(texts)
        if intent in known:
            tenth = int(len(texts) * 0.1)
            calibration += [(t, intent) for t in texts[:tenth]]
            known_eval += [(t, intent) for t in texts[tenth : 2 * tenth]]
            train += [(t, intent) for t in texts[2 * tenth :]]
        else:
            unknown_eval += [(t, intent) for t in texts[:12]]
    return known, train, calibration, known_eval, unknown_eval


def train_and_embed(known, train, parts):
    import torch

    from bot.components.joint_model import JointModel, default_encoder_path, load_tokenizer, pad
    from bot.components.training import FitSettings, fit, seed_everything
    from bot.components.transformer_classifier import TransformerIntentClassifier

    config = TransformerIntentClassifier.get_default_config()
    config["epochs"] = 10  # config.yml's setting
    seed_everything(config["random_seed"])
    encoder = default_encoder_path()
    tokenizer = load_tokenizer(encoder)
    model = JointModel(encoder, len(known), 3, config["dropout"], pretrained=True)
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    ids = tokenizer([t for t, _ in train], truncation=True, max_length=config["max_length"])["input_ids"]
    labels = [known.index(i) for _, i in train]
    fit(
        model,
        ids,
        labels,
        [-100] * len(labels),
        [],
        FitSettings.from_config(config),
        pad_id=tokenizer.pad_token_id,
        device="cpu",
        train_sentiment=False,
    )
    model.eval()

    def embed(texts):
        vectors, logits = [], []
        encoded = tokenizer(texts, truncation=True, max_length=config["max_length"])["input_ids"]
        with torch.inference_mode():
            for start in range(0, len(encoded), 64):
                batch_ids, mask = pad(encoded[start : start + 64], tokenizer.pad_token_id)
                sentence, intent_logits, _, _ = model.forward_with_sentence_vector(batch_ids, mask)
                vectors.append(sentence.numpy())
                logits.append(intent_logits.numpy())
        return np.concatenate(vectors), np.concatenate(logits)

    return np.asarray(labels), {name: embed([t for t, _ in part]) for name, part in parts.items()}


def scores(vectors, logits, memory, memory_labels):
    z = logits - logits.max(1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    predicted = logits.argmax(1)
    similarity = normalise(vectors) @ normalise(memory).T
    within = np.array([np.sort(similarity[r, memory_labels == predicted[r]])[-5:].mean() for r in range(len(vectors))])
    classes = memory_labels.max() + 1
    means = np.stack([memory[memory_labels == c].mean(0) for c in range(classes)])
    centred = memory - means[memory_labels]
    precision = np.linalg.inv(centred.T @ centred / len(memory) + 1e-3 * np.eye(memory.shape[1]))
    mahalanobis = np.stack(
        [np.einsum("ij,jk,ik->i", vectors - means[c], precision, vectors - means[c]) for c in range(classes)], 1
    )
    return predicted, {
        "softmax": probs.max(1),
        "max_logit": logits.max(1),
        "energy": np.log(np.exp(logits).sum(1)),
        "knn1_all": similarity.max(1),
        "knn10_all": np.sort(similarity, 1)[:, -10:].mean(1),
        "knn5_predicted_intent (served)": within,
        "mahalanobis": -mahalanobis.min(1),
        # Two scores that err on different messages might add up to a better one.
        "served + softmax": within + probs.max(1),
    }


def main() -> int:
    from sklearn.metrics import roc_auc_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "out_of_scope_validation.json")
    args = parser.parse_args()
    with open(args.datasets / "banking77" / "train.csv", newline="", encoding="utf-8") as f:
        rows = [(r["text"].strip(), r["category"]) for r in csv.DictReader(f)]
    known, train, calibration, known_eval, unknown_eval = split(rows, args.seed)
    started = time.perf_counter()
    labels, embedded = train_and_embed(
        known, train, {"train": train, "calibration": calibration, "known": known_eval, "unknown": unknown_eval}
    )
    memory = embedded["train"][0]
    _, calibration_scores = scores(*embedded["calibration"], memory, labels)
    predicted_known, known_scores = scores(*embedded["known"], memory, labels)
    _, unknown_scores = scores(*embedded["unknown"], memory, labels)
    gold_known = np.array([known.index(i) for _, i in known_eval])
    result = {"seed": args.seed, "known_intents": len(known), "train": len(train), "seconds": 0.0, "scores": {}}
    print(f"{'score':<32} {'AUROC':>6}  " + "  ".join(f"keep {k}: known/unknown" for k in KEEP_RATES))
    for name in known_scores:
        auroc = roc_auc_score(
            np.r_[np.ones(len(known_scores[name])), np.zeros(len(unknown_scores[name]))],
            np.r_[known_scores[name], unknown_scores[name]],
        )
        row = {"auroc": round(float(auroc), 4)}
        cells = []
        for keep in KEEP_RATES:
            threshold = np.quantile(calibration_scores[name], 1 - keep)
            known_ok = float(((known_scores[name] >= threshold) & (predicted_known == gold_known)).mean())
            unknown_recall = float((unknown_scores[name] < threshold).mean())
            row[f"keep_{keep}"] = {"known_accuracy": round(known_ok, 4), "unknown_recall": round(unknown_recall, 4)}
            cells.append(f"{known_ok:.3f}/{unknown_recall:.3f}")
        result["scores"][name] = row
        print(f"{name:<32} {auroc:6.3f}  " + "  ".join(f"{c:>22}" for c in cells))
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
