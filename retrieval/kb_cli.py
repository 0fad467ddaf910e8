"""`python -m retrieval ingest --kb PATH`, `python -m retrieval ask "question"` and
`python -m retrieval train-encoder [--kb PATH] [--questions FILE]`."""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap

from retrieval.kb_encoder import (
    DEFAULT_QUESTIONS,
    NoQuestionsForTheseDocumentsError,
    QuestionFileError,
    encoder_path,
    fine_tune,
    kb_chunks,
    load_questions,
)
from retrieval.knowledge_base import DEFAULT_KB_FOLDER, IndexMissingError, KnowledgeBase
from retrieval.services import ServiceRegistry
from shop.settings import offline


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m retrieval", description="The shop's knowledge base.")
    parser.add_argument("--index", help="Chroma folder (default: $SHOP_KB_PATH or models/kb)")
    parser.add_argument("--collection", help="collection name (default: $SHOP_KB_COLLECTION or shop_kb)")
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="index a folder of markdown, text and FAQ (CSV/JSON) files")
    ingest.add_argument("--kb", default=str(DEFAULT_KB_FOLDER), help="knowledge-base folder (default: shop/kb)")
    ingest.add_argument("--collection", dest="collection_sub", help="collection name")
    ask = sub.add_parser("ask", help="print the ranked passages for a question")
    ask.add_argument("question")
    ask.add_argument("--k", type=int, default=5)
    ask.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    ask.add_argument("--collection", dest="collection_sub", help="collection name")
    train = sub.add_parser("train-encoder", help="fine-tune the KB question encoder on labelled shopper questions")
    train.add_argument("--kb", default=str(DEFAULT_KB_FOLDER), help="knowledge-base folder the questions are about")
    train.add_argument("--questions", default=str(DEFAULT_QUESTIONS), help="JSONL of {question, doc, section}")
    train.add_argument("--out", help="encoder folder (default: $SHOP_KB_ENCODER_PATH or models/kb_encoder)")
    train.add_argument("--epochs", type=int, default=6, help="6: the best of 2, 4 and 6 on the validation questions")
    train.add_argument(
        "--questions-kb",
        help="the documents the questions were labelled against (make index: shop/kb); when the questions "
        "name too few sections of --kb, the encoder is fine-tuned on these and serves --kb",
    )
    train.add_argument(
        "--optional",
        action="store_true",
        help="when no question names a section of --kb (or of --questions-kb), remove the encoder and exit 0",
    )
    sub.add_parser("catalog", help="product catalog commands: python -m retrieval catalog --help")
    return parser


def main(argv: list[str] | None = None, services: ServiceRegistry | None = None) -> int:
    """`services`: where the encoder comes from (a test passes its own; default: a new registry)."""
    offline()
    args = _parser().parse_args(argv)
    if args.command == "train-encoder":
        return _train_encoder(args)
    kb = KnowledgeBase(
        index_path=args.index,
        collection=getattr(args, "collection_sub", None) or args.collection,
        embedder=(services or ServiceRegistry()).kb_embedder,
    )
    if args.command == "ingest":
        try:
            report = kb.ingest(args.kb)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for source, reason in report.failed.items():
            print(f"FAILED {source}: {reason}", file=sys.stderr)
        print(f"{kb.collection_name} at {kb.index_path}: {report.summary()}")
        return 1 if report.failed else 0
    try:
        hits = kb.search(args.question, k=args.k, mode=args.mode)
    except IndexMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not hits:
        print("no passages found")
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. score {hit.score:.4f}  confidence {hit.confidence:.3f}  [{hit.source}] {hit.heading_path}")
        print(textwrap.indent(textwrap.fill(hit.text, 96), "     "))
    return 0


def _train_encoder(args: argparse.Namespace) -> int:
    out = args.out or str(encoder_path())
    trained_on = args.kb
    try:
        questions = load_questions(args.questions)
        try:
            meta = fine_tune(questions, kb_chunks(args.kb), out, epochs=args.epochs)
        except NoQuestionsForTheseDocumentsError:
            if not args.questions_kb:
                raise
            # Another shop's documents. Fine-tuned on the documents its questions were written
            # for, the encoder still learns how shoppers word policy questions ("my parcel never
            # showed up" for "lost shipments"), and that carries over: on two shops' documents
            # nobody wrote questions for, the top passage held the fact for 80% and 85% of their
            # shoppers' questions, against 76% and 75% with the plain MiniLM (README).
            trained_on = args.questions_kb
            meta = fine_tune(questions, kb_chunks(args.questions_kb), out, epochs=args.epochs)
    except NoQuestionsForTheseDocumentsError as exc:
        if not args.optional:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        # Questions labelled for sections no folder here has would teach the encoder nothing true.
        shutil.rmtree(out, ignore_errors=True)
        print(
            f"{exc}: the plain MiniLM serves {args.kb} "
            f"(write questions for its sections to {args.questions} to fine-tune)"
        )
        return 0
    except QuestionFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if meta.get("reused"):
        print(f"KB encoder at {out}: already fine-tuned on these questions over {trained_on}, serving {args.kb}")
        return 0
    print(
        f"KB encoder at {out}: {meta['questions']} questions over {meta['sections']} sections of {trained_on} "
        f"({meta['questions_skipped']} naming no section there), serving {args.kb}, {meta['epochs']} epochs, "
        f"{meta['train_s']} s, final loss {meta['final_loss']}. Re-ingest to use it: python -m "
        f"retrieval ingest --kb {args.kb}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
