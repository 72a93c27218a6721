"""How much an export file may make a reader hold, and the bounded JSON parsing every reader shares.

An export is customer-supplied input: a file that inflates to gigabytes, nests a million levels
deep or claims a size it does not have must be refused (or its item skipped) with a clear
reason, in bounded time and memory, never read whole. The figures behind these limits, and the
test that proves each, are in docs/reliability.md.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson

from headway_assets.sources.message import SourceReadError

MIB = 1024 * 1024


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
    2-core machine, so 200,000 stay well under 1 GiB and 30 s.
    """

    max_json_bytes: int = 64 * MIB
    max_member_bytes: int = 64 * MIB
    max_total_inflated_bytes: int = 2048 * MIB
    max_compression_ratio: float = 200.0
    max_json_depth: int = 64
    max_item_bytes: int = 32 * MIB
    max_json_tokens: int = 24_000_000
    max_items_per_read: int = 200_000


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
    frames: list[_Frame] = []  # the open containers, outermost first
    base = -1  # len(frames) when the current element opened; -1 outside an element
    index = -1
    beyond = 0  # containers open past the depth limit (not built, only counted)
    too_deep_item = False
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
                index, base, too_deep_item = index + 1, len(frames), False
            if base >= 0 and len(frames) - base + 1 > limits.max_json_depth:
                beyond, too_deep_item = 1, True
                continue
            frames.append(_Frame({} if event == "start_map" else [] if base >= 0 else None))
        elif event in ("end_map", "end_array"):
            done = frames.pop()
            if base < 0:
                continue
            if len(frames) == base:
                base = -1
                if too_deep_item:
                    yield JsonItem(index, skip_reason=f"nested deeper than {limits.max_json_depth} levels")
                else:
                    yield JsonItem(index, done.container)
            elif not too_deep_item:
                frames[-1].attach(done.container)
        elif base >= 0:
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


__all__ = [
    "DEFAULT_LIMITS",
    "MIB",
    "ExportLimits",
    "ExportTooLargeError",
    "decode_text",
    "iter_json_items",
    "json_depth",
    "too_deep",
]
