"""Command line: `python -m retrieval ingest|ask|catalog ...`. Each area owns its subcommands."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "catalog":
        from retrieval.catalog_cli import main as catalog_main

        return catalog_main(argv[1:])
    if argv and argv[0] in ("recommender",):
        from retrieval.recommender_cli import main as recommender_main

        return recommender_main(argv[1:])
    from retrieval.kb_cli import main as kb_main

    return kb_main(argv)


if __name__ == "__main__":
    sys.exit(main())
