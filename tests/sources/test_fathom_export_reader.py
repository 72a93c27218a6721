"""The Fathom meeting reader and the one-meeting parser the API reader and webhook receiver reuse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headway_assets.sources.exports.fathom_meetings import (
    FathomMeetingError,
    parse_fathom_meeting,
    read_fathom_meetings,
)
from headway_assets.sources.message import ReadResult, SkippedItem, SourceReadError, TimeWindow

WINDOW = TimeWindow(datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC))
DOMAINS = ("acme.example",)


def meeting(recording_id: Any = 123456789, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Customer renewal – Globex",
        "meeting_title": "Globex renewal",
        "recording_id": recording_id,
        "url": f"https://fathom.video/calls/{recording_id}",
        "share_url": "https://fathom.video/share/abc123",
        "created_at": "2026-10-03T17:01:30Z",
        "scheduled_start_time": "2026-10-03T16:00:00Z",
        "scheduled_end_time": "2026-10-03T17:00:00Z",
        "recording_start_time": "2026-10-03T16:01:12Z",
        "recording_end_time": "2026-10-03T17:00:55Z",
        "calendar_invitees_domains_type": "one_or_more_external",
        "transcript_language": "en",
        "calendar_invitees": [
            {
                "name": "Alice Ng",
                "email": "alice@acme.example",
                "email_domain": "acme.example",
                "is_external": False,
                "matched_speaker_display_name": "Alice Ng",
            },
            {
                "name": "Bob Buyer",
                "email": "bob@globex-corp.example",
                "email_domain": "globex-corp.example",
                "is_external": True,
            },
        ],
        "recorded_by": {"name": "Alice Ng", "email": "alice@acme.example", "team": "Sales"},
        "transcript": [
            {
                "speaker": {
                    "display_name": "Alice Ng",
                    "matched_calendar_invitee_email": "alice@acme.example",
                },
                "text": "Let's go through the renewal.",
                "timestamp": "00:05:32",
            },
            {
                "speaker": {"display_name": "Bob Buyer", "matched_calendar_invitee_email": None},
                "text": "Sure, I have questions on seats.",
                "timestamp": "00:05:40",
            },
            {
                "speaker": {"display_name": "Bob Buyer"},
                "text": "Also: 単一サインオン please 🙏",
                "timestamp": "00:05:51",
            },
            {"speaker": {"display_name": "Alice Ng"}, "text": "Noted.", "timestamp": "00:06:02"},
        ],
        "default_summary": {"template_name": "general", "markdown_formatted": "## Summary\nSeats and SSO."},
        "action_items": [{"description": "Send SSO roadmap", "completed": False}],
        "crm_matches": None,
    }
    body.update(overrides)
    return body


GOOD_TEXT = (
    "Alice Ng: Let's go through the renewal.\n"
    "Bob Buyer: Sure, I have questions on seats. Also: 単一サインオン please 🙏\n"
    "Alice Ng: Noted."
)


def page(*items: dict[str, Any], cursor: str | None = None) -> dict[str, Any]:
    return {"limit": 10, "next_cursor": cursor, "items": list(items)}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def read(path: Path) -> ReadResult:
    return read_fathom_meetings(path, WINDOW, internal_domains=DOMAINS)


def test_meeting_becomes_one_speaker_attributed_message() -> None:
    message = parse_fathom_meeting(meeting(), internal_domains=DOMAINS)
    assert message.external_id == "123456789"
    assert message.text == GOOD_TEXT
    assert message.sent_at == datetime(2026, 10, 3, 16, 1, 12, tzinfo=UTC)
    assert message.title == "Customer renewal – Globex"
    assert message.url == "https://fathom.video/share/abc123"
    assert message.channel == "fathom"
    assert message.author_name == "Bob Buyer"
    assert message.author_email == "bob@globex-corp.example"
    assert message.author_is_internal is False
    assert message.customer == "Globex Corp"
    assert message.metadata["turns"] == [
        {"speaker": "Alice Ng", "timestamp": "00:05:32"},
        {"speaker": "Bob Buyer", "timestamp": "00:05:40"},
        {"speaker": "Alice Ng", "timestamp": "00:06:02"},
    ]
    assert message.metadata["duration_seconds"] == 3583
    assert message.metadata["summary"] == "## Summary\nSeats and SSO."
    assert message.metadata["action_items"] == ["Send SSO roadmap"]
    assert message.metadata["recorded_by"] == {
        "name": "Alice Ng",
        "email": "alice@acme.example",
        "team": "Sales",
    }


def test_time_and_url_fallbacks() -> None:
    scheduled = parse_fathom_meeting(meeting(recording_start_time=None, share_url=None))
    assert scheduled.sent_at == datetime(2026, 10, 3, 16, 0, tzinfo=UTC)
    assert scheduled.url == "https://fathom.video/calls/123456789"
    created = parse_fathom_meeting(meeting(recording_start_time=None, scheduled_start_time=None))
    assert created.sent_at == datetime(2026, 10, 3, 17, 1, 30, tzinfo=UTC)
    assert parse_fathom_meeting(meeting(recording_id="42")).external_id == "42"


def test_parse_refuses_meetings_without_id_time_or_transcript() -> None:
    with pytest.raises(FathomMeetingError, match=r"meeting has no recording_id \(got None\)"):
        parse_fathom_meeting(meeting(recording_id=None))
    with pytest.raises(FathomMeetingError, match="has no transcript"):
        parse_fathom_meeting(meeting(transcript=None))
    with pytest.raises(FathomMeetingError, match="has no recording_start_time, scheduled_start_time or created_at"):
        parse_fathom_meeting(meeting(recording_start_time=None, scheduled_start_time=None, created_at=None))


def test_page_file_with_good_and_bad_meetings(tmp_path: Path) -> None:
    path = write(
        tmp_path / "fathom-meetings.json",
        page(
            meeting(),
            meeting(recording_id=None),
            meeting(333, transcript=None),
            meeting(444, recording_start_time="2026-10-05T09:00:00Z"),  # outside the window
            meeting(555, recording_start_time="2026-10-03T08:00:00Z", share_url=None),
        ),
    )
    result = read(path)
    assert [m.external_id for m in result.messages] == ["555", "123456789"]
    assert result.skipped == [
        SkippedItem("fathom-meetings.json:items[1]", "meeting has no recording_id (got None)"),
        SkippedItem(
            "fathom-meetings.json:items[2] (recording 333)",
            "meeting 333 has no transcript (exported or delivered without include_transcript=true)",
        ),
    ]


def test_list_of_meetings_list_of_pages_and_duplicates(tmp_path: Path) -> None:
    meetings = write(tmp_path / "list.json", [meeting(), meeting(777), "junk"])
    result = read(meetings)
    assert [m.external_id for m in result.messages] == ["123456789", "777"]
    assert result.skipped == [
        SkippedItem("list.json:item 2", "entry is not a Fathom Meeting object (no recording_id, title or transcript)")
    ]
    pages = write(tmp_path / "pages.json", [page(meeting(), cursor="abc"), page(meeting(), meeting(888))])
    result = read(pages)
    assert [m.external_id for m in result.messages] == ["123456789", "888"]
    assert result.ignored == {"duplicate": 1}


def test_json_lines_of_webhook_bodies_with_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "fathom-webhooks.jsonl"
    lines = [
        json.dumps(meeting(), ensure_ascii=False),
        '{"recording_id": 9, "title": ',
        json.dumps(meeting(999)),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = read(path)
    assert [m.external_id for m in result.messages] == ["123456789", "999"]
    assert result.messages[0].text == GOOD_TEXT
    assert result.skipped == [
        SkippedItem(
            "fathom-webhooks.jsonl:line 2",
            "line is not valid JSON (Expecting value: line 1 column 30 (char 29)); its meeting was not read",
        )
    ]


def test_speakers_matched_by_name_when_no_email(tmp_path: Path) -> None:
    body = meeting(
        calendar_invitees=[
            {"name": "Alice Ng", "email": "alice@acme.example", "is_external": False},
            {"name": "Carol Chen", "email": "carol@initech.example", "is_external": True},
        ],
        transcript=[
            {"speaker": {"display_name": "Carol Chen"}, "text": "Need exports.", "timestamp": "00:00:05"},
            {"speaker": {"display_name": "Mystery"}, "text": "Hello?", "timestamp": "00:00:09"},
        ],
    )
    message = parse_fathom_meeting(body, internal_domains=DOMAINS)
    assert message.author_name == "Carol Chen"
    assert message.author_email == "carol@initech.example"
    assert message.customer == "Initech"
    assert message.text == "Carol Chen: Need exports.\nMystery: Hello?"


def test_bad_files_raise_with_advice(tmp_path: Path) -> None:
    with pytest.raises(SourceReadError, match=r"fathom-meetings\.json does not exist"):
        read(tmp_path / "fathom-meetings.json")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("<html>not json</html>")
    with pytest.raises(SourceReadError, match="is neither JSON nor JSON Lines"):
        read(garbage)
    other = write(tmp_path / "other.json", {"users": []})
    with pytest.raises(SourceReadError, match="holds no Meeting objects"):
        read(other)
    assert read(write(tmp_path / "empty.json", page())) == ReadResult()
