"""Small helpers that turn run results into metadata worth reading in the Dagster UI, with no
personal data in it (see `preview_redaction`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from headway_assets.core.pii import Redaction
from headway_assets.llm.redaction import PiiScope

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


# -- no personal data in metadata ---------------------------------------------------------------
#
# Materialisation metadata and logs are read by whoever operates Dagster, for every organisation:
# they carry ids, sources, channels, lengths, labels, confidences and counts, and text only after
# redaction (always on here, whatever an organisation's `pii_redaction` setting for LLM calls).

# Characters of a text redacted for a preview cell: far more than a cell shows, so a value cut at
# this edge is never in the part shown, and a long transcript costs no more than a short mail.
EXCERPT_SCAN_CHARS = 2_000
ERROR_CHARS = 160
# pydantic's validation errors quote the value they rejected; that value may be message text.
_WORD = re.compile(r"\w+")
_INPUT_VALUE = re.compile(r"input_value=.*?(?=, input_type=|\]|$)", re.DOTALL)


def preview_redaction(
    scope: PiiScope | None = None, names: Iterable[str] = (), *, texts: Iterable[str | None] | None = None
) -> Redaction:
    """A fresh redaction for the preview of one message: its people's names (and `names`, the people
    of the run's other messages, who may be named in this one) become `<PERSON_N>`; e-mail addresses,
    phone numbers, cards, IBANs and keys their placeholders. On even for an organisation that sends
    its text to providers as it is: metadata is not the organisation's own view.

    With `texts` (what will be redacted), only those of `names` that share a word with them are
    looked for: a backfill's thousands of people would otherwise make every preview cell a regex
    of thousands of alternatives (about 0.5 s a cell for 3,000 names)."""
    others = list(names)
    if texts is not None and others:
        words = {w for text in texts if text for w in _WORD.findall(text[:EXCERPT_SCAN_CHARS].casefold())}
        others = [name for name in others if any(w in words for w in _WORD.findall(name.casefold()))]
    people = tuple(dict.fromkeys([*(scope.names if scope else ()), *others]))
    keep = tuple(word for phrase in (scope.keep if scope else ()) for word in phrase.split())
    return Redaction(names=people, keep=keep)


def redacted_excerpt(text: str | None, redaction: Redaction, limit: int = CELL_CHARS) -> str:
    """The start of `text`, redacted before it is cut to a cell."""
    if not text:
        return ""
    return cell(redaction.redact(text[:EXCERPT_SCAN_CHARS]), limit)


def redacted_customer(customer: str | None, redaction: Redaction) -> str | None:
    """A message's customer: a company stays; a source that fell back to a person's name gets a placeholder."""
    if not customer:
        return customer
    if customer.casefold() in {name.casefold() for name in redaction.names}:
        return redaction.redact(customer)
    return customer


def safe_error(text: str | None, limit: int = ERROR_CHARS) -> str:
    """An error message fit for metadata and logs: values pydantic quotes dropped, e-mail addresses,
    phone numbers, cards, IBANs and keys replaced, cut to `limit` characters."""
    if not text:
        return ""
    cleaned = _INPUT_VALUE.sub("input_value=…", text)
    return cell(Redaction().redact(cleaned[:EXCERPT_SCAN_CHARS]) or "", limit)


def people_of(scopes: Iterable[PiiScope]) -> tuple[str, ...]:
    """Every person's name of these messages' scopes, once each (what a preview redacts in all of them)."""
    return tuple(dict.fromkeys(name for scope in scopes for name in scope.names))
