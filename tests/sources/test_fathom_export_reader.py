"""The Fathom meeting reader and the one-meeting parser the API reader and webhook receiver reuse."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headway_assets.core.message import ReadResult, SkippedItem, SourceReadError, TimeWindow
from headway_assets.sources.exports.limits import ExportLimits, ExportTooLargeError
from headway_assets.sources.fathom.export import (
    FathomMeetingError,
    parse_fathom_meeting,
    read_fathom_meetings,
)

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
        SkippedItem("fathom-meetings.json:items[1]", "meeting has no recording_id"),
        SkippedItem(
            "fathom-meetings.json:items[2] (recording 333)",  # the id is in the location, not the reason
            "meeting has no transcript (exported or delivered without include_transcript=true)",
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


# -- hostile files (issue 12) -------------------------------------------------------------------

ALL_TIME = TimeWindow(datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
TRUNCATED_PRETTY = json.dumps(page(meeting()), indent=2)[:-40].encode()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", r"is empty \(0 bytes\)"),
        (b"\n \n", r"is neither JSON nor JSON Lines \(the file holds only whitespace\)"),
        (b'{"items": [{"recording_id": 1, "title": "x"', r"is neither JSON nor JSON Lines \(.*truncated\?\)"),
        (TRUNCATED_PRETTY, r"is neither JSON nor JSON Lines \(.*truncated\?\)"),
        (b'{"items": "x"}', r"is not a /meetings response: 'items' is a string, not a list"),
        (b'{"items": 5, "limit": 10}', r"is not a /meetings response: 'items' is a number, not a list"),
        (b"5", r"holds a number at the top"),
        (b"null", r"holds null at the top"),
        (b"{}", r"holds no Meeting objects"),
        (b'["junk", 5]', r"holds no Meeting objects"),
    ],
)
def test_empty_truncated_and_wrongly_shaped_files_are_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "fathom-meetings.json"
    path.write_bytes(content)
    with pytest.raises(SourceReadError, match=rf"^Fathom file {re.escape(str(path))} {reason}"):
        read_fathom_meetings(path, ALL_TIME)


@pytest.mark.parametrize("data", [[], {"items": []}, {"limit": 10, "next_cursor": None, "items": []}, [page()]])
def test_legitimately_empty_files_read_as_nothing(tmp_path: Path, data: Any) -> None:
    assert read_fathom_meetings(write(tmp_path / "fathom-meetings.json", data), ALL_TIME) == ReadResult()


def test_file_past_the_size_limit_is_refused_with_a_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "fathom-meetings.json", page(meeting()))
    with pytest.raises(ExportTooLargeError, match=r"fathom-meetings\.json is 0\.0 MiB, past the 0 MiB limit"):
        read_fathom_meetings(path, ALL_TIME, limits=ExportLimits(max_json_bytes=100))


def deep_meeting(recording_id: int) -> str:
    return json.dumps(meeting(recording_id))[:-1] + ', "crm_matches": ' + "[" * 50_000 + "]" * 50_000 + "}"


@pytest.mark.parametrize(
    ("layout", "location"),
    [
        ("page", "fathom-meetings.json:items[1]"),
        ("list", "fathom-meetings.json:item 1"),
        ("pages", "fathom-meetings.json:page 2 items[1]"),
        ("lines", "fathom-meetings.json:line 2"),
    ],
)
def test_a_deeply_nested_meeting_is_one_skipped_item(tmp_path: Path, layout: str, location: str) -> None:
    good, bad, other = json.dumps(meeting()), deep_meeting(777), json.dumps(meeting(888))
    body = {
        "page": f'{{"items": [{good}, {bad}, {other}]}}',
        "list": f"[{good}, {bad}, {other}]",
        "pages": f'[{{"items": [{good}]}}, {{"items": [{other}, {bad}]}}]',
        "lines": f"{good}\n{bad}\n{other}\n",
    }[layout]
    path = tmp_path / "fathom-meetings.json"
    path.write_text(body)
    result = read_fathom_meetings(path, ALL_TIME)
    assert [m.external_id for m in result.messages] == ["123456789", "888"]
    assert result.skipped == [SkippedItem(location, "nested deeper than 64 levels")]


def test_json_lines_with_a_broken_first_line_are_still_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "fathom-webhooks.jsonl"
    path.write_text('{"recording_id": 1, "tit\n' + json.dumps(meeting(999)) + "\n")
    result = read_fathom_meetings(path, ALL_TIME)
    assert [m.external_id for m in result.messages] == ["999"]
    assert [s.location for s in result.skipped] == ["fathom-webhooks.jsonl:line 1"]


def turn(speaker: str, text: str | None, timestamp: str | None) -> dict[str, Any]:
    return {"speaker": {"display_name": speaker}, "text": text, "timestamp": timestamp}


def test_turns_out_of_time_order_are_sorted_before_merging() -> None:
    body = meeting(
        transcript=[
            turn("Alice Ng", "Welcome.", "00:00:05"),
            turn("Bob Buyer", "We need SSO.", "00:01:00"),
            turn("Bob Buyer", "And SCIM.", None),  # untimed: stays after the turn before it
            turn("Alice Ng", "Agenda first.", "00:00:30"),  # listed late; said before Bob spoke
        ]
    )
    message = parse_fathom_meeting(body, internal_domains=DOMAINS)
    assert message.text == "Alice Ng: Welcome. Agenda first.\nBob Buyer: We need SSO. And SCIM."
    assert message.metadata["turns"] == [
        {"speaker": "Alice Ng", "timestamp": "00:00:05"},
        {"speaker": "Bob Buyer", "timestamp": "00:01:00"},
    ]
    assert message.metadata["speaker_turns"] == 2
    assert message.metadata["turns_reordered"] is True


def test_turns_without_text_are_counted_as_skipped() -> None:
    body = meeting(
        transcript=[
            turn("Alice Ng", "Hello.", "00:00:01"),
            turn("Bob Buyer", None, "00:00:02"),
            turn("Bob Buyer", "  ", "00:00:03"),
            42,
            turn("Bob Buyer", "Hi.", "00:00:04"),
        ]
    )
    message = parse_fathom_meeting(body, internal_domains=DOMAINS)
    assert message.text == "Alice Ng: Hello.\nBob Buyer: Hi."
    assert message.metadata["turns_skipped"] == {"turn has no text": 2, "turn is not an object": 1}
    assert "turns_reordered" not in message.metadata


def test_meetings_centuries_away_are_skipped_not_dropped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "fathom-meetings.json",
        page(
            meeting(1, recording_start_time="2300-01-01T00:00:00Z"),
            meeting(2, recording_start_time="1901-01-01T00:00:00Z"),
            meeting(3),
        ),
    )
    reason = "meeting time is implausible (before 1971 or after 2100)"
    expected = [
        SkippedItem("fathom-meetings.json:items[0] (recording 1)", reason),
        SkippedItem("fathom-meetings.json:items[1] (recording 2)", reason),
    ]
    for window in (ALL_TIME, WINDOW):
        result = read_fathom_meetings(path, window)
        assert [m.external_id for m in result.messages] == ["3"]
        assert result.skipped == expected


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    body = json.dumps(page(meeting(transcript=[turn("Bob Buyer", "PLACEHOLDER", "00:00:01")])))
    path = tmp_path / "fathom-meetings.json"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode().replace(b"PLACEHOLDER", b"caf\xe9 ok"))
    result = read_fathom_meetings(path, ALL_TIME)
    assert [m.text for m in result.messages] == ["Bob Buyer: caf\ufffd ok"]


def test_a_json_line_past_the_item_limit_is_skipped_and_the_rest_land(tmp_path: Path) -> None:
    path = tmp_path / "fathom-webhooks.jsonl"
    big = meeting(2, default_summary={"markdown_formatted": "x" * 5000})
    path.write_text("\n".join(json.dumps(m) for m in (meeting(1), big, meeting(3))) + "\n")
    result = read_fathom_meetings(path, ALL_TIME, limits=ExportLimits(max_item_bytes=4000))
    assert [m.external_id for m in result.messages] == ["1", "3"]
    assert result.skipped == [
        SkippedItem("fathom-webhooks.jsonl:line 2", "line is larger than 4000 bytes; its meeting was not read")
    ]


@pytest.mark.parametrize("layout", ["page", "pages", "lines", "list"])
def test_a_file_past_the_item_limit_is_refused(tmp_path: Path, layout: str) -> None:
    meetings = [meeting(n) for n in range(1, 4)]
    path = tmp_path / "fathom-meetings.json"
    if layout == "lines":
        path.write_text("\n".join(json.dumps(m) for m in meetings) + "\n")
    else:
        write(path, {"page": page(*meetings), "pages": [page(*meetings)], "list": meetings}[layout])
    assert len(read_fathom_meetings(path, ALL_TIME, limits=ExportLimits(max_items=3)).messages) == 3
    with pytest.raises(ExportTooLargeError, match=r"holds more than 2 items, the limit for one export file"):
        read_fathom_meetings(path, ALL_TIME, limits=ExportLimits(max_items=2))


def test_a_transcript_with_absurdly_many_turns_is_one_skipped_meeting(tmp_path: Path) -> None:
    turns = [turn("Bob Buyer" if n % 2 else "Alice Ng", f"Turn {n}.", None) for n in range(20_001)]
    path = write(tmp_path / "fathom-meetings.json", page(meeting(1, transcript=turns), meeting(2)))
    result = read_fathom_meetings(path, ALL_TIME)
    assert [m.external_id for m in result.messages] == ["2"]
    assert result.skipped == [
        SkippedItem("fathom-meetings.json:items[0] (recording 1)", "transcript has more than 20,000 turns")
    ]


@pytest.mark.parametrize("layout", ["page", "list", "pages", "lines", "single"])
def test_a_meeting_with_too_many_values_is_one_skipped_item(tmp_path: Path, layout: str) -> None:
    big = meeting(2, transcript=[turn("Bob Buyer", f"Turn {n}.", None) for n in range(400)])
    path = tmp_path / "fathom-meetings.json"
    if layout == "lines":
        path.write_text("\n".join(json.dumps(m) for m in (meeting(1), big, meeting(3))) + "\n")
    elif layout == "single":
        write(path, big)
    else:
        body = {"page": page(meeting(1), big, meeting(3)), "list": [meeting(1), big, meeting(3)]}
        write(path, body.get(layout, [page(meeting(1)), page(big, meeting(3))]))
    result = read_fathom_meetings(path, ALL_TIME, limits=ExportLimits(max_item_values=1000))
    assert [m.external_id for m in result.messages] == ([] if layout == "single" else ["1", "3"])
    assert [s.reason for s in result.skipped] == ["holds more than 1,000 JSON values"]


@pytest.mark.parametrize(("data", "passes"), [(page(meeting()), 2), ([meeting()], 3), ([page(meeting())], 3)])
def test_a_file_past_the_token_budget_is_refused_before_parsing(tmp_path: Path, data: Any, passes: int) -> None:
    path = write(tmp_path / "fathom-meetings.json", data)
    raw = path.read_bytes()
    tokens = 1 + sum(raw.count(mark) for mark in (b"[", b"{", b",", b":"))
    assert read_fathom_meetings(path, ALL_TIME, limits=ExportLimits(max_json_tokens=tokens * passes)).messages
    with pytest.raises(
        ExportTooLargeError, match=rf"holds about {tokens:,} JSON tokens and is read in {passes} passes"
    ):
        read_fathom_meetings(path, ALL_TIME, limits=ExportLimits(max_json_tokens=tokens * passes - 1))
