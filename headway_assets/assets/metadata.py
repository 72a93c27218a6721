"""Small helpers that turn run results into metadata worth reading in the Dagster UI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

PREVIEW_ROWS = 10
CELL_CHARS = 90


def cell(value: Any, limit: int = CELL_CHARS) -> str:
    """One markdown table cell: single line, pipes escaped, long text cut with an ellipsis."""
    text = "" if value is None else str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, limit: int | None = None) -> str:
    """A markdown table; with `limit`, at most that many rows and a line saying how many were left out."""
    materialised = list(rows)
    shown = materialised if limit is None else materialised[:limit]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in shown]
    if not materialised:
        lines.append("| " + " | ".join(["(none)"] + [""] * (len(headers) - 1)) + " |")
    hidden = len(materialised) - len(shown)
    if hidden > 0:
        lines.append(f"\n…and {hidden} more.")
    return "\n".join(lines)
