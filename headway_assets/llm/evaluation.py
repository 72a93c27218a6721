"""Evaluation harness for tier-1 classifiers on labelled CSV data.

Works with any provider: a classifier is just a callable taking a list of texts and returning
one `Tier1Label` per text. Typical use::

    mapping = parse_label_mapping("bug=bug_report,feature=feature_request,question=question")
    data = load_labelled_csv("issues.csv", "title,body", "label", mapping)
    result = evaluate(OfflineClassifier().classify_many, data, restrict_to_gold_labels=True)
    print(format_report(result))

Metric conventions (documented because libraries differ):
- precision of a class never predicted is 0.0, and F1 is 0.0 when precision + recall is 0;
- full mode: macro F1 averages over every tier-1 category that occurs in the gold labels or
  in the predictions;
- restricted mode (`restrict_to_gold_labels=True`, for data whose gold labels cover only some
  categories): macro F1 averages over the gold categories only, and a prediction outside them
  (e.g. `other` for a GitHub issue) is simply an error - it costs recall, never helps;
- is-feedback: positive means category != `other`, on both sides.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from headway_assets.llm.schemas import RELEVANCE_THRESHOLD, TIER1_CATEGORIES, Tier1Category, Tier1Label

Classifier = Callable[[list[str]], list[Tier1Label]]

# The NLBSE issue CSV has bodies over 128 KB (the csv module's default field limit).
_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)
_CATEGORY_ABBREVIATIONS: dict[str, str] = {
    "feature_request": "feat",
    "bug_report": "bug",
    "pain_point": "pain",
    "praise": "praise",
    "question": "quest",
    "other": "other",
}


class EvaluationDataError(ValueError):
    """A labelled file or label mapping cannot be used as given; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class LabelledDataset:
    """Texts with gold tier-1 categories, plus what was left out and why."""

    name: str
    texts: tuple[str, ...]
    labels: tuple[Tier1Category, ...]
    raw_labels: tuple[str, ...]
    dropped: dict[str, int] = field(default_factory=dict)
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    """Precision, recall and F1 of one category, with gold support and prediction count."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


@dataclass(frozen=True, slots=True)
class RelevanceStats:
    """How a classifier scored the relevance of the rows of one gold category."""

    mean: float
    at_or_above_threshold: float
    """Share of rows with relevance >= `RELEVANCE_THRESHOLD` (they would go on to tier-2)."""


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """All figures of one evaluation run."""

    name: str
    n: int
    classes: tuple[str, ...]
    per_class: dict[str, ClassMetrics]
    macro_f1: float
    accuracy: float
    feedback: ClassMetrics
    confusion: dict[str, dict[str, int]]
    restricted: bool
    gold: tuple[str, ...]
    predicted: tuple[str, ...]
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float | None = None
    relevance_by_gold: dict[str, RelevanceStats] = field(default_factory=dict)

    @property
    def texts_per_second(self) -> float | None:
        """Classifier throughput, when the run was timed."""
        if self.seconds is None or self.seconds <= 0:
            return None
        return self.n / self.seconds


# --- loading -------------------------------------------------------------------------------


def _check_category(value: str, where: str) -> str:
    value = value.strip()
    if value and value not in TIER1_CATEGORIES:
        raise EvaluationDataError(
            f"{where}: {value!r} is not a tier-1 category; use one of {', '.join(TIER1_CATEGORIES)} "
            "(or leave it empty to drop rows with that label)"
        )
    return value


def load_label_mapping_csv(path: str | Path) -> dict[str, str]:
    """Read a raw-label -> category CSV (first two columns; a header row is detected and skipped).

    An empty category means "drop rows with this label". Raw labels are kept verbatim, including
    surrounding spaces, so that near-duplicates in messy data can be mapped exactly.
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationDataError(f"label mapping file {path} does not exist")
    mapping: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < 2:
                raise EvaluationDataError(f"{path}:{line_no}: expected two columns 'raw label,category', got {row!r}")
            raw, category = row[0], row[1].strip()
            if line_no == 1 and category and category not in TIER1_CATEGORIES:
                continue  # header row such as "label,category"
            mapping[raw] = _check_category(category, f"{path}:{line_no}")
    if not mapping:
        raise EvaluationDataError(f"label mapping file {path} has no mapping rows")
    return mapping


def parse_label_mapping(spec: str | Path | Mapping[str, str]) -> dict[str, str]:
    """A label mapping from a CSV path, an inline spec "bug=bug_report,feature=feature_request",
    or an existing mapping (validated)."""
    if isinstance(spec, Mapping):
        return {raw: _check_category(cat, f"label mapping entry {raw!r}") for raw, cat in spec.items()}
    text = str(spec)
    if isinstance(spec, Path) or text.lower().endswith(".csv") or Path(text).is_file():
        return load_label_mapping_csv(text)
    if "=" not in text:
        raise EvaluationDataError(
            f"label mapping {text!r} is neither a CSV file nor an inline list like "
            "'bug=bug_report,feature=feature_request'"
        )
    mapping: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        raw, sep, category = item.partition("=")
        if not sep or not raw.strip():
            raise EvaluationDataError(f"label mapping item {item!r} must look like 'raw=category'")
        mapping[raw.strip()] = _check_category(category, f"label mapping item {item!r}")
    return mapping


def _lookup(mapping: Mapping[str, str], raw: str, folded: Mapping[str, str]) -> str | None:
    if raw in mapping:
        return mapping[raw]
    key = " ".join(raw.split()).casefold()
    return folded.get(key)


def load_labelled_csv(
    path: str | Path,
    text_columns: str | Sequence[str],
    label_column: str,
    mapping: str | Path | Mapping[str, str] | None = None,
    *,
    joiner: str = "\n\n",
    name: str | None = None,
) -> LabelledDataset:
    """Load a labelled CSV: text from one or more columns (joined by `joiner`), gold labels mapped
    to tier-1 categories.

    `text_columns` may be a list or a comma-separated string ("title,body"). Without `mapping`,
    labels must already be tier-1 categories. Rows whose label maps to "" are dropped and counted
    per raw label; a label the mapping does not know is an error (nothing is dropped silently).
    Labels are matched exactly first, then ignoring case and surrounding/double spaces.
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluationDataError(f"labelled data file {path} does not exist")
    columns = [c.strip() for c in text_columns.split(",")] if isinstance(text_columns, str) else list(text_columns)
    columns = [c for c in columns if c]
    if not columns:
        raise EvaluationDataError(f"{path}: give at least one text column")
    resolved: dict[str, str] = parse_label_mapping(mapping) if mapping is not None else {c: c for c in TIER1_CATEGORIES}
    folded = {" ".join(raw.split()).casefold(): cat for raw, cat in resolved.items()}

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    header = [str(c) for c in frame.columns]
    missing = [c for c in [*columns, label_column] if c not in header]
    if missing:
        raise EvaluationDataError(
            f"{path}: column(s) {', '.join(missing)} not found; the file has: {', '.join(header)}"
        )
    raw_column = frame[label_column]
    # One lookup per distinct raw label, then mapped over the column.
    categories = raw_column.map({raw: _lookup(resolved, raw, folded) for raw in raw_column.unique()})
    unknown_rows = raw_column[categories.isna()]
    # Counters filled in order of first appearance, so ties list the earlier label first.
    unknown_counts = unknown_rows.value_counts()
    unknown: Counter[str] = Counter({raw: int(unknown_counts[raw]) for raw in unknown_rows.unique()})
    first_unknown_line = dict(_record_lines(path, unknown_rows.drop_duplicates().items()))
    dropped: Counter[str] = Counter(raw_column[categories == ""].value_counts().to_dict())
    kept = frame[categories.notna() & (categories != "")]
    # Columns are joined per row, leaving out empty parts, as the text a classifier sees.
    texts = [joiner.join(p for p in parts if p) for parts in kept[columns].apply(lambda c: c.str.strip()).to_numpy()]
    labels: list[Tier1Category] = list(categories[kept.index])  # validated by _check_category
    raw_labels = list(kept[label_column])

    if unknown:
        listing = "; ".join(
            f"{raw!r} ({count} rows, first at line {first_unknown_line[raw]})" for raw, count in unknown.most_common()
        )
        raise EvaluationDataError(
            f"{path}: labels not in the mapping: {listing}. Add them to the mapping "
            "(map a label to an empty category to drop its rows on purpose)."
        )
    if not texts:
        raise EvaluationDataError(f"{path}: no rows left after mapping labels (dropped: {dict(dropped)})")
    return LabelledDataset(
        name=name or path.parent.name or path.stem,
        texts=tuple(texts),
        labels=tuple(labels),
        raw_labels=tuple(raw_labels),
        dropped=dict(sorted(dropped.items())),
        source=str(path),
    )


def _record_lines(path: Path, records: Iterable[tuple[int, str]]) -> list[tuple[str, int]]:
    """The line each given data record (pandas row number, value) ends on, as the csv module counts lines.

    Only read for error messages, which name the line of the first row with an unknown label.
    """
    wanted = dict(records)
    if not wanted:
        return []
    found: list[tuple[str, int]] = []
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(_FIELD_LIMIT)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            next(reader, None)  # the header
            index = 0
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank lines are no records, for pandas either
                if index in wanted:
                    found.append((wanted[index], reader.line_num))
                    if len(found) == len(wanted):
                        break
                index += 1
    finally:
        csv.field_size_limit(previous_limit)
    return found


# --- metrics -------------------------------------------------------------------------------


def _prf(tp: int, predicted: int, support: int) -> tuple[float, float, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def compute_metrics(
    gold: Sequence[str],
    predicted: Sequence[str],
    *,
    restrict_to_gold_labels: bool = False,
    name: str = "",
    dropped: Mapping[str, int] | None = None,
    seconds: float | None = None,
    relevances: Sequence[int] | None = None,
) -> EvaluationResult:
    """Per-class P/R/F1, macro F1, accuracy, is-feedback P/R/F1 and the confusion matrix."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    if not gold:
        raise ValueError("cannot compute metrics on an empty data set")
    gold_set = set(gold)
    if restrict_to_gold_labels:
        classes = tuple(c for c in TIER1_CATEGORIES if c in gold_set)
    else:
        seen = gold_set | set(predicted)
        classes = tuple(c for c in TIER1_CATEGORIES if c in seen)
    extra = sorted((set(gold) | set(predicted)) - set(TIER1_CATEGORIES))
    all_labels = (*TIER1_CATEGORIES, *extra)

    confusion = confusion_frame(gold, predicted, all_labels)
    support = confusion.sum(axis=1)
    predicted_count = confusion.sum(axis=0)

    per_class: dict[str, ClassMetrics] = {}
    for c in classes:
        tp, n_predicted, n_support = int(confusion.at[c, c]), int(predicted_count[c]), int(support[c])
        precision, recall, f1 = _prf(tp, n_predicted, n_support)
        per_class[c] = ClassMetrics(precision, recall, f1, n_support, n_predicted)
    macro = sum(m.f1 for m in per_class.values()) / len(per_class)
    accuracy = int(pd.Series(confusion.to_numpy().diagonal()).sum()) / len(gold)

    # Is-feedback is the same matrix folded to two classes: anything but `other` is feedback.
    feedback_labels = [label for label in all_labels if label != "other"]
    tp_feedback = int(confusion.loc[feedback_labels, feedback_labels].to_numpy().sum())
    gold_feedback = int(support[feedback_labels].sum())
    predicted_feedback = int(predicted_count[feedback_labels].sum())
    fb_precision, fb_recall, fb_f1 = _prf(tp_feedback, predicted_feedback, gold_feedback)
    feedback = ClassMetrics(fb_precision, fb_recall, fb_f1, gold_feedback, predicted_feedback)

    used = [label for label in all_labels if support[label] or predicted_count[label]]
    trimmed = {g: {p: int(confusion.at[g, p]) for p in used} for g in used}
    return EvaluationResult(
        name=name,
        n=len(gold),
        classes=classes,
        per_class=per_class,
        macro_f1=macro,
        accuracy=accuracy,
        feedback=feedback,
        confusion=trimmed,
        restricted=restrict_to_gold_labels,
        gold=tuple(gold),
        predicted=tuple(predicted),
        dropped=dict(dropped or {}),
        seconds=seconds,
        relevance_by_gold=_relevance_stats(gold, relevances) if relevances is not None else {},
    )


def confusion_frame(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> pd.DataFrame:
    """Counts of (gold, predicted) pairs: one row per gold label, one column per predicted label, in `labels` order."""
    counts = pd.crosstab(pd.Series(list(gold), name="gold"), pd.Series(list(predicted), name="predicted"))
    return counts.reindex(index=list(labels), columns=list(labels), fill_value=0)


def _relevance_stats(gold: Sequence[str], relevances: Sequence[int]) -> dict[str, RelevanceStats]:
    if len(relevances) != len(gold):
        raise ValueError(f"{len(gold)} gold labels but {len(relevances)} relevance scores")
    scores = pd.DataFrame({"gold": list(gold), "relevance": list(relevances)})
    scores["sent"] = scores["relevance"] >= RELEVANCE_THRESHOLD
    by_gold = scores.groupby("gold", sort=False).agg(
        total=("relevance", "sum"), sent=("sent", "sum"), n=("gold", "size")
    )
    ordered = [c for c in TIER1_CATEGORIES if c in by_gold.index] + sorted(set(by_gold.index) - set(TIER1_CATEGORIES))
    # Exact integer sums divided once, so the figures match a plain Python average to the last bit.
    return {
        c: RelevanceStats(
            mean=int(by_gold.at[c, "total"]) / int(by_gold.at[c, "n"]),
            at_or_above_threshold=int(by_gold.at[c, "sent"]) / int(by_gold.at[c, "n"]),
        )
        for c in ordered
    }


def evaluate(
    classifier: Classifier,
    dataset: LabelledDataset,
    *,
    restrict_to_gold_labels: bool = False,
    batch_size: int = 256,
) -> EvaluationResult:
    """Run `classifier` over the data set in batches and compute the metrics (timed)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    predictions: list[str] = []
    relevances: list[int] = []
    started = time.perf_counter()
    for start in range(0, len(dataset.texts), batch_size):
        batch = list(dataset.texts[start : start + batch_size])
        labels = classifier(batch)
        if len(labels) != len(batch):
            raise ValueError(
                f"classifier returned {len(labels)} labels for a batch of {len(batch)} texts "
                f"(data set {dataset.name}, rows {start}-{start + len(batch) - 1})"
            )
        predictions.extend(label.category for label in labels)
        relevances.extend(label.relevance for label in labels)
    seconds = time.perf_counter() - started
    return compute_metrics(
        dataset.labels,
        predictions,
        restrict_to_gold_labels=restrict_to_gold_labels,
        name=dataset.name,
        dropped=dataset.dropped,
        seconds=seconds,
        relevances=relevances,
    )


# --- baselines -----------------------------------------------------------------------------


def majority_baseline(dataset: LabelledDataset) -> Classifier:
    """A classifier that always answers the most frequent gold category of `dataset`."""
    counts = Counter(dataset.labels)
    top = max(TIER1_CATEGORIES, key=lambda c: (counts[c], -TIER1_CATEGORIES.index(c)))

    def classify(texts: list[str]) -> list[Tier1Label]:
        label = Tier1Label(is_feedback=top != "other", category=top, relevance=5, confidence=0.5)
        return [label for _ in texts]

    return classify


def keyword_baseline(texts: list[str]) -> list[Tier1Label]:
    """The naive rule set anyone would write first: '?' means question, 'bug/error/crash' means
    bug, 'feature/add/please' means feature request, 'love/great' praise, 'annoying' pain,
    anything else is not feedback."""
    out: list[Tier1Label] = []
    for text in texts:
        low = text.lower()
        category: Tier1Category
        if any(w in low for w in ("bug", "error", "crash", "broken", "doesn't work", "not working")):
            category = "bug_report"
        elif any(w in low for w in ("feature", "please add", "would be nice", "add support", "request")):
            category = "feature_request"
        elif "?" in low:
            category = "question"
        elif any(w in low for w in ("annoying", "frustrat", "hate", "terrible", "slow")):
            category = "pain_point"
        elif any(w in low for w in ("love", "great", "awesome", "thank you for")):
            category = "praise"
        else:
            category = "other"
        out.append(Tier1Label(is_feedback=category != "other", category=category, relevance=5, confidence=0.5))
    return out


# --- reporting -----------------------------------------------------------------------------


def per_class_table(result: EvaluationResult) -> pd.DataFrame:
    """Precision, recall, F1, support and prediction count per class, one row per class in report order."""
    columns = ["precision", "recall", "f1", "support", "predicted"]
    rows = [[getattr(result.per_class[c], name) for name in columns] for c in result.classes]
    return pd.DataFrame(rows, index=pd.Index(result.classes, name="class"), columns=columns)


def format_report(result: EvaluationResult, *, title: str | None = None) -> str:
    """A plain-text report: per-class table, macro F1, accuracy, is-feedback and confusion."""
    lines: list[str] = []
    heading = title or result.name or "evaluation"
    dropped_total = sum(result.dropped.values())
    lines.append(f"== {heading} ==")
    mode = (
        f"restricted to gold labels ({', '.join(result.classes)}); other predictions count as errors"
        if result.restricted
        else "all tier-1 categories"
    )
    lines.append(f"rows: {result.n}   dropped by mapping: {dropped_total}   mode: {mode}")
    if result.dropped:
        lines.append("  dropped: " + ", ".join(f"{raw.strip() or '(empty)'}={n}" for raw, n in result.dropped.items()))
    rate = result.texts_per_second
    if rate is not None and result.seconds is not None:
        lines.append(f"time: {result.seconds:.2f}s ({rate:,.0f} texts/s)")
    lines.append("")
    lines.append(f"{'class':<16}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}{'predicted':>11}")
    for c, m in per_class_table(result).iterrows():
        lines.append(
            f"{c:<16}{m.precision:>10.3f}{m.recall:>8.3f}{m.f1:>8.3f}{int(m.support):>9}{int(m.predicted):>11}"
        )
    lines.append("")
    lines.append(f"macro F1 ({len(result.classes)} classes): {result.macro_f1:.3f}   accuracy: {result.accuracy:.3f}")
    fb = result.feedback
    lines.append(
        f"is-feedback: precision {fb.precision:.3f}  recall {fb.recall:.3f}  F1 {fb.f1:.3f}  "
        f"(gold feedback {fb.support}, predicted feedback {fb.predicted})"
    )
    lines.append("")
    labels = list(result.confusion)
    width = max(7, *(len(_CATEGORY_ABBREVIATIONS.get(label, label)) + 1 for label in labels))
    if result.relevance_by_gold:
        lines.append(f"relevance by gold class (mean; share >= {RELEVANCE_THRESHOLD}, i.e. sent to tier-2):")
        for c, stats in result.relevance_by_gold.items():
            lines.append(f"  {c:<16}{stats.mean:>6.1f}{stats.at_or_above_threshold:>8.0%}")
        lines.append("")
    confusion = pd.DataFrame.from_dict(result.confusion, orient="index").reindex(index=labels, columns=labels)
    lines.append("confusion (rows = gold, columns = predicted):")
    lines.append(" " * 16 + "".join(f"{_CATEGORY_ABBREVIATIONS.get(p, p):>{width}}" for p in confusion.columns))
    for g, counts in confusion.iterrows():
        lines.append(f"{g:<16}" + "".join(f"{int(n):>{width}}" for n in counts))
    return "\n".join(lines)
