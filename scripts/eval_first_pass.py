"""Measure the local first pass (issue 15, item 3): tier-1 calls saved against feedback lost.

    .venv/bin/python scripts/eval_first_pass.py                 # Tizard + B2B under CV, and the demo corpus
    .venv/bin/python scripts/eval_first_pass.py --json out.json # also write the figures as JSON

With a hosted provider, a message the local model gives P(not feedback) >= the threshold is
labelled `other` locally and never sent to tier-1. For each threshold this prints, per labelled
set: the share of messages skipped (the tier-1 items saved) and the share of the set's feedback
among them (feedback lost: it never reaches tier-2), with the precision of the skip (how many
skipped messages really are noise).

- Tizard sentences and Headway's B2B messages: out-of-fold P(not feedback) from 5-fold
  cross-validation of the shipped recipe (`config/models/default.yaml`; each fold refits the
  model on the other four), as scripts/eval_model.py does: the shipped model was trained on
  both, so scoring them with it would flatter it;
- the demo corpus (30 days, 1,754 messages, never used in training): the shipped model as it
  is, against the generator's ground truth (`expected.jsonl`: category `other` is not feedback;
  `asks` are the asks tier-2 should find).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from eval_model import DEFAULT_DATASETS, shipped_specs  # noqa: E402
from sqlalchemy import select  # noqa: E402

from headway_assets.assets.local_model import feedback_probabilities  # noqa: E402
from headway_assets.core.warehouse.database import dispose_engines, read_connection  # noqa: E402
from headway_assets.core.warehouse.schema import Message, Organization  # noqa: E402
from headway_assets.offline import cross_validated_probabilities, load_training_rows  # noqa: E402
from headway_assets.testing.demo_warehouse import prepare_raw  # noqa: E402

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)


def trade_off(p_not: list[float], is_feedback: list[bool], has_ask: list[bool] | None = None) -> list[dict[str, Any]]:
    """Per threshold: messages skipped, feedback lost (and asks lost), precision of the skip."""
    feedback = sum(is_feedback)
    asks = sum(has_ask) if has_ask is not None else 0
    rows = []
    for threshold in THRESHOLDS:
        skipped = [i for i, p in enumerate(p_not) if p >= threshold]
        lost = sum(1 for i in skipped if is_feedback[i])
        row: dict[str, Any] = {
            "threshold": threshold,
            "messages": len(p_not),
            "skipped": len(skipped),
            "skipped_share": len(skipped) / len(p_not) if p_not else 0.0,
            "feedback": feedback,
            "feedback_lost": lost,
            "feedback_lost_share": lost / feedback if feedback else 0.0,
            "skip_precision": (len(skipped) - lost) / len(skipped) if skipped else 1.0,
        }
        if has_ask is not None:
            lost_asks = sum(1 for i in skipped if has_ask[i])
            row.update(asks=asks, ask_messages_lost=lost_asks, ask_lost_share=lost_asks / asks if asks else 0.0)
        rows.append(row)
    return rows


def labelled_sets(datasets: Path, folds: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Tizard and B2B: out-of-fold P(not feedback) of the shipped recipe."""
    rows = load_training_rows(shipped_specs(datasets))
    probabilities, classes = cross_validated_probabilities(rows, folds=folds, seed=seed)
    other = classes.index("other")
    by_set: dict[str, tuple[list[float], list[bool]]] = defaultdict(lambda: ([], []))
    for group, label, row in zip(rows.groups, rows.labels, probabilities, strict=True):
        p_list, feedback_list = by_set[str(group)]
        p_list.append(float(row[other]))
        feedback_list.append(label != "other")
    return {name: trade_off(p, fb) for name, (p, fb) in sorted(by_set.items())}


def demo_set() -> list[dict[str, Any]]:
    """The 30 demo days: the shipped model's P(not feedback) against the generator's ground truth."""
    with tempfile.TemporaryDirectory(prefix="headway-first-pass-") as tmp:
        raw = prepare_raw(Path(tmp))
        truth: dict[tuple[str, str], dict[str, Any]] = {}
        for expected in Path(tmp, "demo").glob("*/expected.jsonl"):
            org = expected.parent.name
            for line in expected.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                truth[(org, record["external_id"])] = record
        with read_connection(f"sqlite:///{raw}") as conn:
            messages = conn.execute(
                select(Organization.slug, Message.external_id, Message.text).join(
                    Organization, Organization.id == Message.org_id
                )
            ).all()
        dispose_engines()
    known = [(m, truth[(m.slug, m.external_id)]) for m in messages if (m.slug, m.external_id) in truth]
    print(f"demo: {len(known)} of {len(messages)} messages have ground truth", flush=True)
    p_feedback = feedback_probabilities([m.text for m, _ in known])
    return trade_off(
        [1.0 - p for p in p_feedback],
        [record["category"] != "other" for _, record in known],
        [bool(record.get("asks")) for _, record in known],
    )


def _print(name: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n### {name}\n")
    asks = "asks" in rows[0]
    print(
        "| threshold P(not feedback) | skipped (tier-1 items saved) | feedback lost | skip precision |"
        + (" messages with an ask lost |" if asks else "")
    )
    print("|---|---|---|---|" + ("---|" if asks else ""))
    for row in rows:
        line = (
            f"| {row['threshold']:.2f} | {row['skipped']:,} of {row['messages']:,} ({row['skipped_share']:.1%}) "
            f"| {row['feedback_lost']} of {row['feedback']} ({row['feedback_lost_share']:.1%}) "
            f"| {row['skip_precision']:.3f} |"
        )
        if asks:
            line += f" {row['ask_messages_lost']} of {row['asks']} ({row['ask_lost_share']:.1%}) |"
        print(line)


def main() -> int:
    """Print the trade-off tables (markdown)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = labelled_sets(args.datasets, args.folds, args.seed)
    for name, rows in results.items():
        _print(f"{name}: {args.folds}-fold CV of the shipped recipe", rows)
    results["demo"] = demo_set()
    _print("demo corpus (30 days): the shipped model, never trained on it", results["demo"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
