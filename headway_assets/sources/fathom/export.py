"""Reader for Fathom Meeting objects (vendor-apis.md §4.1, §4.5), and the one-meeting parser.

The API's `/meetings` items and the "new meeting content ready" webhook bodies share one Meeting
shape, so `parse_fathom_meeting` serves the export reader, the live API reader and the webhook
receiver alike. A file may be a `/meetings` page (`{"items": [...]}`), a JSON list of Meeting
objects or of pages, or JSON Lines of webhook bodies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import ijson

from headway_assets.core.message import ReadResult, SourceReadError, TimeWindow
from headway_assets.sources.exports.limits import (
    DEFAULT_LIMITS,
    ExportLimits,
    ExportTooLargeError,
    JsonItem,
    JsonShape,
    bounded_value,
    check_item_count,
    check_token_budget,
    decode_text,
    describe_size,
    iter_bounded_items,
    iter_page_items,
    json_error_summary,
    json_list_outline,
    open_json,
    plausible_time,
    scan_json_export,
    too_deep,
)
from headway_assets.sources.fathom.meeting import (
    FathomMeetingError,
    fathom_meeting_time,
    fathom_recording_id,
    parse_fathom_meeting,
)


def read_fathom_meetings(
    path: Path,
    window: TimeWindow,
    *,
    internal_domains: tuple[str, ...] = (),
    limits: ExportLimits = DEFAULT_LIMITS,
) -> ReadResult:
    """Read the Fathom meetings of a JSON / JSON Lines file that happened inside `window`.

    Raises `SourceReadError` when the file is missing, empty, past `limits.max_json_bytes`,
    neither JSON nor JSON Lines, or not in a Meeting shape (`{"items": "x"}`, a number at the top).
    The file is streamed meeting by meeting: a meeting without `recording_id`, time or
    transcript, nested too deep, or dated centuries away becomes a skipped item naming it.
    """
    result = ReadResult()
    seen: set[str] = set()
    for location, meeting in _stream_meetings(path, limits, result):
        moment = fathom_meeting_time(meeting)
        recording_id = fathom_recording_id(meeting)
        if recording_id is not None:
            location = f"{location} (recording {recording_id})"
        if moment is not None and not plausible_time(moment):
            result.skip(location, "meeting time is implausible (before 1971 or after 2100)")
            continue
        if moment is not None and not window.contains(moment):
            continue
        try:
            message = parse_fathom_meeting(meeting, internal_domains=internal_domains)
        except FathomMeetingError as exc:
            result.skip(location, exc.reason)
            continue
        if message.external_id in seen:
            result.ignored["duplicate"] = result.ignored.get("duplicate", 0) + 1
            continue
        seen.add(message.external_id)
        result.messages.append(message)
    result.messages.sort(key=lambda m: (m.sent_at, m.external_id))
    return result


_ADVICE = (
    "it should be a /meetings response "
    '({"items": [...]}), a JSON list of meetings or pages, or JSON Lines of webhook bodies.'
)
_NOT_MEETING = "entry is not a Fathom Meeting object (no recording_id, title or transcript)"


def _stream_meetings(path: Path, limits: ExportLimits, result: ReadResult) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(location, meeting) pairs, one meeting in memory at a time; bad entries recorded as skipped."""
    shape = _check_file(path, limits)
    try:
        if shape is None or shape.more_values:
            yield from _json_lines(path, limits, result)
        elif shape.top == "a list":
            yield from _top_list(path, shape, limits, result)
        elif "items" in shape.keys:
            with open_json(path) as stream:
                for item in iter_bounded_items(stream, ("items",), limits):
                    where = f"{path.name}:items[{item.index}]"
                    if item.skip_reason is not None:
                        result.skip(where, item.skip_reason)
                    elif _is_meeting(item.value, where, result):
                        yield where, item.value
        else:
            yield from _single_meeting(path, limits, result)
    except ijson.JSONError as exc:  # the file changed under us after the check
        raise SourceReadError(
            f"Fathom file {path} stopped being valid JSON while it was read ({json_error_summary(exc)}); "
            "make sure nothing is writing it, then retry."
        ) from exc


def _check_file(path: Path, limits: ExportLimits) -> JsonShape | None:
    """The file's outline (None for JSON Lines that do not start well), or `SourceReadError`."""
    try:
        return _checked_shape(path, limits)
    except FileNotFoundError as exc:
        raise SourceReadError(
            f"Fathom file {path} does not exist; check the path, or save /meetings?include_transcript=true "
            "responses (or webhook bodies, one per line) there."
        ) from exc
    except OSError as exc:
        raise SourceReadError(f"Fathom file {path} cannot be read ({exc}); check its permissions.") from exc


def _checked_shape(path: Path, limits: ExportLimits) -> JsonShape | None:
    try:
        shape = scan_json_export(
            path, "Fathom file", _ADVICE, limits, invalid="is neither JSON nor JSON Lines", item_keys=("items",)
        )
    except ExportTooLargeError:
        raise
    except SourceReadError:
        if path.stat().st_size and _later_line_is_meeting(path, limits):
            return None  # JSON Lines whose first line is broken: that line is one skipped item
        raise
    if shape.more_values or shape.top == "a list":
        return shape
    if shape.top != "an object":
        raise SourceReadError(f"Fathom file {path} holds {shape.top} at the top, not Meeting objects; {_ADVICE}")
    if "items" in shape.keys and shape.keys["items"] != "a list":
        raise SourceReadError(
            f"Fathom file {path} is not a /meetings response: 'items' is {shape.keys['items']}, not a list; {_ADVICE}"
        )
    if "items" not in shape.keys and not any(key in shape.keys for key in _MEETING_KEYS):
        raise SourceReadError(f"Fathom file {path} holds no Meeting objects; {_ADVICE}")
    return shape


def _later_line_is_meeting(path: Path, limits: ExportLimits) -> bool:
    """True when a line after the first is a whole Meeting object (JSON Lines with a bad first line)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle):
            if number and len(raw) <= limits.max_item_bytes:
                item = _bounded(raw.rstrip(b"\r\n"), limits)
                if item is not None and isinstance(item.value, Mapping) and _looks_like_meeting(item.value):
                    return True
    return False


def _bounded(raw: bytes, limits: ExportLimits) -> JsonItem | None:
    """One JSON value built within the limits (or its skip reason); None when `raw` is not one JSON value."""
    try:
        return bounded_value(decode_text(raw)[0].encode("utf-8"), limits)
    except ijson.JSONError:
        return None


def _json_error(text: str) -> str:
    """Where a line stops being JSON, as the stdlib words it (a position, never the content)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return str(exc)
    except RecursionError:
        return "nested too deep to parse"
    return "not exactly one JSON value"


def _json_lines(path: Path, limits: ExportLimits, result: ReadResult) -> Iterator[tuple[str, Mapping[str, Any]]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            check_item_count(path, "Fathom file", number, limits)  # lines, blank ones too
            where = f"{path.name}:line {number}"
            if not raw.strip():
                continue
            if len(raw) > limits.max_item_bytes:
                result.skip(
                    where, f"line is larger than {describe_size(limits.max_item_bytes)}; its meeting was not read"
                )
                continue
            item = _bounded(raw.rstrip(b"\r\n"), limits)
            if item is None:
                error = _json_error(decode_text(raw.rstrip(b"\r\n"))[0])
                result.skip(where, f"line is not valid JSON ({error}); its meeting was not read")
            elif item.skip_reason is not None:
                result.skip(where, item.skip_reason)
            else:
                yield from _collect(item.value, where, limits, result, top=False)


def _top_list(
    path: Path, shape: JsonShape, limits: ExportLimits, result: ReadResult
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Meetings of a top-level list whose elements are meetings or `/meetings` pages, streamed.

    An outline pass tells meetings from pages; meetings in the list stream one by one, and so
    do the meetings inside pages, so one too-deep meeting costs itself, not its page.
    """
    check_token_budget(path, "Fathom file", shape.tokens, 3, limits)  # outline, this outline, one item pass
    with open_json(path) as stream:
        outlines = json_list_outline(stream)
    check_item_count(path, "Fathom file", sum(o.lengths.get("items", 0) for o in outlines), limits)
    kinds: list[str] = []
    for index, outline in enumerate(outlines):
        if outline.top == "an object" and outline.keys.get("items") == "a list":
            kinds.append("page")
        elif outline.top == "an object" and any(key in outline.keys for key in _MEETING_KEYS):
            kinds.append("meeting")
        else:
            kinds.append("other")
            result.skip(f"{path.name}:item {index}", _NOT_MEETING)
    if outlines and all(kind == "other" for kind in kinds):
        raise SourceReadError(f"Fathom file {path} holds no Meeting objects; {_ADVICE}")
    passes = 2 + ("meeting" in kinds) + ("page" in kinds)
    check_token_budget(path, "Fathom file", shape.tokens, passes, limits)
    if "meeting" in kinds:
        # A page is built (and ignored) here too; the file is within max_json_bytes.
        with open_json(path) as stream:
            for item in iter_bounded_items(stream, (), limits):
                if kinds[item.index] != "meeting":
                    continue
                where = f"{path.name}:item {item.index}"
                if item.skip_reason is not None:
                    result.skip(where, item.skip_reason)
                else:
                    yield where, item.value
    if "page" not in kinds:
        return
    with open_json(path) as stream:
        for number, item in iter_page_items(stream, "items", outlines, limits):
            if kinds[number - 1] != "page":
                continue
            where = f"{path.name}:page {number} items[{item.index}]"
            if item.skip_reason is not None:
                result.skip(where, item.skip_reason)
            elif _is_meeting(item.value, where, result):
                yield where, item.value


def _single_meeting(path: Path, limits: ExportLimits, result: ReadResult) -> Iterator[tuple[str, Mapping[str, Any]]]:
    where = f"{path.name}:meeting"
    item = _bounded(path.read_bytes(), limits)  # one object within max_json_bytes, built within the bounds
    if item is None:
        result.skip(where, "file is not one JSON value")
    elif item.skip_reason is not None:
        result.skip(where, item.skip_reason)
    else:
        yield from _collect(item.value, where, limits, result, top=False)


def _collect(
    value: Any, where: str, limits: ExportLimits, result: ReadResult, *, top: bool
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The meetings of a parsed page, list or meeting; bad entries recorded as skipped."""
    if isinstance(value, Mapping) and isinstance(value.get("items"), list):
        for index, item in enumerate(value["items"]):
            yield from _checked_meeting(item, f"{where}{':' if top else ' '}items[{index}]", limits, result)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, Mapping) and isinstance(item.get("items"), list):
                yield from _collect(item, f"{where} page {index + 1}", limits, result, top=False)
            else:
                yield from _checked_meeting(item, f"{where} item {index}", limits, result)
    else:
        yield from _checked_meeting(value, where, limits, result)


def _checked_meeting(
    value: Any, where: str, limits: ExportLimits, result: ReadResult
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if too_deep(value, limits) is not None:
        result.skip(where, _too_deep_reason(limits))
    elif _is_meeting(value, where, result):
        yield where, value


def _is_meeting(value: Any, where: str, result: ReadResult) -> bool:
    if isinstance(value, Mapping) and _looks_like_meeting(value):
        return True
    result.skip(where, _NOT_MEETING)
    return False


def _too_deep_reason(limits: ExportLimits) -> str:
    return f"nested deeper than {limits.max_json_depth} levels"


_MEETING_KEYS = (
    "recording_id",
    "transcript",
    "title",
    "meeting_title",
    "recording_start_time",
    "calendar_invitees",
)


def _looks_like_meeting(value: Mapping[str, Any]) -> bool:
    return any(key in value for key in _MEETING_KEYS)
