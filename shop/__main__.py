"""`python -m shop generate [--out data] [--seed 7] [--today YYYY-MM-DD] [--database-url URL]`."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

from shop.generate import DEFAULT_OUT, generate


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shop", description="Shop Assistant demo-shop tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write the seeded demo catalog and (re)create the shop DB")
    gen.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: <repo>/data)")
    gen.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    gen.add_argument("--today", type=_day, default=None,
                     help="reference date that order and interaction dates are relative to "
                          "(default: the current UTC date)")
    gen.add_argument("--database-url", default=None,
                     help="shop DB to (re)create; default SHOP_DATABASE_URL, else sqlite:///<out>/shop.db. "
                          "Every table is dropped and refilled.")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    today = args.today or datetime.now(timezone.utc).date()
    started = time.perf_counter()
    try:
        summary = generate(args.out, seed=args.seed, today=today, database_url=args.database_url,
                           progress=not args.no_progress)
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback for bad URLs etc.
        print(f"error: generation failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{n} {k}" for k, n in summary["counts"].items())
    print(f"seed {args.seed}, today {today}: {counts} -> {args.out / 'catalog.jsonl'}, {summary['database']} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
