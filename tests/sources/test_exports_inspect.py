"""`headway exports inspect`: the pipeline's reading of one export file, as one JSON object, writing nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from headway_assets.cli import main
from headway_assets.sources.dispatch import DEFAULT_EXPORT_FILENAMES
from headway_assets.sources.inspect import reason_key
from tests.sources.test_read_export_entry import write_corpus


def inspect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["exports", "inspect", *args])
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object, on one line
    return code, json.loads(out)


@pytest.mark.parametrize(
    ("source", "turns"),
    [("slack", None), ("gmail", None), ("gong", 1), ("fathom", 1)],
)
def test_a_good_file_of_each_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, turns: int | None
) -> None:
    write_corpus(tmp_path)
    path = tmp_path / DEFAULT_EXPORT_FILENAMES[source]
    code, report = inspect(
        capsys,
        "--source",
        source,
        str(path),
        "--internal-domain",
        "acme.example",
        "--mailbox",
        "help@acme.example",
    )
    assert (code, report) == (0, {"messages": 1, "turns": turns, "skipped": {}, "rejected": None})


def test_skipped_counts_merge_bad_items_ignored_kinds_and_empty_turns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def call(call_id: str, started: str) -> dict:
        return {"metaData": {"id": call_id, "started": started}, "parties": [{"speakerId": "s1", "name": "Bob"}]}

    def transcript(call_id: str, *texts: str | None) -> dict:
        turns = [{"speakerId": f"s{i % 2}", "sentences": [{"start": i * 1000, "text": t}]} for i, t in enumerate(texts)]
        return {"callId": call_id, "transcript": turns}

    deep: list = []
    for _ in range(100):
        deep = [deep]
    gong = {
        "calls": [
            call("1", "2026-10-03T12:00:00Z"),
            call("1", "2026-10-03T12:00:00Z"),  # a duplicate: ignored, counted
            call("2", "2026-10-03T13:00:00Z"),  # no transcript
            call("3", "2300-01-01T00:00:00Z"),  # centuries away
            call("4", "2026-10-03T14:00:00Z"),  # nothing said
            call("5", "2026-10-03T15:00:00Z"),
            {"metaData": {"id": "6", "started": "2026-10-03T16:00:00Z"}, "customData": deep},  # too deep
        ],
        "callTranscripts": [
            transcript("1", "Hi.", None, "We need SSO.", "Sure."),
            transcript("3", "Hello from the future."),
            transcript("4", None, "  "),
            transcript("5", "One.", "Two.", ""),
        ],
    }
    path = tmp_path / "gong.json"
    path.write_text(json.dumps(gong))
    code, report = inspect(capsys, "--source", "gong", str(path))
    assert code == 0
    assert report == {
        "messages": 2,
        "turns": 2 + 2,  # call 1: "Hi." and "We need SSO." merge once the empty turn between them is gone
        "skipped": {
            "call has no transcript in callTranscripts": 1,
            "call time is implausible": 1,
            "duplicate_call": 1,
            "nested deeper than 64 levels": 1,
            "transcript has no sentences": 1,
            "turn has no text": 2,
        },
        "rejected": None,
    }


def test_ignored_kinds_count_as_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gmail.mbox"
    path.write_bytes(
        b"From 1@xxx Sat Oct 03 12:00:00 +0000 2026\nX-Gmail-Labels: Chat\nFrom: bob@globex.example\n"
        b"Date: Sat, 03 Oct 2026 12:00:00 +0000\nMessage-ID: <c1@x>\n\nhey\n\n"
        b"From 2@xxx Sat Oct 03 12:05:00 +0000 2026\nFrom: bob@globex.example\n"
        b"Date: yesterday-ish\nMessage-ID: <m2@x>\nContent-Transfer-Encoding: base64\n\n@@@@\n\n"
        b"From 3@xxx Sat Oct 03 12:10:00 +0000 2026\nFrom: bob@globex.example\n"
        b"Date: Sat, 03 Oct 2026 12:10:00 +0000\nMessage-ID: <m3@x>\n\nNeed SSO\n"
    )
    code, report = inspect(capsys, "--source", "gmail", str(path))
    assert (code, report["messages"], report["turns"]) == (0, 1, None)
    assert report["skipped"] == {"chat": 1, "no readable text body": 1}


@pytest.mark.parametrize(
    ("source", "name", "content", "reason"),
    [
        ("gmail", "gmail.mbox", b"", "is empty (0 bytes)"),
        ("gong", "gong.json", b'{"callTranscripts": 5}', "'callTranscripts' is a number, not a list"),
        ("fathom", "fathom.json", b'{"items": [{"recording_id": 1', "is neither JSON nor JSON Lines"),
        ("slack", "slack.zip", b"PK\x03\x04 not really a zip", "slack.zip"),
    ],
)
def test_a_refused_file_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, report = inspect(capsys, "--source", source, str(path))
    assert code == 2
    assert report["messages"] == 0 and report["skipped"] == {}
    assert str(path) in report["rejected"] and reason in report["rejected"]


def test_the_installed_command_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_corpus(data)
    with zipfile.ZipFile(data / DEFAULT_EXPORT_FILENAMES["slack"]) as archive:
        assert archive.namelist()  # a real archive
    before = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in data.iterdir())
    work = tmp_path / "cwd"
    work.mkdir()
    env = {**os.environ, "HEADWAY_DATA_DIR": str(tmp_path / "nowhere")}  # no warehouse is opened there
    headway = Path(sys.executable).with_name("headway")
    run = subprocess.run(
        [str(headway), "exports", "inspect", "--source", "fathom", str(data / "fathom-meetings.json")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"messages": 1, "turns": 1, "skipped": {}, "rejected": None}
    assert list(work.iterdir()) == [] and not (tmp_path / "nowhere").exists()
    assert sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in data.iterdir()) == before


@pytest.mark.parametrize(
    ("reason", "key"),
    [
        (
            "no readable text body (part 1 (text/plain): invalid base64; nothing could be decoded)",
            "no readable text body",
        ),
        (
            "call has no transcript in callTranscripts; fetch it with POST /v2/calls/transcript",
            "call has no transcript in callTranscripts",
        ),
        ("nested deeper than 64 levels", "nested deeper than 64 levels"),
        (
            "meeting has no transcript (exported or delivered without include_transcript=true)",
            "meeting has no transcript",
        ),
    ],
)
def test_reason_keys_drop_per_item_details(reason: str, key: str) -> None:
    assert reason_key(reason) == key
