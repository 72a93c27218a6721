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

The taxonomy's writes (create, rename, move, retire a theme) live in `core.taxonomy` and record
their audit rows through `record_audit`; `undo` takes their undo handlers from the caller.

Every person's edit of a request bumps its `version` (the API's ETag); undoing a change is only
allowed while the requests it touched are still at the versions it left them at, so an undo
never silently overwrites a later change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.engine import Row

from headway_assets.core.warehouse.request_stats import refresh_request_stats
from headway_assets.core.warehouse.schema import (
    REQUEST_STATUSES,
    CatalogueAudit,
    CataloguePin,
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Theme,
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
COMPANIONS = (MERGED_IN, MOVED_IN)


class CorrectionError(Exception):
    """A correction refused; nothing was written. `status` is the HTTP status the API answers."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def not_found_error(what: str) -> CorrectionError:
    return CorrectionError(404, "not_found", f"{what} not found.")


def invalid(message: str, field: str | None = None) -> CorrectionError:
    # 400, not 422: the request met its schema; what it names cannot be done (the API's convention).
    return CorrectionError(400, "invalid_correction", message, field)


def conflict(message: str) -> CorrectionError:
    return CorrectionError(409, "conflict", message)


@dataclass(frozen=True)
class Outcome:
    """What a correction did: its audit row, and the requests it touched (None when nothing changed)."""

    audit_id: int | None
    request_ids: tuple[int, ...] = ()
    created_request_id: int | None = None
    row: Any = None  # what an edit's UPDATE ... RETURNING gave back (its `returning` columns)


# --- Shared pieces ------------------------------------------------------------------------------


# What an edit reads of the request it locks (fewer columns than the whole row: a PATCH is hot).
EDIT_COLUMNS = (
    FR.id,
    FR.version,
    FR.merged_into_id,
    FR.status,
    FR.title,
    FR.description,
    FR.theme,
    FR.sub_theme,
    FR.owner,
    FR.title_locked,
    FR.taxonomy_locked,
)


def lock_requests(
    conn: Connection, org_id: int, request_ids: Sequence[int], columns: Sequence[Any] | None = None
) -> dict[int, Row[Any]]:
    """The org's requests with these ids (whole rows, or `columns` with the id first), locked for
    this transaction (in id order: no deadlock)."""
    chosen = select(*columns) if columns is not None else select(FeatureRequest.__table__)
    rows = conn.execute(
        chosen.where(FR.org_id == org_id, FR.id.in_(sorted(set(request_ids)))).order_by(FR.id).with_for_update()
    ).all()
    return {row.id: row for row in rows}


# The hot path of a PATCH, built once (statement building and cache keys cost more CPU than the
# round trips): the locked read, the audit insert, and an UPDATE per set of edited fields.
_LOCK_FOR_EDIT = (
    select(*EDIT_COLUMNS).where(FR.org_id == bindparam("org_id"), FR.id == bindparam("request_id")).with_for_update()
)
_AUDIT_INSERT = insert(CatalogueAudit).returning(CatalogueAudit.id)


@lru_cache(maxsize=256)
def _edit_statement(fields: tuple[str, ...], returning: tuple[Any, ...]) -> Any:
    values = {name: bindparam(f"new_{name}", type_=FR[name].type) for name in fields}
    return (
        update(FeatureRequest)
        .where(FR.id == bindparam("request_id"))
        .values(version=FR.version + 1, **values)
        .returning(FR.version, *returning)
    )


def _one_request(
    conn: Connection, org_id: int, request_id: int, what: str = "Feature request", columns: Sequence[Any] | None = None
) -> Row[Any]:
    row = lock_requests(conn, org_id, [request_id], columns).get(request_id)
    if row is None:
        raise not_found_error(f"{what} {request_id}")
    return row


def _live(row: Row[Any], role: str) -> None:
    if row.merged_into_id is not None:
        raise conflict(
            f"Feature request {row.id} ({role}) was merged into {row.merged_into_id}; use that request instead."
        )


def record_audit(
    conn: Connection,
    *,
    org_id: int,
    request_id: int | None,
    actor: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> int:
    """Write one `catalogue_audit` row; its id."""
    row = {
        "org_id": org_id,
        "feature_request_id": request_id,
        "actor": actor,
        "action": action,
        "before": before,
        "after": after,
        "created_at": utc_now(),
        "undone_by_id": None,
    }
    return int(conn.execute(_AUDIT_INSERT, row).scalar_one())


def _companion(
    conn: Connection, *, org_id: int, primary_id: int, request_id: int, actor: str, action: str, after: dict[str, Any]
) -> None:
    """The companion row of a merge or move on its other request, named in the primary's `after`."""
    companion_id = record_audit(
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
    return int(_bump_returning(conn, request_id, (), **values)[0])


def _bump_returning(conn: Connection, request_id: int, returning: Sequence[Any], **values: Any) -> Row[Any]:
    """`_bump`, returning the new version and then the `returning` columns of the edited row."""
    fields = tuple(sorted(values))
    parameters = {"request_id": request_id, **{f"new_{name}": values[name] for name in fields}}
    return conn.execute(_edit_statement(fields, tuple(returning)), parameters).one()


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


# --- For the pipeline ------------------------------------------------------------------------------


def pins_of(conn: Connection, org_id: int, message_ids: Sequence[int] | None = None) -> dict[tuple[int, int, str], int]:
    """Where people placed mentions: (message id, quote offset, mention title) -> request id.

    The catalogue links a (re-)extracted mention that matches a pin to the pinned request, pinned,
    whatever the matcher would say. `message_ids` narrows it to the messages a run touches.
    """
    query = select(PIN.message_id, PIN.evidence_start, PIN.title, PIN.feature_request_id).where(PIN.org_id == org_id)
    pins: dict[tuple[int, int, str], int] = {}
    if message_ids is None:
        rows = conn.execute(query).all()
    else:
        ids = sorted(set(message_ids))
        rows = [
            row for start in range(0, len(ids), 500)
            for row in conn.execute(query.where(PIN.message_id.in_(ids[start : start + 500]))).all()
        ]  # fmt: skip
    for message_id, start_at, title, request_id in rows:
        pins[_pin_key(message_id, start_at, title)] = int(request_id)
    return pins


# --- Edit a request -------------------------------------------------------------------------------


def clean_text(value: Any, field: str, limit: int, *, blank_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise invalid(f"{field} must be a string.", field)
    text = value.strip()
    if not text and not blank_ok:
        raise invalid(f"{field} must not be empty.", field)
    if len(text) > limit:
        raise invalid(f"{field} is longer than {limit} characters.", field)
    return text


def _placement(
    row: Row[Any], changes: Mapping[str, Any], taxonomy: Mapping[str, str | None]
) -> tuple[str | None, str | None]:
    """The (theme, sub_theme) a request gets from a change of either; both must be in the taxonomy."""
    theme = changes.get("theme", row.theme)
    sub_theme = changes.get("sub_theme", row.sub_theme)
    if "sub_theme" in changes and sub_theme is not None:
        parent = taxonomy.get(sub_theme)
        if parent is None:
            raise invalid(f"Sub-theme {sub_theme!r} is not in your organisation's taxonomy.", "sub_theme")
        if "theme" in changes and theme is not None and theme != parent:
            raise invalid(f"Sub-theme {sub_theme!r} belongs to theme {parent!r}, not {theme!r}.", "theme")
        return parent, sub_theme
    if "theme" in changes and theme is not None:
        if theme not in taxonomy or taxonomy[theme] is not None:
            raise invalid(f"Theme {theme!r} is not in your organisation's taxonomy.", "theme")
        if sub_theme is not None and taxonomy.get(sub_theme) != theme:
            sub_theme = None  # the old sub-theme is not under the new theme
    if theme is None:
        sub_theme = None
    return theme, sub_theme


def _theme_rows(conn: Connection, org_id: int) -> dict[str, str | None]:
    """The org's taxonomy as the `themes` rows have it: node path -> its theme's path (None for a theme)."""
    rows = conn.execute(select(Theme.id, Theme.path, Theme.parent_id).where(Theme.org_id == org_id)).all()
    paths = {row.id: row.path for row in rows}
    return {row.path: paths.get(row.parent_id) if row.parent_id else None for row in rows}


def update_request(
    conn: Connection,
    *,
    org_id: int,
    request_id: int,
    actor: str,
    changes: Mapping[str, Any],
    expected_version: int | None,
    taxonomy: Mapping[str, str | None] | None = None,
    returning: Sequence[Any] = (),
) -> Outcome:
    """Edit a request's status, title, description, theme, sub-theme or owner (a person's PATCH).

    `expected_version` must be the request's version (optimistic concurrency: 412 otherwise; None
    takes whatever version is current, `If-Match: *`). The outcome's `row` is the edited row's
    `returning` columns after the change (None when nothing changed).
    `taxonomy` maps the org's node paths to their theme (None for a theme): a new theme or
    sub-theme must be in it (the caller loads it, `core.taxonomy.node_parents`; None reads the
    `themes` rows).
    Setting the title or description locks them against the pipeline (`title_locked`); setting the
    theme or sub-theme locks the placement (`taxonomy_locked`). A change that changes nothing
    writes nothing (no audit row, no new version).
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise invalid(f"Unknown fields: {', '.join(unknown)}.", unknown[0])
    row = conn.execute(_LOCK_FOR_EDIT, {"org_id": org_id, "request_id": request_id}).first()
    if row is None:
        raise not_found_error(f"Feature request {request_id}")
    _live(row, "edited")
    if expected_version is not None and row.version != expected_version:
        raise CorrectionError(
            412,
            "precondition_failed",
            f"Feature request {request_id} is at version {row.version}, not {expected_version}: someone changed it"
            " since you read it. GET it again and re-apply your change.",
        )
    values: dict[str, Any] = {}
    if "status" in changes:
        if changes["status"] not in REQUEST_STATUSES:
            raise invalid(f"Status must be one of {', '.join(REQUEST_STATUSES)}.", "status")
        values["status"] = changes["status"]
    if "title" in changes:
        values["title"] = clean_text(changes["title"], "title", MAX_TITLE_LENGTH)
    if "description" in changes:
        values["description"] = clean_text(changes["description"], "description", MAX_DESCRIPTION_LENGTH, blank_ok=True)
    if "owner" in changes:
        owner = changes["owner"]
        values["owner"] = None if owner is None else clean_text(owner, "owner", MAX_OWNER_LENGTH, blank_ok=True) or None
    if "title" in changes or "description" in changes:
        values["title_locked"] = True
    if "theme" in changes or "sub_theme" in changes:
        nodes = taxonomy if taxonomy is not None else _theme_rows(conn, org_id)
        values["theme"], values["sub_theme"] = _placement(row, changes, nodes)
        values["taxonomy_locked"] = True
    changed = {key: value for key, value in values.items() if getattr(row, key) != value}
    if not changed:
        return Outcome(None, (request_id,))
    edited = _bump_returning(conn, request_id, returning, **changed)
    before = {key: getattr(row, key) for key in changed} | {"version": row.version}
    after = dict(changed) | {"version": edited[0]}
    audit_id = record_audit(
        conn, org_id=org_id, request_id=request_id, actor=actor, action=UPDATE, before=before, after=after
    )
    return Outcome(audit_id, (request_id,), row=edited)


# --- Merge ----------------------------------------------------------------------------------------


def merge_requests(conn: Connection, *, org_id: int, source_id: int, into_id: int, actor: str) -> Outcome:
    """Merge request `source_id` into `into_id`: every link moves (pinned), the source becomes a
    tombstone pointing at the target, and tombstones that pointed at the source now point at the
    target. Refused: into itself, from or into a tombstone, ids of other organisations (404)."""
    if source_id == into_id:
        raise invalid("A feature request cannot be merged into itself.", "into")
    rows = lock_requests(conn, org_id, [source_id, into_id])
    if source_id not in rows:
        raise not_found_error(f"Feature request {source_id}")
    if into_id not in rows:
        raise not_found_error(f"Feature request {into_id} (the merge target)")
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
    audit_id = record_audit(
        conn, org_id=org_id, request_id=source_id, actor=actor, action=MERGE, before=before, after=after
    )
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
            raise invalid(f"Merging {source_id} into {into_id} would make a cycle of merges.", "into")
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
        raise invalid(f"Mention {mention_id} is already in feature request {request_id}.", "to")
    if to is None:
        if title is None:
            raise invalid("Give `to` (a request id) or a `title` for a new request.", "title")
        title = clean_text(title, "title", MAX_TITLE_LENGTH)
    elif title is not None:
        raise invalid("Give either `to` or `title`, not both.", "title")
    rows = lock_requests(conn, org_id, [request_id] if to is None else [request_id, to])
    if request_id not in rows:
        raise not_found_error(f"Feature request {request_id}")
    source = rows[request_id]
    links = _links_of(conn, org_id, request_id, mention_id)
    if not links:
        raise not_found_error(f"Mention {mention_id} in feature request {request_id}")
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
            raise not_found_error(f"Feature request {to} (the move target)")
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
    audit_id = record_audit(
        conn, org_id=org_id, request_id=request_id, actor=actor, action=MOVE, before=before, after=after
    )
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


# --- Undo -----------------------------------------------------------------------------------------


def _require_state(row: Row[Any] | None, request_id: int, expected: Mapping[str, Any], what: str) -> Row[Any]:
    """The request, refused (409) if it is gone or no longer holds what the change left in it."""
    if row is None:
        raise conflict(f"Feature request {request_id} is gone since; this change cannot be undone.")
    for key, value in expected.items():
        if getattr(row, key) != value:
            raise conflict(f"Feature request {request_id} changed since ({what}: {key}); undo the later changes first.")
    return row


# Undoes a kind of change recorded elsewhere (the taxonomy's, in core.taxonomy): given the
# transaction, the org, its slug, the action and the audit row's before and after; returns the
# requests it touched.
UndoHandler = Callable[[Connection, int, str, str, Mapping[str, Any], Mapping[str, Any]], tuple[int, ...]]


def undo(
    conn: Connection,
    *,
    org_id: int,
    org_slug: str,
    audit_id: int,
    actor: str,
    handlers: Mapping[str, UndoHandler] | None = None,
) -> Outcome:
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
        raise not_found_error(f"Audit entry {audit_id}")
    if entry.action in COMPANIONS:
        primary = int(entry.after["primary_audit_id"])
        return undo(conn, org_id=org_id, org_slug=org_slug, audit_id=primary, actor=actor, handlers=handlers)
    if entry.action == UNDO:
        raise conflict("An undo cannot be undone; make the change again instead.")
    if entry.undone_by_id is not None:
        raise conflict(f"Audit entry {audit_id} was undone already (by {entry.undone_by_id}).")
    before, after = entry.before or {}, entry.after or {}
    touched: tuple[int, ...]
    if entry.action == UPDATE:
        touched = _undo_update(conn, org_id, int(entry.feature_request_id), before, after)
    elif entry.action == MERGE:
        touched = _undo_merge(conn, org_id, before, after)
    elif entry.action == MOVE:
        touched = _undo_move(conn, org_id, before, after)
    elif handlers and entry.action in handlers:
        touched = handlers[entry.action](conn, org_id, org_slug, entry.action, before, after)
    else:
        raise conflict(f"Audit entry {audit_id} ({entry.action}) cannot be undone.")
    undo_id = record_audit(
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
        raise conflict(f"The mention is no longer in feature request {target_id}; undo the later move first.")
    if "source_row" in before:
        if source_id in rows:
            raise conflict(f"Feature request {source_id} exists again; this move cannot be undone.")
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
