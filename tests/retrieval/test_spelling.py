"""The query speller: fixes typos against the indexed words, never real words, always fast."""

from __future__ import annotations

import random
import string
import time

import pytest

from retrieval.spelling import Speller, edit_distance, shopper_abbreviations

CORPUS = [
    "Resetting your password. Use the Forgot password link on the sign-in page.",
    "Refunds: a refund reaches your account within 5 business days of the return arriving.",
    "International delivery takes 5-10 working days. Express delivery is next day.",
]
ENGLISH = ["can", "the", "reset", "remember", "my", "forgot", "how", "do", "it", "login", "timeline"]


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(CORPUS, ENGLISH)


@pytest.mark.parametrize(
    ("typed", "fixed"),
    [
        ("I forgot my pasword, how do I reset it", "I forgot my password, how do I reset it"),
        ("refnd to my acount?", "refund to my account?"),
        ("internatonal delivry", "international delivery"),  # one edit each, case kept
        ("Expres DELIVERY", "express DELIVERY"),
    ],
)
def test_typos_are_fixed_against_the_indexed_words(speller: Speller, typed: str, fixed: str) -> None:
    assert speller.correct(typed) == fixed


def test_real_words_short_words_and_contractions_are_left_alone(speller: Speller) -> None:
    # "timeline" is English (the encoder knows it) though no indexed text has it: not "fixed".
    assert speller.correct("refund timeline") == "refund timeline"
    assert speller.correct("is it ok") == "is it ok"
    # "cant" must not become "can": negation carries the meaning.
    assert speller.correct("i cant remember my pasword") == "i can't remember my password"
    assert speller.correct("whats a refund") == "what's a refund"


def test_text_without_a_close_word_is_unchanged(speller: Speller) -> None:
    for text in ("", "   ", "zzzzqqq", "Ünïcode pässword 🙂", "SO10042 #42 $99.99"):
        assert speller.correct(text) == text


def test_hostile_input_stays_fast(speller: Speller) -> None:
    rng = random.Random(0)
    junk = " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 40))) for _ in range(2000))
    started = time.perf_counter()
    assert len(speller.correct(junk)) == len(junk) or speller.correct(junk)
    assert time.perf_counter() - started < 1.0
    assert speller.correct("a" * 100_000) == "a" * 100_000


def test_short_forms_are_spelled_out_only_in_the_words_the_texts_use() -> None:
    corpus = [
        "We accept Visa, Mastercard and American Express. Gift cards never expire.",
        "Christmas orders: you can order until the 18th. Amex cards... see above.",
    ]
    table = {
        "amex": "american express",
        "xmas": "christmas",
        "gc": "gift card",
        "bnpl": "buy now pay later",
        "u": "you",
    }
    speller = Speller(corpus, ENGLISH, abbreviations=table)
    # "amex" is a word of these texts, so it is left as the shop writes it.
    assert speller.correct("do u take amex") == "do you take amex"
    assert speller.correct("Xmas cut-off for a GC?") == "christmas cut-off for a gift card?"
    # The texts never say "later": a shop without pay-later plans gets no expansion to match.
    assert speller.correct("is there bnpl") == "is there bnpl"
    # Without "amex" in its texts, the same table spells it out.
    assert Speller(corpus[:1], ENGLISH, abbreviations=table).correct("amex?") == "american express?"


def test_places_are_spelled_out_where_the_pages_name_them_in_full() -> None:
    # "Belfast, is it different for NI?" beside a delivery page's "Northern Ireland" section:
    # the encoder cannot know that NI is that place unless the speller says so.
    table = shopper_abbreviations()
    pages = ["Highlands, islands and Northern Ireland: free delivery over £60."]
    assert Speller(pages, ENGLISH, abbreviations=table).correct("is it different for NI?") == (
        "is it different for northern ireland?"
    )
    # A shop whose pages write "NI" keeps the shopper's word as it is.
    assert Speller([*pages, "NI orders ship from Belfast."], ENGLISH, abbreviations=table).correct("NI?") == "NI?"


def test_two_words_the_texts_write_as_one_are_joined_when_one_is_never_written_alone() -> None:
    catalog = [
        "FeatherLight Cuttlebone with Holder. Natural cuttlebone for calcium.",
        "Rubber bone for dogs. Raincoat for rain and wind, with a coat hook.",
    ]
    speller = Speller(catalog, ENGLISH, abbreviations={})
    assert speller.correct("cuttle bone for my budgie") == "cuttlebone for my budgie"
    assert speller.correct("Cuttle-bones?").lower() in ("cuttlebones?", "cuttlebone?")
    # The texts say "rain" and "coat" alone too: "rain coat" stays as typed.
    assert speller.correct("a rain coat") == "a rain coat"
    # Words apart in the texts are never joined, nor across punctuation.
    assert speller.correct("rubber bone") == "rubber bone"
    assert speller.correct("cuttle, bone") == "cuttle, bone"


def test_the_public_table_holds_short_forms_only() -> None:
    table = shopper_abbreviations()
    assert table["amex"] == "american express"
    assert all(short.isalpha() and short.islower() and full for short, full in table.items())


def test_edit_distance_counts_transpositions_as_one() -> None:
    assert edit_distance("pasword", "password") == 1
    assert edit_distance("ab", "ba") == 1
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3


def test_the_knowledge_base_answers_through_typos(demo_kb) -> None:  # type: ignore[no-untyped-def]
    clean = demo_kb.search("how do I reset my password", k=1)[0]
    typo = demo_kb.search("how do i reset my pasword", k=1)[0]
    assert typo.chunk_id == clean.chunk_id
    assert abs(typo.confidence - clean.confidence) < 0.05


def test_the_knowledge_base_finds_the_page_a_short_form_names(demo_kb) -> None:  # type: ignore[no-untyped-def]
    # The demo's pages say "American Express", never "amex": with the plain MiniLM the short form
    # alone lands on a page about stock alerts, below the suggestion cut-off.
    top = demo_kb.search("do you take amex", k=1)[0]
    assert "American Express" in top.text
    assert demo_kb.decide(top) != "decline"
