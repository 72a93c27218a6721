"""`headway classify` and `headway eval`, offline and through the Anthropic SDK against the fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headway_assets.cli import main
from headway_assets.core.settings import get_settings
from headway_assets.testing.fakes.headway_responder import headway_responder
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer

LINES = [
    {"id": 1, "text": "Please add SSO with Okta, we cannot renew the contract without it."},
    {"id": "two", "text": "Thanks, see you at the standup tomorrow!"},
    {"id": 3, "text": "The CSV export crashes with a 500 error since yesterday's release."},
]


def _write_input(path: Path, extra: str = "") -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES) + extra, encoding="utf-8")


def test_classify_writes_one_label_per_line_in_input_order(tmp_path: Path) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_input(source)
    assert main(["classify", "--input", str(source), "--output", str(target), "--provider", "offline"]) == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [row["id"] for row in rows] == [1, "two", 3]
    assert set(rows[0]) == {"id", "is_feedback", "category", "score", "confidence"}
    assert rows[0]["category"] == "feature_request" and rows[0]["score"] >= 6
    assert rows[1]["is_feedback"] is False
    assert rows[2]["category"] == "bug_report"


def test_classify_reports_bad_lines_and_keeps_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_input(source, extra='{"id": 9}\nnot json at all\n')
    assert main(["classify", "--input", str(source), "--output", str(target)]) == 1
    assert len(target.read_text().splitlines()) == 3
    errors = capsys.readouterr().err
    assert f"{source}:4: skipped" in errors and f"{source}:5: skipped" in errors


def test_classify_through_anthropic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_input(source)
    with FakeAnthropicServer(responder=headway_responder) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_ANTHROPIC_KEY)
        monkeypatch.setenv("HEADWAY_LLM_BASE_URL", server.base_url)
        get_settings.cache_clear()
        try:
            assert main(["classify", "--input", str(source), "--output", str(target), "--provider", "anthropic"]) == 0
        finally:
            get_settings.cache_clear()
        assert server.calls() == 1, "three short texts go out in one batched call"
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [row["category"] for row in rows] == ["feature_request", "other", "bug_report"]


def test_eval_prints_per_class_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "labelled.csv"
    data.write_text(
        "text,label\n"
        '"Please add dark mode to the dashboard",feature\n'
        '"Could you support exporting to PDF?",feature\n'
        '"The app crashes when I open settings",bug\n'
        '"Login fails with error 500",bug\n'
        '"How do I change my password?",question\n',
        encoding="utf-8",
    )
    mapping = "bug=bug_report,feature=feature_request,question=question"
    assert (
        main(
            [
                "eval",
                "--csv",
                str(data),
                "--text-column",
                "text",
                "--label-column",
                "label",
                "--mapping",
                mapping,
                "--restrict-to-gold-labels",
            ]
        )
        == 0
    )
    report = capsys.readouterr().out
    assert "macro F1 (3 classes)" in report
    for label in ("feature_request", "bug_report", "question"):
        assert label in report
