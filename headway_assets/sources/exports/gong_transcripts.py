"""Reader for Gong call JSON in the API's own shapes (vendor-apis.md §3).

Gong has no bulk export file, so backfills store API response bodies verbatim: a file holds
`{"calls": [...], "callTranscripts": [...]}` (calls from `/v2/calls/extensive` with `parties`,
transcripts from `/v2/calls/transcript`), or a JSON list of such response pages. One call
becomes one message: its speaker-attributed transcript.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from headway_assets.sources.fields import text_field, utc_time_field
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


class GongCallError(ValueError):
    """A call (or transcript) that cannot become a message; the text says why."""


@dataclass(frozen=True, slots=True)
class _Party:
    name: str | None
    email: str | None
    affiliation: str | None
    speaker_id: str | None
    title: str | None
    account: str | None
    is_internal: bool | None


def gong_call_id(call: Mapping[str, Any]) -> str | None:
    """The call id of a `/v2/calls/extensive` call (`metaData.id`) or a flat `/v2/calls` call (`id`)."""
    meta = _meta(call)
    value = meta.get("id")
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def gong_call_time(call: Mapping[str, Any]) -> datetime | None:
    """When the call started (`metaData.started`), else when it was scheduled; None when neither parses."""
    meta = _meta(call)
    return utc_time_field(meta.get("started")) or utc_time_field(meta.get("scheduled"))


def build_gong_message(
    call: Mapping[str, Any],
    transcript: Mapping[str, Any],
    *,
    internal_domains: Iterable[str] = (),
) -> NormalisedMessage:
    """Turn one call and its transcript into a message whose text is the speaker-attributed transcript.

    Consecutive monologues of one speaker are joined into one line ("Rita Rep: … …"). Speakers are
    named through the call's `parties[].speakerId`; unknown ones become "Unknown speaker <id>" and
    are counted in metadata. The author is the first external speaker (the customer's voice).
    Raises `GongCallError` when the call has no id or time, or the transcript has no sentences.
    """
    domains = normalise_domains(internal_domains)
    call_id = gong_call_id(call)
    if call_id is None:
        raise GongCallError("call has no metaData.id")
    sent_at = gong_call_time(call)
    if sent_at is None:
        raise GongCallError(f"call {call_id} has no parseable metaData.started or metaData.scheduled time")
    meta = _meta(call)
    raw_parties = call.get("parties")
    parties_missing = not isinstance(raw_parties, list) or not raw_parties
    parties = [_party(p, domains) for p in raw_parties or [] if isinstance(p, Mapping)]
    by_speaker = {p.speaker_id: p for p in parties if p.speaker_id}

    turns: list[tuple[str, list[str]]] = []
    for monologue in transcript.get("transcript") or []:
        if not isinstance(monologue, Mapping):
            continue
        speaker_id = str(monologue.get("speakerId") or "").strip()
        sentences = [
            str(s["text"]).strip()
            for s in monologue.get("sentences") or []
            if isinstance(s, Mapping) and isinstance(s.get("text"), str) and s["text"].strip()
        ]
        if not sentences:
            continue
        if turns and turns[-1][0] == speaker_id:
            turns[-1][1].extend(sentences)
        else:
            turns.append((speaker_id, sentences))
    if not turns:
        raise GongCallError(f"transcript of call {call_id} has no sentences")

    unknown = sorted({sid for sid, _ in turns if sid not in by_speaker})
    lines = [f"{_speaker_name(sid, by_speaker)}: {' '.join(sentences)}" for sid, sentences in turns]

    speaking = [by_speaker[sid] for sid, _ in turns if sid in by_speaker]
    author = next((p for p in speaking if p.is_internal is False), speaking[0] if speaking else None)
    external = [p for p in parties if p.is_internal is False]
    companies = [_company(p) for p in external]
    customer = most_common(companies) or most_common(_account_names(call.get("context")))
    if customer is None:
        customer = next((p.name for p in external if p.name), None)

    metadata: dict[str, Any] = {
        "call_id": call_id,
        "parties": [
            {
                "name": p.name,
                "email": p.email,
                "affiliation": p.affiliation,
                "speaker_id": p.speaker_id,
                "title": p.title,
            }
            for p in parties
        ],
        "speaker_turns": len(turns),
    }
    for key, out in (
        ("duration", "duration_seconds"),
        ("direction", "direction"),
        ("system", "system"),
        ("scope", "scope"),
        ("language", "language"),
        ("scheduled", "scheduled"),
    ):
        if meta.get(key) not in (None, ""):
            metadata[out] = meta[key]
    topics = _topics(call)
    if topics:
        metadata["topics"] = topics
    if unknown:
        metadata["unknown_speaker_count"] = len(unknown)
        metadata["unknown_speaker_ids"] = unknown
    if parties_missing:
        metadata["parties_missing"] = True
    if len({c for c in companies if c}) > 1:
        metadata["customers"] = sorted({c for c in companies if c})

    channel_kind = text_field(meta.get("system")) or text_field(meta.get("direction")) or "call"
    return NormalisedMessage(
        source=SourceKind.GONG,
        external_id=call_id,
        sent_at=sent_at,
        text="\n".join(lines),
        channel="gong:" + re.sub(r"\s+", "-", channel_kind.lower()),  # "Google Meet" -> "gong:google-meet"
        author_name=author.name if author else None,
        author_email=author.email if author else None,
        author_is_internal=author.is_internal if author else None,
        customer=customer,
        title=text_field(meta.get("title")),
        url=text_field(meta.get("url")),
        metadata=metadata,
    )


def read_gong_transcripts(
    path: Path,
    window: TimeWindow,
    *,
    internal_domains: tuple[str, ...] = (),
) -> ReadResult:
    """Read the Gong calls of a JSON file that started inside `window`, one message per call.

    Raises `SourceReadError` when the file is missing, not JSON, or not in a Gong response shape.
    A call without a transcript, or a transcript without its call, becomes a skipped item.
    """
    result = ReadResult()
    pages = _load_pages(path, result)
    calls: dict[str, Mapping[str, Any]] = {}
    transcripts: dict[str, Mapping[str, Any]] = {}
    for page_number, page in pages:
        where = f"{path.name}:page {page_number} " if len(pages) > 1 else f"{path.name}:"
        for index, call in enumerate(page.get("calls") or []):
            if not isinstance(call, Mapping):
                result.skip(f"{where}calls[{index}]", "call entry is not a JSON object")
                continue
            call_id = gong_call_id(call)
            if call_id is None:
                moment = gong_call_time(call)
                if moment is None or window.contains(moment):
                    result.skip(
                        f"{where}calls[{index}]",
                        "call has no metaData.id, so its transcript cannot be matched",
                    )
                continue
            if call_id in calls:
                result.ignored["duplicate_call"] = result.ignored.get("duplicate_call", 0) + 1
            calls[call_id] = call
        for index, transcript in enumerate(page.get("callTranscripts") or []):
            call_id = str(transcript.get("callId") or "").strip() if isinstance(transcript, Mapping) else ""
            if not call_id or not isinstance(transcript, Mapping):
                result.skip(f"{where}callTranscripts[{index}]", "transcript entry has no callId")
                continue
            if call_id in transcripts:
                result.ignored["duplicate_transcript"] = result.ignored.get("duplicate_transcript", 0) + 1
            transcripts[call_id] = transcript

    for call_id, call in calls.items():
        location = f"{path.name}:call {call_id}"
        sent_at = gong_call_time(call)
        if sent_at is None:
            result.skip(location, "call has no parseable metaData.started or metaData.scheduled time")
            continue
        if not window.contains(sent_at):
            continue
        transcript = transcripts.get(call_id)
        if transcript is None:
            result.skip(
                location,
                "call has no transcript in callTranscripts; fetch it with POST /v2/calls/transcript "
                "for this call id and add it to the file",
            )
            continue
        try:
            result.messages.append(build_gong_message(call, transcript, internal_domains=internal_domains))
        except GongCallError as exc:
            result.skip(location, str(exc))
    for call_id in transcripts:
        if call_id not in calls:
            result.skip(
                f"{path.name}:transcript {call_id}",
                "transcript has no call metadata in calls[] (so no start time, title or parties); fetch the "
                "call with POST /v2/calls/extensive and add it to the file",
            )
    result.messages.sort(key=lambda m: (m.sent_at, m.external_id))
    return result


def _load_pages(path: Path, result: ReadResult) -> list[tuple[int, Mapping[str, Any]]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceReadError(
            f"Gong file {path} does not exist; check the path, or save the /v2/calls/extensive and "
            "/v2/calls/transcript responses there."
        ) from exc
    except OSError as exc:
        raise SourceReadError(f"Gong file {path} cannot be read ({exc}); check its permissions.") from exc
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceReadError(
            f"Gong file {path} is not valid JSON ({exc}); re-save the API responses as JSON."
        ) from exc
    items = data if isinstance(data, list) else [data]
    pages: list[tuple[int, Mapping[str, Any]]] = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, Mapping) and ("calls" in item or "callTranscripts" in item):
            pages.append((number, item))
        elif isinstance(data, list):
            result.skip(f"{path.name}:page {number}", "item is not a Gong response page (no calls or callTranscripts)")
    if not pages and not (isinstance(data, list) and not data):
        raise SourceReadError(
            f"Gong file {path} holds no 'calls' or 'callTranscripts'; it should hold Gong API responses "
            '({"calls": [...], "callTranscripts": [...]}) or a JSON list of them.'
        )
    return pages


def _meta(call: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = call.get("metaData")
    return meta if isinstance(meta, Mapping) else call


def _party(raw: Mapping[str, Any], domains: tuple[str, ...]) -> _Party:
    email = normalise_email(text_field(raw.get("emailAddress")))
    affiliation = text_field(raw.get("affiliation"))
    if affiliation and affiliation.lower() == "internal":
        internal: bool | None = True
    elif affiliation and affiliation.lower() == "external":
        internal = False
    else:
        internal = is_internal_domain(email_domain(email), domains)
    return _Party(
        name=text_field(raw.get("name")),
        email=email,
        affiliation=affiliation,
        speaker_id=text_field(raw.get("speakerId")),
        title=text_field(raw.get("title")),
        account=next(iter(_account_names(raw.get("context"))), None),
        is_internal=internal,
    )


def _company(party: _Party) -> str | None:
    return company_from_domain(email_domain(party.email)) or party.account


def _account_names(context: Any) -> list[str]:
    """CRM account names from a Gong `context` list (`objects[objectType=Account].fields[name=Name]`)."""
    names: list[str] = []
    for system in context if isinstance(context, list) else []:
        for obj in system.get("objects") or [] if isinstance(system, Mapping) else []:
            if not isinstance(obj, Mapping) or str(obj.get("objectType", "")).lower() != "account":
                continue
            for fld in obj.get("fields") or []:
                if (
                    isinstance(fld, Mapping)
                    and str(fld.get("name", "")).lower() == "name"
                    and text_field(fld.get("value"))
                ):
                    names.append(str(fld["value"]).strip())
    return names


def _topics(call: Mapping[str, Any]) -> list[str]:
    content = call.get("content")
    topics = content.get("topics") if isinstance(content, Mapping) else None
    return [str(t["name"]) for t in topics or [] if isinstance(t, Mapping) and t.get("name")]


def _speaker_name(speaker_id: str, by_speaker: Mapping[str, _Party]) -> str:
    party = by_speaker.get(speaker_id)
    if party is not None and (party.name or party.email):
        return party.name or party.email or ""
    return f"Unknown speaker {speaker_id or '(no id)'}"
