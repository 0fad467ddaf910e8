"""Retrieval tests build their indexes in tmp folders (fixtures `embedder`, `demo_kb`: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
