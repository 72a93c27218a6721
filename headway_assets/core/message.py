"""The normalised message every source reader produces, and the record of an item it skipped."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from headway_assets.core.kinds import SourceKind


def content_hash(text: str) -> str:
    """SHA-256 of the text after Unicode NFC normalisation and whitespace folding.

    The hash keys the LLM cache, so two copies of a message that differ only in
    whitespace or Unicode composition are classified once.
    """
    folded = " ".join(unicodedata.normalize("NFC", text).split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A half-open UTC interval `[start, end)`: one daily partition, or a backfill range."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("TimeWindow bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"empty window: {self.start.isoformat()} .. {self.end.isoformat()}")

    def contains(self, moment: datetime) -> bool:
        """True when `moment` falls inside `[start, end)`."""
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


@dataclass(frozen=True, slots=True)
class NormalisedMessage:
    """One message from any source, in the warehouse's shape (see `schema.Message`)."""

    source: SourceKind
    external_id: str
    sent_at: datetime
    text: str
    thread_id: str | None = None
    channel: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    author_is_internal: bool | None = None
    customer: str | None = None
    title: str | None = None
    url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sent_at.tzinfo is None:
            raise ValueError(f"{self.source} message {self.external_id}: sent_at must be timezone-aware")
        if self.sent_at.utcoffset() != UTC.utcoffset(None):
            object.__setattr__(self, "sent_at", self.sent_at.astimezone(UTC))

    @property
    def content_hash(self) -> str:
        """Hash of the message text (see `content_hash`)."""
        return content_hash(self.text)


@dataclass(frozen=True, slots=True)
class SkippedItem:
    """An item a reader could not turn into a message: where it was and why."""

    location: str
    reason: str


@dataclass(slots=True)
class ReadResult:
    """What one reader produced for one window: messages plus every skipped item.

    `ignored` counts noise that is deliberately not a message (joins, bot posts, chat
    pseudo-mails), by reason. It is not a failure, unlike `skipped`.

    A live reader capped by `max_messages_per_sync` returns `complete=False` and a
    `resume_state` saying where it stopped; the next sync of the same window passes that
    state back and continues there, so nothing of the window is lost.
    """

    messages: list[NormalisedMessage] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    complete: bool = True
    resume_state: dict[str, Any] = field(default_factory=dict)

    def skip(self, location: str, reason: str) -> None:
        """Record an item that could not be ingested."""
        self.skipped.append(SkippedItem(location=location, reason=reason))


class SourceReadError(Exception):
    """A whole input could not be read (corrupt archive, missing file, revoked token).

    The message must name the input and say what to do; it must never carry a secret.
    """
