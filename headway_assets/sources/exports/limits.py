"""How much an export file may make a reader hold, and the bounded JSON parsing every reader shares.

An export is customer-supplied input: a file that inflates to gigabytes, nests a million levels
deep or claims a size it does not have must be refused (or its item skipped) with a clear
reason, in bounded time and memory, never read whole. The figures behind these limits, and the
test that proves each, are in docs/reliability.md.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import ijson

from headway_assets.core.message import SourceReadError

# Re-exported: transcript helpers live with no export parsing so the Fathom webhook can use them.
from headway_assets.sources.transcripts import MAX_TRANSCRIPT_TURNS, time_ordered

MIB = 1024 * 1024
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ExportLimits:
    """Bounds on what one export file may make a reader hold.

    `max_json_bytes` bounds a JSON document parsed whole (about ten times its size in Python
    objects); `max_member_bytes` one archive member once inflated; `max_total_inflated_bytes`
    all members of an archive together; `max_compression_ratio` the inflated/compressed ratio of
    any member (a zip bomb's is in the thousands); `max_json_depth` the nesting of one item
    (real Slack, Gong and Fathom items nest fewer than 12 levels); `max_item_bytes` one item
    (a mail, a call) read into memory. `max_json_tokens` bounds the JSON tokens (containers,
    keys, values) one read may parse, estimated from the bytes before parsing: parsing time
    grows with tokens, not bytes (64 MiB of `[` is 67 million of them, over 20 s), while a
    real Slack day file holds about one token per 15 bytes. `max_items_per_read` bounds the items
    (messages) one read may parse: each kept one costs about 1 KB and up to 80 µs on a loaded
    2-core machine, so 200,000 stay well under 1 GiB and 30 s. `max_items` bounds the items
    (mails, calls, transcripts, meetings, lines) one Gmail, Gong or Fathom file may hold: each
    costs a full MIME or transcript parse (up to 0.4 ms, 10 KB), and a 64 MiB `[1,1,…]` would
    be 32 million skip records. `max_item_values` bounds the JSON values one item may hold when
    read with `iter_bounded_items` (a real transcript holds tens of thousands; half a million is
    about 100 MiB of Python objects).
    """

    max_json_bytes: int = 64 * MIB
    max_member_bytes: int = 64 * MIB
    max_total_inflated_bytes: int = 2048 * MIB
    max_compression_ratio: float = 200.0
    max_json_depth: int = 64
    max_item_bytes: int = 32 * MIB
    max_json_tokens: int = 24_000_000
    max_items_per_read: int = 200_000
    max_items: int = 100_000
    max_item_values: int = 500_000


DEFAULT_LIMITS = ExportLimits()


class ExportTooLargeError(SourceReadError):
    """An export file (or archive member) is past one of `ExportLimits`; the message says which."""


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, `[]` is 1), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            depth += 1
            stack.extend((child, depth) for child in node.values())
        elif isinstance(node, list):
            depth += 1
            stack.extend((child, depth) for child in node)
        deepest = max(deepest, depth)
    return deepest


def too_deep(value: Any, limits: ExportLimits = DEFAULT_LIMITS) -> str | None:
    """The skip reason when `value` nests deeper than the limit, else None."""
    depth = json_depth(value)
    if depth > limits.max_json_depth:
        return f"nested {depth} levels deep (limit {limits.max_json_depth})"
    return None


@dataclass(frozen=True, slots=True)
class JsonItem:
    """One element of a streamed JSON array: its value, or why it was skipped (then `value` is None)."""

    index: int
    value: Any = None
    skip_reason: str | None = None


def iter_json_items(
    stream: IO[bytes], path: tuple[str, ...] = (), limits: ExportLimits = DEFAULT_LIMITS
) -> Iterator[JsonItem]:
    """The elements of the JSON array at `path` (object keys from the top; `()`: a top-level array).

    Streams ijson's basic events and builds each element itself: memory grows with one
    element, never with the file, and an element nested deeper than `limits.max_json_depth` is
    consumed without being built and yielded as a skip (ijson's own `items()` costs memory
    quadratic in the depth: 1 GB for 20,000 levels). Raises `ijson.JSONError` (incl.
    `IncompleteJSONError`) where the stream stops being JSON; elements yielded before are valid.
    """
    return _iter_items(stream, path, limits, None)


def iter_bounded_items(
    stream: IO[bytes], path: tuple[str, ...] = (), limits: ExportLimits = DEFAULT_LIMITS
) -> Iterator[JsonItem]:
    """`iter_json_items`, and an element holding more than `limits.max_item_values` JSON values is a skip.

    Depth alone does not bound an element: one flat transcript of a million turns builds a
    gigabyte of Python objects. Past the budget the element is consumed without being built.
    """
    return _iter_items(stream, path, limits, limits.max_item_values)


def bounded_value(document: bytes, limits: ExportLimits = DEFAULT_LIMITS) -> JsonItem:
    """One whole JSON document (a JSON Lines line, a file holding one object), built within the bounds.

    `json.loads` would raise RecursionError on deep nesting and build any size; this builds the
    value only when it is within `max_json_depth` and `max_item_values`, else returns the skip
    reason. Raises `ijson.JSONError` when `document` is not exactly one JSON value.
    """
    items = list(_iter_items(io.BytesIO(b"[" + document + b"]"), (), limits, limits.max_item_values))
    if len(items) != 1:
        raise ijson.IncompleteJSONError(f"expected one JSON value, found {len(items)}")
    return items[0]


def _iter_items(
    stream: IO[bytes], path: tuple[str, ...], limits: ExportLimits, max_values: int | None
) -> Iterator[JsonItem]:
    frames: list[_Frame] = []  # the open containers, outermost first
    base = -1  # len(frames) when the current element opened; -1 outside an element
    index = -1
    beyond = 0  # containers open past the depth limit (not built, only counted)
    too_deep_item = False
    skip_reason = ""
    values = 0  # JSON values built in the current element
    for event, value in ijson.basic_parse(stream, use_float=True):
        if beyond:
            if event in ("start_map", "start_array"):
                beyond += 1
            elif event in ("end_map", "end_array"):
                beyond -= 1
            continue
        if event == "map_key":
            frames[-1].key = value
        elif event in ("start_map", "start_array"):
            if base < 0 and _at_target(frames, path):
                index, base, too_deep_item, values = index + 1, len(frames), False, 0
            if base >= 0 and len(frames) - base + 1 > limits.max_json_depth:
                beyond, too_deep_item = 1, True
                skip_reason = f"nested deeper than {limits.max_json_depth} levels"
                continue
            if base >= 0 and max_values is not None and not too_deep_item:
                values += 1
                if values > max_values:
                    too_deep_item, skip_reason = True, f"holds more than {max_values:,} JSON values"
            frames.append(_Frame({} if event == "start_map" else [] if base >= 0 else None))
        elif event in ("end_map", "end_array"):
            done = frames.pop()
            if base < 0:
                continue
            if len(frames) == base:
                base = -1
                if too_deep_item:
                    yield JsonItem(index, skip_reason=skip_reason)
                else:
                    yield JsonItem(index, done.container)
            elif not too_deep_item:
                frames[-1].attach(done.container)
        elif base >= 0:
            if max_values is not None and not too_deep_item:
                values += 1
                if values > max_values:
                    too_deep_item, skip_reason = True, f"holds more than {max_values:,} JSON values"
            if not too_deep_item:
                frames[-1].attach(value)
        elif _at_target(frames, path):
            index += 1
            yield JsonItem(index, value)


class _Frame:
    """An open JSON container: what is being built (None outside an element) and its current key."""

    __slots__ = ("container", "key")

    def __init__(self, container: Any) -> None:
        self.container = container
        self.key: str | None = None

    def attach(self, value: Any) -> None:
        if isinstance(self.container, dict):
            self.container[self.key] = value
        else:
            self.container.append(value)


def _at_target(frames: list[_Frame], path: tuple[str, ...]) -> bool:
    """True when the innermost open container is the array at `path`."""
    return (
        len(frames) == len(path) + 1
        and frames[-1].key is None
        and all(frames[i].key == key for i, key in enumerate(path))
    )


def decode_text(raw: bytes) -> tuple[str, bool]:
    """UTF-8 text (a BOM dropped), invalid bytes replaced by U+FFFD; True when any were replaced.

    A file with one bad byte keeps its other messages: callers count the replacement instead
    of dropping the file.
    """
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


_EVENT_TYPES = {
    "start_map": "an object",
    "start_array": "a list",
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


@dataclass(frozen=True, slots=True)
class JsonShape:
    """The outline of a JSON document, read in one streaming pass without building it.

    `top` and each `keys` value are phrases such as "an object", "a list", "a string" (for
    error messages); `keys` holds the top-level object's keys (empty for other tops);
    `more_values` is True when another value follows the first (JSON Lines).
    """

    top: str
    keys: dict[str, str]
    more_values: bool
    top_items: int = 0  # elements of a top-level list
    lengths: dict[str, int] = field(default_factory=dict)  # elements of each list-valued key
    tokens: int = 0  # JSON tokens, estimated from the bytes (`scan_json_export` sets it)


def json_shape(stream: IO[bytes]) -> JsonShape:
    """The outline of the JSON document in `stream`, in bounded memory (one pass, nothing built).

    A wrongly typed top-level field (`{"calls": "x"}`) must refuse a file rather than read as
    "zero items", so readers check this outline before streaming items. Raises
    `ijson.JSONError` when the stream is empty, truncated or not JSON before its first value ends.
    """
    depth = 0
    top: str | None = None
    keys: dict[str, str] = {}
    lengths: dict[str, int] = {}
    key: str | None = None
    listed: str | None = None  # the top-level key whose list is open at depth 2
    top_items = 0
    try:
        for event, value in ijson.basic_parse(stream, multiple_values=True, use_float=True):
            closes = event in ("end_map", "end_array")
            if top is not None and depth == 0:
                return JsonShape(top, keys, True, top_items, lengths)  # a second value: JSON Lines
            if depth == 1 and top == "a list" and not closes:
                top_items += 1
            if top is None:
                top = _EVENT_TYPES.get(event, "a number")
            elif depth == 1 and event == "map_key":
                key = value
            elif depth == 1 and key is not None and not closes:
                keys[key] = _EVENT_TYPES.get(event, "a number")
                if event == "start_array":
                    lengths[key], listed = 0, key
                key = None
            elif depth == 2 and listed is not None and not closes:
                lengths[listed] += 1
            if event in ("start_map", "start_array"):
                depth += 1
            elif closes:
                depth -= 1
                if depth == 1:
                    listed = None
    except ijson.JSONError:
        if top is not None and depth == 0:
            return JsonShape(top, keys, True, top_items, lengths)  # a bad line after a good one
        raise
    if top is None:
        raise ijson.IncompleteJSONError("no JSON value (the file is empty or blank)")
    return JsonShape(top, keys, False, top_items, lengths)


def check_item_count(path: Path, what: str, count: int, limits: ExportLimits = DEFAULT_LIMITS) -> None:
    """Raise `ExportTooLargeError` when a file holds more than `limits.max_items` items."""
    if count > limits.max_items:
        raise ExportTooLargeError(
            f"{what} {path} holds more than {limits.max_items:,} items, the limit for one export file; "
            "split it into smaller files."
        )


class RepairedUtf8(io.RawIOBase):
    """A binary stream's bytes as valid UTF-8 for ijson: BOM dropped, invalid bytes replaced by U+FFFD.

    One bad byte in a customer's export must cost that character, not the file (ijson refuses
    invalid UTF-8 and a BOM).
    """

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        self._pending = b""

    def readable(self) -> bool:
        """Always: this is a read-only stream."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` with the next repaired bytes; 0 at the end."""
        view = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = self._text.read(max(1, len(view) // 4))
            if not chunk:
                return 0
            self._pending = chunk.encode("utf-8")
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        """Close the underlying file too."""
        if not self.closed:
            self._text.close()
        super().close()


def open_json(path: Path) -> IO[bytes]:
    """Open a JSON export for `iter_json_items` / `json_shape`, decoding with replacement."""
    return io.BufferedReader(RepairedUtf8(path.open("rb")), buffer_size=256 * 1024)


def json_list_outline(stream: IO[bytes]) -> list[JsonShape]:
    """The outline of each element of a top-level JSON list (pages), in one pass, nothing built.

    For each element: its type, its keys' types and the length of each list-valued key, so a
    reader can check pages and place the entries `iter_page_items` streams. Raises
    `ijson.JSONError` where the stream stops being JSON.
    """
    outlines: list[JsonShape] = []
    depth = 0
    key: str | None = None
    listed: str | None = None  # the element's key whose list is open at depth 3
    for event, value in ijson.basic_parse(stream, use_float=True):
        opens, closes = event in ("start_map", "start_array"), event in ("end_map", "end_array")
        if depth == 1 and not closes:
            outlines.append(JsonShape(_EVENT_TYPES.get(event, "a number"), {}, False))
        elif depth == 2 and event == "map_key":
            key = value
        elif depth == 2 and key is not None and not closes:
            outlines[-1].keys[key] = _EVENT_TYPES.get(event, "a number")
            if event == "start_array":
                outlines[-1].lengths[key], listed = 0, key
            key = None
        elif depth == 3 and listed is not None and not closes:
            outlines[-1].lengths[listed] += 1
        if opens:
            depth += 1
        elif closes:
            depth -= 1
            if depth == 2:
                listed = None
    return outlines


def iter_page_items(
    stream: IO[bytes], key: str, outlines: Sequence[JsonShape], limits: ExportLimits = DEFAULT_LIMITS
) -> Iterator[tuple[int, JsonItem]]:
    """(page number from 1, entry) for the list at `key` in every element of a top-level list of pages.

    `outlines` is `json_list_outline` of the same file; it places each streamed entry in its
    page, and the entry's `index` counts within that page. Like `iter_bounded_items`, one entry
    is held at a time and a too-deep or too-large entry is a skip.
    """
    spans = [(number, outline.lengths.get(key, 0)) for number, outline in enumerate(outlines, start=1)]
    spans = [span for span in spans if span[1]] or [(1, 0)]
    span, offset = 0, 0
    # The path matching treats None as "any element of a list" (an open list container has no
    # key), which is exactly the page level here.
    for item in _iter_items(stream, cast(tuple[str, ...], (None, key)), limits, limits.max_item_values):
        while span < len(spans) - 1 and item.index - offset >= spans[span][1]:
            offset += spans[span][1]
            span += 1
        yield spans[span][0], JsonItem(item.index - offset, item.value, item.skip_reason)


def scan_json_export(
    path: Path,
    what: str,
    advice: str,
    limits: ExportLimits = DEFAULT_LIMITS,
    *,
    invalid: str = "is not valid JSON",
    item_keys: tuple[str, ...] = (),
) -> JsonShape:
    """Check a JSON export file as a whole before its items are streamed: size, emptiness, syntax.

    Raises `SourceReadError` naming the file, the reason and what to do when it is empty, past
    `limits.max_json_bytes` (`ExportTooLargeError`), or not JSON (`what` names the file's kind,
    "Gong file"; `advice` says what to do; `invalid` words the syntax failure). The caller
    handles a missing file with its own advice. The items counted against `limits.max_items`
    are a top-level list's elements and those of the lists at `item_keys` of a top-level object.
    """
    size = path.stat().st_size
    if size == 0:
        raise SourceReadError(f"{what} {path} is empty (0 bytes); {advice}")
    if size > limits.max_json_bytes:
        raise ExportTooLargeError(
            f"{what} {path} is {size / MIB:.1f} MiB, past the {limits.max_json_bytes / MIB:.0f} MiB limit for one "
            "JSON export file; split it into smaller files (one API response page each)."
        )
    tokens = estimate_json_tokens(path)
    check_token_budget(path, what, tokens, 2, limits)  # this outline, then at least one pass over the items
    try:
        with open_json(path) as stream:
            shape = dataclasses.replace(json_shape(stream), tokens=tokens)
    except ijson.JSONError as exc:
        raise SourceReadError(f"{what} {path} {invalid} ({_json_detail(path, size, exc)}); {advice}") from exc
    if not shape.more_values:  # JSON Lines are counted line by line by the reader
        check_item_count(path, what, shape.top_items + sum(shape.lengths.get(key, 0) for key in item_keys), limits)
    return shape


def estimate_json_tokens(path: Path) -> int:
    """The JSON tokens of a file, estimated without parsing (as the Slack reader does).

    Every token but a lone scalar opens a container or follows a comma or colon; quoted text
    may add a few, which only errs towards refusing a file that is not export JSON.
    """
    tokens = 1
    with path.open("rb") as handle:
        while chunk := handle.read(8 * MIB):
            tokens += sum(chunk.count(mark) for mark in (b"[", b"{", b",", b":"))
    return tokens


def check_token_budget(path: Path, what: str, tokens: int, passes: int, limits: ExportLimits = DEFAULT_LIMITS) -> None:
    """Refuse a file whose `passes` streaming passes would parse more than `limits.max_json_tokens` tokens.

    Parse time grows with tokens, not bytes: 64 MiB of `[` is 67 million of them.
    """
    if tokens * passes > limits.max_json_tokens:
        raise ExportTooLargeError(
            f"{what} {path} refused: it holds about {tokens:,} JSON tokens and is read in {passes} passes, past "
            f"the {limits.max_json_tokens:,} tokens one read may parse (a real export holds about one per 8 bytes); "
            "check where it came from, or split it into smaller files."
        )


def _json_detail(path: Path, size: int, error: BaseException) -> str:
    """Where a small file stops being JSON (the stdlib's message names a position, not content)."""
    if size > MIB:
        summary = json_error_summary(error)
        return f"{summary}, the file ends mid-document: truncated?" if "premature EOF" in summary else summary
    text, _ = decode_text(path.read_bytes())
    if not text.strip():
        return "the file holds only whitespace"
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip())
        return f"{exc}{', the file ends mid-document: truncated?' if truncated else ''}"
    except RecursionError:
        return "nested too deep to parse"
    return json_error_summary(error)


# Moments outside these years are a corrupt or hostile timestamp, not a real conversation; readers
# skip such items with a reason rather than letting a window filter drop them silently.
EARLIEST_PLAUSIBLE = datetime(1971, 1, 1, tzinfo=UTC)
LATEST_PLAUSIBLE = datetime(2100, 1, 1, tzinfo=UTC)


def plausible_time(moment: datetime) -> bool:
    """True when `moment` lies between 1971 and 2100 (UTC): a date a real conversation could have."""
    return EARLIEST_PLAUSIBLE <= moment < LATEST_PLAUSIBLE


def describe_size(size: int) -> str:
    """A byte count for a message: whole MiB when it is at least one, else bytes."""
    return f"{size // MIB} MiB" if size >= MIB else f"{size} bytes"


def json_error_summary(error: BaseException) -> str:
    """The first line of a JSON parser's error: what went wrong, never the file's content.

    yajl's later lines quote the bytes around the fault, which may be a customer's words.
    """
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


__all__ = [
    "DEFAULT_LIMITS",
    "EARLIEST_PLAUSIBLE",
    "LATEST_PLAUSIBLE",
    "MAX_TRANSCRIPT_TURNS",
    "MIB",
    "ExportLimits",
    "ExportTooLargeError",
    "JsonShape",
    "RepairedUtf8",
    "bounded_value",
    "check_item_count",
    "check_token_budget",
    "decode_text",
    "describe_size",
    "estimate_json_tokens",
    "iter_bounded_items",
    "iter_json_items",
    "iter_page_items",
    "json_depth",
    "json_error_summary",
    "json_list_outline",
    "json_shape",
    "open_json",
    "plausible_time",
    "scan_json_export",
    "time_ordered",
    "too_deep",
]
