"""Fixes shoppers' typos against the words of the index they search, before the query is embedded.

Chat messages are full of typos ("pasword", "refnd", "acount"). MiniLM splits an unknown word
into word pieces that mean little, and BM25 never matches it, so one typo can turn a clear
question into an "I'm not sure". A word is corrected only when it is neither a word of the
indexed texts nor a whole word in the encoder's vocabulary (so real English words are never
"fixed" into shop words), and a correction one edit away (two for long words) exists in the
indexed texts; the closest, then most frequent, candidate wins. Apostrophe-free contractions ("cant",
"dont") are spelled out, never corrected into other words ("cant" is not "can").

Short forms ("amex", "xmas", "u") are out of the corrections' reach: too short, or too many edits
from what they stand for. A public table of them (`data/shopper_abbreviations.tsv`) spells one out
only where the indexed texts never say it and do say every word it stands for: "do you take amex"
finds the page on American Express in a shop whose pages name it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from retrieval.text import letter_words, stem

_PARTS = re.compile(r"[A-Za-z]+|[^A-Za-z]+")
CONTRACTIONS = {
    "cant": "can't",
    "dont": "don't",
    "doesnt": "doesn't",
    "didnt": "didn't",
    "wont": "won't",
    "isnt": "isn't",
    "arent": "aren't",
    "wasnt": "wasn't",
    "werent": "weren't",
    "havent": "haven't",
    "hasnt": "hasn't",
    "couldnt": "couldn't",
    "shouldnt": "shouldn't",
    "wouldnt": "wouldn't",
    "whats": "what's",
    "hows": "how's",
    "wheres": "where's",
    "thats": "that's",
    "theres": "there's",
    "im": "I'm",
    "ive": "I've",
    "youre": "you're",
    "theyre": "they're",
}
MIN_LENGTH = 4  # shorter words have too many neighbours one edit away
MAX_LENGTH = 20  # longer "words" are not typos of a shop word (and two edits of them cost a lot)
TWO_EDITS_FROM = 7
MAX_CORRECTIONS = 8  # per query: a long message is not worth more than this
ABBREVIATIONS_FILE = Path(__file__).resolve().parent / "data" / "shopper_abbreviations.tsv"


@lru_cache(maxsize=1)
def shopper_abbreviations() -> dict[str, str]:
    """The public table of shoppers' short forms: short form -> the words it stands for."""
    table = {}
    for line in ABBREVIATIONS_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            short, _, full = line.partition("\t")
            table[short.strip().lower()] = full.strip()
    return table


def _deletes(word: str, depth: int) -> set[str]:
    found, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (adjacent transpositions count as one edit)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


class Speller:
    """Corrects query words against a corpus vocabulary; cheap to build, no model of its own."""

    def __init__(
        self,
        corpus: Iterable[str],
        known_words: Iterable[str] = (),
        min_length: int = MIN_LENGTH,
        abbreviations: Mapping[str, str] | None = None,
    ) -> None:
        self.min_length = min_length
        self.frequency: Counter[str] = Counter()
        for text in corpus:
            self.frequency.update(letter_words(text))
        self.known = {w.lower() for w in known_words if w.isalpha()}
        table = shopper_abbreviations() if abbreviations is None else abbreviations
        # By stem: pages that only say "gift cards" still name what "gc" stands for.
        said = {stem(word) for word in self.frequency}
        self.expansions = {
            short: full
            for short, full in table.items()
            if short not in self.frequency and all(stem(word) in said for word in letter_words(full))
        }
        # Symmetric-delete index (as in SymSpell): a word and a typo of it share a deletion,
        # so a lookup costs a few dozen set probes whatever the vocabulary size.
        self._by_deletion: dict[str, set[str]] = {}
        for word in self.frequency:
            if min_length - 1 <= len(word) <= MAX_LENGTH + 2:
                for variant in _deletes(word, 2):
                    self._by_deletion.setdefault(variant, set()).add(word)
        self._cache: dict[str, str | None] = {}

    def _compounds_joined(self, parts: list[str]) -> list[str]:
        """Two words the texts write as one ("cuttle bone" where the catalog says "Cuttlebone",
        "tooth brush" for "toothbrush") joined, when one of the two is never written alone:
        apart, the unknown half matches nothing and the known one matches the wrong products.
        Words the texts also use alone ("rain coat" beside "rain" and "coat") are left as typed."""
        joined: list[str] = []
        i = 0
        while i < len(parts):
            part = parts[i]
            if i + 2 < len(parts) and part.isalpha() and parts[i + 1] in (" ", "-") and parts[i + 2].isalpha():
                first, second = part.lower(), parts[i + 2].lower()
                whole = first + second
                if (whole in self.frequency or whole.removesuffix("s") in self.frequency) and not (
                    first in self.frequency and second in self.frequency
                ):
                    joined.append(part + parts[i + 2])
                    i += 3
                    continue
            joined.append(part)
            i += 1
        return joined

    def _candidate(self, word: str) -> str | None:
        if word in self._cache:
            return self._cache[word]
        allowed = 2 if len(word) >= TWO_EDITS_FROM else 1
        near: set[str] = set()
        for variant in _deletes(word, allowed):
            near |= self._by_deletion.get(variant, set())
        scored = [(edit_distance(word, c), -self.frequency[c], c) for c in near]
        scored = [item for item in scored if item[0] <= allowed]
        best = min(scored)[2] if scored else None
        if len(self._cache) > 10_000:  # shoppers' typos are unbounded; memory is not
            self._cache.clear()
        self._cache[word] = best
        return best

    def correct(self, text: str) -> str:
        """`text` with misspelt words replaced; everything else (case, punctuation) kept."""
        out = []
        attempts = 0
        for part in self._compounds_joined(_PARTS.findall(text)):
            lower = part.lower()
            if not part.isascii() or not part.isalpha():
                out.append(part)
            elif lower in CONTRACTIONS:
                out.append(CONTRACTIONS[lower])
            elif lower in self.expansions:
                out.append(self.expansions[lower])
            elif (
                not self.min_length <= len(lower) <= MAX_LENGTH
                or lower in self.frequency
                or lower in self.known
                or attempts >= MAX_CORRECTIONS
            ):
                out.append(part)
            else:
                attempts += 1
                out.append(self._candidate(lower) or part)
        return "".join(out)
