"""Keyword lookup over the knowledge base's markdown sections and FAQ pairs.

The placeholder behind `action_answer_faq` until the hybrid (Chroma + BM25) index is built:
it scores each section by the overlap of content words with the question.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

KB_DIR = Path(__file__).resolve().parent.parent / "shop" / "kb"
_WORD = re.compile(r"[a-z0-9]+")
_STOP = set(
    "a an the and or of to in on for with is are was be can i my me you your we our do does did how what when "
    "where which who why it this that there if at by from as not no yes so any have has get much many will would "
    "could should about please".split()
)


def _words(text: str) -> set[str]:
    # A crude stem (drop a trailing "s") so "refunds" meets "refund".
    return {w.rstrip("s") for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


@dataclass(frozen=True)
class Passage:
    source: str
    title: str
    text: str


def _sections(path: Path) -> list[Passage]:
    passages: list[Passage] = []
    doc_title, title = path.stem, ""
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            doc_title = line[2:].strip()
        elif line.startswith("#"):
            if title and lines:
                passages.append(Passage(path.name, f"{doc_title}: {title}", " ".join(lines).strip()))
            title, lines = line.lstrip("#").strip(), []
        elif line.strip():
            lines.append(line.strip())
    if title and lines:
        passages.append(Passage(path.name, f"{doc_title}: {title}", " ".join(lines).strip()))
    return passages


@lru_cache(maxsize=4)
def load(kb_dir: Path = KB_DIR) -> tuple[Passage, ...]:
    passages: list[Passage] = []
    for path in sorted(kb_dir.glob("*.md")):
        passages.extend(_sections(path))
    for path in sorted(kb_dir.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("question") and row.get("answer"):
                    passages.append(Passage(path.name, row["question"], row["answer"]))
    return tuple(passages)


def lookup(question: str, kb_dir: Path = KB_DIR) -> tuple[Passage, float] | None:
    """The best-matching passage and its overlap score in [0, 1], or None when nothing overlaps."""
    query = _words(question)
    if not query:
        return None
    best: tuple[Passage, float] | None = None
    for passage in load(kb_dir):
        title_words, body_words = _words(passage.title), _words(passage.text)
        score = (2 * len(query & title_words) + len(query & body_words)) / (3 * len(query))
        if best is None or score > best[1]:
            best = (passage, score)
    return best if best and best[1] > 0 else None
