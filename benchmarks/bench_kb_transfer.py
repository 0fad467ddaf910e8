"""The KB question encoder on documents it was not trained for: each blind shop's help pages with
its shoppers' policy questions, ranked by the encoder `make index` trains (fine-tuned on the demo's
questions over the demo's documents) and, as the peer in the same run, by the plain MiniLM that
served another shop's documents before. A third column ranks with the trained encoder but without
the shoppers' short forms spelled out (`retrieval/data/shopper_abbreviations.tsv`): what that
table adds. Two more columns: the share whose reply (the top passage as the answer shows it)
still holds the fact, beside the former 420-character cut; and the trained encoder's top-1 for
each BM25 share of the fused score, from which the served one is chosen on the craft and pet
shops (the team's own; the pantry shop and the demo's fresh questions are the check).

    make bench-kb-transfer
    (or: .venv-actions/bin/python benchmarks/bench_kb_transfer.py [SHOP_FOLDER ...])

Each shop folder (default: every one under benchmarks/data with a queries.yml) is ingested into a
temporary Chroma with each encoder; a question counts when the knowledge base's top passage
(hybrid, as the bot searches) holds its fact (`expect`). The demo's fresh policy questions over
shop/kb, which the encoder was trained for (with other questions), are a last row.
Writes benchmarks/results/kb_transfer.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_shop_folder import load_shop  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "benchmarks" / "data"
DEMO_QUESTIONS = DATA / "policy_questions_fresh.yml"


def questions_of(folder: Path) -> tuple[Path, list[dict[str, Any]]]:
    shop = load_shop(folder)
    return shop["kb"], shop["policy_questions"]


# The BM25 shares tried for the trained encoder, to choose the served one (DEFAULT_BM25_WEIGHT)
# on shops the encoder was not trained for.
BM25_WEIGHTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
# The reply's former cut, for what it cost (actions/faq.py, MAX_ANSWER_CHARS).
FORMER_REPLY_CHARS = 420


def top_passage_share(
    kb_folder: Path,
    questions: list[dict[str, Any]],
    embedder: Any,
    short_forms: bool = True,
    bm25_weights: tuple[float, ...] = (),
) -> dict[str, Any]:
    from actions.faq import MAX_ANSWER_CHARS
    from retrieval.knowledge_base import KnowledgeBase

    with tempfile.TemporaryDirectory(prefix="kb-transfer-") as index:
        kb = KnowledgeBase(
            index_path=index, collection="transfer", embedder=embedder, abbreviations=None if short_forms else {}
        )
        kb.ingest(kb_folder, progress=False)
        top1 = top3 = reply = former_reply = 0
        for item in questions:
            hits = kb.search(item["question"], k=3)
            right = bool(hits and re.search(item["expect"], hits[0].text))
            top1 += right
            top3 += any(re.search(item["expect"], h.text) for h in hits)
            # The reply shows the top passage as `say_answer` cuts it.
            reply += right and bool(re.search(item["expect"], hits[0].excerpt(MAX_ANSWER_CHARS)))
            former_reply += right and bool(re.search(item["expect"], hits[0].excerpt(FORMER_REPLY_CHARS)))
        by_weight = {}
        served = kb.bm25_weight
        for weight in bm25_weights:
            kb.bm25_weight = weight
            by_weight[str(weight)] = round(
                sum(bool((h := kb.search(q["question"], k=1)) and re.search(q["expect"], h[0].text)) for q in questions)
                / len(questions),
                4,
            )
        kb.bm25_weight = served
    share = {
        "top1": round(top1 / len(questions), 4),
        "top3": round(top3 / len(questions), 4),
        "reply_holds_fact": round(reply / len(questions), 4),
        f"reply_cut_at_{FORMER_REPLY_CHARS}_holds_fact": round(former_reply / len(questions), 4),
    }
    return share | ({"top1_by_bm25_weight": by_weight, "bm25_weight": served} if bm25_weights else {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--encoder", type=Path, default=ROOT / "models" / "kb_encoder")
    parser.add_argument("--out", type=Path, default=RESULTS / "kb_transfer.json")
    args = parser.parse_args(argv)

    from retrieval.embedder import Embedder
    from retrieval.kb_encoder import trained_encoder

    trained = trained_encoder(args.encoder)
    if trained is None:
        print(f"no trained KB encoder at {args.encoder}: run `make index` first", file=sys.stderr)
        return 2
    folders = args.folders or sorted(p.parent for p in DATA.glob("*/queries.yml"))
    sets = [(folder.name, *questions_of(folder)) for folder in folders]
    demo = yaml.safe_load(DEMO_QUESTIONS.read_text(encoding="utf-8"))["questions"]
    sets.append(("demo (shop/kb, its fresh questions)", ROOT / "shop" / "kb", demo))
    plain = Embedder()
    rows = []
    print(
        f"{'documents':40s} {'questions':>9s} {'plain top1':>10s} {'trained top1':>12s} {'ratio':>6s} "
        f"{'top3 plain/trained':>19s} {'trained, no short forms':>23s} {'reply (cut at 420)':>18s}  "
        f"trained top1 by BM25 weight {' '.join(map(str, BM25_WEIGHTS))}"
    )
    for name, kb_folder, questions in sets:
        base = top_passage_share(kb_folder, questions, plain)
        tuned = top_passage_share(kb_folder, questions, trained, bm25_weights=BM25_WEIGHTS)
        literal = top_passage_share(kb_folder, questions, trained, short_forms=False)
        ratio = round(tuned["top1"] / base["top1"], 3) if base["top1"] else None
        rows.append(
            {
                "documents": name,
                "questions": len(questions),
                "plain": base,
                "trained": tuned,
                "ratio": ratio,
                "trained_without_short_forms": literal,
            }
        )
        print(
            f"{name:40s} {len(questions):9d} {base['top1']:10.3f} {tuned['top1']:12.3f} {ratio or 0:6.2f} "
            f"{base['top3']:9.3f}/{tuned['top3']:.3f} {literal['top1']:23.3f} "
            f"{tuned['reply_holds_fact']:9.3f} ({tuned['reply_cut_at_420_holds_fact']:.3f})  "
            + " ".join(f"{v:.3f}" for v in tuned["top1_by_bm25_weight"].values()),
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "kb_transfer",
        "command": "make bench-kb-transfer",
        "encoder": json.loads((args.encoder / "kb_encoder.json").read_text(encoding="utf-8")),
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
