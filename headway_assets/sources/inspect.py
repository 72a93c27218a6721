"""`headway exports inspect`: what the pipeline would make of one export file, writing nothing.

Users run it on an export before loading it. It calls `read_export` exactly as the pipeline
does, over a window covering all time, and summarises: messages it would store, speaker turns
kept (Gong, Fathom), a count per reason of every item not stored (bad items and deliberately
ignored kinds alike), and why the whole file is refused when it is.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headway_assets.core.message import SourceReadError, TimeWindow
from headway_assets.sources.dispatch import ExportOptions, read_export
from headway_assets.sources.registry import get_source

# Every plausible moment (the readers skip items dated outside 1971..2100 with a reason).
ALL_TIME = TimeWindow(datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
_PARENTHESES_RE = re.compile(r"\s*\([^()]*\)")


@dataclass(frozen=True, slots=True)
class Inspection:
    """The summary `headway exports inspect` prints (see the module docstring)."""

    messages: int = 0
    turns: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    rejected: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON object printed on stdout."""
        return {"messages": self.messages, "turns": self.turns, "skipped": self.skipped, "rejected": self.rejected}


def reason_key(reason: str) -> str:
    """A skip reason without per-item details, so counts aggregate.

    Parenthesised details ("(part 1.2 (text/html): ...)") and the advice after the first "; "
    are dropped; which item it was stays in `SkippedItem.location`.
    """
    text = reason
    while (shorter := _PARENTHESES_RE.sub("", text)) != text:
        text = shorter
    text = text.split("; ", 1)[0]
    return " ".join(text.split()).rstrip(" .,:") or reason


def inspect_export(source: str, path: Path, options: ExportOptions | None = None) -> Inspection:
    """Read `path` as the pipeline would (all time) and summarise it; nothing is written anywhere."""
    try:
        result = read_export(source, Path(path), ALL_TIME, options)
    except SourceReadError as error:
        return Inspection(rejected=str(error))
    skipped: Counter[str] = Counter(reason_key(item.reason) for item in result.skipped)
    skipped.update(result.ignored)
    turns: int | None = 0 if get_source(source).speaker_turns else None
    for message in result.messages:
        if turns is not None:
            turns += int(message.metadata.get("speaker_turns") or 0)
        for reason, count in (message.metadata.get("turns_skipped") or {}).items():
            skipped[str(reason)] += int(count)
    return Inspection(
        messages=len(result.messages),
        turns=turns,
        skipped=dict(sorted(skipped.items())),
    )


__all__ = ["ALL_TIME", "Inspection", "inspect_export", "reason_key"]
