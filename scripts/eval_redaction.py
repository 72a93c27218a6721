"""Span recall and precision of PII redaction on the labelled test set (tests/data/pii/messages.jsonl).

Each message goes through the redaction the pipeline applies (its people's names, its customer
kept). A labelled span is recalled when the redaction covers all of it (a partly covered value
still leaks); a redacted span is correct when it overlaps a labelled one. Exact figures (same
start, end and kind) and per-kind figures are printed too.

    .venv/bin/python scripts/eval_redaction.py [--set PATH] [--show-errors]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from headway_assets.core.pii import KINDS, Finding, find_pii  # noqa: E402
from headway_assets.llm.redaction import message_scope  # noqa: E402

DEFAULT_SET = ROOT / "tests" / "data" / "pii" / "messages.jsonl"


def load(path: Path) -> list[dict[str, Any]]:
    """The test set's messages."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def predict(record: dict[str, Any]) -> list[Finding]:
    """What the pipeline's redaction finds in one message."""
    redaction = message_scope(True, record["people"], record.get("customer")).redaction()
    assert redaction is not None
    return find_pii(record["text"], redaction.names, keep=redaction.keep)


def evaluate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and rates over the whole set, overall and per kind."""
    gold_total = Counter[str]()
    gold_covered = Counter[str]()
    predicted_total = Counter[str]()
    predicted_correct = Counter[str]()
    exact = 0
    errors: list[str] = []
    for record in records:
        gold = [(s["start"], s["end"], s["kind"]) for s in record["spans"]]
        found = predict(record)
        for start, end, kind in gold:
            gold_total[kind] += 1
            covered = all(any(f.start <= i < f.end for f in found) for i in range(start, end))
            gold_covered[kind] += covered
            if not covered:
                errors.append(f"missed {kind} {record['text'][start:end]!r} in {record['id']}")
        for finding in found:
            predicted_total[finding.kind] += 1
            hit = any(finding.start < end and start < finding.end for start, end, _ in gold)
            predicted_correct[finding.kind] += hit
            exact += (finding.start, finding.end, finding.kind) in gold
            if not hit:
                errors.append(f"false {finding.kind} {record['text'][finding.start : finding.end]!r} in {record['id']}")
    recall = sum(gold_covered.values()) / max(1, sum(gold_total.values()))
    precision = sum(predicted_correct.values()) / max(1, sum(predicted_total.values()))
    return {
        "messages": len(records),
        "near_miss_messages": sum(1 for r in records if r.get("near_miss")),
        "gold_spans": sum(gold_total.values()),
        "redacted_spans": sum(predicted_total.values()),
        "recall": recall,
        "precision": precision,
        "exact_recall": exact / max(1, sum(gold_total.values())),
        "exact_precision": exact / max(1, sum(predicted_total.values())),
        "per_kind": {
            kind: {
                "gold": gold_total[kind],
                "recall": gold_covered[kind] / gold_total[kind] if gold_total[kind] else None,
                "redacted": predicted_total[kind],
                "precision": predicted_correct[kind] / predicted_total[kind] if predicted_total[kind] else None,
            }
            for kind in KINDS
        },
        "errors": errors,
    }


def main() -> None:
    """Print the figures (and, with --show-errors, every miss and false redaction)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="JSONL test set (default: %(default)s)")
    parser.add_argument("--show-errors", action="store_true", help="list every missed and every false span")
    args = parser.parse_args()
    records = load(args.set)
    started = time.perf_counter()
    result = evaluate(records)
    seconds = time.perf_counter() - started
    print(
        f"PII test set: {result['messages']} messages ({result['near_miss_messages']} near-miss only), "
        f"{result['gold_spans']} labelled spans, {result['redacted_spans']} redacted"
    )
    print(f"span recall    {result['recall']:.4f}   (exact boundaries and kind: {result['exact_recall']:.4f})")
    print(f"span precision {result['precision']:.4f}   (exact boundaries and kind: {result['exact_precision']:.4f})")
    print(f"{'kind':<8}{'gold':>6}{'recall':>9}{'redacted':>10}{'precision':>11}")
    for kind, row in result["per_kind"].items():
        recall = "-" if row["recall"] is None else f"{row['recall']:.3f}"
        precision = "-" if row["precision"] is None else f"{row['precision']:.3f}"
        print(f"{kind:<8}{row['gold']:>6}{recall:>9}{row['redacted']:>10}{precision:>11}")
    print(f"{seconds * 1000 / max(1, result['messages']):.2f} ms per message")
    if args.show_errors:
        for line in result["errors"]:
            print(" ", line)


if __name__ == "__main__":
    main()
