"""Corrections people make to the catalogue and the taxonomy: the triage API's write operations.

Each operation runs inside the caller's transaction, validates everything before it writes (a
refused correction raises `CorrectionError` and the caller rolls back, so nothing changes), and
records one `catalogue_audit` row with what an undo needs: the values before and after. The
pipeline honours what these operations store:

- a request's `status`, `owner`, and its title, description, theme and sub-theme once a person
  set them (`title_locked`, `taxonomy_locked`) are never rewritten by the pipeline;
- a merged request is a tombstone (`merged_into_id`): no links, hidden from listings;
- a mention a person placed (merge, move) has a pinned link and a `catalogue_pins` row keyed by
  its message, quote offset and title, which survives tier-2 re-extracting the message.

Every person's edit of a request bumps its `version` (the API's ETag); undoing a change is only
allowed while the requests it touched are still at the versions it left them at, so an undo
never silently overwrites a later change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import Row

from headway_assets.core.taxonomy import (
    Taxonomy,
    TaxonomyError,
    TaxonomyNode,
    add_node,
    check_path_segment,
    edit_node,
    load_org_taxonomy,
    parse_taxonomy,
    path_changes,
    remove_node,
    store_org_taxonomy,
    taxonomy_document,
)
from headway_assets.core.warehouse.request_stats import refresh_request_stats
from headway_assets.core.warehouse.schema import (
    REQUEST_STATUSES,
    CatalogueAudit,
    CataloguePin,
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    OrgTaxonomy,
    utc_now,
)

FR = FeatureRequest.__table__.c
FRM = FeatureRequestMention.__table__.c
FM = FeatureMention.__table__.c
PIN = CataloguePin.__table__.c

# The fields a person edits on a request (PATCH), and the locks the pipeline reads.
EDITABLE_FIELDS = ("status", "title", "description", "theme", "sub_theme", "owner")
LOCK_FIELDS = ("title_locked", "taxonomy_locked")
MAX_TITLE_LENGTH = 300
MAX_DESCRIPTION_LENGTH = 10_000
MAX_OWNER_LENGTH = 320
# How a link a person placed is recorded (the pipeline's are new | title_similarity | ai_match).
PINNED_METHOD = "pinned"

# Audit actions. The second of each pair is the companion row on the other request of a merge or
# a move, so each request's history shows it; undoing a companion undoes its primary.
UPDATE = "update"
MERGE = "merge"
MERGED_IN = "merged_in"
MOVE = "move_mention"
MOVED_IN = "mention_moved_in"
UNDO = "undo"
THEME_CREATE = "theme_create"
THEME_EDIT = "theme_edit"
THEME_RETIRE = "theme_retire"
COMPANIONS = (MERGED_IN, MOVED_IN)


class CorrectionError(Exception):
    """A correction refused; nothing was written. `status` is the HTTP status the API answers."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def _not_found(what: str) -> CorrectionError:
    return CorrectionError(404, "not_found", f"{what} not found.")


def _invalid(message: str, field: str | None = None) -> CorrectionError:
    # 400, not 422: the request met its schema; what it names cannot be done (the API's convention).
    return CorrectionError(400, "invalid_correction", message, field)


def _conflict(message: str) -> CorrectionError:
    return CorrectionError(409, "conflict", message)


@dataclass(frozen=True)
class Outcome:
    """What a correction did: its audit row, and the requests it touched (None when nothing changed)."""

    audit_id: int | None
    request_ids: tuple[int, ...] = ()
    created_request_id: int | None = None


# --- Shared pieces ------------------------------------------------------------------------------


def lock_requests(conn: Connection, org_id: int, request_ids: Sequence[int]) -> dict[int, Row[Any]]:
    """The org's requests with these ids, locked for this transaction (in id order: no deadlock)."""
    rows = conn.execute(
        select(FeatureRequest.__table__)
        .where(FR.org_id == org_id, FR.id.in_(sorted(set(request_ids))))
        .order_by(FR.id)
        .with_for_update()
    ).all()
    return {row.id: row for row in rows}


def _one_request(conn: Connection, org_id: int, request_id: int, what: str = "Feature request") -> Row[Any]:
    row = lock_requests(conn, org_id, [request_id]).get(request_id)
    if row is None:
        raise _not_found(f"{what} {request_id}")
    return row


def _live(row: Row[Any], role: str) -> None:
    if row.merged_into_id is not None:
        raise _conflict(
            f"Feature request {row.id} ({role}) was merged into {row.merged_into_id}; use that request instead."
        )


def _audit(
    conn: Connection,
    *,
    org_id: int,
    request_id: int | None,
    actor: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> int:
    return int(
        conn.execute(
            insert(CatalogueAudit)
            .values(
                org_id=org_id,
                feature_request_id=request_id,
                actor=actor,
                action=action,
                before=before,
                after=after,
                created_at=utc_now(),
            )
            .returning(CatalogueAudit.id)
        ).scalar_one()
    )


def _companion(
    conn: Connection, *, org_id: int, primary_id: int, request_id: int, actor: str, action: str, after: dict[str, Any]
) -> None:
    """The companion row of a merge or move on its other request, named in the primary's `after`."""
    companion_id = _audit(
        conn,
        org_id=org_id,
        request_id=request_id,
        actor=actor,
        action=action,
        before=None,
        after={"primary_audit_id": primary_id} | after,
    )
    primary_after = conn.execute(select(CatalogueAudit.after).where(CatalogueAudit.id == primary_id)).scalar_one()
    conn.execute(
        update(CatalogueAudit)
        .where(CatalogueAudit.id == primary_id)
        .values(after={**primary_after, "companion_audit_id": companion_id})
    )


def _bump(conn: Connection, request_id: int, **values: Any) -> int:
    """Apply a person's edit to a request and bump its version; the new version."""
    return int(
        conn.execute(
            update(FeatureRequest)
            .where(FR.id == request_id)
            .values(version=FR.version + 1, **values)
            .returning(FR.version)
        ).scalar_one()
    )


def _snapshot(row: Row[Any]) -> dict[str, Any]:
    """A request row as JSON, to re-insert it if an undo needs it back."""
    values = dict(row._mapping)
    for key in ("first_seen", "last_seen", "updated_at"):
        values[key] = values[key].isoformat()
    return values


def _restore_snapshot(conn: Connection, snapshot: Mapping[str, Any]) -> None:
    values = dict(snapshot)
    for key in ("first_seen", "last_seen", "updated_at"):
        values[key] = datetime.fromisoformat(values[key])
    values["merged_into_id"] = None
    conn.execute(insert(FeatureRequest).values(**values))


def _pin_key(message_id: int, evidence_start: int, title: str) -> tuple[int, int, str]:
    return (int(message_id), int(evidence_start), str(title))


def _current_pins(conn: Connection, keys: Sequence[tuple[int, int, str]]) -> dict[tuple[int, int, str], int]:
    """The request each of these pin keys points at now."""
    found: dict[tuple[int, int, str], int] = {}
    for message_id, start, title in keys:
        row = conn.execute(
            select(PIN.feature_request_id).where(
                PIN.message_id == message_id, PIN.evidence_start == start, PIN.title == title
            )
        ).first()
        if row is not None:
            found[(message_id, start, title)] = int(row[0])
    return found


def _set_pin(conn: Connection, org_id: int, key: tuple[int, int, str], quote: str, request_id: int, actor: str) -> None:
    message_id, start, title = key
    changed = conn.execute(
        update(CataloguePin)
        .where(PIN.message_id == message_id, PIN.evidence_start == start, PIN.title == title)
        .values(feature_request_id=request_id, created_by=actor, created_at=utc_now())
    ).rowcount
    if not changed:
        conn.execute(
            insert(CataloguePin).values(
                org_id=org_id,
                message_id=message_id,
                title=title,
                evidence_quote=quote,
                evidence_start=start,
                feature_request_id=request_id,
                created_by=actor,
                created_at=utc_now(),
            )
        )


def _restore_pins(conn: Connection, pins: Sequence[Sequence[Any]], moved_to: int) -> None:
    """Put pins back where they were: deleted if there was none, else pointing at their old request."""
    for message_id, start, title, previous in pins:
        where = (PIN.message_id == message_id, PIN.evidence_start == start, PIN.title == title)
        if previous is None:
            conn.execute(delete(CataloguePin).where(*where, PIN.feature_request_id == moved_to))
        else:
            conn.execute(update(CataloguePin).where(*where).values(feature_request_id=previous))


def _links_of(conn: Connection, org_id: int, request_id: int, mention_id: int | None = None) -> list[Row[Any]]:
    query = (
        select(
            FRM.mention_id,
            FRM.match_method,
            FRM.match_score,
            FRM.pinned,
            FM.message_id,
            FM.evidence_start,
            FM.title,
            FM.evidence_quote,
        )
        .join(FeatureMention.__table__, FM.id == FRM.mention_id)
        .where(FRM.org_id == org_id, FRM.feature_request_id == request_id)
        .order_by(FRM.mention_id)
    )
    if mention_id is not None:
        query = query.where(FRM.mention_id == mention_id)
    return list(conn.execute(query).all())


def _link_record(link: Row[Any]) -> list[Any]:
    """A moved link as the audit keeps it: its mention, the pin key, and how it was linked before."""
    return [
        link.mention_id,
        link.message_id,
        link.evidence_start,
        link.title,
        link.match_method,
        link.match_score,
        bool(link.pinned),
    ]


def _place_links(conn: Connection, org_id: int, links: Sequence[Row[Any]], target: int, actor: str) -> None:
    """Pin these links in `target`: the link moves, and its pin row names `target`."""
    ids = [link.mention_id for link in links]
    for start in range(0, len(ids), 500):
        conn.execute(
            update(FeatureRequestMention)
            .where(FRM.org_id == org_id, FRM.mention_id.in_(ids[start : start + 500]))
            .values(feature_request_id=target, pinned=True, match_method=PINNED_METHOD, match_score=1.0)
        )
    for link in links:
        _set_pin(
            conn, org_id, _pin_key(link.message_id, link.evidence_start, link.title), link.evidence_quote, target, actor
        )


def _find_moved_link(conn: Connection, org_id: int, record: Sequence[Any], holder: int) -> int | None:
    """The mention of a recorded link now linked in `holder`: the same mention, or the one tier-2
    re-extracted from the same message and quote since."""
    mention_id, message_id, start, title = record[:4]
    same = conn.execute(
        select(FRM.mention_id).where(
            FRM.org_id == org_id, FRM.mention_id == mention_id, FRM.feature_request_id == holder
        )
    ).first()
    if same is not None:
        return int(same[0])
    again = conn.execute(
        select(FRM.mention_id)
        .join(FeatureMention.__table__, FM.id == FRM.mention_id)
        .where(
            FRM.org_id == org_id,
            FRM.feature_request_id == holder,
            FM.message_id == message_id,
            FM.evidence_start == start,
            FM.title == title,
        )
    ).first()
    return int(again[0]) if again is not None else None


def _unplace_links(conn: Connection, org_id: int, records: Sequence[Sequence[Any]], holder: int, back_to: int) -> None:
    """Move recorded links from `holder` back to `back_to`, linked as they were before."""
    for record in records:
        mention_id = _find_moved_link(conn, org_id, record, holder)
        if mention_id is None:
            continue  # gone since (its message was removed): nothing to put back
        method, score, pinned = record[4:7]
        conn.execute(
            update(FeatureRequestMention)
            .where(FRM.org_id == org_id, FRM.mention_id == mention_id)
            .values(feature_request_id=back_to, match_method=method, match_score=score, pinned=pinned)
        )


# --- Edit a request -------------------------------------------------------------------------------


def _clean_text(value: Any, field: str, limit: int, *, blank_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{field} must be a string.", field)
    text = value.strip()
    if not text and not blank_ok:
        raise _invalid(f"{field} must not be empty.", field)
    if len(text) > limit:
        raise _invalid(f"{field} is longer than {limit} characters.", field)
    return text


def _placement(row: Row[Any], changes: Mapping[str, Any], taxonomy: Taxonomy) -> tuple[str | None, str | None]:
    """The (theme, sub_theme) a request gets from a change of either; both must be in the taxonomy."""
    theme = changes.get("theme", row.theme)
    sub_theme = changes.get("sub_theme", row.sub_theme)
    if "sub_theme" in changes and sub_theme is not None:
        node = taxonomy.node(sub_theme)
        if node is None or node.parent is None:
            raise _invalid(f"Sub-theme {sub_theme!r} is not in your organisation's taxonomy.", "sub_theme")
        if "theme" in changes and theme is not None and theme != node.parent:
            raise _invalid(f"Sub-theme {sub_theme!r} belongs to theme {node.parent!r}, not {theme!r}.", "theme")
        return node.parent, sub_theme
    if "theme" in changes and theme is not None:
        node = taxonomy.node(theme)
        if node is None or node.parent is not None:
            raise _invalid(f"Theme {theme!r} is not in your organisation's taxonomy.", "theme")
        if sub_theme is not None and taxonomy.theme_of(sub_theme) != theme:
            sub_theme = None  # the old sub-theme is not under the new theme
    if theme is None:
        sub_theme = None
    return theme, sub_theme


def update_request(
    conn: Connection,
    *,
    org_id: int,
    org_slug: str,
    request_id: int,
    actor: str,
    changes: Mapping[str, Any],
    expected_version: int,
) -> Outcome:
    """Edit a request's status, title, description, theme, sub-theme or owner (a person's PATCH).

    `expected_version` must be the request's version (optimistic concurrency: 412 otherwise).
    Setting the title or description locks them against the pipeline (`title_locked`); setting the
    theme or sub-theme locks the placement (`taxonomy_locked`). A change that changes nothing
    writes nothing (no audit row, no new version).
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise _invalid(f"Unknown fields: {', '.join(unknown)}.", unknown[0])
    row = _one_request(conn, org_id, request_id)
    _live(row, "edited")
    if row.version != expected_version:
        raise CorrectionError(
            412,
            "precondition_failed",
            f"Feature request {request_id} is at version {row.version}, not {expected_version}: someone changed it"
            " since you read it. GET it again and re-apply your change.",
        )
    values: dict[str, Any] = {}
    if "status" in changes:
        if changes["status"] not in REQUEST_STATUSES:
            raise _invalid(f"Status must be one of {', '.join(REQUEST_STATUSES)}.", "status")
        values["status"] = changes["status"]
    if "title" in changes:
        values["title"] = _clean_text(changes["title"], "title", MAX_TITLE_LENGTH)
    if "description" in changes:
        values["description"] = _clean_text(
            changes["description"], "description", MAX_DESCRIPTION_LENGTH, blank_ok=True
        )
    if "owner" in changes:
        owner = changes["owner"]
        values["owner"] = (
            None if owner is None else _clean_text(owner, "owner", MAX_OWNER_LENGTH, blank_ok=True) or None
        )
    if "title" in changes or "description" in changes:
        values["title_locked"] = True
    if "theme" in changes or "sub_theme" in changes:
        taxonomy, _ = load_org_taxonomy(conn, org_id=org_id, org_slug=org_slug)
        values["theme"], values["sub_theme"] = _placement(row, changes, taxonomy)
        values["taxonomy_locked"] = True
    changed = {key: value for key, value in values.items() if getattr(row, key) != value}
    if not changed:
        return Outcome(None, (request_id,))
    version = _bump(conn, request_id, **changed)
    before = {key: getattr(row, key) for key in changed} | {"version": row.version}
    after = dict(changed) | {"version": version}
    audit_id = _audit(
        conn, org_id=org_id, request_id=request_id, actor=actor, action=UPDATE, before=before, after=after
    )
    return Outcome(audit_id, (request_id,))


# --- Merge ----------------------------------------------------------------------------------------


def merge_requests(conn: Connection, *, org_id: int, source_id: int, into_id: int, actor: str) -> Outcome:
    """Merge request `source_id` into `into_id`: every link moves (pinned), the source becomes a
    tombstone pointing at the target, and tombstones that pointed at the source now point at the
    target. Refused: into itself, from or into a tombstone, ids of other organisations (404)."""
    if source_id == into_id:
        raise _invalid("A feature request cannot be merged into itself.", "into")
    rows = lock_requests(conn, org_id, [source_id, into_id])
    if source_id not in rows:
        raise _not_found(f"Feature request {source_id}")
    if into_id not in rows:
        raise _not_found(f"Feature request {into_id} (the merge target)")
    source, target = rows[source_id], rows[into_id]
    _live(source, "the merge source")
    _live(target, "the merge target")
    _refuse_cycle(conn, org_id, source_id, into_id)
    links = _links_of(conn, org_id, source_id)
    source_pins = conn.execute(
        select(PIN.message_id, PIN.evidence_start, PIN.title).where(PIN.feature_request_id == source_id)
    ).all()
    keys = sorted(
        {_pin_key(*pin) for pin in source_pins}
        | {_pin_key(link.message_id, link.evidence_start, link.title) for link in links}
    )
    previous = _current_pins(conn, keys)
    redirected = sorted(
        conn.execute(select(FR.id).where(FR.org_id == org_id, FR.merged_into_id == source_id)).scalars()
    )

    _place_links(conn, org_id, links, into_id, actor)
    conn.execute(update(CataloguePin).where(PIN.feature_request_id == source_id).values(feature_request_id=into_id))
    if redirected:
        conn.execute(update(FeatureRequest).where(FR.id.in_(redirected)).values(merged_into_id=into_id))
    source_version = _bump(conn, source_id, merged_into_id=into_id)
    target_version = _bump(conn, into_id)
    refresh_request_stats(conn, org_id, [source_id, into_id])

    before = {
        "source": {"id": source_id, "version": source.version, "merged_into_id": None},
        "target": {"id": into_id, "version": target.version},
        "links": [_link_record(link) for link in links],
        "pins": [[*key, previous.get(key)] for key in keys],
        "redirected": redirected,
    }
    after = {
        "source": {"id": source_id, "version": source_version, "merged_into_id": into_id},
        "target": {"id": into_id, "version": target_version},
        "mentions_moved": len(links),
    }
    audit_id = _audit(conn, org_id=org_id, request_id=source_id, actor=actor, action=MERGE, before=before, after=after)
    _companion(
        conn,
        org_id=org_id,
        primary_id=audit_id,
        request_id=into_id,
        actor=actor,
        action=MERGED_IN,
        after={"from": source_id, "mentions_moved": len(links)},
    )
    return Outcome(audit_id, (source_id, into_id))


def _refuse_cycle(conn: Connection, org_id: int, source_id: int, into_id: int) -> None:
    """Refuse a merge whose target leads back to the source through merged_into links."""
    seen = {source_id}
    current: int | None = into_id
    while current is not None:
        if current in seen:
            raise _invalid(f"Merging {source_id} into {into_id} would make a cycle of merges.", "into")
        seen.add(current)
        current = conn.execute(
            select(FR.merged_into_id).where(FR.org_id == org_id, FR.id == current)
        ).scalar_one_or_none()


# --- Move a mention -------------------------------------------------------------------------------


def move_mention(
    conn: Connection,
    *,
    org_id: int,
    request_id: int,
    mention_id: int,
    actor: str,
    to: int | None,
    title: str | None = None,
) -> Outcome:
    """Move one mention out of `request_id`: into request `to`, or (`to` None) into a new request a
    person titled (`origin="person"`, title locked). The link is pinned and a pin row names its
    new request. A request left empty and without a person's state is deleted (its snapshot is
    kept in the audit row, so an undo brings it back)."""
    if to is not None and to == request_id:
        raise _invalid(f"Mention {mention_id} is already in feature request {request_id}.", "to")
    if to is None:
        if title is None:
            raise _invalid("Give `to` (a request id) or a `title` for a new request.", "title")
        title = _clean_text(title, "title", MAX_TITLE_LENGTH)
    elif title is not None:
        raise _invalid("Give either `to` or `title`, not both.", "title")
    rows = lock_requests(conn, org_id, [request_id] if to is None else [request_id, to])
    if request_id not in rows:
        raise _not_found(f"Feature request {request_id}")
    source = rows[request_id]
    links = _links_of(conn, org_id, request_id, mention_id)
    if not links:
        raise _not_found(f"Mention {mention_id} in feature request {request_id}")
    link = links[0]
    created: int | None = None
    if to is None:
        mention = conn.execute(
            select(FM.description, FM.kind, FM.theme, FM.sub_theme, FM.sent_at).where(FM.id == mention_id)
        ).one()
        created = int(
            conn.execute(
                insert(FeatureRequest)
                .values(
                    org_id=org_id,
                    key=f"person-{uuid.uuid4().hex}",
                    title=title,
                    description=mention.description,
                    kind=mention.kind,
                    theme=mention.theme,
                    sub_theme=mention.sub_theme,
                    mention_count=0,
                    customer_count=0,
                    customers={"names": []},
                    sources={},
                    first_seen=mention.sent_at,
                    last_seen=mention.sent_at,
                    origin="person",
                    title_locked=True,
                    updated_at=utc_now(),
                )
                .returning(FR.id)
            ).scalar_one()
        )
        target_id, target_version_before = created, None
    else:
        if to not in rows:
            raise _not_found(f"Feature request {to} (the move target)")
        _live(rows[to], "the move target")
        target_id, target_version_before = to, rows[to].version
    key = _pin_key(link.message_id, link.evidence_start, link.title)
    previous = _current_pins(conn, [key]).get(key)

    _place_links(conn, org_id, [link], target_id, actor)
    source_version = _bump(conn, request_id)
    target_version = _bump(conn, target_id) if created is None else 1
    refresh_request_stats(conn, org_id, [request_id, target_id])
    still_there = conn.execute(select(FR.id).where(FR.id == request_id)).first() is not None

    before: dict[str, Any] = {
        "source": {"id": request_id, "version": source.version},
        "target": None if created is not None else {"id": target_id, "version": target_version_before},
        "links": [_link_record(link)],
        "pins": [[*key, previous]],
    }
    if not still_there:
        before["source_row"] = _snapshot(source) | {"version": source_version}
    after = {
        "source": {"id": request_id, "version": source_version if still_there else None},
        "target": {"id": target_id, "version": target_version, "created": created is not None},
        "mention_id": mention_id,
    }
    audit_id = _audit(conn, org_id=org_id, request_id=request_id, actor=actor, action=MOVE, before=before, after=after)
    _companion(
        conn,
        org_id=org_id,
        primary_id=audit_id,
        request_id=target_id,
        actor=actor,
        action=MOVED_IN,
        after={"from": request_id, "mention_id": mention_id},
    )
    return Outcome(audit_id, (request_id, target_id), created_request_id=created)


# --- Taxonomy -------------------------------------------------------------------------------------


def _lock_taxonomy(conn: Connection, org_id: int, org_slug: str) -> Taxonomy:
    conn.execute(select(OrgTaxonomy.org_id).where(OrgTaxonomy.org_id == org_id).with_for_update()).first()
    taxonomy, _ = load_org_taxonomy(conn, org_id=org_id, org_slug=org_slug)
    return taxonomy


def _store(conn: Connection, org_id: int, taxonomy: Taxonomy) -> None:
    store_org_taxonomy(conn, org_id=org_id, taxonomy=taxonomy, source="edited", force=True)


def _retag(conn: Connection, org_id: int, changes: Mapping[str, str]) -> dict[str, int]:
    """Rename taxonomy paths on stored mentions and requests (old path -> new path)."""
    counts = {"mentions": 0, "requests": 0}
    for model, name in ((FeatureMention, "mentions"), (FeatureRequest, "requests")):
        table = model.__table__.c
        for old, new in changes.items():
            if "/" in old:
                result = conn.execute(
                    update(model)
                    .where(table.org_id == org_id, table.sub_theme == old)
                    .values(sub_theme=new, theme=new.split("/", 1)[0])
                )
            else:
                result = conn.execute(update(model).where(table.org_id == org_id, table.theme == old).values(theme=new))
            counts[name] += result.rowcount
    return counts


def _node_document(node: TaxonomyNode) -> dict[str, Any]:
    return {
        "path": node.path,
        "name": node.name,
        "description": node.description,
        "keywords": list(node.keywords),
        "parent": node.parent,
    }


def _taxonomy_audit(
    conn: Connection, org_id: int, actor: str, action: str, old: Taxonomy, new: Taxonomy, **extra: Any
) -> int:
    before = {"document": taxonomy_document(old), "fingerprint": old.fingerprint()} | extra.pop("before", {})
    after = {"document": taxonomy_document(new), "fingerprint": new.fingerprint()} | extra
    return _audit(conn, org_id=org_id, request_id=None, actor=actor, action=action, before=before, after=after)


def create_theme(
    conn: Connection,
    *,
    org_id: int,
    org_slug: str,
    actor: str,
    segment: str,
    parent: str | None,
    name: str,
    description: str | None = None,
    keywords: Sequence[str] = (),
) -> tuple[Outcome, TaxonomyNode]:
    """Add a theme (`parent` None) or a sub-theme of theme `parent`; `segment` is its own path part."""
    taxonomy = _lock_taxonomy(conn, org_id, org_slug)
    try:
        check_path_segment(segment, "path")
        path = segment if parent is None else f"{parent}/{segment}"
        node = TaxonomyNode(
            path=path,
            name=_clean_text(name, "name", 200),
            description=description,
            keywords=tuple(str(k).lower() for k in keywords),
            parent=parent,
        )
        new = add_node(taxonomy, node)
    except TaxonomyError as error:
        raise _taxonomy_error(error) from None
    _store(conn, org_id, new)
    audit_id = _taxonomy_audit(conn, org_id, actor, THEME_CREATE, taxonomy, new, node=_node_document(node))
    return Outcome(audit_id), node


def _taxonomy_error(error: TaxonomyError) -> CorrectionError:
    message = str(error)
    if "already exists" in message:
        return _conflict(message[0].upper() + message[1:] + ".")
    if "does not exist" in message:
        return CorrectionError(404, "not_found", message[0].upper() + message[1:] + ".")
    if "at least one theme" in message:
        return _conflict(message[0].upper() + message[1:] + ".")
    return _invalid(message[0].upper() + message[1:] + ".", "path")


def edit_theme(
    conn: Connection,
    *,
    org_id: int,
    org_slug: str,
    actor: str,
    path: str,
    new_path: str | None = None,
    name: str | None = None,
    description: str | None = None,
    keywords: Sequence[str] | None = None,
) -> tuple[Outcome, TaxonomyNode]:
    """Rename a theme or sub-theme (its name, or its path), or move a sub-theme to another theme
    (`new_path` under that theme). Stored mentions and requests follow a path change."""
    taxonomy = _lock_taxonomy(conn, org_id, org_slug)
    try:
        new = edit_node(
            taxonomy,
            path,
            new_path=new_path,
            name=None if name is None else _clean_text(name, "name", 200),
            description=description,
            keywords=None if keywords is None else tuple(str(k).lower() for k in keywords),
        )
    except TaxonomyError as error:
        raise _taxonomy_error(error) from None
    target = new_path or path
    changes = path_changes(taxonomy, path, target) if target != path else {}
    node = new.node(target)
    assert node is not None
    if new == taxonomy:
        return Outcome(None), node
    _store(conn, org_id, new)
    counts = _retag(conn, org_id, changes)
    audit_id = _taxonomy_audit(
        conn, org_id, actor, THEME_EDIT, taxonomy, new, paths=changes, retagged=counts, node=_node_document(node)
    )
    return Outcome(audit_id), node


def retire_theme(
    conn: Connection, *, org_id: int, org_slug: str, actor: str, path: str, into: str | None = None
) -> Outcome:
    """Remove a theme (with its sub-themes) or a sub-theme from the taxonomy.

    Mentions and requests filed under it move to `into` (a node of the same level), or lose the
    retired placement (a sub-theme's keep their theme). Their previous placement is kept in the
    audit row, so an undo puts them back.
    """
    taxonomy = _lock_taxonomy(conn, org_id, org_slug)
    node = taxonomy.node(path)
    if node is None:
        raise _not_found(f"Theme {path!r}")
    if into is not None:
        target = taxonomy.node(into)
        if target is None or into == path or (target.parent is None) != (node.parent is None):
            level = "theme" if node.parent is None else "sub-theme"
            raise _invalid(f"`into` must be another {level} of your taxonomy.", "into")
        if node.parent is None and (into.startswith(path + "/")):
            raise _invalid("`into` must not be inside the retired theme.", "into")
    try:
        new = remove_node(taxonomy, path)
    except TaxonomyError as error:
        raise _taxonomy_error(error) from None
    moved: dict[str, list[list[Any]]] = {}
    for model, name in ((FeatureMention, "mentions"), (FeatureRequest, "requests")):
        table = model.__table__.c
        column = table.theme if node.parent is None else table.sub_theme
        rows = conn.execute(
            select(table.id, table.theme, table.sub_theme).where(table.org_id == org_id, column == path)
        ).all()
        moved[name] = [[row.id, row.theme, row.sub_theme] for row in rows]
        if node.parent is None:
            values = {"theme": into, "sub_theme": None}
        else:
            values = {"sub_theme": into, "theme": into.split("/", 1)[0] if into else node.parent}
        conn.execute(update(model).where(table.org_id == org_id, column == path).values(**values))
    _store(conn, org_id, new)
    audit_id = _taxonomy_audit(
        conn,
        org_id,
        actor,
        THEME_RETIRE,
        taxonomy,
        new,
        before={"placements": moved},
        retired=path,
        into=into,
        node=_node_document(node),
    )
    return Outcome(audit_id)


# --- Undo -----------------------------------------------------------------------------------------


def _require_state(row: Row[Any] | None, request_id: int, expected: Mapping[str, Any], what: str) -> Row[Any]:
    """The request, refused (409) if it is gone or no longer holds what the change left in it."""
    if row is None:
        raise _conflict(f"Feature request {request_id} is gone since; this change cannot be undone.")
    for key, value in expected.items():
        if getattr(row, key) != value:
            raise _conflict(
                f"Feature request {request_id} changed since ({what}: {key}); undo the later changes first."
            )
    return row


def undo(conn: Connection, *, org_id: int, org_slug: str, audit_id: int, actor: str) -> Outcome:
    """Reverse the change recorded in audit row `audit_id` (its companion row names the same change).

    Refused (409) when it was undone already, is itself an undo, or when what it changed was changed
    again since (undo the later change first): an edit's fields must still hold the values it set, a
    merged request must still be merged into its target, a moved mention still be where it was moved.
    """
    entry = conn.execute(
        select(CatalogueAudit.__table__)
        .where(CatalogueAudit.org_id == org_id, CatalogueAudit.id == audit_id)
        .with_for_update()
    ).first()
    if entry is None:
        raise _not_found(f"Audit entry {audit_id}")
    if entry.action in COMPANIONS:
        return undo(conn, org_id=org_id, org_slug=org_slug, audit_id=int(entry.after["primary_audit_id"]), actor=actor)
    if entry.action == UNDO:
        raise _conflict("An undo cannot be undone; make the change again instead.")
    if entry.undone_by_id is not None:
        raise _conflict(f"Audit entry {audit_id} was undone already (by {entry.undone_by_id}).")
    before, after = entry.before or {}, entry.after or {}
    touched: tuple[int, ...]
    if entry.action == UPDATE:
        touched = _undo_update(conn, org_id, int(entry.feature_request_id), before, after)
    elif entry.action == MERGE:
        touched = _undo_merge(conn, org_id, before, after)
    elif entry.action == MOVE:
        touched = _undo_move(conn, org_id, before, after)
    elif entry.action in (THEME_CREATE, THEME_EDIT, THEME_RETIRE):
        touched = _undo_taxonomy(conn, org_id, org_slug, entry.action, before, after)
    else:
        raise _conflict(f"Audit entry {audit_id} ({entry.action}) cannot be undone.")
    undo_id = _audit(
        conn,
        org_id=org_id,
        request_id=entry.feature_request_id,
        actor=actor,
        action=UNDO,
        before={"audit_id": audit_id, "action": entry.action},
        after={"undid": audit_id, "action": entry.action},
    )
    undone = [audit_id] + ([int(after["companion_audit_id"])] if "companion_audit_id" in after else [])
    conn.execute(
        update(CatalogueAudit)
        .where(CatalogueAudit.org_id == org_id, CatalogueAudit.id.in_(undone))
        .values(undone_by_id=undo_id)
    )
    return Outcome(undo_id, touched)


def _undo_update(
    conn: Connection, org_id: int, request_id: int, before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[int, ...]:
    rows = lock_requests(conn, org_id, [request_id])
    fields = {key: value for key, value in after.items() if key != "version"}
    _require_state(rows.get(request_id), request_id, fields, "a later edit")
    _bump(conn, request_id, **{key: value for key, value in before.items() if key != "version"})
    return (request_id,)


def _undo_merge(conn: Connection, org_id: int, before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[int, ...]:
    source_id, into_id = int(before["source"]["id"]), int(before["target"]["id"])
    rows = lock_requests(conn, org_id, [source_id, into_id])
    _require_state(rows.get(source_id), source_id, {"merged_into_id": into_id}, "merged elsewhere")
    _require_state(rows.get(into_id), into_id, {"merged_into_id": None}, "merged itself")
    _unplace_links(conn, org_id, before["links"], into_id, source_id)
    _restore_pins(conn, before["pins"], into_id)
    if before["redirected"]:
        conn.execute(
            update(FeatureRequest)
            .where(FR.org_id == org_id, FR.id.in_(before["redirected"]))
            .values(merged_into_id=source_id)
        )
    _bump(conn, source_id, merged_into_id=None)
    _bump(conn, into_id)
    refresh_request_stats(conn, org_id, [source_id, into_id])
    return (source_id, into_id)


def _undo_move(conn: Connection, org_id: int, before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[int, ...]:
    source_id, target_id = int(before["source"]["id"]), int(after["target"]["id"])
    rows = lock_requests(conn, org_id, [source_id, target_id])
    _require_state(rows.get(target_id), target_id, {"merged_into_id": None}, "merged")
    if _find_moved_link(conn, org_id, before["links"][0], target_id) is None:
        raise _conflict(f"The mention is no longer in feature request {target_id}; undo the later move first.")
    if "source_row" in before:
        if source_id in rows:
            raise _conflict(f"Feature request {source_id} exists again; this move cannot be undone.")
        _restore_snapshot(conn, before["source_row"])
    else:
        _require_state(rows.get(source_id), source_id, {"merged_into_id": None}, "merged")
    _unplace_links(conn, org_id, before["links"], target_id, source_id)
    _restore_pins(conn, before["pins"], target_id)
    _bump(conn, source_id)
    if after["target"].get("created"):
        still_linked = conn.execute(select(FRM.mention_id).where(FRM.feature_request_id == target_id)).first()
        if still_linked is None:
            conn.execute(delete(FeatureRequest).where(FR.id == target_id))
        else:
            _bump(conn, target_id)
    else:
        _bump(conn, target_id)
    refresh_request_stats(conn, org_id, [source_id, target_id])
    return (source_id, target_id)


def _undo_taxonomy(
    conn: Connection, org_id: int, org_slug: str, action: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[int, ...]:
    current = _lock_taxonomy(conn, org_id, org_slug)
    if current.fingerprint() != after["fingerprint"]:
        raise _conflict("The taxonomy changed since; undo the later taxonomy changes first.")
    if action == THEME_CREATE:
        # Mentions and requests filed under the new node since would lose their placement.
        path = after["node"]["path"]
        for model in (FeatureMention, FeatureRequest):
            table = model.__table__.c
            column = table.sub_theme if "/" in path else table.theme
            if conn.execute(select(table.id).where(table.org_id == org_id, column == path).limit(1)).first():
                raise _conflict(f"{path!r} is in use since; retire it (with `into`) instead of undoing its creation.")
    restored = parse_taxonomy(before["document"], source="catalogue_audit")
    _store(conn, org_id, restored)
    if action == THEME_EDIT and after.get("paths"):
        _retag(conn, org_id, {new: old for old, new in after["paths"].items()})
    if action == THEME_RETIRE:
        for model, name in ((FeatureMention, "mentions"), (FeatureRequest, "requests")):
            for row_id, theme, sub_theme in before["placements"][name]:
                conn.execute(
                    update(model)
                    .where(model.__table__.c.org_id == org_id, model.__table__.c.id == row_id)
                    .values(theme=theme, sub_theme=sub_theme)
                )
    return ()
