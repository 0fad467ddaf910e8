"""The KB question encoder on documents it was not trained for: each blind shop's help pages with
its shoppers' policy questions, ranked by the encoder `make index` trains (fine-tuned on the demo's
questions over the demo's documents) and, as the peer in the same run, by the plain MiniLM that
served another shop's documents before. A third column ranks with the trained encoder but without
the shoppers' short forms spelled out (`retrieval/data/shopper_abbreviations.tsv`): what that
table adds.

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


def top_passage_share(
    kb_folder: Path, questions: list[dict[str, Any]], embedder: Any, short_forms: bool = True
) -> dict[str, Any]:
    from retrieval.knowledge_base import KnowledgeBase

    with tempfile.TemporaryDirectory(prefix="kb-transfer-") as index:
        kb = KnowledgeBase(
            index_path=index, collection="transfer", embedder=embedder, abbreviations=None if short_forms else {}
        )
        kb.ingest(kb_folder, progress=False)
        top1 = top3 = 0
        for item in questions:
            hits = kb.search(item["question"], k=3)
            top1 += bool(hits and re.search(item["expect"], hits[0].text))
            top3 += any(re.search(item["expect"], h.text) for h in hits)
    return {"top1": round(top1 / len(questions), 4), "top3": round(top3 / len(questions), 4)}


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
        f"{'top3 plain/trained':>19s} {'trained, no short forms':>23s}"
    )
    for name, kb_folder, questions in sets:
        base = top_passage_share(kb_folder, questions, plain)
        tuned = top_passage_share(kb_folder, questions, trained)
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
            f"{base['top3']:9.3f}/{tuned['top3']:.3f} {literal['top1']:23.3f}",
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
