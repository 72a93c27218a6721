"""Small helpers that turn run results into metadata worth reading in the Dagster UI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

PREVIEW_ROWS = 10
CELL_CHARS = 90


def cell(value: Any, limit: int = CELL_CHARS) -> str:
    """One markdown table cell: single line, pipes escaped, long text cut with an ellipsis."""
    text = "" if value is None else str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, limit: int | None = None) -> str:
    """A markdown table; with `limit`, at most that many rows and a line saying how many were left out."""
    # object dtype keeps every value as given (no int -> float for gaps), so each cell reads as before.
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(headers), dtype=object)
    shown = frame if limit is None else frame.head(limit)
    cells = shown.map(cell)
    # Written from the frame rather than with `to_markdown`, which needs `tabulate` (not declared)
    # and pads every column.
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False, name=None)]
    if frame.empty:
        lines.append("| " + " | ".join(["(none)"] + [""] * (len(headers) - 1)) + " |")
    hidden = len(frame) - len(shown)
    if hidden > 0:
        lines.append(f"\n…and {hidden} more.")
    return "\n".join(lines)
