"""`python -m shop generate|onboard|nlu-data`: the demo shop, a shop's own files, and the NLU data made from them.

python -m shop generate [--out data] [--seed 7] [--today YYYY-MM-DD] [--database-url URL]
python -m shop onboard --catalog FILE [--mapping FILE] --kb FOLDER [--nlu FOLDER]
python -m shop nlu-data --catalog data/catalog.jsonl --kb shop/kb --out build/nlu
python -m shop agents add NAME [--display-name "Ana"] [--password-stdin]   (customer-care console log-ins)
python -m shop agents list
"""

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
    gen.add_argument(
        "--today",
        type=_day,
        default=None,
        help="reference date that order and interaction dates are relative to (default: the current UTC date)",
    )
    gen.add_argument(
        "--database-url",
        default=None,
        help="shop DB to (re)create; default SHOP_DATABASE_URL, else sqlite:///<out>/shop.db. "
        "Every table is dropped and refilled.",
    )
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    own = sub.add_parser(
        "onboard", help="use a shop's own catalog, documents and NLU examples (then: make index train)"
    )
    own.add_argument("--catalog", type=Path, required=True, help="the catalog, CSV or JSONL")
    own.add_argument("--mapping", type=Path, default=None, help='JSON mapping of your column names, e.g. {"id": "sku"}')
    own.add_argument("--kb", type=Path, required=True, help="the folder of policy and FAQ documents")
    own.add_argument("--nlu", type=Path, default=None, help="optional folder of your own Rasa NLU .yml files")
    own.add_argument("--database-url", default=None, help="the shop DB (default SHOP_DATABASE_URL)")
    nlu = sub.add_parser("nlu-data", help="(re)generate the NLU data made from a catalog and a KB folder")
    nlu.add_argument("--catalog", type=Path, required=True)
    nlu.add_argument("--kb", type=Path, required=True)
    nlu.add_argument("--out", type=Path, required=True)
    nlu.add_argument("--nlu", type=Path, default=None, help="a folder of the shop's own NLU .yml files to include")
    staff = sub.add_parser("agents", help="customer-care agents who log in to the console at /agent")
    staff_sub = staff.add_subparsers(dest="agents_command", required=True)
    add = staff_sub.add_parser("add", help="add an agent, or set a new password for one")
    add.add_argument("name", help="log-in name: lower-case letters, digits, '.', '_' or '-'")
    add.add_argument("--display-name", default=None, help='what shoppers see, e.g. "Ana" (default: the name)')
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    staff_sub.add_parser("list", help="list the agents")
    args = parser.parse_args(argv)
    if args.command == "agents":
        return _agents(args)
    if args.command == "onboard":
        return _onboard(args)
    if args.command == "nlu-data":
        return _nlu_data(args)

    today = args.today or datetime.now(timezone.utc).date()
    started = time.perf_counter()
    try:
        summary = generate(
            args.out, seed=args.seed, today=today, database_url=args.database_url, progress=not args.no_progress
        )
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback for bad URLs etc.
        print(f"error: generation failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{n} {k}" for k, n in summary["counts"].items())
    print(
        f"seed {args.seed}, today {today}: {counts} -> {args.out / 'catalog.jsonl'}, {summary['database']} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


def _onboard(args: argparse.Namespace) -> int:
    from shop.onboard import OnboardError, onboard

    try:
        report = onboard(args.catalog, args.kb, args.mapping, args.nlu, database_url=args.database_url)
    except OnboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    print("next: make index train  (make shop runs it for you)")
    return 0


def _agents(args: argparse.Namespace) -> int:
    import getpass

    from shop.agents import AgentAccounts

    accounts = AgentAccounts()
    if args.agents_command == "list":
        for agent in accounts.names():
            print(f"{agent['name']}\t{agent['display_name']}")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    try:
        accounts.add(args.name, args.display_name or args.name, password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"agent {args.name} can log in at /agent on the Rasa server")
    return 0


def _nlu_data(args: argparse.Namespace) -> int:
    from retrieval.catalog import CatalogError, read_catalog
    from shop.nlu_data import write_nlu_data

    try:
        products = read_catalog(args.catalog).products
    except (CatalogError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kb = args.kb if args.kb.is_dir() else None
    print(write_nlu_data(products, kb, args.out, args.nlu).summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
