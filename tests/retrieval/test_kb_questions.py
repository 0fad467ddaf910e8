"""The KB encoder's training questions stay apart from the benchmark's questions."""

from __future__ import annotations

import json
import re
from pathlib import Path

from retrieval.kb_encoder import DEFAULT_QUESTIONS, kb_chunks, load_questions
from retrieval.knowledge_base import DEFAULT_KB_FOLDER

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "kb_questions.jsonl"
# Word-set overlap at or above this is a reworded copy, not an independent question.
MAX_OVERLAP = 0.5


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def test_no_training_question_copies_a_benchmark_question():
    benchmark = [
        json.loads(line)["question"] for line in BENCHMARK.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    copies = []
    for q in load_questions(DEFAULT_QUESTIONS):
        mine = _words(q.question)
        for other in benchmark:
            theirs = _words(other)
            if len(mine & theirs) / len(mine | theirs) >= MAX_OVERLAP:
                copies.append((q.question, other))
    assert not copies, copies[:5]


def test_every_training_question_names_a_section_of_the_demo_kb():
    sections = {(c.source, c.heading) for c in kb_chunks(DEFAULT_KB_FOLDER)}
    questions = load_questions(DEFAULT_QUESTIONS)
    assert len(questions) >= 200
    assert {(q.doc, q.section) for q in questions} <= sections
    assert len({q.question.lower() for q in questions}) == len(questions)
