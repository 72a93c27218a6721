"""One Fathom Meeting object (as the API, the webhook and the export all carry it) -> `NormalisedMessage`.

Shared by the export reader (`sources/fathom/export.py`), the live client and the webhook
(`sources/fathom/webhook.py`); it reads no files, so the read API, which serves the webhook,
loads no export parser (issue 13).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from headway_assets.core.message import NormalisedMessage
from headway_assets.sources.fathom import SOURCE
from headway_assets.sources.fields import mapping_field, text_field, utc_time_field
from headway_assets.sources.people import (
    company_from_domain,
    email_domain,
    is_internal_domain,
    most_common,
    normalise_domains,
    normalise_email,
)
from headway_assets.sources.transcripts import MAX_TRANSCRIPT_TURNS, time_ordered


class FathomMeetingError(ValueError):
    """A Meeting object that cannot become a message; the text says why.

    `reason` is the same without the recording id: a stable phrase, so skips of many meetings
    for one reason count together (the id is in the skipped item's location).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


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
        raise FathomMeetingError(
            f"meeting has no recording_id (got {meeting.get('recording_id')!r})", "meeting has no recording_id"
        )
    sent_at = fathom_meeting_time(meeting)
    if sent_at is None:
        raise FathomMeetingError(
            f"meeting {recording_id} has no recording_start_time, scheduled_start_time or created_at",
            "meeting has no recording_start_time, scheduled_start_time or created_at",
        )
    raw_transcript = meeting.get("transcript")
    if not isinstance(raw_transcript, list) or not raw_transcript:
        raise FathomMeetingError(
            f"meeting {recording_id} has no transcript (exported or delivered without include_transcript=true)",
            "meeting has no transcript (exported or delivered without include_transcript=true)",
        )

    if len(raw_transcript) > MAX_TRANSCRIPT_TURNS:
        raise FathomMeetingError(
            f"meeting {recording_id} has {len(raw_transcript):,} transcript turns, more than {MAX_TRANSCRIPT_TURNS:,}",
            f"transcript has more than {MAX_TRANSCRIPT_TURNS:,} turns",
        )
    invitees = [_invitee(i, domains) for i in meeting.get("calendar_invitees") or [] if isinstance(i, Mapping)]
    recorded_by = mapping_field(meeting.get("recorded_by"))
    recorder_email = normalise_email(text_field(recorded_by.get("email")))

    turns: list[dict[str, Any]] = []
    texts: list[list[str]] = []
    turns_skipped: dict[str, int] = {}
    timed: list[tuple[float | None, Mapping[str, Any]]] = []
    for item in raw_transcript:
        if not isinstance(item, Mapping):
            turns_skipped["turn is not an object"] = turns_skipped.get("turn is not an object", 0) + 1
        elif not text_field(item.get("text")):
            turns_skipped["turn has no text"] = turns_skipped.get("turn has no text", 0) + 1
        else:
            timed.append((_seconds(item.get("timestamp")), item))
    ordered = time_ordered(timed)  # exports can list turns out of order; merge only once ordered
    for item in ordered:
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
        raise FathomMeetingError(
            f"meeting {recording_id} has a transcript with no text", "meeting has a transcript with no text"
        )

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
        "speaker_turns": len(turns),
    }
    if turns_skipped:
        metadata["turns_skipped"] = turns_skipped  # {reason: count}, so nothing vanishes unseen
    if [id(item) for _, item in timed] != [id(item) for item in ordered]:
        metadata["turns_reordered"] = True
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
        source=SOURCE,
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


def _seconds(value: Any) -> float | None:
    """A transcript `timestamp` ("HH:MM:SS", "MM:SS", fractions allowed) in seconds; None when unreadable."""
    text = text_field(value)
    if text is None:
        return None
    total = 0.0
    try:
        for part in text.split(":"):
            number = float(part)
            if not 0 <= number < 1e7:  # also rejects nan and inf
                return None
            total = total * 60 + number
    except ValueError:
        return None
    return total


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
