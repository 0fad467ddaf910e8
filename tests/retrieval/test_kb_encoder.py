"""The KB question encoder: labelled questions in, a saved encoder out, and indexes that follow it."""

from __future__ import annotations

import json
import logging

import pytest

from retrieval import kb_cli
from retrieval.embedder import BASE_ENCODER_ID, Embedder
from retrieval.kb_encoder import LabelledQuestion, QuestionFileError, fine_tune, kb_chunks, load_questions
from retrieval.knowledge_base import KnowledgeBase
from tests.retrieval.conftest import write

DOCS = {
    "returns.md": "# Returns\n\n## Return window\nUnworn items can be sent back within 45 days of delivery.\n\n"
    "## Return shipping\nThe prepaid return label is free for customers in Canada.\n",
    "payment.md": "# Payment\n\n## Cards\nWe take Visa and Mastercard; the card is charged when the order ships.\n\n"
    "## Instalments\nKlarna splits a payment into three monthly parts.\n",
}
QUESTIONS = [
    LabelledQuestion("how long do i have to send stuff back", "returns.md", "Return window"),
    LabelledQuestion("too late to return after 5 weeks?", "returns.md", "Return window"),
    LabelledQuestion("who pays postage when i return", "returns.md", "Return shipping"),
    LabelledQuestion("is the label for sending back free", "returns.md", "Return shipping"),
    LabelledQuestion("do you take amex", "payment.md", "Cards"),
    LabelledQuestion("when does my card get billed", "payment.md", "Cards"),
    LabelledQuestion("can i pay in parts", "payment.md", "Instalments"),
    LabelledQuestion("buy now pay later?", "payment.md", "Instalments"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kb")
    for name, text in DOCS.items():
        write(folder, name, text)
    out = tmp_path_factory.mktemp("encoder")
    extra = [LabelledQuestion("is there a store in paris", "stores.md", "Paris")]  # names no section: skipped
    meta = fine_tune(QUESTIONS + extra, kb_chunks(folder), out, epochs=1, batch_size=4, progress=False)
    return folder, out, meta


def test_the_encoder_is_saved_with_its_identity(trained):
    _, out, meta = trained
    assert (out / "model.safetensors").exists() and not list(out.rglob("*.bin")) and not list(out.rglob("*.pkl"))
    assert not list(out.parent.glob(".*.partial"))  # staged, then swapped in whole
    assert meta["questions"] == 8 and meta["questions_skipped"] == 1 and meta["sections"] == 4
    assert Embedder(str(out)).identity == meta["id"] != BASE_ENCODER_ID
    assert Embedder().identity == BASE_ENCODER_ID


def test_a_saved_encoder_reloads_to_the_same_vectors(trained):
    _, out, _ = trained
    first, second = Embedder(str(out), device="cpu"), Embedder(str(out), device="cpu")
    texts = [q.question for q in QUESTIONS]
    assert (abs(first.encode(texts) - second.encode(texts)) < 1e-6).all()


def test_an_index_is_re_embedded_when_its_encoder_changes(trained, tmp_path, embedder, caplog):
    folder, out, _ = trained
    tuned = Embedder(str(out), device="cpu")
    kb = KnowledgeBase(index_path=tmp_path / "index", collection="enc_kb", embedder=tuned)
    assert len(kb.ingest(folder, progress=False).added) == 2
    assert [h.heading for h in kb.search("can i pay in parts", k=1)] == ["Instalments"]
    # the same documents under the plain MiniLM: nothing changed in the text, yet all is rewritten
    report = KnowledgeBase(index_path=tmp_path / "index", collection="enc_kb", embedder=tuned).ingest(
        folder, progress=False
    )
    assert len(report.unchanged) == 2
    report = KnowledgeBase(index_path=tmp_path / "index", collection="enc_kb", embedder=embedder).ingest(
        folder, progress=False
    )
    assert len(report.updated) == 2 and not report.unchanged
    # an index left from the other encoder is embedded afresh in memory, with a warning, and still answers
    stale = KnowledgeBase(index_path=tmp_path / "index", collection="enc_kb", embedder=tuned)
    with caplog.at_level(logging.WARNING, logger="retrieval.knowledge_base"):
        hits = stale.search("who pays postage when i return", k=1)
    assert "re-embedding 4 passages" in caplog.text
    assert [h.heading for h in hits] == ["Return shipping"]
    # the score is the tuned encoder's own (passage and sentences), not a mix of two encoders' vectors
    passage = next(c for c in stale._chunks if c.chunk_id == hits[0].chunk_id)
    question, whole, *sentences = tuned.encode(
        ["who pays postage when i return", passage.embedding_text(), *passage.sentence_texts()]
    )
    expected = (float(question @ whole) + max(float(question @ s) for s in sentences)) / 2
    assert hits[0].confidence == pytest.approx(expected, abs=1e-4)


def test_the_thresholds_follow_the_encoder(trained, embedder):
    _, out, _ = trained
    from retrieval import knowledge_base as module

    assert KnowledgeBase(embedder=embedder).min_confidence == module.BASE_MIN_CONFIDENCE
    assert KnowledgeBase(embedder=Embedder(str(out))).min_confidence == module.DEFAULT_MIN_CONFIDENCE


def test_question_files_are_checked_line_by_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "refund?", "doc": "a.md", "section": "A"}\n{"question": "oops"}\n')
    with pytest.raises(QuestionFileError, match=r"q.jsonl:2: expected a JSON object"):
        load_questions(path)
    with pytest.raises(QuestionFileError, match="cannot read"):
        load_questions(tmp_path / "missing.jsonl")
    path.write_text('{"question": "refund?", "doc": "a.md", "section": "A"}\n\n')
    assert load_questions(path) == [LabelledQuestion("refund?", "a.md", "A")]


def test_cli_refuses_questions_about_another_knowledge_base(trained, tmp_path, capsys):
    folder, _, _ = trained
    questions = tmp_path / "other.jsonl"
    questions.write_text(json.dumps({"question": "opening hours?", "doc": "stores.md", "section": "Hours"}) + "\n")
    code = kb_cli.main(
        ["train-encoder", "--kb", str(folder), "--questions", str(questions), "--out", str(tmp_path / "enc")]
    )
    assert code == 2 and "none of the labelled questions" in capsys.readouterr().err
    assert not (tmp_path / "enc").exists()


def test_questions_naming_too_few_of_the_sections_train_no_encoder(tmp_path):
    """Another shop whose documents share a file and a heading with the demo's: the demo's
    questions name one of its sections, which an encoder could neither learn (nothing to
    contrast it with) nor be calibrated for."""
    from retrieval.kb_encoder import NoQuestionsForTheseDocumentsError

    folder = tmp_path / "kb"
    for name, text in DOCS.items():
        write(folder, name, text)
    one_section = [q for q in QUESTIONS if q.section == "Cards"]
    with pytest.raises(NoQuestionsForTheseDocumentsError, match="name 1 of the 4 sections"):
        fine_tune(one_section, kb_chunks(folder), tmp_path / "enc", epochs=1, progress=False)
    # Half the sections is enough (the module's encoder is trained on all four).
    half = [q for q in QUESTIONS if q.doc == "payment.md"]
    meta = fine_tune(half, kb_chunks(folder), tmp_path / "enc", epochs=1, batch_size=4, progress=False)
    assert meta["sections"] == 2
    assert not (tmp_path / ".enc.partial").exists()


def test_another_shops_documents_skip_the_encoder_only_when_asked(tmp_path, capsys):
    """`make index` on an onboarded shop: the demo's labelled questions name none of its sections."""
    from pathlib import Path

    from retrieval import kb_cli

    garden_kb = Path(__file__).resolve().parents[1] / "shop" / "data" / "garden-shop" / "kb"
    stale = tmp_path / "encoder"
    stale.mkdir()
    (stale / "kb_encoder.json").write_text("{}")
    assert kb_cli.main(["train-encoder", "--kb", str(garden_kb), "--out", str(stale)]) == 2
    assert "names a section" in capsys.readouterr().err and stale.exists()
    assert kb_cli.main(["train-encoder", "--kb", str(garden_kb), "--out", str(stale), "--optional"]) == 0
    assert "plain MiniLM serves" in capsys.readouterr().out and not stale.exists()


def test_another_shops_documents_get_the_encoder_fine_tuned_on_the_questions_own(trained, tmp_path, capsys):
    """`make index` on an onboarded shop passes --questions-kb shop/kb: the demo's questions teach
    the encoder shoppers' words over the documents they were written for, and it serves the shop's."""
    from pathlib import Path

    questions_kb, _, _ = trained
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(q.__dict__) + "\n" for q in QUESTIONS))
    garden_kb = Path(__file__).resolve().parents[1] / "shop" / "data" / "garden-shop" / "kb"
    out = tmp_path / "encoder"
    args = ["train-encoder", "--kb", str(garden_kb), "--questions", str(questions), "--out", str(out)]
    assert kb_cli.main([*args, "--questions-kb", str(questions_kb), "--epochs", "1", "--optional"]) == 0
    printed = capsys.readouterr().out
    assert f"4 sections of {questions_kb}" in printed and f"serving {garden_kb}" in printed
    meta = json.loads((out / "kb_encoder.json").read_text())
    assert Embedder(str(out)).identity == meta["id"] != BASE_ENCODER_ID
    # The same questions over the same documents again (another `make shop`): kept, not retrained.
    saved = (out / "model.safetensors").stat().st_mtime_ns
    assert kb_cli.main([*args, "--questions-kb", str(questions_kb), "--epochs", "1", "--optional"]) == 0
    assert "already fine-tuned on these questions" in capsys.readouterr().out
    assert (out / "model.safetensors").stat().st_mtime_ns == saved
    # Questions naming neither folder's sections still train nothing.
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"question": "opening hours?", "doc": "stores.md", "section": "Hours"}) + "\n")
    args = ["train-encoder", "--kb", str(garden_kb), "--questions", str(other), "--out", str(out)]
    assert kb_cli.main([*args, "--questions-kb", str(questions_kb), "--optional"]) == 0
    assert "plain MiniLM serves" in capsys.readouterr().out and not out.exists()
