"""Turns a knowledge-base folder into chunks: markdown and text split by langchain, FAQ pairs kept whole."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from retrieval.text import tidy_whitespace

MARKDOWN_SUFFIXES = {".md", ".markdown"}
TEXT_SUFFIXES = {".txt"}
FAQ_SUFFIXES = {".csv", ".json"}
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | FAQ_SUFFIXES

# Policy sections are short; a chunk this size holds one section and stays a readable answer.
CHUNK_CHARS = 700
CHUNK_OVERLAP = 80
_QUESTION_KEYS = ("question", "q", "title")
_ANSWER_KEYS = ("answer", "a", "response")


class DocumentError(ValueError):
    """A knowledge-base file that cannot be read as a document or FAQ list."""


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    source: str  # path relative to the knowledge-base folder
    title: str  # the document's title (its first heading, or the file name)
    heading: str  # the deepest heading (or the FAQ question) the text sits under
    heading_path: str  # "Returns > Return window"
    text: str

    def embedding_text(self) -> str:
        # The heading path carries the topic words a shopper uses ("refund", "warranty") even when
        # the passage itself does not repeat them.
        return f"{self.heading_path}\n{table_rows_as_sentences(self.text)}"

    def sentences(self) -> list[str]:
        """Each sentence, list item or table row of the passage (rows as "Column: cell; ...")."""
        pieces = (p.strip(_SENTENCE_TRIM) for p in _SENTENCE_BREAK.split(table_rows_as_sentences(self.text)))
        return [p for p in pieces if len(p) >= MIN_SENTENCE_CHARS]

    def sentence_texts(self) -> list[str]:
        """Each of `sentences()` under its heading path, for the sentence vectors. One vector for
        a 700-character section is the mean of everything it says, so a question about one line
        of it ("is it free to Northern Ireland?") can match a short section on the general topic
        better; its best sentence does not. A passage without sentences is its own one."""
        return [f"{self.heading_path}: {s}" for s in self.sentences()] or [self.embedding_text()]


# A sentence ends at . ! or ? before a space, and at a line break: list items and table rows
# are sentences of their own. No library sentence splitter is in the actions env, and these
# documents are policy prose and lists, where this rule is enough.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_SENTENCE_TRIM = " \t-*#>|_"
# Shorter pieces ("Yes.", "Note:") say nothing on their own.
MIN_SENTENCE_CHARS = 16

# A Markdown table's separator row: | --- | :---: |
_TABLE_RULE = re.compile(r":?-{2,}:?")


def table_rows_as_sentences(text: str) -> str:
    """Markdown table rows as "Service: Royal Mail Tracked 48; Price: £3.95, free over £40", for
    the encoders only (the shopper still reads the table). A row of bare cells with pipes between
    them embeds far from a shopper's question ("how much for free postage"), and a cell means
    what its column's heading says. Rows whose heading row fell into another chunk keep their
    cells alone."""
    lines = text.splitlines()
    out: list[str] = []
    heading: list[str] = []
    for number, line in enumerate(lines):
        cells = _cells(line)
        if cells is None:
            heading = []
            out.append(line)
        elif all(_TABLE_RULE.fullmatch(cell) for cell in cells if cell):
            continue
        elif not heading and number + 1 < len(lines) and _is_rule(lines[number + 1]):
            heading = cells
        else:
            out.append("; ".join(f"{name}: {cell}" if name else cell for name, cell in _named(heading, cells) if cell))
    return "\n".join(out)


def _cells(line: str) -> list[str] | None:
    stripped = line.strip()
    if len(stripped) < 2 or not (stripped.startswith("|") and stripped.endswith("|")):
        return None
    return [cell.strip() for cell in stripped[1:-1].split("|")]


def _is_rule(line: str) -> bool:
    cells = _cells(line)
    return cells is not None and all(_TABLE_RULE.fullmatch(cell) for cell in cells if cell)


def _named(heading: list[str], cells: list[str]) -> list[tuple[str, str]]:
    return [(heading[i] if i < len(heading) else "", cell) for i, cell in enumerate(cells)]


def kb_files(folder: Path) -> list[Path]:
    """The supported files under `folder`, sorted, hidden files skipped."""
    if not folder.is_dir():
        raise FileNotFoundError(f"knowledge-base folder not found: {folder}")
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


# Part of every document's hash: a change to how documents become chunks or embedding text
# (2: table rows as sentences; 3: sentence vectors) makes `make index` embed unchanged documents
# afresh.
CHUNKING_VERSION = b"3"


def content_hash(path: Path) -> str:
    return hashlib.sha256(CHUNKING_VERSION + path.read_bytes()).hexdigest()


def load_chunks(path: Path, source: str) -> list[Chunk]:
    """Chunks of one file; raises DocumentError naming what is wrong with it."""
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{source}: not UTF-8 text ({exc.reason})") from exc
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        chunks = _markdown_chunks(raw, source)
    elif suffix in TEXT_SUFFIXES:
        chunks = _text_chunks(raw, source)
    elif suffix == ".csv":
        chunks = _faq_chunks(_csv_pairs(raw, source), source)
    elif suffix == ".json":
        chunks = _faq_chunks(_json_pairs(raw, source), source)
    else:
        raise DocumentError(f"{source}: unsupported file type {suffix!r}")
    if not chunks:
        raise DocumentError(f"{source}: no text found")
    return chunks


def _title_from_name(source: str) -> str:
    return Path(source).stem.replace("-", " ").replace("_", " ").strip().capitalize()


def _markdown_chunks(raw: str, source: str) -> list[Chunk]:
    header_splitter = MarkdownHeaderTextSplitter(
        headers_to_split_on=[("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")], strip_headers=True
    )
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=CHUNK_OVERLAP)
    sections = header_splitter.split_text(raw)
    title = next((str(s.metadata["h1"]) for s in sections if s.metadata.get("h1")), _title_from_name(source))
    chunks: list[Chunk] = []
    for section in sections:
        headings = [str(section.metadata[h]) for h in ("h1", "h2", "h3", "h4") if section.metadata.get(h)]
        if not headings or headings[0] != title:
            headings = [title, *headings]
        for piece in splitter.split_text(section.page_content):
            if piece.strip():
                chunks.append(
                    Chunk(
                        chunk_id=f"{source}#{len(chunks)}",
                        source=source,
                        title=title,
                        heading=headings[-1],
                        heading_path=" > ".join(headings),
                        text=piece.strip(),
                    )
                )
    return chunks


def _text_chunks(raw: str, source: str) -> list[Chunk]:
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=CHUNK_OVERLAP)
    title = _title_from_name(source)
    return [
        Chunk(
            chunk_id=f"{source}#{i}", source=source, title=title, heading=title, heading_path=title, text=piece.strip()
        )
        for i, piece in enumerate(p for p in splitter.split_text(raw) if p.strip())
    ]


def _pick(row: dict[str, object], keys: tuple[str, ...]) -> str:
    lowered = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for key in keys:
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _csv_pairs(raw: str, source: str) -> list[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(raw))
    columns = {c.strip().lower() for c in (reader.fieldnames or [])}
    if not columns & set(_QUESTION_KEYS) or not columns & set(_ANSWER_KEYS):
        raise DocumentError(f"{source}: a FAQ CSV needs 'question' and 'answer' columns, found {sorted(columns)}")
    try:
        return [(_pick(row, _QUESTION_KEYS), _pick(row, _ANSWER_KEYS)) for row in reader]
    except csv.Error as exc:
        raise DocumentError(f"{source}: malformed CSV ({exc})") from exc


def _json_pairs(raw: str, source: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{source}: malformed JSON at line {exc.lineno} ({exc.msg})") from exc
    if isinstance(data, dict):
        data = data.get("faqs", data.get("faq", data.get("items")))
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise DocumentError(f"{source}: a FAQ JSON file must be a list of {{question, answer}} objects")
    return [(_pick(item, _QUESTION_KEYS), _pick(item, _ANSWER_KEYS)) for item in data]


def _faq_chunks(pairs: list[tuple[str, str]], source: str) -> list[Chunk]:
    title = "Frequently asked questions"
    chunks: list[Chunk] = []
    for question, answer in pairs:
        if question and answer:
            chunks.append(
                Chunk(
                    chunk_id=f"{source}#{len(chunks)}",
                    source=source,
                    title=title,
                    heading=question,
                    heading_path=f"{title} > {question}",
                    text=answer,
                )
            )
    return chunks


# Where a cut excerpt leaves out the passage's opening, so the shopper knows there is more.
ELLIPSIS = "… "


def excerpt(passage: str, limit: int, focus: str | None = None) -> str:
    """The passage, whitespace tidied, cut at a sentence or line end to about `limit`
    characters. When the cut would leave out `focus` (the sentence closest to the question),
    the opening is shortened and that sentence follows it after an ellipsis: a 700-character
    section that answers in its last lines ("how long will you hold it?") had been shown only up
    to its first 420, and the closest sentence is not always the answer, which is often the
    opening, so neither is dropped. Line breaks are kept, so lists stay lists."""
    text = tidy_whitespace(passage)
    if len(text) <= limit:
        return text
    spans = _sentence_spans(text)
    focus = tidy_whitespace(focus or "")
    # A table row's sentence is written as "Column: cell" and is not found: the cut is the opening's.
    at = text.find(focus) if focus else -1
    tail = ""
    if at >= 0 and at + len(focus) > limit:
        begin, end = max((b, e) for b, e in spans if b <= at)
        tail = ELLIPSIS + text[begin : max(end, at + len(focus))]
    budget = limit - len(tail) - 1 if tail else limit
    begin, end = spans[0]
    for _, span_end in spans[1:]:
        if span_end - begin > budget:
            break
        end = span_end
    if tail and end - begin > budget:
        return tail.strip()[:limit]
    kept = text[begin:end] + (f"\n{tail}" if tail else "")
    kept = re.sub(r"[ \t]+\n", "\n", kept)
    return kept if len(kept) <= limit else kept[: limit - 1].rstrip() + "…"


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, position = [], 0
    for match in _SENTENCE_BREAK.finditer(text):
        if match.start() > position:
            spans.append((position, match.start()))
        position = match.end()
    if position < len(text):
        spans.append((position, len(text)))
    return spans or [(0, len(text))]
