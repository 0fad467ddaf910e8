"""Knowledge-base retrieval benchmark: BM25 vs dense vs hybrid on our labelled shopper questions.

    make bench-retrieval        (or: .venv-actions/bin/python benchmarks/bench_retrieval.py)

Questions: benchmarks/data/kb_questions.jsonl, each labelled with the document and section that
answers it (doc null = the KB does not answer it). The `validation` split chooses the confidence
threshold and reports which hybrid weight it would pick; the test rows use the served weight,
which is chosen on other shops' questions (bench_kb_transfer.py). Every figure reported is on the
`test` split.

The suggestion cut-off is chosen on public data instead: our validation questions share the
phrasing of the questions the KB encoder is fine-tuned on, so every answerable one scores above
0.39, and a cut-off fitted on them declines what strangers ask in other words. Bitext's
customer-service messages (../shared/datasets) whose intent is a question one document of
`shop/kb` answers (payment methods, refund policy, delivery options) are labelled right when the
top passage comes from that document; the suggestion cut-off is where a logistic fit of that
reaches PUBLIC_SUGGEST_PROBABILITY (0.9, not 0.5: a document is a coarser label than a passage,
and these messages include no question the documents cannot answer). What it costs on our
unanswerable questions is reported with it.

Dense and hybrid use the KB question encoder that `make index` fine-tunes on
training_data/kb/questions.jsonl (written apart from these questions, never from them);
`dense_base` and `hybrid_base` are the same with the plain MiniLM, in the same run.
Writes benchmarks/results/retrieval.json and retrieval_recall_at_k.png, prints a table.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from benchmarks.timing import latency_ms  # noqa: E402
from retrieval.embedder import ENCODER_META_FILE, Embedder  # noqa: E402
from retrieval.kb_encoder import encoder_path  # noqa: E402
from retrieval.knowledge_base import DEFAULT_KB_FOLDER, KnowledgeBase  # noqa: E402

QUESTIONS = ROOT / "benchmarks" / "data" / "kb_questions.jsonl"
BITEXT = (
    ROOT.parent
    / "shared"
    / "datasets"
    / "bitext-customer-support"
    / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
)
# Bitext intents that one or two documents of the demo shop's KB answer, and those documents.
BITEXT_DOCUMENTS = {
    "check_payment_methods": ("payment.md",),
    "check_refund_policy": ("refunds.md", "returns.md"),
    "delivery_options": ("shipping.md", "delivery-times.md"),
}
PUBLIC_SUGGEST_PROBABILITY = 0.9
RESULTS = ROOT / "benchmarks" / "results"
MODES = ("bm25", "dense", "hybrid")
BASE_MODES = ("dense_base", "hybrid_base")
# A wrong answer given confidently costs more than saying "not sure" and offering a human.
WRONG_ANSWER_COST = 3.0


def load_questions(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        assert row["split"] in ("validation", "test"), row
    return rows


def in_repository(path: Path) -> str:
    """`path` relative to the repository when inside it, so results do not name this machine."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def is_hit(hit, row: dict) -> bool:
    return hit.source == row["doc"] and hit.heading == row["section"]


def evaluate(kb: KnowledgeBase, rows: list[dict], mode: str, k: int = 10) -> dict:
    ranks: list[int | None] = []
    latencies: list[float] = []
    for row in rows:
        start = time.perf_counter()
        hits = kb.search(row["question"], k=k, mode=mode)
        latencies.append((time.perf_counter() - start) * 1000)
        ranks.append(next((r for r, h in enumerate(hits, start=1) if is_hit(h, row)), None))
    n = len(rows)
    recall_curve = [sum(1 for r in ranks if r is not None and r <= cut) / n for cut in range(1, k + 1)]
    return {
        "top1": round(recall_curve[0], 4),
        "mrr_at_5": round(sum(1 / r for r in ranks if r is not None and r <= 5) / n, 4),
        "recall_at_5": round(recall_curve[4], 4),
        **latency_ms(latencies),
        "recall_at_k": [round(x, 4) for x in recall_curve],
        "questions": n,
    }


def decisions(kb: KnowledgeBase, rows: list[dict]) -> list[tuple[float, bool, bool]]:
    """(confidence of the top passage, question answerable, top passage correct) per question."""
    out = []
    for row in rows:
        hits = kb.search(row["question"], k=1, mode="hybrid")
        top = hits[0] if hits else None
        out.append((top.confidence if top else 0.0, row["doc"] is not None, bool(top and is_hit(top, row))))
    return out


# Answer outright when P(right) >= 0.75 (a wrong answer costs WRONG_ANSWER_COST times a "not
# sure": p - 3 (1 - p) >= 0), offer the passage as a hedged suggestion when P(right) >= 0.5.
ANSWER_PROBABILITY = WRONG_ANSWER_COST / (1.0 + WRONG_ANSWER_COST)
SUGGEST_PROBABILITY = 0.5


def choose_thresholds(points: list[tuple[float, bool, bool]]) -> dict:
    """The cosine cut-offs where a logistic fit of P(top passage right | cosine) on `points`
    crosses ANSWER_PROBABILITY and SUGGEST_PROBABILITY. A two-parameter fit is smooth where a
    direct utility sweep over 38 questions jumps with each single question."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray([[conf] for conf, _, _ in points])
    y = np.asarray([correct for _, _, correct in points], dtype=int)
    model = LogisticRegression(C=100.0).fit(x, y)
    slope, intercept = float(model.coef_[0][0]), float(model.intercept_[0])

    def at(p: float) -> float:
        return round((math.log(p / (1 - p)) - intercept) / slope, 3)

    answer, suggest = at(ANSWER_PROBABILITY), at(SUGGEST_PROBABILITY)
    return {
        "answer": answer,
        "suggest": min(suggest, answer),
        "logistic": {"slope": round(slope, 3), "intercept": round(intercept, 3)},
    }


def bitext_points(kb: KnowledgeBase, path: Path) -> list[tuple[float, bool, bool]]:
    """(confidence, answerable, top passage from the right document) per deduplicated Bitext
    message of the intents in BITEXT_DOCUMENTS."""
    messages: dict[str, set[str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["intent"] in BITEXT_DOCUMENTS:
                messages.setdefault(row["intent"], set()).add(row["instruction"].strip())
    points = []
    for intent, texts in sorted(messages.items()):
        for text in sorted(texts):
            hits = kb.search(text, k=1, mode="hybrid")
            top = hits[0] if hits else None
            right = bool(top and Path(top.source).name in BITEXT_DOCUMENTS[intent])
            points.append((top.confidence if top else 0.0, True, right))
    return points


def public_suggest_threshold(points: list[tuple[float, bool, bool]]) -> dict:
    """The cosine where a logistic fit of P(top passage from the right document | cosine) on the
    Bitext points reaches PUBLIC_SUGGEST_PROBABILITY, with the share right per cosine band."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray([[conf] for conf, _, _ in points])
    y = np.asarray([right for _, _, right in points], dtype=int)
    model = LogisticRegression(C=100.0).fit(x, y)
    slope, intercept = float(model.coef_[0][0]), float(model.intercept_[0])
    p = PUBLIC_SUGGEST_PROBABILITY
    bands = {}
    for low, high in ((0.0, 0.3), (0.3, 0.35), (0.35, 0.4), (0.4, 0.45), (0.45, 1.01)):
        inside = [right for conf, _, right in points if low <= conf < high]
        bands[f"{low:.2f}-{min(high, 1.0):.2f}"] = {
            "messages": len(inside),
            "right_document": round(sum(inside) / len(inside), 4) if inside else None,
        }
    return {
        "suggest": round((math.log(p / (1 - p)) - intercept) / slope, 3),
        "probability": p,
        "messages": len(points),
        "right_document": round(float(y.mean()), 4) if len(y) else None,
        "logistic": {"slope": round(slope, 3), "intercept": round(intercept, 3)},
        "by_cosine": bands,
    }


def answer_stats(points: list[tuple[float, bool, bool]], answer: float, suggest: float) -> dict:
    answered = [p for p in points if p[0] >= answer]
    suggested = [p for p in points if suggest <= p[0] < answer]
    answerable = [p for p in points if p[1]]
    unanswerable = [p for p in points if not p[1]]

    def share(part: list, whole: list) -> float | None:
        return round(len(part) / len(whole), 4) if whole else None

    return {
        "answer_precision": round(sum(p[2] for p in answered) / len(answered), 4) if answered else None,
        "answered": len(answered),
        "wrong_answers": sum(1 for p in answered if not p[2]),
        "answered_share_of_answerable": share([p for p in answerable if p[0] >= answer], answerable),
        "suggestion_precision": round(sum(p[2] for p in suggested) / len(suggested), 4) if suggested else None,
        "suggested": len(suggested),
        "helped_share_of_answerable": share([p for p in answerable if p[0] >= suggest and p[2]], answerable),
        "unanswerable_declined": share([p for p in unanswerable if p[0] < suggest], unanswerable),
        "unanswerable_answered_outright": share([p for p in unanswerable if p[0] >= answer], unanswerable),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--kb", type=Path, default=DEFAULT_KB_FOLDER)
    parser.add_argument("--out", type=Path, default=RESULTS / "retrieval.json")
    parser.add_argument("--encoder", type=Path, default=encoder_path(), help="the fine-tuned KB encoder folder")
    parser.add_argument("--bitext", type=Path, default=BITEXT, help="the Bitext CSV (its row is skipped when missing)")
    args = parser.parse_args()

    rows = load_questions(args.questions)
    validation = [r for r in rows if r["split"] == "validation"]
    test = [r for r in rows if r["split"] == "test"]
    val_answerable = [r for r in validation if r["doc"]]
    test_answerable = [r for r in test if r["doc"]]
    if not (args.encoder / ENCODER_META_FILE).exists():
        print(f"no KB encoder at {args.encoder}: run `make train-kb-encoder` (or `make index`)", file=sys.stderr)
        return 2
    encoder_meta = json.loads((args.encoder / ENCODER_META_FILE).read_text(encoding="utf-8"))
    embedders = {"tuned": Embedder(str(args.encoder)), "base": Embedder()}
    for embedder in embedders.values():
        embedder.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        kbs, scores, ingest_s = {}, {}, 0.0
        validation_pick: dict[str, tuple[str, float]] = {}
        for name, embedder in embedders.items():
            kb = KnowledgeBase(index_path=Path(tmp) / name, collection="bench_kb", embedder=embedder)
            served = (kb.fusion, kb.bm25_weight)
            start = time.perf_counter()
            report = kb.ingest(args.kb, progress=False)
            if name == "tuned":
                ingest_s = time.perf_counter() - start
            kb.search("warm up")
            for _ in range(20):  # the first queries pay for lazy initialisation; time steady state
                kb.search("how long does shipping take")
            # Fusion and BM25 weight: chosen on the validation split (MRR@5, then top1), never on test.
            grid = [("convex", w) for w in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4)] + [("rrf", w) for w in (0.25, 0.5, 1.0)]
            scores[name] = {}
            for fusion, weight in grid:
                kb.fusion, kb.bm25_weight = fusion, weight
                m = evaluate(kb, val_answerable, "hybrid")
                scores[name][(fusion, weight)] = (m["mrr_at_5"], m["top1"])
            # The test rows use the served fusion: the validation pick is reported beside it. These
            # questions share the phrasing of the encoder's training questions, so their pick
            # favours the encoder; the served weight is chosen on other shops' questions
            # (bench_kb_transfer.py).
            validation_pick[name] = max(grid, key=lambda g: scores[name][g])
            kb.fusion, kb.bm25_weight = served
            kbs[name] = kb
        kb = kbs["tuned"]
        table = {mode: evaluate(kb, test_answerable, mode) for mode in MODES}
        table |= {f"{mode}_base": evaluate(kbs["base"], test_answerable, mode) for mode in ("dense", "hybrid")}
        thresholds = choose_thresholds(decisions(kb, validation))
        cut = (thresholds["answer"], thresholds["suggest"])
        test_answers = answer_stats(decisions(kb, test), *cut)
        val_answers = answer_stats(decisions(kb, validation), *cut)
        public = public_suggest_threshold(bitext_points(kb, args.bitext)) if args.bitext.is_file() else None
        if public is not None:
            public_cut = (thresholds["answer"], min(public["suggest"], thresholds["answer"]))
            public["validation"] = answer_stats(decisions(kb, validation), *public_cut)
            public["test"] = answer_stats(decisions(kb, test), *public_cut)
        base_thresholds = choose_thresholds(decisions(kbs["base"], validation))
        # The same fit for the plain MiniLM, which serves when no labelled question names the
        # sections of any folder here: it agrees with the validation fit there (0.417 / 0.421).
        public_base = (
            public_suggest_threshold(bitext_points(kbs["base"], args.bitext)) if args.bitext.is_file() else None
        )
        base_answers = answer_stats(decisions(kbs["base"], test), base_thresholds["answer"], base_thresholds["suggest"])

    result = {
        "benchmark": "kb retrieval",
        "command": "make bench-retrieval",
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "device": "cpu"},
        "knowledge_base": {
            "folder": in_repository(args.kb),
            "chunks": report.chunks_total,
            "files": len(report.added),
            "ingest_s": round(ingest_s, 2),
        },
        "questions": {
            "validation": len(validation),
            "test": len(test),
            "test_answerable": len(test_answerable),
            "test_unanswerable": len(test) - len(test_answerable),
        },
        "kb_encoder": {"path": in_repository(args.encoder), **encoder_meta},
        "hybrid_fusion": {
            "fusion": kb.fusion,
            "bm25_weight": kb.bm25_weight,
            "validation_pick": "{}:{}".format(*validation_pick["tuned"]),
            "validation_mrr_at_5_top1": {f"{f}:{w}": s for (f, w), s in scores["tuned"].items()},
        },
        "hybrid_base_fusion": {
            "fusion": kbs["base"].fusion,
            "bm25_weight": kbs["base"].bm25_weight,
            "validation_pick": "{}:{}".format(*validation_pick["base"]),
            "validation_mrr_at_5_top1": {f"{f}:{w}": s for (f, w), s in scores["base"].items()},
        },
        **table,
        "threshold": {
            "chosen_on": "validation",
            "wrong_answer_cost": WRONG_ANSWER_COST,
            "answer_probability": ANSWER_PROBABILITY,
            "suggest_probability": SUGGEST_PROBABILITY,
            **thresholds,
            "validation": val_answers,
            "test": test_answers,
        },
        "threshold_base": {**base_thresholds, "test": base_answers},
        "suggest_threshold_public": public,
        "suggest_threshold_public_base": public_base,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(table, args.out.with_name("retrieval_recall_at_k.png"))

    print(
        f"\nKB retrieval on {len(test_answerable)} held-out answerable questions "
        f"({report.chunks_total} chunks; hybrid = {kb.fusion} fusion, bm25 weight {kb.bm25_weight}; "
        f"encoder fine-tuned on {encoder_meta['questions']} questions in {encoder_meta['train_s']} s)"
    )
    print(f"{'mode':<12} {'top1':>6} {'mrr@5':>6} {'rec@5':>6} {'p50 ms':>7} {'p95 ms':>7}")
    for mode in (*MODES, *BASE_MODES):
        m = table[mode]
        print(
            f"{mode:<12} {m['top1']:>6.3f} {m['mrr_at_5']:>6.3f} {m['recall_at_5']:>6.3f} "
            f"{m['p50_ms']:>7.1f} {m['p95_ms']:>7.1f}"
        )
    t = test_answers
    print(
        f"\nthresholds (fit on validation): answer >= {cut[0]:.3f}, suggest >= {cut[1]:.3f}. On test: "
        f"answer precision {t['answer_precision']} ({t['answered']} answered, {t['wrong_answers']} wrong), "
        f"suggestion precision {t['suggestion_precision']} ({t['suggested']} suggested); "
        f"{t['helped_share_of_answerable']:.0%} of answerable questions got the right passage; "
        f"{t['unanswerable_declined']} of unanswerable declined"
    )
    if public is not None:
        t = public["test"]
        print(
            f"suggestion cut-off from Bitext ({public['messages']} messages, P(right document) = "
            f"{public['probability']}): suggest >= {public['suggest']:.3f}. On test with it: "
            f"{t['helped_share_of_answerable']:.0%} of answerable questions got the right passage; "
            f"{t['unanswerable_declined']} of unanswerable declined"
        )
    print(f"hybrid top1 - bm25 top1 = {table['hybrid']['top1'] - table['bm25']['top1']:+.3f}")
    print(f"wrote {args.out}")
    return 0


def plot(table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for mode in (*MODES, "hybrid_base"):
        curve = table[mode]["recall_at_k"]
        ax.plot(range(1, len(curve) + 1), curve, marker="o", label=mode)
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1.02)
    ax.set_title("KB retrieval, held-out questions")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
