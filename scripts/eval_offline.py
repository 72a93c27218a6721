"""Measure the offline tier-1 classifier (and two baselines) on the shared labelled data sets.

    .venv/bin/python scripts/eval_offline.py                  # both data sets, reports + baselines
    .venv/bin/python scripts/eval_offline.py --errors 20      # also print 20 sample errors per set

The data sets live outside the repository (`../shared/datasets` relative to the repo root);
pass `--datasets DIR` to point elsewhere. `headway eval` measures a provider on any one labelled CSV.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from headway_assets.llm.evaluation import (
    Classifier,
    EvaluationResult,
    LabelledDataset,
    evaluate,
    format_report,
    keyword_baseline,
    load_labelled_csv,
    majority_baseline,
)
from headway_assets.offline import OfflineClassifier

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


@dataclass(frozen=True)
class Benchmark:
    """One data set and how to read and score it."""

    name: str
    relative_path: str
    text_columns: str
    label_column: str
    mapping: str
    restricted: bool


BENCHMARKS = (
    Benchmark(
        name="tizard2019 (forum sentences, 6 classes)",
        relative_path="tizard2019/tizard2019_labelled_sentences.csv",
        text_columns="sentence",
        label_column="label",
        mapping="tizard2019/label_mapping.csv",
        restricted=False,
    ),
    Benchmark(
        name="nlbse24-train (GitHub issues, bug/feature/question)",
        relative_path="nlbse24-train/issues_train.csv",
        text_columns="title,body",
        label_column="label",
        mapping="bug=bug_report,feature=feature_request,question=question",
        restricted=True,
    ),
)


def load(benchmark: Benchmark, datasets: Path) -> LabelledDataset:
    """Load one benchmark's CSV with its label mapping."""
    mapping = benchmark.mapping
    if mapping.endswith(".csv"):
        mapping = str(datasets / mapping)
    return load_labelled_csv(
        datasets / benchmark.relative_path,
        benchmark.text_columns,
        benchmark.label_column,
        mapping,
        name=benchmark.name,
    )


def print_errors(result: EvaluationResult, data: LabelledDataset, limit: int) -> None:
    """Print the most common confusions and a few examples of each (first 160 characters)."""
    pairs = Counter((g, p) for g, p in zip(result.gold, result.predicted, strict=True) if g != p)
    print(f"\nmost common errors (gold -> predicted): {pairs.most_common(8)}")
    per_pair = max(1, limit // 6)
    for (gold, pred), count in pairs.most_common(6):
        print(f"\n  -- gold {gold}, predicted {pred} ({count} rows), first {per_pair}:")
        examples = [
            t for t, g, p in zip(data.texts, result.gold, result.predicted, strict=True) if (g, p) == (gold, pred)
        ]
        for text in examples[:per_pair]:
            print("    " + " ".join(text.split())[:160])


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark whose files exist and print the reports."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS, help="folder with the data sets")
    parser.add_argument("--errors", type=int, default=0, help="print this many sample errors per data set")
    parser.add_argument("--no-baselines", action="store_true", help="skip the baseline runs")
    args = parser.parse_args(argv)
    if not args.datasets.is_dir():
        print(f"data set folder {args.datasets} not found; pass --datasets DIR", file=sys.stderr)
        return 2

    offline = OfflineClassifier()
    for benchmark in BENCHMARKS:
        data = load(benchmark, args.datasets)
        runs: list[tuple[str, Classifier]] = [("offline classifier", offline.classify_many)]
        if not args.no_baselines:
            runs += [
                ("baseline: majority class", majority_baseline(data)),
                ("baseline: keyword-naive", keyword_baseline),
            ]
        for label, classifier in runs:
            result = evaluate(classifier, data, restrict_to_gold_labels=benchmark.restricted)
            if label == "offline classifier":
                print(format_report(result, title=f"{benchmark.name} - {label}"))
                if args.errors:
                    print_errors(result, data, args.errors)
            else:
                print(
                    f"   {label:<26} macro F1 {result.macro_f1:.3f}   accuracy {result.accuracy:.3f}   "
                    f"is-feedback F1 {result.feedback.f1:.3f}"
                )
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
