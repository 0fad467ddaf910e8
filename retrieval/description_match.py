"""The sentence of a product description closest in meaning to a feature a shopper asks about.

"Is it teflon free?" of a saucepan whose description says "Features a PFAS-free non-stick
coating ..." shares no word with it, so a word match answers "its description doesn't mention
it" and stops there. The closest sentence lets the assistant quote what the description does
say, without claiming a yes the shop never wrote.

Descriptions pack several features into one sentence ("Features an insulated hood, two zipped
pockets and a packable stuff sack."), so each clause is scored on its own and the sentence of
the best clause is quoted.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.embedder import Embedder

# Cosine (plain MiniLM) a clause needs to be quoted. On the labelled pairs of
# tests/retrieval/data/feature_matches.jsonl (our catalog's sentences, 17 related, 18 not)
# unrelated pairs reach 0.357 and related ones start at 0.317: the scores overlap, and a quote
# of an unrelated sentence confuses more than no quote, so the line sits above every
# unrelated pair. It quotes 15 of the 17 related pairs (misses "rainproof" and "unscented"),
# one of them with the wrong sentence.
MIN_SIMILARITY = 0.36
# Not at commas: "a waterproof, breathable membrane" would leave "a waterproof", and a
# fragment of one word scores like that word alone, close to anything about water.
_CLAUSE_SPLIT = re.compile(r";\s*|:\s*|\s+and\s+", re.I)
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class DescriptionMatch:
    sentence: str
    clause: str
    similarity: float


def clauses(sentence: str) -> list[str]:
    """The sentence and its parts: "Features a hood and two pockets." -> [the sentence,
    "Features a hood", "two pockets"]."""
    body = sentence.strip().rstrip(".!?")
    parts = [p.strip() for p in _CLAUSE_SPLIT.split(body) if len(p.split()) > 1]
    return list(dict.fromkeys([body, *parts])) if body else []


class DescriptionMatcher:
    """Cheap to build; the embedder loads in `warm_up()` (or on first use)."""

    def __init__(self, embedder: Embedder | None = None, min_similarity: float = MIN_SIMILARITY) -> None:
        self.embedder = embedder or Embedder()
        self.min_similarity = min_similarity
        # Descriptions repeat across questions: their clause vectors are kept, bounded.
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, self.embedder.encode(missing), strict=True))
            with self._lock:
                for text in missing:
                    self._vectors[text] = known[text]
                while len(self._vectors) > _CACHE_SIZE:
                    self._vectors.popitem(last=False)
        return np.stack([known[t] for t in texts])

    def closest(self, phrase: str, sentences: Sequence[str]) -> DescriptionMatch | None:
        """The sentence whose best clause is closest to `phrase`, when it is close enough."""
        phrase = phrase.strip()
        parts = [(sentence, clause) for sentence in sentences for clause in clauses(sentence)]
        if not phrase or not parts:
            return None
        query = self.embedder.encode([phrase])[0]
        similarities = self._encode([clause for _, clause in parts]) @ query
        best = int(np.argmax(similarities))
        if float(similarities[best]) < self.min_similarity:
            return None
        sentence, clause = parts[best]
        return DescriptionMatch(sentence.strip(), clause, round(float(similarities[best]), 4))
