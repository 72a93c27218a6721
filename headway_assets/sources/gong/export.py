"""Reader for Gong call JSON in the API's own shapes (vendor-apis.md §3).

Gong has no bulk export file, so backfills store API response bodies verbatim: a file holds
`{"calls": [...], "callTranscripts": [...]}` (calls from `/v2/calls/extensive` with `parties`,
transcripts from `/v2/calls/transcript`), or a JSON list of such response pages. One call
becomes one message: its speaker-attributed transcript.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ijson

from headway_assets.core.message import NormalisedMessage, ReadResult, SourceReadError, TimeWindow
from headway_assets.sources.exports.limits import (
    DEFAULT_LIMITS,
    MAX_TRANSCRIPT_TURNS,
    ExportLimits,
    JsonShape,
    check_item_count,
    check_token_budget,
    iter_bounded_items,
    iter_page_items,
    json_error_summary,
    json_list_outline,
    open_json,
    plausible_time,
    scan_json_export,
    time_ordered,
)
from headway_assets.sources.fields import text_field, utc_time_field
from headway_assets.sources.gong import SOURCE
from headway_assets.sources.people import (
    company_from_domain,
    email_domain,
    is_internal_domain,
    most_common,
    normalise_domains,
    normalise_email,
)


class GongCallError(ValueError):
    """A call (or transcript) that cannot become a message; the text says why.

    `reason` is the same without the call id: a stable phrase, so skips of many calls for one
    reason count together (the id is in the skipped item's location).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


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
        raise GongCallError(
            f"call {call_id} has no parseable metaData.started or metaData.scheduled time",
            "call has no parseable metaData.started or metaData.scheduled time",
        )
    meta = _meta(call)
    raw_parties = call.get("parties")
    parties_missing = not isinstance(raw_parties, list) or not raw_parties
    parties = [_party(p, domains) for p in raw_parties or [] if isinstance(p, Mapping)]
    by_speaker = {p.speaker_id: p for p in parties if p.speaker_id}

    raw_turns = transcript.get("transcript")
    if isinstance(raw_turns, list) and len(raw_turns) > MAX_TRANSCRIPT_TURNS:
        raise GongCallError(
            f"transcript of call {call_id} has {len(raw_turns):,} turns, more than {MAX_TRANSCRIPT_TURNS:,}",
            f"transcript has more than {MAX_TRANSCRIPT_TURNS:,} turns",
        )
    turns, turns_skipped, reordered = _ordered_turns(raw_turns)
    if not turns:
        raise GongCallError(f"transcript of call {call_id} has no sentences", "transcript has no sentences")

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
    if turns_skipped:
        metadata["turns_skipped"] = turns_skipped  # {reason: count}, so nothing vanishes unseen
    if reordered:
        metadata["turns_reordered"] = True
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
        source=SOURCE,
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
    limits: ExportLimits = DEFAULT_LIMITS,
) -> ReadResult:
    """Read the Gong calls of a JSON file that started inside `window`, one message per call.

    Raises `SourceReadError` when the file is missing, empty, past `limits.max_json_bytes`, not
    JSON, or not in a Gong response shape (a wrongly typed `calls` / `callTranscripts` refuses
    the file rather than reading as "no calls"). The file is streamed call by call: a call or
    transcript that cannot be read (nested too deep, no id, no transcript, a time centuries
    away) becomes a skipped item and the others land.
    """
    result = ReadResult()
    entries = _GongEntries(path, _check_file(path, limits), limits, result)
    calls: dict[str, Mapping[str, Any]] = {}
    elsewhere: set[str] = set()  # ids of calls outside the window: only their transcripts are ignored
    for where, index, call in entries.of("calls"):
        if not isinstance(call, Mapping):
            result.skip(f"{where}calls[{index}]", "call entry is not a JSON object")
            continue
        call_id = gong_call_id(call)
        moment = gong_call_time(call)
        if call_id is None:
            if moment is None or window.contains(moment):
                result.skip(
                    f"{where}calls[{index}]",
                    "call has no metaData.id, so its transcript cannot be matched",
                )
            continue
        if call_id in calls or call_id in elsewhere:
            result.ignored["duplicate_call"] = result.ignored.get("duplicate_call", 0) + 1
        if moment is not None and plausible_time(moment) and not window.contains(moment):
            elsewhere.add(call_id)
            calls.pop(call_id, None)
        else:
            elsewhere.discard(call_id)
            calls[call_id] = call
    transcripts: dict[str, Mapping[str, Any] | None] = {}
    skipped_before = len(result.skipped)
    for where, index, transcript in entries.of("callTranscripts"):
        call_id = str(transcript.get("callId") or "").strip() if isinstance(transcript, Mapping) else ""
        if not call_id or not isinstance(transcript, Mapping):
            result.skip(f"{where}callTranscripts[{index}]", "transcript entry has no callId")
            continue
        if call_id in transcripts:
            result.ignored["duplicate_transcript"] = result.ignored.get("duplicate_transcript", 0) + 1
        # Only transcripts of calls to read are held; for the others the id is enough.
        transcripts[call_id] = transcript if call_id in calls else None

    transcripts_skipped = len(result.skipped) > skipped_before
    for call_id, call in calls.items():
        location = f"{path.name}:call {call_id}"
        sent_at = gong_call_time(call)
        if sent_at is None:
            result.skip(location, "call has no parseable metaData.started or metaData.scheduled time")
            continue
        if not plausible_time(sent_at):
            result.skip(location, "call time is implausible (before 1971 or after 2100)")
            continue
        transcript = transcripts.get(call_id)
        if transcript is None and transcripts_skipped:
            # Its transcript may be one skipped above (too deep or too large to read its callId).
            result.skip(location, "call has no readable transcript; see the skipped callTranscripts entries")
            continue
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
            result.skip(location, exc.reason)
    for call_id in transcripts:
        if call_id not in calls and call_id not in elsewhere:
            result.skip(
                f"{path.name}:transcript {call_id}",
                "transcript has no call metadata in calls[] (so no start time, title or parties); fetch the "
                "call with POST /v2/calls/extensive and add it to the file",
            )
    result.messages.sort(key=lambda m: (m.sent_at, m.external_id))
    return result


_ADVICE = (
    "it should hold Gong API responses "
    '({"calls": [...], "callTranscripts": [...]}) or a JSON list of them; re-save them from the API.'
)
_KEYS = ("calls", "callTranscripts")


def _check_file(path: Path, limits: ExportLimits) -> JsonShape:
    """The file's outline, or `SourceReadError` when it cannot be a Gong file at all."""
    try:
        shape = scan_json_export(path, "Gong file", _ADVICE, limits, item_keys=_KEYS)
    except FileNotFoundError as exc:
        raise SourceReadError(
            f"Gong file {path} does not exist; check the path, or save the /v2/calls/extensive and "
            "/v2/calls/transcript responses there."
        ) from exc
    except OSError as exc:
        raise SourceReadError(f"Gong file {path} cannot be read ({exc}); check its permissions.") from exc
    if shape.more_values:
        raise SourceReadError(
            f"Gong file {path} is not valid JSON (more than one JSON value, as in JSON Lines); {_ADVICE}"
        )
    if shape.top == "a list":
        return shape
    if shape.top != "an object":
        raise SourceReadError(f"Gong file {path} holds {shape.top} at the top, not a Gong response; {_ADVICE}")
    wrong = [
        f"'{key}' is {shape.keys[key]}" for key in _KEYS if shape.keys.get(key, "a list") not in ("a list", "null")
    ]
    if wrong:
        raise SourceReadError(f"Gong file {path} is not a Gong response: {', '.join(wrong)}, not a list; {_ADVICE}")
    if not any(shape.keys.get(key) == "a list" for key in _KEYS):
        raise SourceReadError(f"Gong file {path} holds no 'calls' or 'callTranscripts'; {_ADVICE}")
    return shape


class _GongEntries:
    """Streams the `calls` or `callTranscripts` entries of a checked file, one pass per kind.

    A file is one response object (`{"calls": [...], ...}`) or a JSON list of them (pages);
    memory holds one entry at a time. Entries nested too deep are recorded as skipped, and
    elements that are not Gong response pages once, when the file is opened.
    """

    def __init__(self, path: Path, shape: JsonShape, limits: ExportLimits, result: ReadResult) -> None:
        self.path, self.shape, self.limits, self.result = path, shape, limits, result
        self.pages: list[tuple[int, JsonShape]] = []  # (page number, outline) of the usable pages
        self.outlines: list[JsonShape] = []
        # Passes over the file: the outline already read, (the pages' outline,) calls, transcripts.
        check_token_budget(path, "Gong file", shape.tokens, 4 if shape.top == "a list" else 3, limits)
        if shape.top == "a list":
            with open_json(path) as stream:
                self.outlines = outlines = json_list_outline(stream)
            check_item_count(path, "Gong file", sum(sum(o.lengths.values()) for o in outlines), limits)
            for number, outline in enumerate(outlines, start=1):
                problem = _page_problem(outline)
                if problem is None:
                    self.pages.append((number, outline))
                else:
                    result.skip(f"{path.name}:page {number}", problem)
            if outlines and not self.pages:
                raise SourceReadError(f"Gong file {path} holds no 'calls' or 'callTranscripts'; {_ADVICE}")

    def of(self, kind: str) -> Iterator[tuple[str, int, Any]]:
        """(location prefix, index in its page, entry) for every entry of `kind`."""
        try:
            if self.shape.top == "a list":
                yield from self._from_pages(kind)
            elif self.shape.keys.get(kind) == "a list":
                yield from self._from_object(kind)
        except ijson.JSONError as exc:  # the file changed under us after the check
            raise SourceReadError(
                f"Gong file {self.path} stopped being valid JSON while it was read "
                f"({json_error_summary(exc)}); make sure nothing is writing it, then retry."
            ) from exc

    def _from_object(self, kind: str) -> Iterator[tuple[str, int, Any]]:
        where = f"{self.path.name}:"
        with open_json(self.path) as stream:
            for item in iter_bounded_items(stream, (kind,), self.limits):
                if item.skip_reason is not None:
                    self.result.skip(f"{where}{kind}[{item.index}]", item.skip_reason)
                else:
                    yield where, item.index, item.value

    def _from_pages(self, kind: str) -> Iterator[tuple[str, int, Any]]:
        usable = {number for number, _ in self.pages}
        many = self.shape.top_items > 1
        with open_json(self.path) as stream:
            for number, item in iter_page_items(stream, kind, self.outlines, self.limits):
                if number not in usable:
                    continue
                where = f"{self.path.name}:page {number} " if many else f"{self.path.name}:"
                if item.skip_reason is not None:
                    self.result.skip(f"{where}{kind}[{item.index}]", item.skip_reason)
                else:
                    yield where, item.index, item.value


def _page_problem(outline: JsonShape) -> str | None:
    """Why a list element is not a usable Gong response page, or None."""
    if outline.top != "an object" or not any(key in outline.keys for key in _KEYS):
        return "item is not a Gong response page (no calls or callTranscripts)"
    wrong = [key for key in _KEYS if outline.keys.get(key, "a list") not in ("a list", "null")]
    if wrong:
        return f"page's {' and '.join(wrong)} is not a list"
    return None


def _too_deep_reason(limits: ExportLimits) -> str:
    return f"nested deeper than {limits.max_json_depth} levels"


def _ordered_turns(raw: Any) -> tuple[list[tuple[str, list[str]]], dict[str, int], bool]:
    """Speaker turns in time order, adjacent turns of one speaker merged; skipped turns by reason.

    Monologues are ordered by their first sentence's `start` (ms from the call's start) before
    merging, so a file listing them out of order neither misattributes nor wrongly joins them.
    A monologue without a usable start keeps its place after the one before it.
    """
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    monologues: list[tuple[float | None, int, str, list[str]]] = []
    for position, monologue in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(monologue, Mapping):
            skip("turn is not an object")
            continue
        sentences: list[tuple[float | None, str]] = []
        for sentence in monologue.get("sentences") or []:
            text = sentence.get("text") if isinstance(sentence, Mapping) else None
            if isinstance(text, str) and text.strip():
                sentences.append((_millis(sentence.get("start")), text.strip()))
        if not sentences:
            skip("turn has no text")
            continue
        texts = time_ordered(sentences)
        start = min((moment for moment, _ in sentences if moment is not None), default=None)
        speaker_id = str(monologue.get("speakerId") or "").strip()
        monologues.append((start, position, speaker_id, texts))
    ordered = time_ordered([(m[0], m) for m in monologues])
    reordered = [m[1] for m in ordered] != [m[1] for m in monologues]
    turns: list[tuple[str, list[str]]] = []
    for _, _, speaker_id, sentence_texts in ordered:
        if turns and turns[-1][0] == speaker_id:
            turns[-1][1].extend(sentence_texts)
        else:
            turns.append((speaker_id, list(sentence_texts)))
    return turns, skipped, reordered


def _millis(value: Any) -> float | None:
    """A sentence's `start` in ms when it is a plausible offset (0 to 7 days), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= _MAX_OFFSET_MS else None


_MAX_OFFSET_MS = 7 * 24 * 3600 * 1000  # no call lasts a week; a larger offset is corrupt


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
