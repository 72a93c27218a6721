"""Competitors: each organisation's list (names and aliases), read by tier-2 and written by the API.

One place decides what a usable name is and which competitor a name or alias stands for, so the
API's checks, the demo's seed and tier-2's lookup of a model's answer agree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from headway_assets.core.warehouse.schema import Competitor, utc_now

NAME_MAX = 120
TERM_MIN = 2  # a one-letter alias would be found in every message
MAX_ALIASES = 20


def term_key(term: str) -> str:
    """How names and aliases are compared: case-folded, inner whitespace collapsed."""
    return " ".join(term.casefold().split())


def clean_terms(name: str, aliases: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """The name and aliases as stored: stripped, aliases de-duplicated (and never the name).

    Raises ValueError naming what is wrong: an empty or too long name or alias, a one-letter
    term, too many aliases.
    """
    clean_name = " ".join(str(name).split())
    if not clean_name:
        raise ValueError("name is empty")
    kept: list[str] = []
    seen = {term_key(clean_name)}
    for alias in aliases:
        text = " ".join(str(alias).split())
        if not text:
            raise ValueError("an alias is empty")
        if term_key(text) not in seen:
            seen.add(term_key(text))
            kept.append(text)
    for term in (clean_name, *kept):
        if len(term) < TERM_MIN:
            raise ValueError(f"{term!r} is shorter than {TERM_MIN} characters: it would match everywhere")
        if len(term) > NAME_MAX:
            raise ValueError(f"a name or alias is longer than {NAME_MAX} characters")
    if len(kept) > MAX_ALIASES:
        raise ValueError(f"more than {MAX_ALIASES} aliases")
    return clean_name, tuple(kept)


@dataclass(frozen=True)
class CompetitorList:
    """One organisation's competitors: (id, name, aliases), by name."""

    entries: tuple[tuple[int, str, tuple[str, ...]], ...] = ()

    @property
    def prompt(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(name, aliases) as tier-2's input carries them."""
        return tuple((name, aliases) for _, name, aliases in self.entries)

    def lookup(self, term: str) -> int | None:
        """The id of the competitor `term` names (its name or an alias, in any case), else None."""
        key = term_key(term)
        for competitor_id, name, aliases in self.entries:
            if key == term_key(name) or any(key == term_key(alias) for alias in aliases):
                return competitor_id
        return None

    def fingerprint(self) -> str:
        """A short hash of the names and aliases (tier-2 redoes an item when they change)."""
        return hashlib.sha256(json.dumps(self.prompt, ensure_ascii=False).encode()).hexdigest()[:32]


def load_competitors(conn: Connection, org_ids: Iterable[int]) -> dict[int, CompetitorList]:
    """Every organisation's competitor list (an empty list for one with none)."""
    wanted = sorted(set(org_ids))
    entries: dict[int, list[tuple[int, str, tuple[str, ...]]]] = {org_id: [] for org_id in wanted}
    if wanted:
        rows = conn.execute(
            select(Competitor.org_id, Competitor.id, Competitor.name, Competitor.aliases)
            .where(Competitor.org_id.in_(wanted))
            .order_by(Competitor.org_id, Competitor.name, Competitor.id)
        )
        for row in rows:
            entries[row.org_id].append((row.id, row.name, tuple(row.aliases or ())))
    return {org_id: CompetitorList(tuple(found)) for org_id, found in entries.items()}


def conflicting_competitor(
    conn: Connection, org_id: int, terms: Sequence[str], exclude_id: int | None = None
) -> tuple[int, str] | None:
    """(id, term) of another competitor of the organisation that already has one of `terms`."""
    keys = {term_key(term): term for term in terms}
    rows = conn.execute(
        select(Competitor.id, Competitor.name, Competitor.aliases).where(Competitor.org_id == org_id)
    ).all()
    for row in rows:
        if row.id == exclude_id:
            continue
        for held in (row.name, *(row.aliases or ())):
            if term_key(held) in keys:
                return row.id, keys[term_key(held)]
    return None


def upsert_competitor(conn: Connection, org_id: int, name: str, aliases: Sequence[str]) -> int:
    """Create the competitor, or add these aliases to the one of that name (the demo's seed). Its id."""
    clean_name, clean_aliases = clean_terms(name, aliases)
    row = conn.execute(
        select(Competitor.id, Competitor.aliases).where(Competitor.org_id == org_id, Competitor.name == clean_name)
    ).first()
    if row is None:
        now = utc_now()
        values: dict[str, Any] = {
            "org_id": org_id,
            "name": clean_name,
            "aliases": list(clean_aliases),
            "created_at": now,
            "updated_at": now,
        }
        return int(conn.execute(insert(Competitor).values(values).returning(Competitor.id)).scalar_one())
    held = list(row.aliases or ())
    added = [alias for alias in clean_aliases if term_key(alias) not in {term_key(a) for a in held}]
    if added:
        conn.execute(
            update(Competitor).where(Competitor.id == row.id).values(aliases=held + added, updated_at=utc_now())
        )
    return int(row.id)
