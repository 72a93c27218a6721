"""Reader for Fathom Meeting objects (vendor-apis.md §4.1, §4.5), and the one-meeting parser.

The API's `/meetings` items and the "new meeting content ready" webhook bodies share one Meeting
shape, so `parse_fathom_meeting` serves the export reader, the live API reader and the webhook
receiver alike. A file may be a `/meetings` page (`{"items": [...]}`), a JSON list of Meeting
objects or of pages, or JSON Lines of webhook bodies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from headway_assets.sources.fields import mapping_field, text_field, utc_time_field
from headway_assets.sources.message import NormalisedMessage, ReadResult, SourceReadError, TimeWindow
from headway_assets.sources.people import (
    company_from_domain,
    email_domain,
    is_internal_domain,
    most_common,
    normalise_domains,
    normalise_email,
)
from headway_assets.warehouse.schema import SourceKind


class FathomMeetingError(ValueError):
    """A Meeting object that cannot become a message; the text says why."""


@dataclass(frozen=True, slots=True)
class _Invitee:
    name: str | None
    email: str | None
    domain: str | None
    is_external: bool | None
    speaker_name: str | None


def fathom_recording_id(meeting: Mapping[str, Any]) -> str | None:
    """The meeting's key, `recording_id` (an integer in the API), as a string; None when absent."""
    value = meeting.get("recording_id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return str(int(value.strip()))
    return None


def fathom_meeting_time(meeting: Mapping[str, Any]) -> datetime | None:
    """When the meeting happened: `recording_start_time`, else `scheduled_start_time`, else `created_at`."""
    for key in ("recording_start_time", "scheduled_start_time", "created_at"):
        moment = utc_time_field(meeting.get(key))
        if moment is not None:
            return moment
    return None


def parse_fathom_meeting(meeting: Mapping[str, Any], *, internal_domains: Iterable[str] = ()) -> NormalisedMessage:
    """Turn one Fathom Meeting object (API item or webhook body) into a message.

    The text is the transcript with speaker names, consecutive lines of one speaker joined;
    each turn's "HH:MM:SS" timestamp is kept in `metadata["turns"]`. The customer is the company
    of the external calendar invitees; the author is the first external speaker. Raises
    `FathomMeetingError` when there is no `recording_id`, no time, or no transcript.
    """
    domains = normalise_domains(internal_domains)
    recording_id = fathom_recording_id(meeting)
    if recording_id is None:
        raise FathomMeetingError(f"meeting has no recording_id (got {meeting.get('recording_id')!r})")
    sent_at = fathom_meeting_time(meeting)
    if sent_at is None:
        raise FathomMeetingError(
            f"meeting {recording_id} has no recording_start_time, scheduled_start_time or created_at"
        )
    raw_transcript = meeting.get("transcript")
    if not isinstance(raw_transcript, list) or not raw_transcript:
        raise FathomMeetingError(
            f"meeting {recording_id} has no transcript (exported or delivered without include_transcript=true)"
        )

    invitees = [_invitee(i, domains) for i in meeting.get("calendar_invitees") or [] if isinstance(i, Mapping)]
    recorded_by = mapping_field(meeting.get("recorded_by"))
    recorder_email = normalise_email(text_field(recorded_by.get("email")))

    turns: list[dict[str, Any]] = []
    texts: list[list[str]] = []
    for item in raw_transcript:
        if not isinstance(item, Mapping) or not text_field(item.get("text")):
            continue
        speaker = mapping_field(item.get("speaker"))
        name = text_field(speaker.get("display_name"))
        invitee = _match_invitee(speaker, invitees)
        email = normalise_email(text_field(speaker.get("matched_calendar_invitee_email"))) or (
            invitee.email if invitee else None
        )
        display = name or (invitee.name if invitee else None) or email or "Unknown speaker"
        if turns and turns[-1]["speaker"] == display:
            texts[-1].append(str(item["text"]).strip())
            continue
        turns.append(
            {
                "speaker": display,
                "email": email,
                "timestamp": text_field(item.get("timestamp")),
                "is_internal": _speaker_internal(email, invitee, recorder_email, domains),
            }
        )
        texts.append([str(item["text"]).strip()])
    if not turns:
        raise FathomMeetingError(f"meeting {recording_id} has a transcript with no text")

    lines = [f"{turn['speaker']}: {' '.join(parts)}" for turn, parts in zip(turns, texts, strict=True)]
    author = next((t for t in turns if t["is_internal"] is False), turns[0])
    external = [i for i in invitees if i.is_external]
    companies = [company_from_domain(i.domain) for i in external]
    customer = most_common(companies) or most_common(
        company_from_domain(email_domain(t["email"])) for t in turns if t["is_internal"] is False
    )

    metadata: dict[str, Any] = {
        "recording_id": recording_id,
        "turns": [{"speaker": t["speaker"], "timestamp": t["timestamp"]} for t in turns],
        "calendar_invitees": [{"name": i.name, "email": i.email, "is_external": i.is_external} for i in invitees],
    }
    if recorded_by:
        metadata["recorded_by"] = {k: recorded_by.get(k) for k in ("name", "email", "team") if recorded_by.get(k)}
    start, end = (
        utc_time_field(meeting.get("recording_start_time")),
        utc_time_field(meeting.get("recording_end_time")),
    )
    if start and end and end >= start:
        metadata["duration_seconds"] = int((end - start).total_seconds())
    for key in (
        "meeting_title",
        "scheduled_start_time",
        "transcript_language",
        "meeting_type",
        "calendar_invitees_domains_type",
    ):
        if text_field(meeting.get(key)):
            metadata[key] = meeting[key]
    summary = meeting.get("default_summary")
    if isinstance(summary, Mapping) and text_field(summary.get("markdown_formatted")):
        metadata["summary"] = summary["markdown_formatted"]
    actions = [
        str(a["description"])
        for a in meeting.get("action_items") or []
        if isinstance(a, Mapping) and text_field(a.get("description"))
    ]
    if actions:
        metadata["action_items"] = actions
    if len({c for c in companies if c}) > 1:
        metadata["customers"] = sorted({c for c in companies if c})
    unknown = [t["speaker"] for t in turns if t["speaker"] == "Unknown speaker"]
    if unknown:
        metadata["unknown_speaker_turns"] = len(unknown)

    return NormalisedMessage(
        source=SourceKind.FATHOM,
        external_id=recording_id,
        sent_at=sent_at,
        text="\n".join(lines),
        channel="fathom",
        author_name=author["speaker"] if author["speaker"] != "Unknown speaker" else None,
        author_email=author["email"],
        author_is_internal=author["is_internal"],
        customer=customer,
        title=text_field(meeting.get("title")) or text_field(meeting.get("meeting_title")),
        url=text_field(meeting.get("share_url")) or text_field(meeting.get("url")),
        metadata=metadata,
    )


def read_fathom_meetings(
    path: Path,
    window: TimeWindow,
    *,
    internal_domains: tuple[str, ...] = (),
) -> ReadResult:
    """Read the Fathom meetings of a JSON / JSON Lines file that happened inside `window`.

    Raises `SourceReadError` when the file is missing or neither JSON nor JSON Lines. A meeting
    without `recording_id`, time or transcript becomes a skipped item naming it.
    """
    result = ReadResult()
    seen: set[str] = set()
    for location, meeting in _load_meetings(path, result):
        moment = fathom_meeting_time(meeting)
        if moment is not None and not window.contains(moment):
            continue
        recording_id = fathom_recording_id(meeting)
        if recording_id is not None:
            location = f"{location} (recording {recording_id})"
        try:
            message = parse_fathom_meeting(meeting, internal_domains=internal_domains)
        except FathomMeetingError as exc:
            result.skip(location, str(exc))
            continue
        if message.external_id in seen:
            result.ignored["duplicate"] = result.ignored.get("duplicate", 0) + 1
            continue
        seen.add(message.external_id)
        result.messages.append(message)
    result.messages.sort(key=lambda m: (m.sent_at, m.external_id))
    return result


def _load_meetings(path: Path, result: ReadResult) -> list[tuple[str, Mapping[str, Any]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise SourceReadError(
            f"Fathom file {path} does not exist; check the path, or save /meetings?include_transcript=true "
            "responses (or webhook bodies, one per line) there."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceReadError(f"Fathom file {path} cannot be read as UTF-8 text ({exc}).") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as whole_error:
        return _load_json_lines(path, text, whole_error, result)
    meetings: list[tuple[str, Mapping[str, Any]]] = []
    _collect(data, path.name, meetings, result, top=True)
    if not meetings and not _is_empty_container(data):
        raise SourceReadError(
            f"Fathom file {path} holds no Meeting objects; it should be a /meetings response "
            '({"items": [...]}), a JSON list of meetings or pages, or JSON Lines of webhook bodies.'
        )
    return meetings


def _load_json_lines(
    path: Path, text: str, whole_error: json.JSONDecodeError, result: ReadResult
) -> list[tuple[str, Mapping[str, Any]]]:
    meetings: list[tuple[str, Mapping[str, Any]]] = []
    parsed_any = False
    bad: list[tuple[int, json.JSONDecodeError]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append((number, exc))
            continue
        parsed_any = True
        _collect(value, f"{path.name}:line {number}", meetings, result, top=False)
    if not parsed_any:
        raise SourceReadError(
            f"Fathom file {path} is neither JSON nor JSON Lines ({whole_error}); re-save the API responses "
            "or webhook bodies as JSON."
        )
    for number, error in bad:
        result.skip(f"{path.name}:line {number}", f"line is not valid JSON ({error}); its meeting was not read")
    return meetings


def _collect(
    value: Any, where: str, meetings: list[tuple[str, Mapping[str, Any]]], result: ReadResult, *, top: bool
) -> None:
    """Flatten pages and lists into (location, meeting) pairs."""
    if isinstance(value, Mapping) and isinstance(value.get("items"), list):
        for index, item in enumerate(value["items"]):
            _collect_meeting(item, f"{where}{':' if top else ' '}items[{index}]", meetings, result)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, Mapping) and isinstance(item.get("items"), list):
                _collect(item, f"{where}{':' if top else ' '}page {index + 1}", meetings, result, top=False)
            else:
                _collect_meeting(item, f"{where}{':' if top else ' '}item {index}", meetings, result)
    elif top:
        _collect_meeting(value, f"{where}:meeting", meetings, result)
    else:
        _collect_meeting(value, where, meetings, result)


def _collect_meeting(value: Any, where: str, meetings: list[tuple[str, Mapping[str, Any]]], result: ReadResult) -> None:
    if isinstance(value, Mapping) and _looks_like_meeting(value):
        meetings.append((where, value))
    else:
        result.skip(where, "entry is not a Fathom Meeting object (no recording_id, title or transcript)")


def _looks_like_meeting(value: Mapping[str, Any]) -> bool:
    keys = (
        "recording_id",
        "transcript",
        "title",
        "meeting_title",
        "recording_start_time",
        "calendar_invitees",
    )
    return any(key in value for key in keys)


def _is_empty_container(data: Any) -> bool:
    return (isinstance(data, list) and not data) or (isinstance(data, Mapping) and data.get("items") == [])


def _invitee(raw: Mapping[str, Any], domains: tuple[str, ...]) -> _Invitee:
    email = normalise_email(text_field(raw.get("email")))
    domain = (text_field(raw.get("email_domain")) or email_domain(email) or "").lower() or None
    flag = raw.get("is_external")
    is_external = flag if isinstance(flag, bool) else None
    if is_external is None:
        internal = is_internal_domain(domain, domains)
        is_external = None if internal is None else not internal
    return _Invitee(
        name=text_field(raw.get("name")),
        email=email,
        domain=domain,
        is_external=is_external,
        speaker_name=text_field(raw.get("matched_speaker_display_name")),
    )


def _match_invitee(speaker: Mapping[str, Any], invitees: list[_Invitee]) -> _Invitee | None:
    email = normalise_email(text_field(speaker.get("matched_calendar_invitee_email")))
    if email:
        found = next((i for i in invitees if i.email == email), None)
        if found:
            return found
    name = (text_field(speaker.get("display_name")) or "").casefold()
    if not name:
        return None
    return next((i for i in invitees if (i.speaker_name or "").casefold() == name), None) or next(
        (i for i in invitees if (i.name or "").casefold() == name), None
    )


def _speaker_internal(
    email: str | None, invitee: _Invitee | None, recorder_email: str | None, domains: tuple[str, ...]
) -> bool | None:
    if invitee is not None and invitee.is_external is not None:
        return not invitee.is_external
    if email and recorder_email and email == recorder_email:
        return True
    return is_internal_domain(email_domain(email), domains)
