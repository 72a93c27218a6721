"""Fitting the local tier-1 model from labelled data sets, reproducibly.

The estimator is scikit-learn throughout: TF-IDF over word uni- and bigrams and over character
2-4-grams (inside word boundaries, so spelling variants and inflections share features), into a
`LinearSVC` with balanced class weights, wrapped in `CalibratedClassifierCV` (sigmoid) so its
scores become probabilities that mean what they say. Linear SVMs on TF-IDF are the standard
strong baseline for short-text classification and fit the NLBSE, Tizard and our own sets in
seconds; calibrated logistic regression scored within 0.02 of it and trained 4 to 40 times slower, and
character 2-5-grams scored no better than 2-4-grams at under half the speed (docs/quality.md).

Reproducible: rows are sorted (data set, text, label) before fitting, every random step takes
`seed`, and the manifest's version is a hash of the data, the parameters and the library
version, so the same inputs give the same predictions and the same manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import yaml

from headway_assets.offline.trained.artefact import (
    MANIFEST_FORMAT,
    MAX_CHARS,
    OTHER,
    LocalModel,
    file_sha256,
    manifest_path,
)
from headway_assets.offline.trained.features import char_wb_ngrams

if TYPE_CHECKING:
    from headway_assets.llm.evaluation import LabelledDataset

__all__ = [
    "DEFAULT_PARAMS",
    "DatasetSpec",
    "TrainingRows",
    "build_estimator",
    "choose_threshold",
    "expected_calibration_error",
    "fit_local_model",
    "load_dataset_specs",
    "load_training_rows",
    "model_version",
    "save_local_model",
]

DEFAULT_SEED: Final = 0
DEFAULT_PARAMS: Final[dict[str, Any]] = {
    "word_ngrams": [1, 2],
    "char_ngrams": [2, 4],
    "min_df": 2,
    "max_word_features": 50_000,
    "max_char_features": 100_000,
    "C": 0.3,
    "class_weight": "balanced",
    # Measured and not kept (docs/quality.md, scripts/model_variants.py): WordLlama sentence
    # embeddings (embeddings.py) stacked next to the n-grams at this weight when > 0, and
    # `ngrams: False` for the embeddings alone; `embedding_model: "use-multilingual-3"` (not
    # listed here, so the version is unchanged) takes a sentence encoder's instead, also not kept.
    "embedding_scale": 0.0,
    # Also measured and not kept (not listed here, so the shipped model's version is unchanged):
    # `lexicon_scale` > 0 stacks the lexicon's evidence (lexicon_features.py) next to the n-grams
    # at that weight; `stacking: True` fits a second stage over the SVM's out-of-fold scores and
    # that evidence instead of the sigmoid calibration (stacking.py; `stage2_C`, default 1.0).
    "ngrams": True,
    "calibration": "sigmoid",
    "calibration_folds": 3,
    "threshold_folds": 5,
}
# Candidate is-feedback thresholds tried on cross-validated training predictions.
_THRESHOLDS: Final = tuple(round(0.2 + 0.05 * i, 2) for i in range(9))


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """One labelled CSV: which columns hold the text and the label, how labels map to tier-1."""

    csv: Path
    text_column: str
    label_column: str
    mapping: str | None = None
    name: str | None = None
    weight: float = 1.0

    def load(self) -> LabelledDataset:
        """The labelled rows (through `headway eval`'s loader, so both read a file the same way)."""
        from headway_assets.llm.evaluation import load_labelled_csv

        return load_labelled_csv(self.csv, self.text_column, self.label_column, self.mapping, name=self.name)


def load_dataset_specs(path: Path) -> list[DatasetSpec]:
    """Data sets listed in a YAML file; relative paths are relative to the YAML file's folder.

    The file is a list (or a mapping with a `datasets` list) of entries with `csv`,
    `text_column`, `label_column` and optional `mapping` (inline or a CSV path), `name`, `weight`.
    """
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = raw.get("datasets") if isinstance(raw, dict) else raw
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a list of data sets (csv, text_column, label_column, ...)")
    specs: list[DatasetSpec] = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not {"csv", "text_column", "label_column"} <= set(entry):
            raise ValueError(f"{path}: data set {number} needs csv, text_column and label_column")
        unknown = set(entry) - {"csv", "text_column", "label_column", "mapping", "name", "weight"}
        if unknown:
            raise ValueError(f"{path}: data set {number} has unknown keys {sorted(unknown)}")
        mapping = entry.get("mapping")
        if isinstance(mapping, str) and mapping.lower().endswith(".csv"):
            mapping = str(_relative_to(path, mapping))
        specs.append(
            DatasetSpec(
                csv=_relative_to(path, entry["csv"]),
                text_column=str(entry["text_column"]),
                label_column=str(entry["label_column"]),
                mapping=mapping,
                name=entry.get("name"),
                weight=float(entry.get("weight", 1.0)),
            )
        )
    return specs


def _relative_to(yaml_path: Path, value: str) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else (yaml_path.parent / candidate)


@dataclass(slots=True)
class TrainingRows:
    """Texts, labels, per-row weights and data-set names, sorted, plus what each data set was."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    datasets: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


def load_training_rows(specs: Sequence[DatasetSpec]) -> TrainingRows:
    """Load every data set and sort the union, so the order files are given in does not matter."""
    from headway_assets.llm.evaluation import parse_label_mapping

    rows: list[tuple[str, str, str, float]] = []
    described: list[dict[str, Any]] = []
    for spec in specs:
        data = spec.load()
        name = spec.name or data.name
        rows += [(name, text, label, spec.weight) for text, label in zip(data.texts, data.labels, strict=True)]
        described.append(
            {
                "name": name,
                "file": spec.csv.name,
                "sha256": file_sha256(spec.csv),
                "rows": len(data),
                "dropped": sum(data.dropped.values()),
                "labels": dict(sorted(Counter(data.labels).items())),
                "text_column": spec.text_column,
                "label_column": spec.label_column,
                "mapping": dict(sorted(parse_label_mapping(spec.mapping).items())) if spec.mapping else None,
                "weight": spec.weight,
            }
        )
    names = [d["name"] for d in described]
    if len(set(names)) != len(names):
        raise ValueError(f"data set names must differ (give each a name): {names}")
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    result = TrainingRows(datasets=sorted(described, key=lambda d: d["name"]))
    for name, text, label, weight in rows:
        result.groups.append(name)
        result.texts.append(text[:MAX_CHARS])
        result.labels.append(label)
        result.weights.append(weight)
    return result


def build_estimator(params: Mapping[str, Any] | None = None, *, seed: int = DEFAULT_SEED) -> Any:
    """An unfitted pipeline: word + character TF-IDF into a sigmoid-calibrated linear SVM."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    p = {**DEFAULT_PARAMS, **(params or {})}
    words = TfidfVectorizer(
        ngram_range=tuple(p["word_ngrams"]),
        min_df=p["min_df"],
        max_features=p["max_word_features"],
        sublinear_tf=True,
        strip_accents="unicode",
        dtype=_float32(),
    )
    # scikit-learn's own "char_wb" n-grams, computed once per distinct word (features.py).
    chars = TfidfVectorizer(
        analyzer=partial(char_wb_ngrams, min_n=p["char_ngrams"][0], max_n=p["char_ngrams"][1]),
        min_df=p["min_df"],
        max_features=p["max_char_features"],
        sublinear_tf=True,
        dtype=_float32(),
    )
    blocks: list[tuple[str, Any]] = [("words", words), ("chars", chars)] if p["ngrams"] else []
    if p["embedding_scale"] > 0:
        from headway_assets.offline.trained.embeddings import WORDLLAMA, embedding_block

        model = p.get("embedding_model", WORDLLAMA)
        blocks.append(("embeddings", embedding_block(model, p["embedding_scale"])))
    if p.get("lexicon_scale", 0.0) > 0:
        from headway_assets.offline.trained.lexicon_features import LexiconEvidence

        blocks.append(("lexicon", LexiconEvidence(scale=p["lexicon_scale"])))
    if p.get("stacking", False):
        # A second stage over the SVM's out-of-fold scores and the lexicon's evidence (stacking.py).
        from headway_assets.offline.trained.lexicon_features import LEXICON_FEATURES, LexiconEvidence
        from headway_assets.offline.trained.stacking import StackedLinearModel

        blocks.append(("lexicon", LexiconEvidence(scale=1.0)))
        stacked = StackedLinearModel(
            len(LEXICON_FEATURES),
            C=p["C"],
            class_weight=p["class_weight"],
            folds=p["calibration_folds"],
            seed=seed,
            stage2_C=p.get("stage2_C", 1.0),
        )
        return Pipeline([("features", FeatureUnion(blocks)), ("classifier", stacked)])
    # The lexicon's evidence columns at the end of the features, when the classifier sees them: what
    # the NB-SVM's ratios and the ensemble's second member leave out.
    lexicon_columns = 0
    if p.get("lexicon_scale", 0.0) > 0:
        from headway_assets.offline.trained.lexicon_features import LEXICON_FEATURES

        lexicon_columns = len(LEXICON_FEATURES)
    svm: Any = LinearSVC(C=p["C"], class_weight=p["class_weight"], random_state=seed)
    if p.get("nbsvm", False):
        # Measured, not kept: NB-SVM's log-count-ratio scaling, one binary SVM per class (ensemble.py).
        from headway_assets.offline.trained.ensemble import NaiveBayesSvm

        svm = NaiveBayesSvm(C=p["C"], class_weight=p["class_weight"], skip_columns=lexicon_columns, seed=seed)
    folds = StratifiedKFold(n_splits=p["calibration_folds"], shuffle=True, random_state=seed)
    # ensemble=False: one SVM fitted on all rows, calibrated on cross-validated scores; the
    # artefact holds one weight matrix instead of one per fold.
    classifier: Any = CalibratedClassifierCV(svm, method=p["calibration"], cv=folds, ensemble=False)
    if p.get("ensemble"):
        # Measured, not kept: averaged with a second calibrated linear model (ensemble.py).
        from headway_assets.offline.trained.ensemble import SoftEnsemble, second_model

        second = second_model(p["ensemble"], seed=seed, folds=p["calibration_folds"], class_weight=p["class_weight"])
        classifier = SoftEnsemble(classifier, second, share=p.get("ensemble_share", 0.5), skip_columns=lexicon_columns)
    # Measured, not kept (not in DEFAULT_PARAMS, so no version moves): `block_weights` weighs the
    # feature blocks by name; `blend_weight` > 0 mixes the model's probabilities with the
    # lexicon's by the text's shape (blend.py; it reads the lexicon block unweighted).
    if p.get("blend_weight", 0.0) > 0:
        from headway_assets.offline.trained.blend import ShapeBlend
        from headway_assets.offline.trained.lexicon_features import LexiconEvidence

        scale = p.get("lexicon_scale", 0.0)
        if scale <= 0:  # the blend reads the lexicon's decision; the classifier does not see it
            blocks.append(("lexicon", LexiconEvidence(scale=1.0)))
        classifier = ShapeBlend(
            classifier,
            lexicon_scale=scale if scale > 0 else 1.0,
            feed_lexicon=scale > 0,
            weight=p["blend_weight"],
            low_quantile=p.get("blend_low_quantile", 95.0),
            lexicon_probabilities=p.get("blend_lexicon", "flat"),
            shape=p.get("blend_shape", "words"),
        )
    union = FeatureUnion(blocks, transformer_weights=p.get("block_weights"))
    return Pipeline([("features", union), ("classifier", classifier)])


def _float32() -> Any:
    import numpy as np

    return np.float32


def choose_threshold(labels: Sequence[str], feedback_probability: Sequence[float]) -> float:
    """The is-feedback threshold with the best F1 on (cross-validated) predictions; ties: closest to 0.5."""
    best = (-1.0, 0.0, 0.5)
    for threshold in _THRESHOLDS:
        tp = fp = fn = 0
        for label, p in zip(labels, feedback_probability, strict=True):
            predicted, actual = p >= threshold, label != OTHER
            tp += predicted and actual
            fp += predicted and not actual
            fn += actual and not predicted
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        candidate = (round(f1, 6), -abs(threshold - 0.5), threshold)
        best = max(best, candidate)
    return best[2]


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE: the mean gap between confidence and accuracy over equal-width confidence bins, weighted by size."""
    if not confidences:
        raise ValueError("no predictions to measure")
    totals = [[0, 0.0, 0] for _ in range(bins)]
    for confidence, right in zip(confidences, correct, strict=True):
        slot = totals[min(int(confidence * bins), bins - 1)]
        slot[0] += 1
        slot[1] += confidence
        slot[2] += bool(right)
    return sum(abs(s / n - r / n) * n for n, s, r in totals if n) / len(confidences)


def cross_validated_probabilities(
    rows: TrainingRows, *, params: Mapping[str, Any] | None = None, seed: int = DEFAULT_SEED, folds: int = 5
) -> tuple[Any, tuple[str, ...]]:
    """Out-of-fold class probabilities for every row (stratified by label and data set)."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    strata = [f"{g}|{y}" for g, y in zip(rows.groups, rows.labels, strict=True)]
    counts = Counter(strata)
    # A stratum smaller than the fold count cannot be spread over the folds: fall back to the label.
    strata = [s if counts[s] >= folds else y for s, y in zip(strata, rows.labels, strict=True)]
    classes = tuple(sorted(set(rows.labels)))
    out = np.zeros((len(rows), len(classes)))
    texts = np.array(rows.texts, dtype=object)
    labels = np.array(rows.labels)
    weights = np.array(rows.weights)
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(texts, strata):
        model = build_estimator(params, seed=seed)
        model.fit(list(texts[train]), labels[train], classifier__sample_weight=weights[train])
        fold_classes = [str(c) for c in model.classes_]
        probabilities = model.predict_proba(list(texts[test]))
        for j, c in enumerate(fold_classes):
            out[test, classes.index(c)] = probabilities[:, j]
    return out, classes


def fit_local_model(
    rows: TrainingRows, *, params: Mapping[str, Any] | None = None, seed: int = DEFAULT_SEED
) -> LocalModel:
    """Fit on all rows; the is-feedback threshold comes from cross-validated predictions on them."""
    import numpy as np
    import sklearn

    if len(set(rows.labels)) < 2:
        raise ValueError("training needs at least two distinct labels")
    p = {**DEFAULT_PARAMS, **(params or {})}
    threshold = 0.5
    if OTHER in rows.labels and len(set(rows.labels)) > 1:
        probabilities, classes = cross_validated_probabilities(rows, params=p, seed=seed, folds=p["threshold_folds"])
        feedback = 1.0 - probabilities[:, classes.index(OTHER)]
        threshold = choose_threshold(rows.labels, list(feedback))
    estimator = build_estimator(p, seed=seed)
    estimator.fit(rows.texts, np.array(rows.labels), classifier__sample_weight=np.array(rows.weights))
    version = model_version(rows, params=p, seed=seed)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "version": version,
        "kind": _kind(p),
        "classes": [str(c) for c in estimator.classes_],
        "threshold": threshold,
        "seed": seed,
        "params": p,
        "sklearn_version": sklearn.__version__,
        "rows": len(rows),
        "datasets": rows.datasets,
    }
    return LocalModel(estimator, manifest)


def _kind(params: Mapping[str, Any]) -> str:
    blocks = ["tfidf-word-char"] if params["ngrams"] else []
    if params["embedding_scale"] > 0:
        blocks.append(params.get("embedding_model", "wordllama"))
    if params.get("lexicon_scale", 0.0) > 0:
        blocks.append("lexicon-evidence")
    if params.get("stacking", False):
        return "+".join([*blocks, "linear-svm", "lexicon-evidence", "logistic-stack"])
    classifier = ("calibrated-nb-svm" if params.get("nbsvm") else "calibrated-linear-svm") + (
        f"+{params['ensemble']}" if params.get("ensemble") else ""
    )
    if params.get("blend_weight", 0.0) > 0:
        return "+".join([*blocks, classifier, "lexicon-shape-blend"])
    return "+".join([*blocks, classifier])


def model_version(rows: TrainingRows, *, params: Mapping[str, Any] | None = None, seed: int = DEFAULT_SEED) -> str:
    """What a model fitted on `rows` would be called: a hash of the sorted rows (not the files'
    bytes, so the same rows in another order or file layout give the same version), the
    parameters, the seed and the scikit-learn version."""
    import sklearn

    content = hashlib.sha256()
    for group, text, label, weight in zip(rows.groups, rows.texts, rows.labels, rows.weights, strict=True):
        content.update(json.dumps([group, text, label, weight]).encode())
    identity = {
        "rows": content.hexdigest(),
        "params": {**DEFAULT_PARAMS, **(params or {})},
        "seed": seed,
        "sklearn": sklearn.__version__,
    }
    return "tier1-" + hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


def save_local_model(model: LocalModel, output: Path, *, metrics: Mapping[str, Any] | None = None) -> Path:
    """Write `output` (joblib) and its manifest (JSON with the artefact's sha256); returns the manifest path."""
    import joblib

    output.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model.estimator, output, compress=3)
    manifest = {**model.manifest, "artefact": output.name, "artefact_sha256": file_sha256(output)}
    if metrics is not None:
        manifest["metrics"] = dict(metrics)
    model.manifest = manifest
    path = manifest_path(output)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def cross_validated_predictions(
    rows: TrainingRows, *, params: Mapping[str, Any] | None = None, seed: int = DEFAULT_SEED, folds: int = 5
) -> tuple[list[str], list[float]]:
    """Out-of-fold category and confidence of every row, folds stratified by data set and label.

    Each fold refits the whole recipe, threshold included, on the other folds, so the figures
    say how a model trained this way does on rows it has not seen.
    """
    from sklearn.model_selection import StratifiedKFold

    strata = [f"{g}|{y}" for g, y in zip(rows.groups, rows.labels, strict=True)]
    counts = Counter(strata)
    strata = [s if counts[s] >= folds else y for s, y in zip(strata, rows.labels, strict=True)]
    predicted: list[str] = [""] * len(rows)
    confidence: list[float] = [0.0] * len(rows)
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(rows.texts, strata):
        model = fit_local_model(_subset(rows, train), params=params, seed=seed)
        labels = model.classify_many([rows.texts[i] for i in test])
        for i, label in zip(test, labels, strict=True):
            predicted[i] = label.category
            confidence[i] = label.confidence
    return predicted, confidence


def cross_validation_metrics(
    rows: TrainingRows, *, params: Mapping[str, Any] | None = None, seed: int = DEFAULT_SEED, folds: int = 5
) -> dict[str, Any]:
    """Per-data-set cross-validated figures of this training configuration (for the manifest)."""
    predicted, confidence = cross_validated_predictions(rows, params=params, seed=seed, folds=folds)
    return {"folds": folds, "seed": seed, **score_by_group(rows, predicted, confidence)}


def _subset(rows: TrainingRows, index: Any) -> TrainingRows:
    return TrainingRows(
        texts=[rows.texts[i] for i in index],
        labels=[rows.labels[i] for i in index],
        weights=[rows.weights[i] for i in index],
        groups=[rows.groups[i] for i in index],
        datasets=rows.datasets,
    )


def score_by_group(rows: TrainingRows, predicted: Sequence[str], confidence: Sequence[float]) -> dict[str, Any]:
    """Macro F1, is-feedback P/R/F1 and ECE per data set, from per-row predictions."""
    from headway_assets.llm.evaluation import compute_metrics

    scores: dict[str, Any] = {}
    for name in sorted(set(rows.groups)):
        index = [i for i, g in enumerate(rows.groups) if g == name]
        gold = [rows.labels[i] for i in index]
        guess = [predicted[i] for i in index]
        restricted = OTHER not in gold
        result = compute_metrics(gold, guess, restrict_to_gold_labels=restricted, name=name)
        right = [p == g for p, g in zip(guess, gold, strict=True)]
        scores[name] = {
            "rows": len(index),
            "macro_f1": round(result.macro_f1, 4),
            "macro_f1_over": list(result.classes),
            "feedback_f1": round(result.feedback.f1, 4),
            "feedback_precision": round(result.feedback.precision, 4),
            "feedback_recall": round(result.feedback.recall, 4),
            "accuracy": round(result.accuracy, 4),
            "ece": round(expected_calibration_error([confidence[i] for i in index], right), 4),
        }
    return scores
