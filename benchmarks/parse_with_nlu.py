"""Parses texts with the trained Rasa model, one message at a time as the server does.

    .venv-rasa/bin/python benchmarks/parse_with_nlu.py IN.jsonl OUT.json [--model models/rasa/shop.tar.gz]

IN.jsonl holds rows with `id` and `query`; OUT.json maps each id to {"intent", "entities"}.
The product-search benchmark runs in the action-server env, which has no Rasa, and calls this
to get the entities the NLU really finds in its queries.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_nlu import Loaded  # noqa: E402

DEFAULT_MODEL = ROOT / "models" / "rasa" / "shop.tar.gz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args()
    if not args.model.exists():
        print(f"no trained Rasa model at {args.model}: run `make train` first", file=sys.stderr)
        return 2
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # The per-message debug lines would bury the benchmark's table.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    rows = [json.loads(line) for line in args.inputs.read_text(encoding="utf-8").splitlines() if line.strip()]
    loaded = Loaded(str(args.model))
    try:
        results, _ = loaded.parse_all([r["query"] for r in rows], desc="NLU parse")
    finally:
        loaded.close()
    parsed = {
        row["id"]: {
            "intent": (result.get("intent") or {}).get("name"),
            "entities": [{"entity": e["entity"], "value": e.get("value")} for e in result.get("entities") or []],
        }
        for row, result in zip(rows, results, strict=True)
    }
    args.output.write_text(json.dumps(parsed, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
