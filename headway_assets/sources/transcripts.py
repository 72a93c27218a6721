"""Transcript helpers shared by the call-recording sources (Gong, Fathom), exports and live alike.

Kept apart from `sources/exports/` so that code parsing one meeting (the Fathom webhook, which
the read API serves) needs no export reader (issue 13).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

# A two-hour call has about 2,000 speaker turns; a transcript with ten times that is corrupt or
# hostile, and its call is skipped rather than costing minutes of parsing.
MAX_TRANSCRIPT_TURNS = 20_000


def time_ordered(items: Sequence[tuple[float | None, T]]) -> list[T]:
    """The values sorted by their time, stably; a value without a time stays right after the one before it.

    Transcript turns exported out of order must be put back in order before adjacent turns of
    one speaker are merged; an untimed turn keeps its neighbour rather than jumping to the start.
    """
    keyed: list[tuple[float, int, T]] = []
    last = float("-inf")
    for position, (moment, value) in enumerate(items):
        if moment is not None:
            last = moment
        keyed.append((last, position, value))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [value for _, _, value in keyed]
