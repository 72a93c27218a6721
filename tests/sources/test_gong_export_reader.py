"""The Gong call-JSON reader, on files in the API's response shapes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headway_assets.core.message import ReadResult, SkippedItem, SourceReadError, TimeWindow
from headway_assets.sources.exports.limits import ExportLimits, ExportTooLargeError
from headway_assets.sources.gong.export import (
    GongCallError,
    build_gong_message,
    read_gong_transcripts,
)

WINDOW = TimeWindow(datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC))
DOMAINS = ("acme.example",)


def call(call_id: str, started: str | None, *, parties: list[dict[str, Any]] | None = None, **meta: Any) -> dict:
    body: dict[str, Any] = {
        "metaData": {
            "id": call_id,
            "url": f"https://app.gong.io/call?id={call_id}",
            "title": f"Call {call_id}",
            "started": started,
            "duration": 1860,
            "direction": "Conference",
            "system": "Zoom",
            "scope": "External",
            "language": "eng",
            **meta,
        },
        "content": {"topics": [{"name": "Pricing", "duration": 320}, {"name": "Security", "duration": 100}]},
    }
    if parties is not None:
        body["parties"] = parties
    return body


def monologue(speaker: str, *sentences: str) -> dict[str, Any]:
    return {
        "speakerId": speaker,
        "topic": None,
        "sentences": [{"start": 1000 * i, "end": 1000 * i + 900, "text": s} for i, s in enumerate(sentences)],
    }


PARTIES: list[dict[str, Any]] = [
    {
        "id": "p1",
        "emailAddress": "rita@acme.example",
        "name": "Rita Rep",
        "title": "AE",
        "userId": "u1",
        "speakerId": "6432345678555530067",
        "affiliation": "Internal",
        "methods": ["Invitee", "Attendee"],
    },
    {
        "id": "p2",
        "emailAddress": "Bob@Globex-Corp.example",
        "name": "Bob Buyer",
        "speakerId": "1212345678555530099",
        "affiliation": "External",
        "methods": ["Attendee"],
    },
    {"id": "p3", "emailAddress": "dan@globex-corp.example", "name": "Dan Silent", "affiliation": "External"},
]
RITA, BOB = "6432345678555530067", "1212345678555530099"

CALLS_PAGE: dict[str, Any] = {
    "requestId": "r1",
    "records": {"totalRecords": 6, "currentPageSize": 6, "currentPageNumber": 0},
    "calls": [
        call("1001", "2026-10-03T15:01:12Z", parties=PARTIES),
        call("1002", "2026-10-03T09:00:00+02:00", system=None, direction="Outbound"),  # no parties
        call("1003", "2026-10-03T16:00:00Z", parties=PARTIES),  # no transcript
        call("1005", "2026-10-05T10:00:00Z", parties=PARTIES),  # outside the window
        call("1006", None, parties=PARTIES, scheduled="2026-10-03T18:00:00Z"),  # scheduled only
        call("1007", "2026-10-03T19:00:00Z", parties=PARTIES),  # transcript without sentences
    ],
}
TRANSCRIPTS_PAGE: dict[str, Any] = {
    "requestId": "r2",
    "records": {"totalRecords": 6, "currentPageSize": 6, "currentPageNumber": 0},
    "callTranscripts": [
        {
            "callId": "1001",
            "transcript": [
                monologue(RITA, "Let's walk through the renewal.", "The quote includes new seats."),
                monologue(RITA, "Also SSO."),
                monologue(BOB, "Can we lock that price for two years?", "And we need SCIM — très important 🙏"),
                monologue("999", "Hi, sorry I'm late."),
                monologue(RITA, "Sure."),
            ],
        },
        {"callId": "1002", "transcript": [monologue("s-a", "Hello from outbound.")]},
        {"callId": "1004", "transcript": [monologue(RITA, "Orphan transcript.")]},
        {"callId": "1005", "transcript": [monologue(RITA, "Later call.")]},
        {"callId": "1006", "transcript": [monologue(BOB, "Scheduled-only call.")]},
        {
            "callId": "1007",
            "transcript": [{"speakerId": RITA, "sentences": [{"start": 0, "end": 1, "text": "  "}]}],
        },
    ],
}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def read(path: Path) -> ReadResult:
    return read_gong_transcripts(path, WINDOW, internal_domains=DOMAINS)


def test_one_message_per_call_with_speaker_attributed_text(tmp_path: Path) -> None:
    result = read(write(tmp_path / "gong-calls.json", [CALLS_PAGE, TRANSCRIPTS_PAGE]))
    assert [m.external_id for m in result.messages] == ["1002", "1001", "1006"]
    first = result.messages[1]
    assert first.text == (
        "Rita Rep: Let's walk through the renewal. The quote includes new seats. Also SSO.\n"
        "Bob Buyer: Can we lock that price for two years? And we need SCIM — très important 🙏\n"
        "Unknown speaker 999: Hi, sorry I'm late.\n"
        "Rita Rep: Sure."
    )
    assert first.sent_at == datetime(2026, 10, 3, 15, 1, 12, tzinfo=UTC)
    assert first.title == "Call 1001"
    assert first.url == "https://app.gong.io/call?id=1001"
    assert first.channel == "gong:zoom"
    assert first.author_name == "Bob Buyer"
    assert first.author_email == "bob@globex-corp.example"
    assert first.author_is_internal is False
    assert first.customer == "Globex Corp"
    assert first.thread_id is None
    assert first.metadata["unknown_speaker_count"] == 1
    assert first.metadata["unknown_speaker_ids"] == ["999"]
    assert first.metadata["topics"] == ["Pricing", "Security"]
    assert first.metadata["duration_seconds"] == 1860
    assert first.metadata["speaker_turns"] == 4
    assert [p["name"] for p in first.metadata["parties"]] == ["Rita Rep", "Bob Buyer", "Dan Silent"]
    assert "parties_missing" not in first.metadata


def test_call_without_parties_is_ingested_and_flagged(tmp_path: Path) -> None:
    result = read(write(tmp_path / "gong-calls.json", [CALLS_PAGE, TRANSCRIPTS_PAGE]))
    outbound = result.messages[0]
    assert outbound.external_id == "1002"
    assert outbound.sent_at == datetime(2026, 10, 3, 7, 0, tzinfo=UTC)
    assert outbound.text == "Unknown speaker s-a: Hello from outbound."
    assert outbound.metadata["parties_missing"] is True
    assert outbound.metadata["unknown_speaker_count"] == 1
    assert outbound.channel == "gong:outbound"
    assert outbound.author_name is None
    assert outbound.customer is None


def test_scheduled_time_is_the_fallback(tmp_path: Path) -> None:
    result = read(write(tmp_path / "gong-calls.json", [CALLS_PAGE, TRANSCRIPTS_PAGE]))
    scheduled = result.messages[2]
    assert scheduled.sent_at == datetime(2026, 10, 3, 18, 0, tzinfo=UTC)
    assert scheduled.text == "Bob Buyer: Scheduled-only call."


def test_missing_transcripts_and_metadata_are_skipped_with_reasons(tmp_path: Path) -> None:
    result = read(write(tmp_path / "gong-calls.json", [CALLS_PAGE, TRANSCRIPTS_PAGE]))
    assert result.skipped == [
        SkippedItem(
            "gong-calls.json:call 1003",
            "call has no transcript in callTranscripts; fetch it with POST /v2/calls/transcript for this "
            "call id and add it to the file",
        ),
        SkippedItem("gong-calls.json:call 1007", "transcript has no sentences"),  # the id is in the location
        SkippedItem(
            "gong-calls.json:transcript 1004",
            "transcript has no call metadata in calls[] (so no start time, title or parties); fetch the call "
            "with POST /v2/calls/extensive and add it to the file",
        ),
    ]
    assert result.ignored == {}


def test_single_response_object_shape(tmp_path: Path) -> None:
    combined = {"calls": CALLS_PAGE["calls"][:1], "callTranscripts": TRANSCRIPTS_PAGE["callTranscripts"][:1]}
    result = read(write(tmp_path / "gong-calls.json", combined))
    assert [m.external_id for m in result.messages] == ["1001"]
    assert result.skipped == []


def test_without_affiliation_the_domain_decides(tmp_path: Path) -> None:
    parties = [{k: v for k, v in p.items() if k != "affiliation"} for p in PARTIES]
    message = build_gong_message(
        call("2001", "2026-10-03T10:00:00Z", parties=parties),
        {"callId": "2001", "transcript": [monologue(RITA, "Hi."), monologue(BOB, "We need SCIM.")]},
        internal_domains=DOMAINS,
    )
    assert message.author_name == "Bob Buyer"
    assert message.author_is_internal is False
    assert message.customer == "Globex Corp"


def test_build_refuses_calls_it_cannot_date_or_read() -> None:
    with pytest.raises(GongCallError, match=r"call 3001 has no parseable metaData\.started or metaData\.scheduled"):
        build_gong_message(call("3001", None), {"callId": "3001", "transcript": [monologue(RITA, "x")]})
    with pytest.raises(GongCallError, match=r"call has no metaData\.id"):
        build_gong_message({"metaData": {"started": "2026-10-03T10:00:00Z"}}, {"transcript": []})


def test_bad_files_raise_with_advice(tmp_path: Path) -> None:
    with pytest.raises(SourceReadError, match=r"gong-calls\.json does not exist"):
        read(tmp_path / "gong-calls.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"calls": [')
    with pytest.raises(SourceReadError, match=r"broken\.json is not valid JSON \(Expecting value"):
        read(broken)
    other = write(tmp_path / "other.json", {"users": []})
    with pytest.raises(SourceReadError, match="holds no 'calls' or 'callTranscripts'"):
        read(other)


def test_non_page_items_in_a_list_are_skipped(tmp_path: Path) -> None:
    result = read(write(tmp_path / "gong-calls.json", [CALLS_PAGE, "oops", TRANSCRIPTS_PAGE]))
    assert (
        SkippedItem("gong-calls.json:page 2", "item is not a Gong response page (no calls or callTranscripts)")
        in result.skipped
    )
    assert [m.external_id for m in result.messages] == ["1002", "1001", "1006"]


# -- hostile files (issue 12) -------------------------------------------------------------------

ALL_TIME = TimeWindow(datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", r"is empty \(0 bytes\)"),
        (b"  \n", r"is not valid JSON \(the file holds only whitespace\)"),
        (b'{"calls": [{"metaData": {"id": "1"', r"is not valid JSON \(.*truncated\?\)"),
        (b'{"calls": "x"}', r"'calls' is a string, not a list"),
        (b'{"callTranscripts": 5}', r"'callTranscripts' is a number, not a list"),
        (b'{"calls": [], "callTranscripts": {"callId": "1"}}', r"'callTranscripts' is an object, not a list"),
        (b"5", r"holds a number at the top"),
        (b'"calls"', r"holds a string at the top"),
        (b"{}", r"holds no 'calls' or 'callTranscripts'"),
        (b'{"calls": []}\n{"calls": []}\n', r"is not valid JSON \(more than one JSON value"),
    ],
)
def test_empty_truncated_and_wrongly_shaped_files_are_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "gong-calls.json"
    path.write_bytes(content)
    with pytest.raises(
        SourceReadError, match=rf"^Gong file {re.escape(str(path))} (is not a Gong response: )?{reason}"
    ):
        read_gong_transcripts(path, ALL_TIME)


@pytest.mark.parametrize(
    "data", [{"calls": []}, [], {"calls": [], "callTranscripts": []}, {"calls": None, "callTranscripts": []}]
)
def test_legitimately_empty_files_read_as_nothing(tmp_path: Path, data: Any) -> None:
    assert read_gong_transcripts(write(tmp_path / "gong-calls.json", data), ALL_TIME) == ReadResult()


def test_file_past_the_size_limit_is_refused_with_a_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "gong-calls.json", [CALLS_PAGE, TRANSCRIPTS_PAGE])
    with pytest.raises(ExportTooLargeError, match=r"past the 0 MiB limit for one JSON export file; split it"):
        read_gong_transcripts(path, ALL_TIME, limits=ExportLimits(max_json_bytes=1000))


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("pages", [False, True])
def test_a_deeply_nested_call_is_one_skipped_item(tmp_path: Path, pages: bool) -> None:
    good = call("1001", "2026-10-03T15:01:12Z", parties=PARTIES)
    bad = json.dumps(call("1009", "2026-10-03T16:01:12Z", parties=PARTIES))[:-1] + f', "customData": {deep(100_000)}}}'
    transcripts = json.dumps(TRANSCRIPTS_PAGE["callTranscripts"][:1])
    body = f'{{"calls": [{json.dumps(good)}, {bad}], "callTranscripts": {transcripts}}}'
    path = tmp_path / "gong-calls.json"
    path.write_text(f"[{body}]" if pages else body)
    result = read_gong_transcripts(path, ALL_TIME)
    assert [m.external_id for m in result.messages] == ["1001"]
    assert result.skipped == [SkippedItem("gong-calls.json:calls[1]", "nested deeper than 64 levels")]


def timed(speaker: str, start: int | None, text: str | None) -> dict[str, Any]:
    return {"speakerId": speaker, "topic": None, "sentences": [{"start": start, "end": None, "text": text}]}


def test_turns_out_of_time_order_are_sorted_before_merging() -> None:
    transcript = {
        "callId": "4001",
        "transcript": [
            timed(RITA, 0, "Welcome."),
            timed(RITA, 9000, "So, pricing."),  # listed early; it came after Bob spoke
            timed(BOB, 4000, "Thanks for having us."),
            timed(BOB, 2000, "Hi all."),
            timed(BOB, None, "Untimed, stays after its neighbour."),
        ],
    }
    message = build_gong_message(call("4001", "2026-10-03T10:00:00Z", parties=PARTIES), transcript)
    assert message.text == (
        "Rita Rep: Welcome.\n"
        "Bob Buyer: Hi all. Untimed, stays after its neighbour. Thanks for having us.\n"
        "Rita Rep: So, pricing."
    )
    assert message.metadata["speaker_turns"] == 3
    assert message.metadata["turns_reordered"] is True


def test_turns_without_text_are_counted_as_skipped() -> None:
    transcript = {
        "callId": "4002",
        "transcript": [
            timed(RITA, 0, "Hello."),
            timed(BOB, 1000, None),
            timed(BOB, 2000, "   "),
            {"speakerId": BOB, "sentences": None},
            "not a turn",
            timed(BOB, 3000, "We need SSO."),
        ],
    }
    message = build_gong_message(call("4002", "2026-10-03T10:00:00Z", parties=PARTIES), transcript)
    assert message.text == "Rita Rep: Hello.\nBob Buyer: We need SSO."
    assert message.metadata["turns_skipped"] == {"turn has no text": 3, "turn is not an object": 1}
    assert "turns_reordered" not in message.metadata


def test_calls_centuries_away_are_skipped_not_dropped(tmp_path: Path) -> None:
    page = {
        "calls": [
            call("5001", "2300-01-01T00:00:00Z"),
            call("5002", "1901-06-01T00:00:00Z"),
            call("5003", "2026-10-03T12:00:00Z"),
        ],
        "callTranscripts": [{"callId": c, "transcript": [monologue(RITA, "Hi.")]} for c in ("5001", "5002", "5003")],
    }
    result = read_gong_transcripts(write(tmp_path / "gong-calls.json", page), ALL_TIME)
    assert [m.external_id for m in result.messages] == ["5003"]
    reason = "call time is implausible (before 1971 or after 2100)"
    assert result.skipped == [
        SkippedItem("gong-calls.json:call 5001", reason),
        SkippedItem("gong-calls.json:call 5002", reason),
    ]
    # A daily window sees them too: they are never silently outside every window.
    assert len(read_gong_transcripts(tmp_path / "gong-calls.json", WINDOW).skipped) == 2


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    body = json.dumps(
        {
            "calls": [call("6001", "2026-10-03T12:00:00Z", parties=PARTIES)],
            "callTranscripts": [{"callId": "6001", "transcript": [monologue(BOB, "Caf\u00e9 PLACEHOLDER")]}],
        }
    )
    path = tmp_path / "gong-calls.json"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode().replace(b"PLACEHOLDER", b"\xff\xfe ok"))
    result = read_gong_transcripts(path, ALL_TIME)
    assert [m.text for m in result.messages] == ["Bob Buyer: Caf\u00e9 \ufffd\ufffd ok"]


def test_entries_of_a_list_of_pages_are_located_in_their_page(tmp_path: Path) -> None:
    pages = [
        {"calls": [call("7001", "2026-10-03T10:00:00Z"), call("7002", "2026-10-03T11:00:00Z")]},
        "oops",
        {"calls": [call("7003", "2026-10-03T12:00:00Z"), 17], "callTranscripts": [{"transcript": []}]},
        {"calls": "x"},
    ]
    result = read_gong_transcripts(write(tmp_path / "gong-calls.json", pages), ALL_TIME)
    assert result.skipped[:4] == [
        SkippedItem("gong-calls.json:page 2", "item is not a Gong response page (no calls or callTranscripts)"),
        SkippedItem("gong-calls.json:page 4", "page's calls is not a list"),
        SkippedItem("gong-calls.json:page 3 calls[1]", "call entry is not a JSON object"),
        SkippedItem("gong-calls.json:page 3 callTranscripts[0]", "transcript entry has no callId"),
    ]


@pytest.mark.parametrize("pages", [False, True])
def test_a_file_past_the_item_limit_is_refused(tmp_path: Path, pages: bool) -> None:
    data = [CALLS_PAGE, TRANSCRIPTS_PAGE] if pages else {**CALLS_PAGE, **TRANSCRIPTS_PAGE}
    path = write(tmp_path / "gong-calls.json", data)  # 6 calls and 6 transcripts
    assert read_gong_transcripts(path, ALL_TIME, limits=ExportLimits(max_items=12)).messages
    with pytest.raises(ExportTooLargeError, match=r"holds more than 11 items, the limit for one export file"):
        read_gong_transcripts(path, ALL_TIME, limits=ExportLimits(max_items=11))


def test_a_transcript_with_absurdly_many_turns_is_one_skipped_call(tmp_path: Path) -> None:
    turns = [timed(RITA if n % 2 else BOB, n * 1000, f"Turn {n}.") for n in range(20_001)]
    page = {
        "calls": [call("8001", "2026-10-03T10:00:00Z", parties=PARTIES), call("8002", "2026-10-03T11:00:00Z")],
        "callTranscripts": [{"callId": "8001", "transcript": turns}, {"callId": "8002", "transcript": turns[:3]}],
    }
    result = read_gong_transcripts(write(tmp_path / "gong-calls.json", page), ALL_TIME)
    assert [m.external_id for m in result.messages] == ["8002"]
    assert result.skipped == [SkippedItem("gong-calls.json:call 8001", "transcript has more than 20,000 turns")]


@pytest.mark.parametrize("pages", [False, True])
def test_a_transcript_with_too_many_values_is_one_skipped_item(tmp_path: Path, pages: bool) -> None:
    big = {"callId": "9001", "transcript": [timed(BOB, n, f"Turn {n}.") for n in range(300)]}
    data = {
        "calls": [call("9001", "2026-10-03T10:00:00Z", parties=PARTIES), call("9002", "2026-10-03T11:00:00Z")],
        "callTranscripts": [big, {"callId": "9002", "transcript": [timed(BOB, 0, "Hi.")]}],
    }
    path = write(tmp_path / "gong-calls.json", [data] if pages else data)
    result = read_gong_transcripts(path, ALL_TIME, limits=ExportLimits(max_item_values=1000))
    assert [m.external_id for m in result.messages] == ["9002"]
    assert result.skipped == [  # a one-page list is located like a single response
        SkippedItem("gong-calls.json:callTranscripts[0]", "holds more than 1,000 JSON values"),
        SkippedItem(
            "gong-calls.json:call 9001", "call has no readable transcript; see the skipped callTranscripts entries"
        ),
    ]


@pytest.mark.parametrize(("pages", "passes"), [(False, 3), (True, 4)])
def test_a_file_past_the_token_budget_is_refused_before_parsing(tmp_path: Path, pages: bool, passes: int) -> None:
    data = [CALLS_PAGE, TRANSCRIPTS_PAGE] if pages else {**CALLS_PAGE, **TRANSCRIPTS_PAGE}
    path = write(tmp_path / "gong-calls.json", data)
    raw = path.read_bytes()
    tokens = 1 + sum(raw.count(mark) for mark in (b"[", b"{", b",", b":"))
    assert read_gong_transcripts(path, ALL_TIME, limits=ExportLimits(max_json_tokens=tokens * passes)).messages
    with pytest.raises(
        ExportTooLargeError, match=rf"holds about {tokens:,} JSON tokens and is read in {passes} passes"
    ):
        read_gong_transcripts(path, ALL_TIME, limits=ExportLimits(max_json_tokens=tokens * passes - 1))
