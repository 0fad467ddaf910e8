"""Ingest -> search on Chroma on disk, incremental re-ingest, bad files and a missing index."""

from __future__ import annotations

import json

import pytest

from retrieval import kb_cli
from retrieval.kb_documents import DocumentError, excerpt, load_chunks, table_rows_as_sentences
from retrieval.knowledge_base import IndexMissingError, KnowledgeBase
from retrieval.services import ServiceRegistry
from tests.retrieval.conftest import write

RETURNS = """# Returns

## Return window
Unworn items can be sent back within 45 days of delivery.

## Return shipping
The prepaid return label is free for customers in Canada.
"""
CARE = "Leather boots should be cleaned with a damp cloth and a little saddle soap, never in a washing machine."
FAQ_CSV = 'question,answer\nDo you sell gift cards?,"Gift cards come in 25, 50 and 100 euro values."\n'
FAQ_JSON = [{"question": "Can I pay in instalments?", "answer": "Klarna splits a payment into three monthly parts."}]


@pytest.fixture
def kb_folder(tmp_path):
    folder = tmp_path / "kb"
    write(folder, "returns.md", RETURNS)
    write(folder, "care/boots.txt", CARE)
    write(folder, "faq.csv", FAQ_CSV)
    write(folder, "more-faq.json", json.dumps(FAQ_JSON))
    return folder


@pytest.fixture
def kb(tmp_path, embedder):
    return KnowledgeBase(index_path=tmp_path / "index", collection="test_kb", embedder=embedder)


def test_markdown_is_split_by_heading_with_the_heading_path():
    from pathlib import Path

    tmp = Path(__file__).parent / "_returns.md"
    try:
        tmp.write_text(RETURNS)
        chunks = load_chunks(tmp, "returns.md")
    finally:
        tmp.unlink()
    assert [c.heading for c in chunks] == ["Return window", "Return shipping"]
    assert chunks[0].heading_path == "Returns > Return window" and "45 days" in chunks[0].text
    assert len({c.chunk_id for c in chunks}) == 2


def test_a_tables_rows_are_embedded_as_sentences_and_shown_as_the_table(tmp_path):
    path = write(
        tmp_path,
        "delivery.md",
        "# Delivery\n\n## UK options\n\n| Service | Price |\n|---|:---:|\n"
        "| Tracked 48 | £3.95, free over £40 |\n| Next day | £7.95 |\n\nAfter the table.\n",
    )
    [chunk] = load_chunks(path, "delivery.md")
    assert "| Tracked 48 | £3.95, free over £40 |" in chunk.text  # what the shopper reads
    embedded = chunk.embedding_text().splitlines()
    assert embedded[0] == "Delivery > UK options"
    assert "Service: Tracked 48; Price: £3.95, free over £40" in embedded
    assert "Service: Next day; Price: £7.95" in embedded and "After the table." in embedded
    assert not any("|" in line or "---" in line for line in embedded)
    # Each row is a sentence of its own for the sentence vectors, under the heading path.
    assert chunk.sentence_texts() == [
        "Delivery > UK options: Service: Tracked 48; Price: £3.95, free over £40",
        "Delivery > UK options: Service: Next day; Price: £7.95",
        "Delivery > UK options: After the table.",
    ]
    # Rows whose heading row is in another chunk keep their cells.
    assert table_rows_as_sentences("| Tracked 24 | £5.50 |") == "Tracked 24; £5.50"


def test_ingest_then_query_finds_the_expected_chunk(kb, kb_folder):
    report = kb.ingest(kb_folder, progress=False)
    assert sorted(report.added) == ["care/boots.txt", "faq.csv", "more-faq.json", "returns.md"]
    assert report.chunks_total == 5 and not report.failed
    cases = {
        "how long have I got to send stuff back?": ("returns.md", "Return window"),
        "is the return label free in canada": ("returns.md", "Return shipping"),
        "how do i clean my leather boots": ("care/boots.txt", "Boots"),
        "do u have giftcards": ("faq.csv", "Do you sell gift cards?"),
        "can I split the payment into monthly parts?": ("more-faq.json", "Can I pay in instalments?"),
    }
    for question, (source, heading) in cases.items():
        top = kb.search(question, k=3)[0]
        assert (top.source, top.heading) == (source, heading), question
        assert top.confidence > 0.3 and top.score > 0
    # the same API ranks with one signal only, too
    assert kb.search("saddle soap", k=1, mode="bm25")[0].source == "care/boots.txt"
    assert kb.search("washing footwear", k=1, mode="dense")[0].source == "care/boots.txt"


DELIVERY = """# Delivery

## Sending abroad
We send parcels to most countries in Europe with tracked couriers. Customs forms are filled in by our warehouse team.
Prices depend on the parcel's weight and the country. Duties and import taxes are paid by the recipient on arrival.
Parcels to the Channel Islands and the Isle of Man go by Royal Mail and take four to six working days.
Orders to Norway and Switzerland may be held at customs for a few days.
Northern Ireland orders are sent free once they reach £60.

## Free delivery
UK orders of £40 or more are sent free by Royal Mail Tracked 48.
"""
ONE_LINE_QUESTIONS = ("free postage threshold for northern ireland", "do northern ireland orders get free delivery")


def test_a_fact_in_one_sentence_of_a_long_section_outranks_a_short_section_on_the_topic(
    kb, tmp_path, monkeypatch, caplog
):
    """The Northern Ireland line is one of six in its section: the section's own vector is about
    sending abroad, and the two-line "Free delivery" section is closer to the question. Its best
    sentence is not."""
    import retrieval.knowledge_base as knowledge_base

    folder = tmp_path / "docs"
    write(folder, "delivery.md", DELIVERY)
    kb.ingest(folder, progress=False)
    for question in ONE_LINE_QUESTIONS:
        top = kb.search(question, k=2)[0]
        assert top.heading == "Sending abroad" and "£60" in top.text, question
        # The answer shown is cut around that line, not at the section's first 300 characters.
        assert top.best_sentence == "Northern Ireland orders are sent free once they reach £60.", question
        assert "£60" in top.excerpt(300) and "£60" not in excerpt(top.text, 300), question
    # Passage vectors alone, as before sentence vectors, put the short section first.
    monkeypatch.setattr(knowledge_base, "SENTENCE_WEIGHT", 0.0)
    assert [kb.search(q, k=2, mode="dense")[0].heading for q in ONE_LINE_QUESTIONS] == ["Free delivery"] * 2
    monkeypatch.undo()

    # An index written before sentence vectors (no sentence collection) still ranks by them,
    # embedding the sentences in memory and saying how to rebuild.
    kb._open_collection(create=False)
    kb._client.delete_collection(kb.sentence_collection_name)
    older = KnowledgeBase(index_path=kb.index_path, collection=kb.collection_name, embedder=kb.embedder)
    with caplog.at_level("WARNING", logger="retrieval.knowledge_base"):
        assert [older.search(q, k=2)[0].heading for q in ONE_LINE_QUESTIONS] == ["Sending abroad"] * 2
        assert "£60" in older.search(ONE_LINE_QUESTIONS[0], k=1)[0].excerpt(300)
    assert "no sentence vectors for 2 passages" in caplog.text and "make index" in caplog.text


def test_an_excerpt_is_cut_at_sentences_and_keeps_the_sentence_that_answered():
    text = "First sentence here. " * 40
    cut = excerpt(text, 100)
    assert cut.endswith(".") and len(cut) <= 100 and not cut.startswith("…")
    assert excerpt("  a   b  ", 100) == "a b"
    steps = "Collecting your order:\n- Bring the email.\n" + "- Any photo ID will do at the counter.\n" * 8
    held = "- We hold it for 7 days, then refund it."
    cut = excerpt(steps + held, 160, focus="We hold it for 7 days, then refund it.")
    # The opening, shortened, then the line that answered after an ellipsis; lines kept as lines.
    assert cut == (
        "Collecting your order:\n- Bring the email.\n- Any photo ID will do at the counter.\n"
        "… - We hold it for 7 days, then refund it."
    )
    assert len(cut) <= 160
    # A sentence the passage does not hold word for word (a table row) cuts from the start.
    assert excerpt(steps + held, 160, focus="Service: Tracked 48; Price: £3.95").startswith("Collecting your order:")
    # Without a focus, or with one that the start already shows, nothing changes.
    assert excerpt(steps + held, 160, focus="Bring the email.") == excerpt(steps + held, 160)


def test_the_documents_words_are_stemmed_as_queries_are(demo_kb):
    assert {"refund", "deliver", "password"} <= demo_kb.words
    assert "the" not in demo_kb.words and "refunds" not in demo_kb.words


def test_reingest_skips_unchanged_replaces_changed_and_removes_deleted(kb, kb_folder):
    kb.ingest(kb_folder, progress=False)
    assert kb.search("return window", k=1)[0].text.startswith("Unworn items can be sent back within 45 days")
    write(kb_folder, "returns.md", RETURNS.replace("45 days", "60 days"))
    (kb_folder / "faq.csv").unlink()
    report = kb.ingest(kb_folder, progress=False)
    assert report.updated == ["returns.md"]
    assert report.deleted == ["faq.csv"]
    assert sorted(report.unchanged) == ["care/boots.txt", "more-faq.json"]
    assert report.added == [] and report.chunks_written == 2 and report.chunks_total == 4
    sentences = kb._open_collection(create=False, name=kb.sentence_collection_name).get(include=["metadatas"])
    assert {m["source"] for m in sentences["metadatas"]} == {"care/boots.txt", "more-faq.json", "returns.md"}
    # the same object notices the new index without a restart
    assert "60 days" in kb.search("return window", k=1)[0].text
    assert all(hit.source != "faq.csv" for hit in kb.search("gift cards", k=4))
    again = kb.ingest(kb_folder, progress=False)
    assert again.chunks_written == 0 and len(again.unchanged) == 3


def test_a_malformed_file_is_reported_by_name_and_the_rest_is_indexed(kb, kb_folder):
    write(kb_folder, "broken.json", "{not json")
    write(kb_folder, "columns.csv", "foo,bar\n1,2\n")
    (kb_folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    report = kb.ingest(kb_folder, progress=False)
    assert set(report.failed) == {"broken.json", "columns.csv", "latin1.txt"}
    assert "malformed JSON" in report.failed["broken.json"]
    assert "'question' and 'answer' columns" in report.failed["columns.csv"]
    assert len(report.added) == 4 and report.chunks_total == 5


def test_a_missing_index_gives_a_clear_error_naming_the_fix(tmp_path, embedder):
    kb = KnowledgeBase(index_path=tmp_path / "nowhere", embedder=embedder)
    with pytest.raises(IndexMissingError, match="make index"):
        kb.search("refund")
    # What only leans on the documents' words goes on without them.
    assert kb.words == frozenset()
    with pytest.raises(FileNotFoundError, match="knowledge-base folder not found"):
        kb.ingest(tmp_path / "no-such-folder", progress=False)


def test_empty_and_stopword_queries_return_nothing_or_something_without_error(kb, kb_folder):
    kb.ingest(kb_folder, progress=False)
    assert kb.search("   ", k=3) == []
    assert len(kb.search("the and of", k=3)) <= 3
    with pytest.raises(ValueError):
        kb.search("refund", mode="magic")


def test_load_chunks_rejects_empty_files(tmp_path):
    path = write(tmp_path, "empty.md", "\n\n")
    with pytest.raises(DocumentError, match="no text"):
        load_chunks(path, "empty.md")


def test_cli_ingest_and_ask(tmp_path, kb_folder, capsys, embedder):
    services = ServiceRegistry(kb_embedder=embedder)
    index = str(tmp_path / "cli-index")
    assert kb_cli.main(["--index", index, "ingest", "--kb", str(kb_folder), "--collection", "cli"], services) == 0
    assert "added 4" in capsys.readouterr().out
    assert (
        kb_cli.main(
            ["--index", index, "ask", "how long to return unworn items", "--k", "2", "--collection", "cli"], services
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("1. score") and "[returns.md] Returns > Return window" in out
    assert kb_cli.main(["--index", str(tmp_path / "none"), "ask", "refund"], services) == 2
    assert "make index" in capsys.readouterr().err


def test_an_ingest_by_another_process_is_seen_by_a_running_index(kb, tmp_path):
    """What a shop owner does while the action server runs: `python -m retrieval ingest`.
    The demo documents, so the collection is big enough for Chroma to keep an HNSW segment
    (the tiny fixture folder never goes stale)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    kb_folder = tmp_path / "docs"
    shutil.copytree(root / "shop" / "kb", kb_folder)

    def ingest_in_another_process() -> str:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "retrieval",
                "--index",
                str(kb.index_path),
                "ingest",
                "--kb",
                str(kb_folder),
                "--collection",
                kb.collection_name,
            ],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    # `make index` built it; the running server opened it.
    assert "added 11" in ingest_in_another_process()
    question = "how many days do I have to send something back?"
    assert "within 30 days" in kb.search(question, k=1)[0].text
    returns = kb_folder / "returns.md"
    returns.write_text(returns.read_text().replace("within 30 days", "within 90 days"))
    write(kb_folder, "repairs.md", "# Repairs\n\n## Repair service\n\nWe repair zips and soles for $12 a pair.\n")
    assert "added 1, updated 1" in ingest_in_another_process()
    hit = kb.search(question, k=1)[0]
    assert "within 90 days" in hit.text and hit.source == "returns.md"
    assert kb.search("can you fix a broken zip?", k=1)[0].source == "repairs.md"


def test_a_declined_passage_that_names_the_word_the_catalog_lacks_is_suggested(demo_kb, monkeypatch):
    [top] = demo_kb.search("do you take amex", k=1)
    assert demo_kb.names(top, "amex") and demo_kb.names(top, "Americn Express")
    assert not demo_kb.names(top, "venmo") and not demo_kb.names(top, "")
    monkeypatch.setattr(demo_kb, "suggest_confidence", top.confidence + 0.01)
    assert demo_kb.decide(top) == "decline"
    assert demo_kb.decide_naming(top, "amex") == "suggest"
    assert demo_kb.decide_naming(top, "venmo") == "decline" and demo_kb.decide_naming(None, "amex") == "decline"


def test_beside_a_word_the_catalog_lacks_only_a_passage_naming_it_is_suggested(demo_kb, monkeypatch):
    """Between the cut-offs the passage is suggested by its score alone; about a product the shop
    lacks, it must name it: a page on something else is no answer to "do you sell poo bags"."""
    [top] = demo_kb.search("do you take amex", k=1)
    monkeypatch.setattr(demo_kb, "min_confidence", top.confidence + 0.01)
    monkeypatch.setattr(demo_kb, "suggest_confidence", top.confidence - 0.01)
    assert demo_kb.decide(top) == "suggest"
    assert demo_kb.decide_naming(top, "amex") == "suggest" and demo_kb.decide_naming(top, "venmo") == "decline"
    # A confident answer stands whatever it names.
    monkeypatch.setattr(demo_kb, "min_confidence", top.confidence - 0.01)
    assert demo_kb.decide_naming(top, "venmo") == "answer"
