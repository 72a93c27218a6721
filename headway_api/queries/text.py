"""Portable text matching: LIKE patterns whose wildcards are escaped.

Searches bind `like_pattern(term)` and compare with `column.ilike(pattern, escape=LIKE_ESCAPE)`:
ILIKE on PostgreSQL (served by the trigram index on `messages.text`), lower() LIKE on SQLite.
"""

from __future__ import annotations

LIKE_ESCAPE = "\\"


def like_pattern(term: str) -> str:
    """`%term%` with LIKE's wildcards escaped, so `50%_off` matches those characters literally."""
    escaped = term.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return f"%{escaped}%"
