"""The LLM result cache in the warehouse: (task, prompt version, model, content hash) -> answer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection, Select

# SQLAlchemy and the warehouse schema are imported where the cache reads or writes, not here:
# the engine imports this module, and an uncached engine (`headway classify`) never touches the
# warehouse; importing the schema took ~0.4 s of CPU of every such command's start-up.

LOOKUP_BATCH = 500


@dataclass(frozen=True)
class CacheKey:
    """Everything an answer depends on."""

    task: str
    prompt_version: str
    model: str


@dataclass(frozen=True)
class CachedAnswer:
    """A stored answer and the tokens it cost when it was bought."""

    response: dict[str, Any]
    input_tokens: int
    output_tokens: int


def insert_ignoring_conflicts(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, skipping any that hit a unique constraint (a concurrent run got there first)."""
    if not rows:
        return
    from sqlalchemy import Insert
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement: Insert = dialect.insert(table).on_conflict_do_nothing()
    conn.execute(statement, list(rows))


@lru_cache(maxsize=64)
def _lookup(key: CacheKey) -> Select[Any]:
    """The lookup of answers under `key` by content hash (`hashes`: a list), built once per key:
    a catalogue run looks up a few answers at a time, thousands of times."""
    from sqlalchemy import bindparam, select

    from headway_assets.core.warehouse.schema import LlmCacheEntry

    return select(
        LlmCacheEntry.content_hash,
        LlmCacheEntry.response,
        LlmCacheEntry.input_tokens,
        LlmCacheEntry.output_tokens,
    ).where(
        LlmCacheEntry.task == key.task,
        LlmCacheEntry.prompt_version == key.prompt_version,
        LlmCacheEntry.model == key.model,
        LlmCacheEntry.content_hash.in_(bindparam("hashes", expanding=True)),
    )


class LlmCache:
    """Reads and writes cached answers; safe to share between concurrent runs."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url

    def get_many(self, key: CacheKey, hashes: Iterable[str]) -> dict[str, CachedAnswer]:
        """Cached answers for the given content hashes (missing ones are absent)."""
        from headway_assets.core.warehouse.database import get_engine

        wanted = sorted(set(hashes))
        found: dict[str, CachedAnswer] = {}
        statement = _lookup(key)
        with get_engine(self._url).connect() as conn:
            for start in range(0, len(wanted), LOOKUP_BATCH):
                rows = conn.execute(statement, {"hashes": wanted[start : start + LOOKUP_BATCH]})
                for row in rows:
                    found[row.content_hash] = CachedAnswer(row.response, row.input_tokens, row.output_tokens)
        return found

    def put_many(self, key: CacheKey, answers: dict[str, CachedAnswer]) -> None:
        """Store answers (first writer wins on a race; the answers are interchangeable)."""
        from headway_assets.core.warehouse.database import write_transaction
        from headway_assets.core.warehouse.schema import LlmCacheEntry

        rows = [
            {
                "task": key.task,
                "prompt_version": key.prompt_version,
                "model": key.model,
                "content_hash": content_hash,
                "response": answer.response,
                "input_tokens": answer.input_tokens,
                "output_tokens": answer.output_tokens,
            }
            for content_hash, answer in answers.items()
        ]
        if rows:
            with write_transaction(self._url) as conn:
                insert_ignoring_conflicts(conn, LlmCacheEntry.__table__, rows)
