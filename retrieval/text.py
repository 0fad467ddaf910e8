"""The project's one vocabulary and tokeniser: word lists, stemming, and the ways text is cut
into words, phrases, clauses and sentences. The knowledge base, product search, the product
index, product questions and the spelling corrector all read text through this module, so a
word means the same thing everywhere.

The word lists are about English shoppers' phrasing ("cheap", "the second one", "under"), never
about one shop's catalog: a shop's own product types, brands and colours come from its catalog
(the product index's vocabularies).
"""

from __future__ import annotations

import re

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")
_LETTERS = re.compile(r"[a-z]+")
# "t-shirt", "women's", "machine-washable": one word with its inner hyphen or apostrophe.
_JOINED_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Where a phrase of a product text or a query ends: a sentence, a clause or a field.
_CLAUSE_END = re.compile(r"[.;:!?,()]")
# Where a feature a shopper asks about ends ("waterproof, breathable / light").
_FEATURE_BREAK = re.compile(r"[,;.!?/()]+")

STOPWORDS = frozenset(
    "a an the and or of to in on for with is are was were be been can i im i'm my me you your we our us do does "
    "did how what whats when where which who why it its this that these those there if at by from as not so any "
    "have has had get got much many will would could should about please some just need want like also than then "
    "into out up down over am he she they them their his her".split()
)
# Colour words of English. Colour entities the NLU tags outside these and outside the shop's
# own colours ("c" in "vitamin c") are words, not colours.
COLOR_WORDS = frozenset(
    "black white grey gray silver blue navy teal turquoise green olive khaki red burgundy maroon pink rose purple "
    "lilac lavender violet orange coral yellow mustard gold beige cream ivory tan brown camel charcoal".split()
)
# "cheap headphones": the relevant ones, cheapest first.
CHEAP_WORDS = frozenset("cheap cheapest budget affordable inexpensive bargain".split())
# How shoppers ask for a product, whatever it is ("do you sell ...", "looking for ...").
SHOPPING_WORDS = frozenset(
    "looking look buy buying show find sell selling carry stock stocked got search searching get hello hi hey "
    "thanks thank please pls anything something".split()
)
# Words that name no kind of product ("running gear", "stuff for the beach").
GENERIC_PRODUCT_WORDS = frozenset({"gear", "stuff", "thing", "product", "item", "something"})
# Words of a follow-up ("only the waterproof ones, under 50 dollars") that say nothing about
# the product itself.
REFINE_FILLER = frozenset(
    "one ones only just please pls something thing things show see those them instead rather maybe thanks "
    "under below less over above least most between dollar dollars usd bucks size from by more".split()
)
# Words about the price or the asking, never the reason a product was found.
PRICE_WORDS = frozenset(
    "under over below above less more cheap cheaper dollar dollars buck bucks price between show find looking "
    "something want".split()
)
# Shoppers' verbs and praise words: in many descriptions ("keeps you warm"), never the reason.
REASON_FILLER = frozenset(
    "keep keeps make help need use get go going work stay start good best nice great new thing things stuff".split()
)
# Position words: "the second one", "the last one" (-1).
ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "seventh": 7,
    "7th": 7,
    "eighth": 8,
    "8th": 8,
    "ninth": 9,
    "9th": 9,
    "tenth": 10,
    "10th": 10,
    "last": -1,
}
COUNT_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5}
# Small words that can sit inside one feature ("free of bpa", "hiking in the rain"); any
# other word without meaning of its own ("is", "and", "it") ends the feature.
INNER_WORDS = frozenset("of in on for the a an with to at from".split())


def stem(word: str) -> str:
    # A light suffix strip so "refunds"/"refunded"/"refunding" meet; a real stemmer over-merges
    # product words ("runner"/"running") that the catalog needs apart.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    # "hoodie" must meet "hoodies" (-> "hoody" above)
    if len(word) > 4 and word.endswith("ie"):
        return word[:-2] + "y"
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """The lower-cased words and numbers of `text`, as typed (no stemming, no stopwords)."""
    return _WORD.findall(text.lower())


def letter_words(text: str) -> list[str]:
    """The lower-cased words of `text` without digits ("size 42" -> ["size"])."""
    return _LETTERS.findall(text.lower())


def joined_words(text: str) -> list[str]:
    """Like `words`, but a hyphen or apostrophe inside a word keeps it whole ("t-shirt")."""
    return _JOINED_WORD.findall(text.lower())


def tokens(text: str) -> list[str]:
    """The stemmed words of `text` without stopwords: what BM25 and word matching compare."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def stemmed_words(text: str) -> set[str]:
    """Every stemmed word of `text`, stopwords included, less the generic product words."""
    return {stem(w) for w in _WORD.findall(text.lower())} - GENERIC_PRODUCT_WORDS


def tidy_whitespace(text: str) -> str:
    """Runs of spaces and tabs as one space, at most one blank line in a row."""
    return re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+", " ", text).strip())


def sentences(text: str) -> list[str]:
    return [x for x in _SENTENCE_END.split(text.strip()) if x]


def clauses(text: str) -> list[str]:
    """`text` cut where a sentence, a clause or a field ends."""
    return _CLAUSE_END.split(text)


def feature_parts(text: str) -> list[str]:
    """A question cut where one asked feature must end."""
    return _FEATURE_BREAK.split(text)


def reciprocal_rank_fusion(
    rankings: list[np.ndarray], weights: list[float] | None = None, k: int = 60
) -> dict[int, float]:
    """Fuses ranked lists of document indexes: sum of weight / (k + rank), rank from 1."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, index in enumerate(ranking, start=1):
            fused[int(index)] = fused.get(int(index), 0.0) + weight / (k + rank)
    return fused
