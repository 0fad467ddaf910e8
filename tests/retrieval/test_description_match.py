"""The closest description sentence to a feature asked about, on real MiniLM."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from retrieval.description_match import MIN_SIMILARITY, DescriptionMatcher, clauses

PAIRS = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "feature_matches.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def sentences(description: str) -> list[str]:
    return [x for x in re.split(r"(?<=[.!?])\s+", description) if x]


@pytest.fixture(scope="module")
def matcher(embedder):  # type: ignore[no-untyped-def]
    return DescriptionMatcher(embedder)


def test_clauses_score_each_feature_of_a_packed_sentence():
    parts = clauses("Features an insulated hood, two zipped pockets and a packable stuff sack.")
    assert parts == [
        "Features an insulated hood, two zipped pockets and a packable stuff sack",
        "Features an insulated hood, two zipped pockets",
        "a packable stuff sack",
    ]
    # no one-word fragments: "a waterproof" alone scores like "waterproof", close to anything wet
    assert clauses("Features a waterproof, breathable membrane.") == ["Features a waterproof, breathable membrane"]
    assert clauses("Vegan: made without animal-derived materials.") == [
        "Vegan: made without animal-derived materials",
        "made without animal-derived materials",
    ]
    assert clauses("  ") == []


def test_no_phrase_or_no_description_is_no_match(matcher):
    assert matcher.closest("", ["Made with recycled fleece."]) is None
    assert matcher.closest("waterproof", []) is None


def test_unrelated_features_are_never_quoted(matcher):
    unrelated = [p for p in PAIRS if not p["related"]]
    assert len(unrelated) >= 15
    quoted = {
        p["phrase"]: m.sentence for p in unrelated if (m := matcher.closest(p["phrase"], sentences(p["description"])))
    }
    assert quoted == {}


def test_related_features_quote_the_sentence_that_says_them(matcher):
    related = [p for p in PAIRS if p["related"]]
    right = []
    for pair in related:
        match = matcher.closest(pair["phrase"], sentences(pair["description"]))
        if match and any(words in match.sentence for words in pair["quote_contains"]):
            assert match.similarity >= MIN_SIMILARITY
            assert match.sentence in pair["description"] and match.clause in match.sentence
            right.append(pair["phrase"])
    # the figure in retrieval/description_match.py's comment: 15 quoted, one of them the wrong sentence
    assert len(right) >= 14, sorted({p["phrase"] for p in related} - set(right))
    assert {"teflon free", "animal free", "night runs", "oven proof"} <= set(right)


def test_clause_vectors_are_reused_across_questions(matcher, embedder):
    description = sentences(PAIRS[0]["description"])
    matcher.closest("zipper", description)
    calls = []
    original = embedder.encode

    def counting(texts, show_progress=False):  # type: ignore[no-untyped-def]
        calls.append(list(texts))
        return original(texts, show_progress)

    embedder.encode = counting
    try:
        matcher.closest("pockets", description)
    finally:
        del embedder.encode
    assert calls == [["pockets"]]
