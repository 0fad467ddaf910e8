"""BIO tags for the entity head: from annotated spans to per-word-piece targets, and back.

Pure functions over the tokenizer's word ids and character offsets, so they run (and are
tested) without torch or a trained model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

OUTSIDE = "O"
# Masked out of the loss by torch's CrossEntropyLoss (its default ignore_index).
IGNORED = -100
_JOINERS = "-'’"

# (start, end, entity type) in characters of the message.
Span = tuple[int, int, str]


def entity_tags(types: Sequence[str]) -> list[str]:
    """ "O", then B-/I- per entity type (sorted, so the tag order survives a retrain); empty when
    there are no types, which means no entity head at all."""
    kinds = sorted(set(types))
    return [OUTSIDE, *[f"{p}-{t}" for t in kinds for p in ("B", "I")]] if kinds else []


def inside_word(text: str, i: int) -> bool:
    """Whether position i lies inside one word joined by a hyphen or apostrophe between letters
    ("t-shirt", "women's"), where the tokenizer splits; "50-100" stays two numbers."""

    def letter(j: int) -> bool:
        return 0 <= j < len(text) and text[j].isalpha()

    if 0 < i < len(text) and text[i] in _JOINERS:
        return letter(i - 1) and letter(i + 1)
    return 1 < i < len(text) and text[i - 1] in _JOINERS and letter(i - 2) and letter(i)


def word_tag_targets(
    word_ids: Sequence[Optional[int]], offsets: Sequence[tuple[int, int]], spans: Sequence[Span], tags: Sequence[str]
) -> list[int]:
    """One BIO target per word piece: the first piece of each word carries the word's tag,
    the other pieces and the special tokens are masked out of the loss."""
    targets: list[int] = []
    seen_word: Optional[int] = None
    seen_spans: set[int] = set()
    for word, (start, end) in zip(word_ids, offsets, strict=True):
        if word is None or word == seen_word:
            targets.append(IGNORED)
            continue
        seen_word = word
        tag = OUTSIDE
        for k, (s_start, s_end, kind) in enumerate(spans):
            if start < s_end and s_start < end:
                tag = f"{'I' if k in seen_spans else 'B'}-{kind}"
                seen_spans.add(k)
                break
        targets.append(tags.index(tag))
    return targets


def decode_entities(
    text: str,
    word_ids: Sequence[Optional[int]],
    offsets: Sequence[tuple[int, int]],
    tag_probs: np.ndarray,
    tags: Sequence[str],
    extractor: str,
    taken: Sequence[tuple[int, int]] = (),
) -> list[dict[str, Any]]:
    """Spans from the BIO tags of each word's first piece. A word, hyphenated ones included,
    is never split. Adjacent words of one type make one entity even when the second is
    tagged B- ("wireless" + "earbuds"): two same-type entities back to back are rarer in
    shop messages than a missed I- tag. An I- tag after O starts an entity."""
    words: list[list[Any]] = []  # [start, end, tag index, probability]
    last_word = None
    for k, (word, (start, end)) in enumerate(zip(word_ids, offsets, strict=True)):
        if word is None:
            continue
        # The tokenizer splits "t-shirt" and "women's" at the punctuation; tagged apart, a
        # missed tag on "-" left "cotton t" as the product.
        if word == last_word or (words and start == words[-1][1] and inside_word(text, start)):
            words[-1][1] = end
            last_word = word
            continue
        last_word = word
        j = int(tag_probs[k].argmax())
        words.append([start, end, j, float(tag_probs[k][j])])
    spans: list[dict[str, Any]] = []
    current: Optional[dict[str, Any]] = None
    for start, end, j, probability in words:
        tag = tags[j]
        if tag == OUTSIDE or any(start < t_end and t_start < end for t_start, t_end in taken):
            current = None
            continue
        kind = tag.split("-", 1)[1]
        if current is not None and current["entity"] == kind:
            current["end"] = end
            current["p"].append(probability)
        else:
            current = {"entity": kind, "start": start, "end": end, "p": [probability]}
            spans.append(current)
    return [
        {
            "entity": span["entity"],
            "start": span["start"],
            "end": span["end"],
            "value": text[span["start"] : span["end"]],
            "confidence_entity": float(np.mean(span["p"])),
            "extractor": extractor,
        }
        for span in spans
    ]
