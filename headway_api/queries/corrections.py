"""The triage writes and the audit trail.

Each write is one transaction on the database's write engine (BEGIN IMMEDIATE on SQLite), run in
the thread pool by the route: `headway_assets.core.warehouse.corrections` validates, writes and
audits; a refused correction raises `CorrectionError` before the commit, so nothing changes. The
answer (the requests as they are after the change) is read in the same transaction.
The audit trail is read like every other listing, through the reader.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, select

from headway_api.core.principal import Principal
from headway_api.db import Database, Reader
from headway_api.pagination import AnySelect, SortKey, page_document, page_of, page_params, paginate
from headway_api.queries.feature_requests import SUMMARY_COLUMNS, summary_fields
from headway_api.queries.messages import LABEL
from headway_api.schemas.feature_requests import AuditListParams
from headway_assets.core import taxonomy
from headway_assets.core.taxonomy import TaxonomyNode
from headway_assets.core.warehouse import corrections, label_corrections
from headway_assets.core.warehouse.schema import CatalogueAudit, FeatureRequest

FR = FeatureRequest.__table__.c
CA = CatalogueAudit.__table__.c
SUMMARY_KEYS = tuple(column.key for column in SUMMARY_COLUMNS)
AUDIT_SORT = SortKey("-id", (CA.id,), ("int",), descending=True, listing="catalogue-audit")
# The undo handlers of corrections kept outside `corrections` (the taxonomy, message labels).
UNDO_HANDLERS = {**taxonomy.TAXONOMY_UNDO_HANDLERS, **label_corrections.LABEL_UNDO_HANDLERS}
AUDIT_COLUMNS = (CA.id, CA.feature_request_id, CA.action, CA.actor, CA.created_at, CA.before, CA.after, CA.undone_by_id)


def actor_of(principal: Principal) -> str:
    """Who the audit trail names for a caller: the user's e-mail, else the token's subject."""
    return principal.email or principal.subject


@contextmanager
def _transaction(db: Database) -> Iterator[Connection]:
    with db.engine.connect() as conn:
        conn.execution_options(headway_write=True)
        with conn.begin():
            yield conn


def _summaries(conn: Connection, org_id: int, request_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The requests that exist, as `FeatureRequestSummary` documents, in the order given."""
    if not request_ids:
        return []
    rows = conn.execute(select(*SUMMARY_COLUMNS).where(FR.org_id == org_id, FR.id.in_(list(request_ids)))).all()
    by_id = {row.id: summary_fields(dict(row._mapping)) for row in rows}
    return [by_id[request_id] for request_id in dict.fromkeys(request_ids) if request_id in by_id]


def _change(conn: Connection, org_id: int, outcome: corrections.Outcome) -> dict[str, Any]:
    return {"audit_id": outcome.audit_id, "feature_requests": _summaries(conn, org_id, outcome.request_ids)}


def patch_request(
    db: Database, principal: Principal, request_id: int, changes: dict[str, Any], expected_version: int | None
) -> dict[str, Any]:
    """Apply a PATCH; the request as it is afterwards (a `FeatureRequestSummary` document).

    `expected_version` None (`If-Match: *`) applies the change to whatever version is current.
    """
    with _transaction(db) as conn:
        nodes = None
        if "theme" in changes or "sub_theme" in changes:
            loaded, _ = taxonomy.load_org_taxonomy(conn, org_id=principal.org_id, org_slug=principal.org_slug)
            nodes = taxonomy.node_parents(loaded)
        outcome = corrections.update_request(
            conn,
            org_id=principal.org_id,
            request_id=request_id,
            taxonomy=nodes,
            actor=actor_of(principal),
            changes=changes,
            expected_version=expected_version,
            returning=SUMMARY_COLUMNS,
        )
        if outcome.row is not None:  # the UPDATE returned the request (after its version): no second read
            return summary_fields(dict(zip(SUMMARY_KEYS, outcome.row[1:], strict=True)))
        return _summaries(conn, principal.org_id, [request_id])[0]


def merge(db: Database, principal: Principal, source_id: int, into_id: int) -> dict[str, Any]:
    """Merge `source_id` into `into_id`; a `CatalogueChange` document."""
    with _transaction(db) as conn:
        outcome = corrections.merge_requests(
            conn, org_id=principal.org_id, source_id=source_id, into_id=into_id, actor=actor_of(principal)
        )
        return _change(conn, principal.org_id, outcome)


def move(
    db: Database, principal: Principal, request_id: int, mention_id: int, to: int | None, title: str | None
) -> dict[str, Any]:
    """Move a mention to request `to`, or out to a new request titled `title`; a `CatalogueChange`."""
    with _transaction(db) as conn:
        outcome = corrections.move_mention(
            conn,
            org_id=principal.org_id,
            request_id=request_id,
            mention_id=mention_id,
            actor=actor_of(principal),
            to=to,
            title=title,
        )
        return _change(conn, principal.org_id, outcome)


def undo(db: Database, principal: Principal, audit_id: int) -> dict[str, Any]:
    """Undo one audited change; a `CatalogueChange` naming the undo's own audit entry."""
    with _transaction(db) as conn:
        outcome = corrections.undo(
            conn,
            org_id=principal.org_id,
            org_slug=principal.org_slug,
            audit_id=audit_id,
            actor=actor_of(principal),
            handlers=UNDO_HANDLERS,
        )
        return _change(conn, principal.org_id, outcome)


def _node(node: TaxonomyNode | None) -> dict[str, Any] | None:
    if node is None:
        return None
    return {
        "path": node.path,
        "name": node.name,
        "description": node.description,
        "keywords": list(node.keywords),
        "level": 1 if node.parent is None else 2,
        "parent_path": node.parent,
    }


def create_theme(db: Database, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """Add a theme or sub-theme; a `ThemeChange` document."""
    with _transaction(db) as conn:
        outcome, node = taxonomy.create_theme(
            conn, org_id=principal.org_id, org_slug=principal.org_slug, actor=actor_of(principal), **body
        )
        return {"audit_id": outcome.audit_id, "theme": _node(node)}


def edit_theme(db: Database, principal: Principal, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Rename, re-describe or move a theme or sub-theme; a `ThemeChange` document."""
    with _transaction(db) as conn:
        outcome, node = taxonomy.edit_theme(
            conn, org_id=principal.org_id, org_slug=principal.org_slug, actor=actor_of(principal), path=path, **body
        )
        return {"audit_id": outcome.audit_id, "theme": _node(node)}


def retire_theme(db: Database, principal: Principal, path: str, into: str | None) -> dict[str, Any]:
    """Retire a theme or sub-theme; a `ThemeChange` document (no theme)."""
    with _transaction(db) as conn:
        outcome = taxonomy.retire_theme(
            conn, org_id=principal.org_id, org_slug=principal.org_slug, actor=actor_of(principal), path=path, into=into
        )
        return {"audit_id": outcome.audit_id, "theme": None}


# --- The audit trail --------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _audit_statement(for_request: bool, with_cursor: bool) -> AnySelect:
    query = select(*AUDIT_COLUMNS).where(CA.org_id == bindparam("org_id"))
    if for_request:
        query = query.where(CA.feature_request_id == bindparam("feature_request_id"))
    return paginate(query, AUDIT_SORT, with_cursor=with_cursor)


_REQUEST_EXISTS = select(FR.id).where(FR.id == bindparam("feature_request_id"), FR.org_id == bindparam("org_id"))


async def list_audit(
    db: Reader, org_id: int, params: AuditListParams, feature_request_id: int | None = None
) -> dict[str, Any] | None:
    """One page of the org's audit trail (of one request when given), newest first; None when that
    request neither exists in the org nor ever did (no audit entry names it)."""
    values: dict[str, Any] = {"org_id": org_id, **page_params(AUDIT_SORT, params.cursor, params.limit)}
    if feature_request_id is not None:
        values["feature_request_id"] = feature_request_id
    rows = await db.dicts(_audit_statement(feature_request_id is not None, params.cursor is not None), values)
    if feature_request_id is not None and not rows and params.cursor is None:
        found = await db.rows(_REQUEST_EXISTS, {"feature_request_id": feature_request_id, "org_id": org_id})
        if not found:
            return None
    page, next_cursor = page_of(rows, AUDIT_SORT, params.limit)
    return page_document(page, next_cursor)


# --- Message labels -----------------------------------------------------------------------------


def _label_change(conn: Connection, org_id: int, change: label_corrections.LabelChange) -> dict[str, Any]:
    label = conn.execute(LABEL, {"org_id": org_id, "message_id": change.message_id}).first()
    return {
        "audit_id": change.audit_id,
        "message_id": change.message_id,
        "label": dict(label._mapping) if label is not None else None,
        "mentions_removed": change.mentions_removed,
        "feature_request_ids": list(change.request_ids),
    }


def label_message(db: Database, principal: Principal, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Record a person's tier-1 label for a message; what it did (a `MessageLabelChange` document)."""
    with _transaction(db) as conn:
        change = label_corrections.set_label(
            conn, org_id=principal.org_id, message_id=message_id, actor=actor_of(principal), **body
        )
        return _label_change(conn, principal.org_id, change)


def clear_message_label(db: Database, principal: Principal, message_id: int) -> dict[str, Any]:
    """Withdraw a person's label of a message (tier-1 labels it again); a `MessageLabelChange` document."""
    with _transaction(db) as conn:
        change = label_corrections.clear_label(
            conn, org_id=principal.org_id, message_id=message_id, actor=actor_of(principal)
        )
        return _label_change(conn, principal.org_id, change)
