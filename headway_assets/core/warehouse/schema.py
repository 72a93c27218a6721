"""The warehouse tables. The pipeline owns this schema; the read API imports it and only reads.

One code path for SQLite and PostgreSQL: portable column types, with JSONB and BIGINT
swapped in on PostgreSQL through variants, and timestamps always stored and returned as UTC.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so Alembic migrations are the same on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# An auto-incrementing 64-bit key on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")
JsonDocument = JSON().with_variant(JSONB(), "postgresql")
# A JSON value whose Python None is SQL NULL (not the JSON `null`), so `IS NULL` finds "none set".
JsonValue = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no time zones: values are stored as naive UTC and come back marked UTC.
    Naive datetimes are refused on the way in, because guessing their zone loses data.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column; attach a time zone first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class ConnectionKind(enum.StrEnum):
    """How a connection reaches its data: a file export on disk or the vendor's live API."""

    EXPORT = "export"
    API = "api"


class SyncStatus(enum.StrEnum):
    """Outcome of one connection's sync of one window."""

    RUNNING = "running"
    SUCCESS = "success"
    PARTIAL = "partial"  # finished, but some items were skipped
    INCOMPLETE = "incomplete"  # stopped early at a cap; the next run continues
    FAILED = "failed"


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata and naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JsonDocument, datetime: UtcDateTime}


class Organization(Base):
    """A customer of Headway (a tenant). Every other row carries its `org_id`."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class SourceConnection(Base):
    """One way into one source for one organisation (an export file, or a live account)."""

    __tablename__ = "source_connections"
    __table_args__ = (UniqueConstraint("org_id", "source", "name"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default=ConnectionKind.EXPORT.value)
    name: Mapped[str] = mapped_column(String(200))
    # Non-secret settings: export path, channels, base URL. Secrets never go here.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Encrypted credentials (tokens, keys); only the connector decrypts them.
    credentials_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class MessageFields:
    """The columns of a message that `messages` and its archive `removed_messages` both hold.

    One declaration for both tables, so a column added to messages is archived (and restored) too.
    """

    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))
    thread_id: Mapped[str | None] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(255))
    author_name: Mapped[str | None] = mapped_column(String(255))
    author_email: Mapped[str | None] = mapped_column(String(320))
    author_is_internal: Mapped[bool | None] = mapped_column(Boolean)
    customer: Mapped[str | None] = mapped_column(String(255))
    sent_at: Mapped[datetime] = mapped_column()
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    text_length: Mapped[int] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    # Hash of every ingested field: a re-sync rewrites a row only when this changes, so
    # re-materialising a partition leaves identical rows.
    record_hash: Mapped[str] = mapped_column(String(64))
    source_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sync_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"))


class Message(MessageFields, Base):
    """One customer message, normalised across sources. Unique on (org, source, external id)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("org_id", "source", "external_id"),
        Index("ix_messages_source_sent_at", "source", "sent_at"),
        Index("ix_messages_org_sent_at_id", "org_id", "sent_at", "id"),
        Index("ix_messages_org_thread", "org_id", "thread_id"),
        # Keyset pagination of the read API's message list filtered by source or by customer.
        Index("ix_messages_org_source_sent_at_id", "org_id", "source", "sent_at", "id"),
        Index("ix_messages_org_customer_sent_at_id", "org_id", "customer", "sent_at", "id"),
        # The read API's text search (ILIKE) on PostgreSQL: a trigram index (migration 0003 creates
        # the pg_trgm extension). SQLite has no trigram index; there the index is an empty partial
        # one, so both backends declare the same schema.
        Index(
            "ix_messages_text_trgm",
            "text",
            postgresql_using="gin",
            postgresql_ops={"text": "gin_trgm_ops"},
            sqlite_where=false(),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("source_connections.id", ondelete="SET NULL"), index=True
    )
    ingested_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class SyncRun(Base):
    """Sync history: one row per connection per materialisation of a raw partition (or range)."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_org_started", "org_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("source_connections.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[datetime] = mapped_column()
    window_end: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=SyncStatus.RUNNING.value)
    dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    messages_read: Mapped[int] = mapped_column(Integer, default=0)
    messages_written: Mapped[int] = mapped_column(Integer, default=0)
    messages_removed: Mapped[int] = mapped_column(Integer, default=0)
    # Stored messages this read did not return but that were kept: the removal guard held them,
    # or the read skipped items (it may not have seen them). `error` says which and what to do.
    messages_held: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    items_skipped: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # Where a capped run stopped, so the next run resumes there (live connectors).
    resume_state: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SkippedItem(Base):
    """An item a sync could not ingest, with where it was and why. Never silently dropped."""

    __tablename__ = "skipped_items"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    sync_run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class RemovedMessage(MessageFields, Base):
    """A message removed from `messages` because a complete read no longer returned it: the whole
    row (with its original id), when, by which run and why.

    An archive rather than a `removed_at` column on `messages`, so every query of the read API
    and the AI assets stays as it is and only ever sees live messages. A removal moves the row
    here in the transaction that deletes it; `headway messages restore` moves it back (with its
    original id when that is free). The message's labels and mentions cascade away with the
    delete; re-labelling a restored message costs nothing while the model and prompt are
    unchanged, because LLM answers are cached by content hash (`headway_assets.llm.cache`).
    """

    __tablename__ = "removed_messages"
    __table_args__ = (
        Index("ix_removed_messages_run", "removed_by_dagster_run_id"),
        Index("ix_removed_messages_connection_sent_at", "connection_id", "sent_at"),
        Index("ix_removed_messages_org_source_external", "org_id", "source", "external_id"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    # The row as it was in `messages`; `message_id` is its id there.
    message_id: Mapped[int] = mapped_column(BigInteger)
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("source_connections.id", ondelete="SET NULL"))
    ingested_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    # The removal.
    removed_at: Mapped[datetime] = mapped_column(default=utc_now)
    removed_by_dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    removed_by_sync_run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    # Set when restored; the id it got back (its original one unless that was taken).
    restored_at: Mapped[datetime | None] = mapped_column(default=None)
    restored_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)


# --- Taxonomy -------------------------------------------------------------------------------


class Theme(Base):
    """A node of an organisation's two-level feedback taxonomy (a theme, or a sub-theme of one)."""

    __tablename__ = "themes"
    __table_args__ = (UniqueConstraint("org_id", "path"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"))
    # "reporting" for a theme, "reporting/pdf-export" for a sub-theme: stable across reloads.
    path: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- AI pipeline ----------------------------------------------------------------------------


class LabelStatus(enum.StrEnum):
    """The tier-1 outcome of a message. Every message of a materialised day has one."""

    LABELLED = "labelled"
    SKIPPED_OVERSIZED = "skipped_oversized"
    SKIPPED_EMPTY = "skipped_empty"
    FAILED = "failed"


class MessageLabel(Base):
    """Tier-1: is the message product feedback, what kind, and how relevant (one row a message)."""

    __tablename__ = "message_labels"
    __table_args__ = (
        Index("ix_message_labels_org_category", "org_id", "category"),
        Index("ix_message_labels_org_relevance", "org_id", "relevance"),
    )

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # The message text this label was computed from: a changed message is labelled again.
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    is_feedback: Mapped[bool | None] = mapped_column(Boolean)
    category: Mapped[str | None] = mapped_column(String(32))
    relevance: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[float | None] = mapped_column(Float)
    chunk_count: Mapped[int] = mapped_column(Integer, default=1)
    best_chunk: Mapped[int | None] = mapped_column(Integer)
    # Per chunk of a long message: {"chunks": [{"index", "start", "end", "category", "relevance"}]};
    # the message insight reads the relevant chunks first from here.
    chunks: Mapped[dict[str, Any]] = mapped_column(default=dict)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    prompt_version: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    # Runs that tried this content; a failed label is retried until this reaches the limit.
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    labelled_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Who labelled the message when a person did (a `message_label_corrections` row): the pipeline
    # keeps such a label and never asks a model about the message again.
    labelled_by: Mapped[str | None] = mapped_column(String(320), default=None)


class MessageLabelCorrection(Base):
    """A person's tier-1 label for a message: what the pipeline writes in place of a model's.

    Kept apart from `message_labels` (which the pipeline rewrites when a message changes or the
    provider does) so that a correction outlives every rewrite; `headway model train --org` reads
    these as the organisation's own labelled examples.
    """

    __tablename__ = "message_label_corrections"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    is_feedback: Mapped[bool] = mapped_column(Boolean)
    category: Mapped[str] = mapped_column(String(32))
    relevance: Mapped[int] = mapped_column(Integer)
    labelled_by: Mapped[str] = mapped_column(String(320))
    labelled_at: Mapped[datetime] = mapped_column(default=utc_now)


class LlmCacheEntry(Base):
    """A validated LLM result, keyed so that the same work is never paid for twice."""

    __tablename__ = "llm_cache"
    # The hash leads: a lookup names a few hashes of one (task, prompt, model), and with the hash
    # first no stale statistics can make PostgreSQL scan the whole task's answers (migration 0021).
    __table_args__ = (UniqueConstraint("content_hash", "task", "prompt_version", "model"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(32))
    prompt_version: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column()
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class MessageExtraction(Base):
    """Tier-2 bookkeeping per relevant message: extracted from which content, with what outcome.

    A message is due for (re-)extraction when it has no row, its text or the org's taxonomy
    changed since, or its last attempt failed (up to a retry limit).
    """

    __tablename__ = "message_extractions"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    taxonomy_fingerprint: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24))  # extracted | failed
    mention_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_quotes: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    prompt_version: Mapped[str] = mapped_column(String(32))
    extracted_at: Mapped[datetime] = mapped_column(default=utc_now)


class FeatureMention(Base):
    """Tier-2: one structured ask found in a relevant message, with its verbatim evidence."""

    __tablename__ = "feature_mentions"
    __table_args__ = (
        UniqueConstraint("message_id", "ordinal"),
        Index("ix_feature_mentions_org_sent_at", "org_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)  # position among the message's mentions
    source: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column()  # the message's, copied for day-partition writes
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    problem_statement: Mapped[str | None] = mapped_column(Text)
    desired_outcome: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16))
    sentiment: Mapped[str] = mapped_column(String(16))
    theme: Mapped[str | None] = mapped_column(String(200))
    sub_theme: Mapped[str | None] = mapped_column(String(200))
    customer: Mapped[str | None] = mapped_column(String(255))
    evidence_quote: Mapped[str] = mapped_column(Text)
    evidence_start: Mapped[int] = mapped_column(Integer)  # offset of the quote in the message text
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    prompt_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class FeatureRequest(Base):
    """A canonical, de-duplicated feature request of the catalogue."""

    __tablename__ = "feature_requests"
    __table_args__ = (
        UniqueConstraint("org_id", "key"),
        Index("ix_feature_requests_org_mentions", "org_id", "mention_count", "id"),
        Index("ix_feature_requests_org_last_seen", "org_id", "last_seen", "id"),
        # The revenue-weighted sorts of the read API (issue 16): keyset seeks, like the mention sort.
        Index("ix_feature_requests_org_arr", "org_id", "arr_cents", "id"),
        Index("ix_feature_requests_org_accounts", "org_id", "account_count", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # Derived from the first mention, so the same request keeps its key across rebuilds.
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    theme: Mapped[str | None] = mapped_column(String(200))
    sub_theme: Mapped[str | None] = mapped_column(String(200))
    mention_count: Mapped[int] = mapped_column(Integer)
    customer_count: Mapped[int] = mapped_column(Integer)
    customers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"names": [...]}
    sources: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"slack": 3, "gong": 1}
    first_seen: Mapped[datetime] = mapped_column()
    last_seen: Mapped[datetime] = mapped_column()
    mentions_last_7d: Mapped[int] = mapped_column(Integer, default=0)
    mentions_prev_7d: Mapped[int] = mapped_column(Integer, default=0)
    trend: Mapped[str] = mapped_column(String(16), default="steady")  # new | rising | steady | falling
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    # --- Triage: a person's state, which the pipeline honours and never overwrites. ---
    status: Mapped[str] = mapped_column(String(16), default="new", server_default="new")  # see REQUEST_STATUSES
    owner: Mapped[str | None] = mapped_column(String(320), default=None)
    # Bumped by every person's edit (never by the pipeline): the ETag of optimistic concurrency.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # A person set the title or description: the pipeline never rewrites them.
    title_locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A person set the theme or sub-theme: the pipeline never rewrites them.
    taxonomy_locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set when merged into another request: this row is then a tombstone (no links, not listed).
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("feature_requests.id", ondelete="SET NULL"), default=None
    )
    # "pipeline", or "person" for a request a person created by moving a mention out.
    origin: Mapped[str] = mapped_column(String(16), default="pipeline", server_default="pipeline")
    # A few member titles ({"titles": [...]}): other wordings of the ask, shown to the matcher.
    examples: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # --- Revenue: the resolved customers who asked (`feature_request_customers`), kept by
    # `headway_assets.core.warehouse.request_customers`. Distinct customers, never messages. ---
    account_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Their summed ARR in cents: an exact integer, so the ARR sort seeks its index with an int key.
    arr_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    segments: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")  # {"names": [...]}


# The life of a feature request in triage; "new" until a person says otherwise.
REQUEST_STATUSES = ("new", "under_review", "planned", "in_progress", "shipped", "declined")


class FeatureRequestMention(Base):
    """Which mentions make up a feature request, and how each was matched."""

    __tablename__ = "feature_request_mentions"
    # The catalogue's per-organisation checks of counts against links (migration 0009).
    __table_args__ = (Index("ix_feature_request_mentions_org_request", "org_id", "feature_request_id"),)

    feature_request_id: Mapped[int] = mapped_column(
        ForeignKey("feature_requests.id", ondelete="CASCADE"), primary_key=True
    )
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("feature_mentions.id", ondelete="CASCADE"), primary_key=True, unique=True
    )
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    match_method: Mapped[str] = mapped_column(String(24))  # new | title_similarity | ai_match | pinned
    match_score: Mapped[float] = mapped_column(Float)
    # A person put this mention here (merge or move): the pipeline never moves it.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CataloguePin(Base):
    """A person's placement of a mention in a request, kept by the mention's message and quote.

    Mention ids change when tier-2 re-extracts a message (a provider change, a changed text), so
    the pin names the message, the quote's offset and the mention's title; the pipeline puts the
    re-extracted mention that matches it back into the pinned request.
    """

    __tablename__ = "catalogue_pins"
    __table_args__ = (
        UniqueConstraint("message_id", "evidence_start", "title"),
        Index("ix_catalogue_pins_org_request", "org_id", "feature_request_id"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    evidence_quote: Mapped[str] = mapped_column(Text)
    evidence_start: Mapped[int] = mapped_column(Integer)
    feature_request_id: Mapped[int] = mapped_column(ForeignKey("feature_requests.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class CatalogueAudit(Base):
    """One change a person made to the catalogue or the taxonomy: who, when, what, before, after.

    `before` and `after` hold what an undo needs to restore; `undone_by_id` points at the audit
    row of the undo. `feature_request_id` has no foreign key: the request may be gone since.
    """

    __tablename__ = "catalogue_audit"
    __table_args__ = (Index("ix_catalogue_audit_org_request_id", "org_id", "feature_request_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    feature_request_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    undone_by_id: Mapped[int | None] = mapped_column(BigInteger, default=None)


class MessageInsight(Base):
    """Per-message insight for a relevant message: summary, sentiment, key topics."""

    __tablename__ = "message_insights"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    sentiment: Mapped[str] = mapped_column(String(16))
    key_topics: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"topics": [...]}
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    prompt_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class PeriodInsight(Base):
    """An organisation's insights for one period (a week or a month): top, new and rising asks."""

    __tablename__ = "period_insights"
    __table_args__ = (
        UniqueConstraint("org_id", "period", "period_start"),
        Index("ix_period_insights_org_start", "org_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(8))  # week | month
    period_start: Mapped[datetime] = mapped_column()
    period_end: Mapped[datetime] = mapped_column()
    headline: Mapped[str] = mapped_column(Text)
    content: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class LlmUsage(Base):
    """LLM spend per asset, partition and run: what the data team tunes cost with."""

    __tablename__ = "llm_usage"
    __table_args__ = (
        Index("ix_llm_usage_created", "created_at"),
        Index("ix_llm_usage_org_created", "org_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(100))
    partition: Mapped[str | None] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    calls: Mapped[int] = mapped_column(Integer, default=0)
    cache_hits: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # The organisation whose items the spend was for (a run's spend is shared out by each
    # organisation's share of the items it sent); null for rows written before it was recorded.
    org_id: Mapped[int | None] = mapped_column(BigInteger, default=None)


class LlmBatchStatus(enum.StrEnum):
    """Where a vendor batch is: still processing, or how it ended."""

    OPEN = "open"  # submitted; the vendor is processing it
    ENDED = "ended"  # processing ended; its results are landed
    EXPIRED = "expired"  # the vendor gave up after its window; its items went back to the live path
    CANCELLED = "cancelled"  # cancelled; its items went back to the live path
    FAILED = "failed"  # the vendor refused the batch as a whole; its items went back to the live path


class LlmBatchRequestStatus(enum.StrEnum):
    """One request of a vendor batch: one packed call of several items, as the live path makes it."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"  # answered and validated; its items' answers are in the LLM cache
    ERRORED = "errored"  # the vendor answered with an error; resubmitted once in a new batch
    INVALID = "invalid"  # answered, but the answer failed the engine's validation
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class LlmBatch(Base):
    """A vendor batch (Anthropic Message Batches, OpenAI Batch API) of one task's packed calls."""

    __tablename__ = "llm_batches"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    vendor_batch_id: Mapped[str] = mapped_column(String(128), unique=True)
    task: Mapped[str] = mapped_column(String(32))
    prompt_version: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    # The asset and partition range whose run submitted it: what to re-run once it has landed.
    asset: Mapped[str] = mapped_column(String(100))
    partition_start: Mapped[str | None] = mapped_column(String(32))
    partition_end: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=LlmBatchStatus.OPEN.value, index=True)
    vendor_status: Mapped[str] = mapped_column(String(32))
    # 1 for a first submission; 2 for the resubmission of another batch's errored requests.
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retry_of: Mapped[int | None] = mapped_column(BigIntKey)
    request_count: Mapped[int] = mapped_column(Integer)
    item_count: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    errored: Mapped[int] = mapped_column(Integer, default=0)
    expired: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(String(500))
    submitted_at: Mapped[datetime] = mapped_column(default=utc_now)
    ended_at: Mapped[datetime | None] = mapped_column()
    # {org id: share of the submitting run's items}: landing records the spend per organisation
    # with it (as the live path's record_usage does), so budgets and /v1/stats count batch spend.
    org_shares: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LlmBatchRequest(Base):
    """One request of a vendor batch: the packed call (as the live engine builds it) and its items'
    content hashes, so landed answers go into the LLM cache under the live path's keys."""

    __tablename__ = "llm_batch_requests"
    __table_args__ = (UniqueConstraint("batch_id", "custom_id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("llm_batches.id", ondelete="CASCADE"), index=True)
    custom_id: Mapped[str] = mapped_column(String(64))
    # {item id in the prompt: content hash}, and the request (system, user, max_tokens, ...).
    items: Mapped[dict[str, Any]] = mapped_column()
    request: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=LlmBatchRequestStatus.PENDING.value)
    error: Mapped[str | None] = mapped_column(String(500))


# --- Read API -------------------------------------------------------------------------------


class User(Base):
    """A person (or service client) of the read API; belongs to exactly one organisation."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    hashed_password: Mapped[str | None] = mapped_column(Text)  # None: a service client (token only)
    role: Mapped[str] = mapped_column(String(16), default="member")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class SyncRequestStatus(enum.StrEnum):
    """Life of an on-demand sync request, from the API to a Dagster run."""

    PENDING = "pending"
    LAUNCHED = "launched"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SyncRequest(Base):
    """An on-demand sync asked for through the API; a Dagster sensor launches its run."""

    __tablename__ = "sync_requests"
    __table_args__ = (
        Index("ix_sync_requests_status", "status", "id"),
        Index("ix_sync_requests_org_created", "org_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=SyncRequestStatus.PENDING.value)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    launched_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class DailyMessageStat(Base):
    """Message counts per organisation, UTC day, source and tier-1 category: the dashboards' stats.

    Pre-aggregated so the read API's stats endpoint never scans the messages table;
    `headway_assets.core.warehouse.stats.refresh_daily_stats` rewrites the days the pipeline touched.
    """

    __tablename__ = "daily_message_stats"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The tier-1 category, or "unlabelled" for messages without a labelled outcome yet.
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    feedback_count: Mapped[int] = mapped_column(Integer, default=0)
    relevant_count: Mapped[int] = mapped_column(Integer, default=0)  # relevance >= the tier-2 threshold
    mention_count: Mapped[int] = mapped_column(Integer, default=0)  # tier-2 feature mentions
    refreshed_at: Mapped[datetime] = mapped_column(default=utc_now)


class LoginAttempt(Base):
    """One password sign-in attempt on the read API, kept briefly to rate-limit guessing."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "attempted_at"),
        Index("ix_login_attempts_client_at", "client_ip", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(320))
    client_ip: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- Organisation configuration -------------------------------------------------------------


class OrgTaxonomy(Base):
    """An organisation's taxonomy document: the one truth the pipeline and the API read.

    Seeded from `config/taxonomies/<org>.yaml`; `source` says whether it still is the seeded
    file ("seeded") or was set by an operator ("edited"), which a re-seed leaves alone.
    The `themes` table is kept in step with `document` in the same transaction.
    """

    __tablename__ = "org_taxonomies"

    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    # The taxonomy file's content as a mapping (org, themes[...]), validated by core.taxonomy.
    document: Mapped[dict[str, Any]] = mapped_column()
    # Taxonomy.fingerprint() of the document: the same content always has the same value.
    fingerprint: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # seeded | edited
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- Customers and contacts -----------------------------------------------------------------

# Money columns: exact on PostgreSQL (NUMERIC), read back as float on both backends (SQLite has no
# decimal type, and float keeps sums simple for the read API).
Money = Numeric(16, 2, asdecimal=False)


class ResolutionStatus(enum.StrEnum):
    """What the customer resolution made of a message's author."""

    RESOLVED = "resolved"  # a customer (and a contact when the author can be told apart)
    INTERNAL = "internal"  # the organisation's own staff: not a customer
    UNRESOLVED = "unresolved"  # no customer; `reason` says why


class ResolutionMethod(enum.StrEnum):
    """Which evidence gave a resolved message its customer."""

    EMAIL_DOMAIN = "email_domain"  # the author's e-mail domain is one of the customer's domains
    SLACK_TEAM = "slack_team"  # the author's Slack Connect team belongs to the customer
    CALL_PARTICIPANTS = "call_participants"  # the external participants' e-mails of a call
    CONTACT = "contact"  # the contact was assigned to the customer before (no evidence in the message)


class UnresolvedReason(enum.StrEnum):
    """Why a message's author has no customer."""

    FREE_MAIL_DOMAIN = "free_mail_domain"  # gmail.com and the like say nothing about the employer
    NO_AUTHOR_EMAIL = "no_author_email"  # no e-mail, no Slack Connect team, no call participants
    NO_AUTHOR = "no_author"  # the message names no author at all
    AUTOMATED_SENDER = "automated_sender"  # a machine (no-reply@, bulk mail) at a domain no customer holds
    UNMATCHED_DOMAIN = "unmatched_domain"  # a business domain no customer holds (a concurrent change)


class Customer(Base):
    """An account of an organisation: a company whose people write the messages.

    Imported from a CRM export (`headway customers import`), created through the API, or created
    by the customer resolution for an unknown e-mail domain or Slack Connect team (`auto_created`,
    with `auto_key` saying from what: `domain:acme.com`, `slack_team:T0123`) for a person to review.
    Its domains and Slack teams are rows of `customer_domains` and `customer_slack_teams`, so one
    domain belongs to at most one customer of an organisation (the database refuses a second).
    """

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id"),
        # The key an auto-created customer was made from: concurrent resolutions create it once.
        UniqueConstraint("org_id", "auto_key"),
        Index("ix_customers_org_name", "org_id", "name"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    arr: Mapped[float | None] = mapped_column(Money, default=None)
    mrr: Mapped[float | None] = mapped_column(Money, default=None)
    plan: Mapped[str | None] = mapped_column(String(100), default=None)
    segment: Mapped[str | None] = mapped_column(String(100), default=None)
    deal_stage: Mapped[str | None] = mapped_column(String(32), default=None)
    renewal_date: Mapped[date | None] = mapped_column(Date, default=None)
    owner: Mapped[str | None] = mapped_column(String(320), default=None)
    # The customer's id in the CRM it was imported from (HubSpot company id, Salesforce account id).
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    auto_created: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    auto_key: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class CustomerDomain(Base):
    """An e-mail domain of a customer: authors at this domain belong to it. One owner per domain."""

    __tablename__ = "customer_domains"
    __table_args__ = (PrimaryKeyConstraint("org_id", "domain"),)

    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)


class CustomerSlackTeam(Base):
    """A Slack Connect team (another organisation's workspace) that belongs to a customer."""

    __tablename__ = "customer_slack_teams"
    __table_args__ = (PrimaryKeyConstraint("org_id", "team_id"),)

    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)


class CustomerMerge(Base):
    """A customer merged into another (by a person through the API, or by the CRM import folding an
    auto-created customer into the one that took its domain): the record the next import reads.

    `source_external_id` is the merged customer's CRM id: a later import row with that id is the
    customer a person chose to fold away, so it is refused with this merge as the reason instead of
    coming back as a new customer (or overwriting the kept one). No foreign key on the source:
    it is deleted by the merge.
    """

    __tablename__ = "customer_merges"
    __table_args__ = (Index("ix_customer_merges_org_external", "org_id", "source_external_id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    source_customer_id: Mapped[int] = mapped_column(BigInteger)
    source_name: Mapped[str] = mapped_column(String(255))
    source_external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    target_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class OrgSettingsAudit(Base):
    """One change of one organisation setting: who, when, through what, the value before and after.

    `before` and `after` are the setting's own value (JSON: a boolean, number, string or list) and
    null when the organisation had none (the deployment default applied). `actor` is the API
    token's subject (`user:12`, or the identity provider's subject) or `cli:LOGIN`; `actor_user_id`
    and `token_id` say which user and which token when there is one (no foreign key: the record
    outlives the user). Written by `core.warehouse.org_settings.change_org_settings`, the one path
    of PATCH /v1/organization/settings and the `headway orgs` commands.
    """

    __tablename__ = "org_settings_audit"
    __table_args__ = (Index("ix_org_settings_audit_org_id_id", "org_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    setting: Mapped[str] = mapped_column(String(64))
    before: Mapped[Any] = mapped_column(JsonValue, nullable=True, default=None)
    after: Mapped[Any] = mapped_column(JsonValue, nullable=True, default=None)
    actor: Mapped[str] = mapped_column(String(320))
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    token_id: Mapped[str | None] = mapped_column(String(64), default=None)
    via: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Contact(Base):
    """A person outside the organisation who wrote messages, with the customer they belong to.

    `key` identifies the person within the organisation: the e-mail address when known, else the
    source's user id (`slack:U0123`). A contact at a free-mail address has no customer unless a
    Slack Connect team or a call's participants tell which one.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("org_id", "key"),
        Index("ix_contacts_org_customer", "org_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(340))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class MessageAuthor(Base):
    """Who wrote a message: its contact and customer, or why it has none (one row a message).

    A table beside `messages` rather than columns on it: the resolution rewrites these narrow rows
    without touching the wide, heavily indexed message rows (nor the removed-messages archive).

    No column carries a foreign key, on purpose: the resolution writes up to a million rows in one
    statement and PostgreSQL checks a foreign key row by row, which cost more than the insert
    itself (docs/benchmarks.md). Instead the one path that deletes messages (`removals.py`)
    deletes their rows in its transaction, code that deletes or merges customers rewrites the
    rows that name them, and the next resolution run of a day rewrites any row whose customer or
    contact is gone.
    """

    __tablename__ = "message_authors"
    __table_args__ = (Index("ix_message_authors_org_customer", "org_id", "customer_id"),)

    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    org_id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    customer_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str | None] = mapped_column(String(24), default=None)
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    resolved_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- Notifications ----------------------------------------------------------------------------


class NotificationSubscription(Base):
    """A Slack channel of an organisation told about one theme's signals (or every theme's).

    Which signals: new feature requests, rising ones, high-risk calls and a weekly digest, each a
    flag. The org's Slack connection (its bot token) posts them; `notification_deliveries`
    records each post so a signal reaches a channel at most once.
    """

    __tablename__ = "notification_subscriptions"
    __table_args__ = (Index("ix_notification_subscriptions_org_channel", "org_id", "channel_id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # A theme or sub-theme path of the organisation's taxonomy; None: every theme.
    theme: Mapped[str | None] = mapped_column(String(200), default=None)
    channel_id: Mapped[str] = mapped_column(String(32))
    new_requests: Mapped[bool] = mapped_column(Boolean, default=True)
    rising_requests: Mapped[bool] = mapped_column(Boolean, default=True)
    high_risk_calls: Mapped[bool] = mapped_column(Boolean, default=True)
    weekly_digest: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class NotificationDelivery(Base):
    """One signal for one subscription: claimed, posted (with Slack's `ts`) or why not.

    Unique on (subscription, kind, signal key): whoever inserts the row owns the post, so re-runs,
    retries and concurrent ticks post a signal at most once. A rate-limited or transiently failed
    delivery waits for `retry_at` and is claimed again by a later tick.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "kind", "signal_key"),
        Index("ix_notification_deliveries_status_retry", "status", "retry_at"),
        Index("ix_notification_deliveries_org_created", "org_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("notification_subscriptions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))  # new_request | rising_request | high_risk_call | weekly_digest
    # What the signal is about: a request's key (and week for a rising one), a call's message id, a week.
    signal_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # sending | sent | retry | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    retry_at: Mapped[datetime | None] = mapped_column(default=None)
    slack_channel: Mapped[str | None] = mapped_column(String(32), default=None)
    slack_ts: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- Competitors ------------------------------------------------------------------------------


class Competitor(Base):
    """A competitor an organisation tracks, with the other names customers use for it.

    Tier-2 looks for the names and aliases in relevant messages (`competitor_mentions`). A name
    or alias belongs to at most one competitor of an organisation (the API refuses a second).
    """

    __tablename__ = "competitors"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    aliases: Mapped[list[str]] = mapped_column(JsonDocument, default=list)  # ["PD", "pipedrive.com"]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class CompetitorMention(Base):
    """Tier-2: a competitor named in a relevant message, why (`context`), with verbatim evidence.

    Written with the message's feature mentions and replaced with them, so re-runs converge; goes
    with its message (and with its competitor) through the cascading foreign keys.
    `mention_ordinal` is the message's feature mention (by ordinal) whose evidence is nearest the
    competitor's: the ask it co-occurs with, if the message has any.
    """

    __tablename__ = "competitor_mentions"
    __table_args__ = (
        UniqueConstraint("message_id", "ordinal"),
        Index("ix_competitor_mentions_org_competitor_sent_at", "org_id", "competitor_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)  # position among the message's competitor mentions
    competitor_id: Mapped[int] = mapped_column(ForeignKey("competitors.id", ondelete="CASCADE"), index=True)
    context: Mapped[str] = mapped_column(String(24))  # see core.kinds.COMPETITOR_CONTEXTS
    source: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column()  # the message's, copied for windows and trends
    evidence_quote: Mapped[str] = mapped_column(Text)
    evidence_start: Mapped[int] = mapped_column(Integer)  # offset of the quote in the message text
    mention_ordinal: Mapped[int | None] = mapped_column(Integer, default=None)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    prompt_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class FeatureRequestCustomer(Base):
    """A resolved customer who asked for a feature request, with how many of its mentions they wrote.

    Derived from the request's links, their mentions' messages and `message_authors` (never typed
    in): `headway_assets.core.warehouse.request_customers` rewrites a request's rows when its
    links or its messages' authors change, and the request's `account_count`, `arr_cents` and
    `segments` when one of these customers changes. Like `message_authors`, `customer_id` has no
    foreign key: a merged customer's rows are rewritten from the moved authors, not cascaded away.
    """

    __tablename__ = "feature_request_customers"
    __table_args__ = (
        PrimaryKeyConstraint("feature_request_id", "customer_id"),
        # A customer's asks (GET /v1/customers/{id}) and the requests a customer's change touches.
        Index("ix_feature_request_customers_org_customer", "org_id", "customer_id"),
    )

    feature_request_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("feature_requests.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    org_id: Mapped[int] = mapped_column(BigInteger)
    mentions: Mapped[int] = mapped_column(Integer)


# --- Call intelligence --------------------------------------------------------------------------


class CallInsight(Base):
    """Call intelligence of one Gong or Fathom call: deal risk, churn risk and expansion potential
    (low, medium or high), each with reasons quoting the call verbatim, and the agreed next steps.

    `reasons` is `{"deal_risk": [{"reason", "quote", "start"}], "churn_risk": [...],
    "expansion_potential": [...]}` with `start` the quote's offset in the message text;
    `next_steps` is `{"steps": [{"action", "owner", "quote", "start"}]}`. The call's customer is
    its `message_authors` row, joined when read (the resolution may change it later).
    """

    __tablename__ = "call_insights"
    __table_args__ = (
        Index("ix_call_insights_org_sent_at", "org_id", "sent_at", "message_id"),
        Index("ix_call_insights_org_churn", "org_id", "churn_risk", "sent_at"),
    )

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    deal_risk: Mapped[str] = mapped_column(String(8))  # low | medium | high
    churn_risk: Mapped[str] = mapped_column(String(8))
    expansion_potential: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_steps: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rejected_quotes: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    prompt_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class CustomerHealth(Base):
    """A customer's health on one day (0-100), from its calls' risks and its messages' sentiment.

    Derived: the `call_insights` asset recomputes a day's rows whenever it runs for that day, and the
    removal of a message recomputes its day (`customer_health.refresh_customer_health`).
    """

    __tablename__ = "customer_health"
    __table_args__ = (PrimaryKeyConstraint("org_id", "customer_id", "day"),)

    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    score: Mapped[float] = mapped_column(Float)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    deal_risk: Mapped[str | None] = mapped_column(String(8), default=None)  # the day's worst, None without calls
    churn_risk: Mapped[str | None] = mapped_column(String(8), default=None)
    expansion_potential: Mapped[str | None] = mapped_column(String(8), default=None)  # the day's best
    messages_positive: Mapped[int] = mapped_column(Integer, default=0)
    messages_neutral: Mapped[int] = mapped_column(Integer, default=0)
    messages_negative: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utc_now)
