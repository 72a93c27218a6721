"""The evaluation harness on tiny hand-made CSV files whose metrics were worked out by hand."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from headway_assets.llm.evaluation import (
    EvaluationDataError,
    compute_metrics,
    evaluate,
    format_report,
    keyword_baseline,
    load_label_mapping_csv,
    load_labelled_csv,
    majority_baseline,
    parse_label_mapping,
)
from headway_assets.llm.schemas import Tier1Category, Tier1Label

# title, body, raw label, and what the fake classifier below answers for that row.
ROWS: list[tuple[str, str, str, Tier1Category]] = [
    ("crash on save", "app closes", "b", "bug_report"),
    ("wrong totals", "sum is off", "b", "feature_request"),
    ("add csv export", "please", "f", "feature_request"),
    ("how to invite", "", "q", "question"),
    ("where is billing", "cannot find it", "q", "bug_report"),
    ("sso included?", "asking for IT", "q", "other"),
    ("spam", "buy now", "junk", "other"),
]
INLINE_MAPPING = "b=bug_report,f=feature_request,q=question,junk="


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def issues_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "issues.csv", ["title", "body", "label"], [[t, b, lab] for t, b, lab, _ in ROWS])


def fake_classifier(texts: list[str]) -> list[Tier1Label]:
    """Answers from the table above, keyed by the joined title and body."""
    answers = {"\n\n".join(p for p in (t, b) if p): pred for t, b, _raw, pred in ROWS}
    return [
        Tier1Label(is_feedback=answers[t] != "other", category=answers[t], relevance=5, confidence=0.5) for t in texts
    ]


def test_loading_joins_columns_maps_labels_and_counts_dropped(issues_csv: Path) -> None:
    data = load_labelled_csv(issues_csv, "title,body", "label", INLINE_MAPPING)
    assert len(data) == 6
    assert data.texts[0] == "crash on save\n\napp closes"
    assert data.texts[3] == "how to invite"  # empty body: no dangling separator
    assert data.labels == ("bug_report", "bug_report", "feature_request", "question", "question", "question")
    assert data.dropped == {"junk": 1}
    assert data.name == issues_csv.parent.name


def test_restricted_metrics_match_hand_computation(issues_csv: Path) -> None:
    data = load_labelled_csv(issues_csv, ["title", "body"], "label", INLINE_MAPPING)
    result = evaluate(fake_classifier, data, restrict_to_gold_labels=True, batch_size=4)
    # bug: tp 1, predicted 2, support 2 -> P .5 R .5 F1 .5
    # feature: tp 1, predicted 2, support 1 -> P .5 R 1 F1 2/3
    # question: tp 1, predicted 1, support 3 -> P 1 R 1/3 F1 .5
    assert result.classes == ("feature_request", "bug_report", "question")
    bug, feat, quest = (result.per_class[c] for c in ("bug_report", "feature_request", "question"))
    assert (bug.precision, bug.recall, bug.f1, bug.support, bug.predicted) == (0.5, 0.5, 0.5, 2, 2)
    assert (feat.precision, feat.recall, feat.support) == (0.5, 1.0, 1)
    assert feat.f1 == pytest.approx(2 / 3)
    assert (quest.precision, quest.recall, quest.f1) == (1.0, pytest.approx(1 / 3), pytest.approx(0.5))
    assert result.macro_f1 == pytest.approx((0.5 + 2 / 3 + 0.5) / 3)
    assert result.accuracy == pytest.approx(3 / 6)
    # Every gold row is feedback; five of six predictions are: P 1, R 5/6.
    assert result.feedback.precision == 1.0
    assert result.feedback.recall == pytest.approx(5 / 6)
    assert result.feedback.f1 == pytest.approx(2 * (5 / 6) / (1 + 5 / 6))
    # The "other" prediction is an error that shows in the confusion matrix.
    assert result.confusion["question"]["other"] == 1
    assert result.confusion["bug_report"]["feature_request"] == 1
    assert "other" not in result.per_class
    assert result.dropped == {"junk": 1}


def test_full_mode_counts_every_predicted_category(issues_csv: Path) -> None:
    data = load_labelled_csv(issues_csv, "title,body", "label", INLINE_MAPPING)
    result = evaluate(fake_classifier, data)
    # "other" was predicted once and never correct: F1 0, and it joins the macro average.
    assert result.classes == ("feature_request", "bug_report", "question", "other")
    assert result.per_class["other"] == result.per_class["other"].__class__(0.0, 0.0, 0.0, 0, 1)
    assert result.macro_f1 == pytest.approx((0.5 + 2 / 3 + 0.5 + 0.0) / 4)


def test_binary_feedback_metrics_with_other_in_gold() -> None:
    gold = ["other", "other", "other", "bug_report", "praise"]
    pred = ["other", "question", "other", "bug_report", "other"]
    result = compute_metrics(gold, pred)
    # feedback gold = rows 3,4; predicted feedback = rows 1,3 -> tp 1, P 1/2, R 1/2.
    assert (result.feedback.precision, result.feedback.recall, result.feedback.f1) == (0.5, 0.5, 0.5)
    assert result.per_class["other"].precision == pytest.approx(2 / 3)
    assert result.per_class["other"].recall == pytest.approx(2 / 3)
    assert result.accuracy == pytest.approx(3 / 5)


def test_mapping_csv_with_header_spaces_and_drops(tmp_path: Path) -> None:
    mapping_path = write_csv(
        tmp_path / "mapping.csv",
        ["label", "category"],
        [["Help seeking", "question"], ["apparent bug ", "bug_report"], ["not sure", ""]],
    )
    mapping = load_label_mapping_csv(mapping_path)
    assert mapping == {"Help seeking": "question", "apparent bug ": "bug_report", "not sure": ""}
    data_path = write_csv(
        tmp_path / "sentences.csv",
        ["sentence", "label"],
        [["How?", "help seeking"], ["It crashes", "apparent bug "], ["hmm", "not sure"], ["Crash", "Apparent  Bug"]],
    )
    data = load_labelled_csv(data_path, "sentence", "label", mapping_path)
    # Exact match first, then case- and space-insensitive.
    assert data.labels == ("question", "bug_report", "bug_report")
    assert data.dropped == {"not sure": 1}


def test_unknown_label_is_an_error_naming_file_label_and_line(issues_csv: Path) -> None:
    with pytest.raises(EvaluationDataError) as info:
        load_labelled_csv(issues_csv, "title,body", "label", "b=bug_report,f=feature_request,q=question")
    message = str(info.value)
    assert str(issues_csv) in message and "'junk'" in message and "line 8" in message
    assert "Add them to the mapping" in message


def test_bad_inputs_give_clear_errors(tmp_path: Path, issues_csv: Path) -> None:
    with pytest.raises(EvaluationDataError, match="column\\(s\\) text not found; the file has: title, body, label"):
        load_labelled_csv(issues_csv, "text", "label", INLINE_MAPPING)
    with pytest.raises(EvaluationDataError, match="'bogus' is not a tier-1 category"):
        parse_label_mapping("b=bogus")
    with pytest.raises(EvaluationDataError, match="must look like 'raw=category'"):
        parse_label_mapping("b=bug_report,oops")
    with pytest.raises(EvaluationDataError, match="does not exist"):
        load_labelled_csv(tmp_path / "missing.csv", "title", "label")
    with pytest.raises(EvaluationDataError, match="neither a CSV file nor an inline list"):
        parse_label_mapping("just-a-name")


def test_labels_already_in_tier1_form_need_no_mapping(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "plain.csv", ["text", "category"], [["a", "praise"], ["b", "other"]])
    data = load_labelled_csv(path, "text", "category")
    assert data.labels == ("praise", "other")


def test_fields_larger_than_the_csv_default_limit(tmp_path: Path) -> None:
    body = "x" * 200_000
    path = write_csv(tmp_path / "big.csv", ["title", "body", "label"], [["big", body, "b"]])
    data = load_labelled_csv(path, "title,body", "label", "b=bug_report")
    assert len(data.texts[0]) == len("big\n\n") + 200_000


def test_classifier_returning_wrong_count_is_an_error(issues_csv: Path) -> None:
    data = load_labelled_csv(issues_csv, "title,body", "label", INLINE_MAPPING)
    with pytest.raises(ValueError, match="returned 0 labels for a batch of 6"):
        evaluate(lambda texts: [], data)


def test_format_report_shows_table_macro_and_confusion(issues_csv: Path) -> None:
    data = load_labelled_csv(issues_csv, "title,body", "label", INLINE_MAPPING)
    report = format_report(evaluate(fake_classifier, data, restrict_to_gold_labels=True), title="tiny")
    assert report.startswith("== tiny ==")
    assert "macro F1 (3 classes): 0.556" in report
    assert "accuracy: 0.500" in report
    assert "dropped: junk=1" in report
    assert "is-feedback: precision 1.000  recall 0.833" in report
    bug_line = next(line for line in report.splitlines() if line.startswith("bug_report") and "0.500" in line)
    assert bug_line.split() == ["bug_report", "0.500", "0.500", "0.500", "2", "2"]
    assert "confusion (rows = gold, columns = predicted):" in report


def test_baselines(issues_csv: Path) -> None:
    data = load_labelled_csv(issues_csv, "title,body", "label", INLINE_MAPPING)
    majority = evaluate(majority_baseline(data), data, restrict_to_gold_labels=True)
    assert set(majority.predicted) == {"question"}
    assert majority.accuracy == pytest.approx(3 / 6)
    keyword = keyword_baseline(["the app has a bug", "please add X", "what?", "hello"])
    assert [label.category for label in keyword] == ["bug_report", "feature_request", "question", "other"]
