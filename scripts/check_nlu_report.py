"""Fails (exit 1) when `rasa test nlu` accuracy on the held-out split is below a floor."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("report", type=Path, help="intent_report.json written by `rasa test nlu`")
    parser.add_argument("--min-accuracy", type=float, required=True)
    args = parser.parse_args()
    if not args.report.exists():
        print(f"error: {args.report} not found: did `rasa test nlu` run?", file=sys.stderr)
        return 1
    report = json.loads(args.report.read_text())
    accuracy = float(report["accuracy"])
    macro_f1 = float(report["macro avg"]["f1-score"])
    worst = sorted(
        (
            (name, row["f1-score"])
            for name, row in report.items()
            if isinstance(row, dict) and "support" in row and name not in ("macro avg", "weighted avg", "micro avg")
        ),
        key=lambda pair: pair[1],
    )[:3]
    print(
        f"held-out NLU: accuracy {accuracy:.3f}, macro F1 {macro_f1:.3f} (floor {args.min_accuracy:.2f}); weakest: "
        + ", ".join(f"{n} {f:.2f}" for n, f in worst)
    )
    if accuracy < args.min_accuracy:
        print(f"error: held-out accuracy {accuracy:.3f} is below {args.min_accuracy:.2f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
