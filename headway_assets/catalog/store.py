"""The catalogue in the warehouse: what is new, what people decided, and writing a linking pass.

Incremental by construction: a mention is new to the catalogue exactly when it has no link
(tier-2 replaces a changed message's mentions, and their links go with them). A run loads the
new mentions, the people's pins for their messages, and the org's live requests (title,
description, place, a few member titles); it writes new requests and links, and refreshes the
statistics of the requests it touched, of those that lost mentions, and of those whose 7-day
windows moved (requests seen in the last two weeks), never of the whole history.

When new mentions sort before mentions already linked (a back-filled or late-synced day), the
later mentions' pipeline links are replaced and they are linked again after the new ones
(`_later_than_new`), so the catalogue ends where linking in canonical order would; a daily run
whose mentions are the newest reads nothing more.

People's corrections are constraints here:
- a pinned link (a person moved or merged the mention) is never moved, and a rebuild keeps it;
- a pin row (`catalogue_pins`) places a re-extracted mention of the same message and quote
  where the person put the old one;
- a request a person touched (status, owner, title, place, created by a person, merged) is
  never deleted by a rebuild; its title and place are never rewritten by the pipeline;
- a merged request (tombstone) is never a candidate; pins to it follow `merged_into_id`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, exists, func, insert, or_, select, update

from headway_assets.catalog.linker import MAX_MEMBER_WORDINGS
from headway_assets.catalog.model import (
    METHOD_PINNED,
    TREND_DAYS,
    MentionRecord,
    RequestState,
    normalise_title,
)
from headway_assets.core.warehouse.bulk import batches, insert_rows
from headway_assets.core.warehouse.request_customers import add_request_customers
from headway_assets.core.warehouse.request_stats import (
    AddedMention,
    add_to_request_stats,
    has_person_state,
    org_as_of,
    refresh_request_stats,
    refresh_request_windows,
)
from headway_assets.core.warehouse.schema import (
    CataloguePin,
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Message,
    Organization,
    utc_now,
)

MAX_STORED_EXAMPLES = MAX_MEMBER_WORDINGS  # member titles kept on a request for candidate search and the matcher
UNLINKED_WINDOW = 1000  # mention ids searched first for unlinked mentions (the newest)


def _mention_query() -> Any:
    return select(
        FeatureMention.id,
        FeatureMention.org_id,
        FeatureMention.message_id,
        FeatureMention.title,
        FeatureMention.description,
        FeatureMention.kind,
        FeatureMention.theme,
        FeatureMention.sub_theme,
        FeatureMention.customer,
        FeatureMention.source,
        FeatureMention.sent_at,
        FeatureMention.ordinal,
        FeatureMention.evidence_quote,
        FeatureMention.evidence_start,
        Message.external_id,
    ).join(Message, Message.id == FeatureMention.message_id)


def _record(row: Any) -> MentionRecord:
    return MentionRecord(
        id=row.id,
        org_id=row.org_id,
        title=row.title,
        description=row.description,
        kind=row.kind,
        theme=row.theme,
        sub_theme=row.sub_theme,
        customer=row.customer,
        source=row.source,
        sent_at=row.sent_at,
        external_id=row.external_id,
        ordinal=row.ordinal,
        quote=row.evidence_quote,
        message_id=row.message_id,
    )


@dataclass
class CatalogueWork:
    """What one linking pass starts from."""

    mentions: list[MentionRecord]  # to link (judged or pinned)
    requests: list[RequestState]  # the live requests they may join
    pinned: dict[int, RequestState] = field(default_factory=dict)  # mention id -> where a person put it
    rebuild_orgs: set[int] = field(default_factory=set)  # orgs whose catalogue is rebuilt
    replaced_keys: dict[tuple[int, str], int] = field(default_factory=dict)  # a rebuild reuses ids by key
    # Orgs where a back-filled mention sorts before linked ones: mention ids whose pipeline links
    # are replaced (the mentions are linked again, in canonical order, after the back-filled ones).
    relinked: dict[int, set[int]] = field(default_factory=dict)
    # Requests whose stored wordings are recomputed from the members they keep: those that keep only
    # earlier mentions, and a rebuild's requests people decided on (their pinned members).
    trimmed: list[RequestState] = field(default_factory=list)


def _pending(conn: Connection, org_ids: Collection[int] | None = None) -> int:
    """How many mentions have no link: mentions less links (a link names one mention, at most once,
    and links go with their mentions), two index counts instead of an anti-join over history."""
    mentions = select(func.count()).select_from(FeatureMention)
    links = select(func.count()).select_from(FeatureRequestMention)
    if org_ids is not None:
        mentions = mentions.where(FeatureMention.org_id.in_(list(org_ids)))
        links = links.where(FeatureRequestMention.org_id.in_(list(org_ids)))
    return int(conn.execute(mentions).scalar_one()) - int(conn.execute(links).scalar_one())


def load_unlinked(conn: Connection, org_ids: Collection[int] | None = None) -> list[MentionRecord]:
    """Mentions with no link: new since the catalogue last ran, or re-extracted since.

    Searched newest first in id ranges that grow fourfold, until as many as are missing are found:
    the usual case (the new mentions are the newest rows) reads one small range through the
    primary key instead of an anti-join over history (which PostgreSQL's planner would choose for
    a plain `ORDER BY id DESC LIMIT`); an older unlinked mention is still found, by a wider range.
    """
    pending = _pending(conn, org_ids)
    if pending <= 0:
        return []
    query = _mention_query().where(~exists().where(FeatureRequestMention.mention_id == FeatureMention.id))
    if org_ids is not None:
        query = query.where(FeatureMention.org_id.in_(list(org_ids)))
    top = conn.execute(select(func.max(FeatureMention.id))).scalar_one()
    found: list[MentionRecord] = []
    upper, width = int(top) + 1, max(UNLINKED_WINDOW, 4 * pending)
    while len(found) < pending and upper > 0:
        lower = upper - width
        bounded = query.where(FeatureMention.id < upper)
        if lower > 0:
            bounded = bounded.where(FeatureMention.id >= lower)
        found += [_record(row) for row in conn.execute(bounded)]
        upper, width = lower, width * 4
    return found


def _requests(conn: Connection, org_ids: Collection[int], only: Any = None) -> list[RequestState]:
    query = select(
        FeatureRequest.id,
        FeatureRequest.key,
        FeatureRequest.org_id,
        FeatureRequest.title,
        FeatureRequest.description,
        FeatureRequest.kind,
        FeatureRequest.theme,
        FeatureRequest.sub_theme,
        FeatureRequest.examples,
        FeatureRequest.first_seen,
        has_person_state().label("decided"),
    ).where(FeatureRequest.org_id.in_(list(org_ids)), FeatureRequest.merged_into_id.is_(None))
    if only is not None:
        query = query.where(only)
    return [
        RequestState(
            id=row.id,
            key=row.key,
            org_id=row.org_id,
            title=row.title,
            description=row.description,
            kind=row.kind,
            theme=row.theme,
            sub_theme=row.sub_theme,
            examples=list((row.examples or {}).get("titles", [])),
            described=_described(row.examples),
            first_seen=row.first_seen,
            decided=bool(row.decided),
        )
        for row in conn.execute(query.order_by(FeatureRequest.id))
    ]


def _live_target(conn: Connection, request_id: int) -> int | None:
    """Follow merges to the request a pin now means (None when it is gone)."""
    seen: set[int] = set()
    current: int | None = request_id
    while current is not None and current not in seen:
        seen.add(current)
        row = conn.execute(select(FeatureRequest.merged_into_id).where(FeatureRequest.id == current)).first()
        if row is None:
            return None
        if row.merged_into_id is None:
            return current
        current = row.merged_into_id
    return None


def _same_ask(mention: MentionRecord, pin: Any) -> bool:
    """A re-extracted mention is the pinned one when its title or its quote is the same (one
    quote containing the other: a provider may cut it a little longer or shorter)."""
    if normalise_title(mention.title) == normalise_title(pin.title):
        return True
    quote, pinned = mention.quote.strip(), pin.evidence_quote.strip()
    return bool(quote and pinned) and (pinned in quote or quote in pinned)


def _pins(
    conn: Connection, mentions: Sequence[MentionRecord], requests: dict[int, RequestState]
) -> dict[int, RequestState]:
    """Where people put these mentions' earlier versions (same message, overlapping quote or same title)."""
    by_message: dict[int, list[MentionRecord]] = defaultdict(list)
    for mention in mentions:
        if mention.message_id is not None:
            by_message[mention.message_id].append(mention)
    if not by_message:
        return {}
    placed: dict[int, RequestState] = {}
    rows: list[Any] = []
    for batch in batches(sorted(by_message)):
        rows += conn.execute(
            select(
                CataloguePin.message_id,
                CataloguePin.title,
                CataloguePin.evidence_quote,
                CataloguePin.feature_request_id,
            )
            .where(CataloguePin.message_id.in_(list(batch)))
            .order_by(CataloguePin.id)
        ).all()
    for pin in rows:
        target_id = _live_target(conn, pin.feature_request_id)
        target = requests.get(target_id) if target_id is not None else None
        if target is None:
            continue
        for mention in by_message[pin.message_id]:
            if _same_ask(mention, pin):
                placed[mention.id] = target  # the latest pin wins
    return placed


def load_work(conn: Connection, *, rebuild_orgs: Collection[int] = ()) -> CatalogueWork:
    """The mentions to link and the requests they may join; for `rebuild_orgs`, every mention
    a person did not place, against only the requests people decided on."""
    rebuild = set(rebuild_orgs)
    if rebuild:
        # A rebuilt org's unlinked mentions are among its mentions read below: read the others' only.
        others = set(conn.execute(select(Organization.id)).scalars()) - rebuild
        mentions = load_unlinked(conn, others) if others else []
    else:
        mentions = load_unlinked(conn)
    replaced: dict[tuple[int, str], int] = {}
    if rebuild:
        pinned_links = select(FeatureRequestMention.mention_id).where(FeatureRequestMention.pinned)
        relinked = [
            _record(row)
            for row in conn.execute(
                _mention_query().where(FeatureMention.org_id.in_(list(rebuild)), FeatureMention.id.not_in(pinned_links))
            )
        ]
        seen = {m.id for m in relinked}
        mentions = [m for m in mentions if m.org_id not in rebuild or m.id not in seen] + relinked
        replaced = {
            (row.org_id, row.key): row.id
            for row in conn.execute(
                select(FeatureRequest.org_id, FeatureRequest.key, FeatureRequest.id).where(
                    FeatureRequest.org_id.in_(list(rebuild)), ~has_person_state()
                )
            )
        }
    org_ids = {m.org_id for m in mentions}
    requests: list[RequestState] = []
    relinked_ids: dict[int, set[int]] = {}
    trimmed: list[RequestState] = []
    if org_ids - rebuild:
        requests += _requests(conn, org_ids - rebuild)
        later, relinked_ids, dropped, kept = _later_than_new(conn, [m for m in mentions if m.org_id not in rebuild])
        if later:
            mentions += later
            replaced |= dropped
            gone = set(dropped.values())
            requests = [r for r in requests if r.id not in gone]
            for request in requests:
                if request.id in kept:
                    request.examples = [title for title, _ in kept[request.id]]
                    request.described = {normalise_title(t): d for t, d in kept[request.id] if d}
                    trimmed.append(request)
    if org_ids & rebuild:
        kept_by_people = _requests(conn, org_ids & rebuild, has_person_state())
        # A rebuild starts these from the links it keeps (their pinned members), not from the
        # wordings the replaced catalogue's pipeline links left in `examples`: those would make a
        # rebuild depend on the catalogue it replaces (a second rebuild found near-identical
        # titles the first had to ask the matcher about).
        pinned_members = _members_of(conn, [r.id for r in kept_by_people if r.id is not None], pinned_only=True)
        for request in kept_by_people:
            wordings = _member_wordings(request.title, pinned_members.get(request.id, []) if request.id else [])
            request.examples = [title for title, _ in wordings]
            request.described = {normalise_title(t): d for t, d in wordings if d}
        requests += kept_by_people
        trimmed += kept_by_people  # stored with these wordings even when no mention joins them
    by_id = {request.id: request for request in requests if request.id is not None}
    pinned = _pins(conn, mentions, by_id)
    return CatalogueWork(mentions, requests, pinned, rebuild, replaced, relinked_ids, trimmed)


def _later_than_new(
    conn: Connection, new: Sequence[MentionRecord]
) -> tuple[list[MentionRecord], dict[int, set[int]], dict[tuple[int, str], int], dict[int, list[tuple[str, str]]]]:
    """Linked mentions that sort after an org's earliest new one (a back-filled day), to be linked
    again after it, so the catalogue ends as linking everything in canonical order would.

    Returns those mentions, their ids by org, the requests nobody decided on that lose every
    mention ((org, key) -> id: dropped, their ids reused if founded again) and, for requests that
    keep earlier mentions, their member wordings recomputed from those (id -> titles). Links
    people pinned stay where they are. Nothing is returned when the new mentions are the latest,
    the usual daily case: then a run reads nothing more.
    """
    earliest: dict[int, MentionRecord] = {}
    for mention in new:
        if mention.org_id not in earliest or mention.order_key < earliest[mention.org_id].order_key:
            earliest[mention.org_id] = mention
    new_ids = {m.id for m in new}
    later: list[MentionRecord] = []
    relinked: dict[int, set[int]] = {}
    for org_id, first in sorted(earliest.items()):
        rows = conn.execute(
            _mention_query()
            .add_columns(FeatureRequestMention.feature_request_id)
            .join(FeatureRequestMention, FeatureRequestMention.mention_id == FeatureMention.id)
            .where(
                FeatureMention.org_id == org_id,
                FeatureMention.sent_at >= first.sent_at,
                FeatureRequestMention.pinned.is_(False),
            )
        ).all()
        found = [_record(row) for row in rows if row.id not in new_ids]
        found = [m for m in found if m.order_key > first.order_key]
        if found:
            later += found
            relinked[org_id] = {m.id for m in found}
    if not later:
        return [], {}, {}, {}
    ids = {m.id for m in later}
    losing: set[int] = set()
    for batch in batches(sorted(ids)):
        losing |= set(
            conn.execute(
                select(FeatureRequestMention.feature_request_id).where(FeatureRequestMention.mention_id.in_(batch))
            ).scalars()
        )
    affected = _members_of(conn, sorted(losing), leaving=ids)
    decided = (
        set(
            conn.execute(
                select(FeatureRequest.id).where(FeatureRequest.id.in_(list(losing)), has_person_state())
            ).scalars()
        )
        if losing
        else set()
    )
    dropped = {
        (row.org_id, row.key): row.id
        for row in conn.execute(
            select(FeatureRequest.org_id, FeatureRequest.key, FeatureRequest.id).where(
                FeatureRequest.id.in_([i for i in losing if i not in affected and i not in decided])
            )
        )
    }
    kept: dict[int, list[tuple[str, str]]] = {}
    for request_id in losing - set(dropped.values()):
        title = conn.execute(select(FeatureRequest.title).where(FeatureRequest.id == request_id)).scalar_one()
        kept[request_id] = _member_wordings(title, affected.get(request_id, []))
    return later, relinked, dropped, kept


def _member_wordings(title: str, members: Sequence[tuple[Any, str, str]]) -> list[tuple[str, str]]:
    """A request's stored wordings from the members it keeps ((order key, title, description)):
    distinct, in canonical order, the request's own title excluded, capped as the linker caps them."""
    wordings: list[tuple[str, str]] = []
    seen = {normalise_title(title)}
    for _, member, description in sorted(members):
        normal = normalise_title(member)
        if normal and normal not in seen and len(wordings) < MAX_STORED_EXAMPLES:
            seen.add(normal)
            wordings.append((member, description))
    return wordings


def _members_of(
    conn: Connection, request_ids: Sequence[int], *, pinned_only: bool = False, leaving: Collection[int] = ()
) -> dict[int, list[tuple[Any, str, str]]]:
    """The members of these requests as (order key, title, description) by request id: all of them but
    the mentions `leaving`, or only the pinned ones (the links a rebuild keeps)."""
    members: dict[int, list[tuple[Any, str, str]]] = defaultdict(list)
    for batch in batches(sorted(request_ids)):
        query = (
            select(
                FeatureRequestMention.feature_request_id,
                FeatureRequestMention.mention_id,
                FeatureMention.title,
                FeatureMention.description,
                FeatureMention.sent_at,
                FeatureMention.source,
                Message.external_id,
                FeatureMention.ordinal,
            )
            .join(FeatureMention, FeatureMention.id == FeatureRequestMention.mention_id)
            .join(Message, Message.id == FeatureMention.message_id)
            .where(FeatureRequestMention.feature_request_id.in_(batch))
        )
        for row in conn.execute(query.where(FeatureRequestMention.pinned) if pinned_only else query):
            if row.mention_id not in leaving:
                members[row.feature_request_id].append(
                    ((row.sent_at, row.source, row.external_id, row.ordinal), row.title, row.description)
                )
    return members


@dataclass
class WriteReport:
    """What a write did: requests created, links written, requests refreshed and removed."""

    created: int = 0
    reused_ids: int = 0
    links: int = 0
    refreshed: int = 0
    removed_by_rebuild: int = 0
    merged: int = 0


def _examples(request: RequestState) -> dict[str, list[str]]:
    """The member wordings stored with a request (distinct, the title excluded, capped), and the
    description each came with ("" when unknown)."""
    titles: list[str] = []
    seen = {normalise_title(request.title)}
    for title in request.examples:
        normal = normalise_title(title)
        if normal and normal not in seen:
            seen.add(normal)
            titles.append(title)
    titles = titles[:MAX_STORED_EXAMPLES]
    return {"titles": titles, "descriptions": [request.described.get(normalise_title(t), "") for t in titles]}


def _described(stored: dict[str, list[str]] | None) -> dict[str, str]:
    """Normalised wording -> description, from a request's stored examples."""
    stored = stored or {}
    return {
        normalise_title(title): description
        for title, description in zip(stored.get("titles", []), stored.get("descriptions", []), strict=False)
        if description
    }


def _drop_replaced(conn: Connection, work: CatalogueWork, touched: Sequence[RequestState], org_id: int) -> int:
    """Delete the org's replaced requests that this pass did not found again (their ids are reused
    by key otherwise); returns how many went."""
    founded_again = {r.key for r in touched if r.id is None and r.org_id == org_id}
    gone = [
        request_id
        for (org, key), request_id in work.replaced_keys.items()
        if org == org_id and key not in founded_again
    ]
    for batch in batches(gone):
        conn.execute(delete(FeatureRequest).where(FeatureRequest.id.in_(list(batch))))
    return len(gone)


def write_pass(
    conn: Connection,
    work: CatalogueWork,
    touched: Sequence[RequestState],
    merges: Sequence[tuple[RequestState, RequestState]] = (),
) -> WriteReport:
    """Write a linking pass in the caller's transaction: rebuild resets, new requests, links, stats."""
    report = WriteReport()
    now = utc_now()
    orgs = sorted({r.org_id for r in touched} | work.rebuild_orgs | {m.org_id for m in work.mentions})
    # Before this pass adds links: requests that lost mentions since their stats were written.
    stale = {org_id: _stale(conn, org_id) for org_id in orgs if org_id not in work.rebuild_orgs}
    for org_id in sorted(work.rebuild_orgs):
        # Requests nobody decided on go (ids reused below by key); people's requests lose only the
        # links the pipeline made.
        conn.execute(
            delete(FeatureRequestMention).where(
                FeatureRequestMention.org_id == org_id, FeatureRequestMention.pinned.is_(False)
            )
        )
        report.removed_by_rebuild += _drop_replaced(conn, work, touched, org_id)
    touched_by_org: dict[int, set[int]] = defaultdict(set)  # requests founded (or re-founded) by this pass
    for org_id, mention_ids in sorted(work.relinked.items()):
        # A back-filled mention sorts before these: their pipeline links are written again.
        for batch in batches(sorted(mention_ids)):
            conn.execute(
                delete(FeatureRequestMention).where(
                    FeatureRequestMention.mention_id.in_(batch), FeatureRequestMention.pinned.is_(False)
                )
            )
        report.removed_by_rebuild += _drop_replaced(conn, work, touched, org_id)
    touched_ids = {id(r) for r in touched}
    for request in work.trimmed:
        assert request.id is not None
        touched_by_org[request.org_id].add(request.id)  # lost mentions: recomputed from its links
        if id(request) not in touched_ids:
            conn.execute(
                update(FeatureRequest).where(FeatureRequest.id == request.id).values(examples=_examples(request))
            )
    links: list[dict[str, Any]] = []
    joined_by_org: dict[int, dict[int, list[AddedMention]]] = defaultdict(dict)  # stored requests that gained
    taken_keys: dict[int, set[str]] = {}
    for request in touched:
        values = {
            "title": request.title,
            "description": request.description,
            "kind": request.kind,
            "theme": request.theme,
            "sub_theme": request.sub_theme,
        }
        founded = request.id is None
        if founded:
            reused = work.replaced_keys.get((request.org_id, request.key))
            examples = _examples(request)
            if reused is not None:
                conn.execute(
                    update(FeatureRequest)
                    .where(FeatureRequest.id == reused)
                    .values(**values, examples=examples, updated_at=now)
                )
                request.id = reused
                report.reused_ids += 1
            else:
                if request.org_id not in taken_keys:  # read once per org, not once per request
                    taken_keys[request.org_id] = set(
                        conn.execute(
                            select(FeatureRequest.key).where(FeatureRequest.org_id == request.org_id)
                        ).scalars()
                    )
                request.key = _free_key(request.key, taken_keys[request.org_id])
                first = min(m.sent_at for m in request.mentions)
                request.id = conn.execute(
                    insert(FeatureRequest)
                    .values(
                        org_id=request.org_id,
                        key=request.key,
                        **values,
                        examples=examples,
                        mention_count=0,
                        customer_count=0,
                        customers={"names": []},
                        sources={},
                        first_seen=first,
                        last_seen=first,
                        updated_at=now,
                    )
                    .returning(FeatureRequest.id)
                ).scalar_one()
                report.created += 1
        else:
            # Loaded with the request, then extended by the linker with its new members' wordings.
            conn.execute(
                update(FeatureRequest).where(FeatureRequest.id == request.id).values(examples=_examples(request))
            )
        request_id = request.id
        if request_id is None:  # cannot happen: a founded request got its id above
            raise RuntimeError("a catalogue request was written without an id")
        if founded:
            touched_by_org[request.org_id].add(request_id)
        else:
            joined_by_org[request.org_id][request_id] = [
                AddedMention(mention.sent_at, mention.source, mention.customer, mention.id)
                for mention in request.mentions
            ]
        links += [
            {
                "feature_request_id": request.id,
                "mention_id": mention.id,
                "org_id": request.org_id,
                "match_method": method,
                "match_score": score,
                "pinned": method == METHOD_PINNED,
            }
            for mention, method, score in request.links
        ]
    insert_rows(conn, FeatureRequestMention, links)
    report.links = len(links)
    for loser, winner in merges:
        # Found to be one ask with `winner`: its links and pins move, it stays as a tombstone so a
        # bookmarked id still leads somewhere (the API shows merged_into).
        assert loser.id is not None and winner.id is not None
        conn.execute(
            update(FeatureRequestMention)
            .where(FeatureRequestMention.feature_request_id == loser.id)
            .values(feature_request_id=winner.id)
        )
        conn.execute(
            update(CataloguePin).where(CataloguePin.feature_request_id == loser.id).values(feature_request_id=winner.id)
        )
        conn.execute(update(FeatureRequest).where(FeatureRequest.id == loser.id).values(merged_into_id=winner.id))
        touched_by_org[loser.org_id] |= {loser.id, winner.id}
        report.merged += 1
    for org_id in orgs:
        # Founded, stale or rebuilt requests are recomputed from their links; stored requests that
        # only gained mentions fold them in; the rest only move with the 7-day windows.
        ids = touched_by_org[org_id] | stale.get(org_id, set())
        if org_id in work.rebuild_orgs:
            ids |= set(conn.execute(select(FeatureRequest.id).where(FeatureRequest.org_id == org_id)).scalars())
        as_of = org_as_of(conn, org_id)
        refresh_request_stats(conn, org_id, sorted(ids), as_of=as_of)
        joined = {rid: added for rid, added in joined_by_org[org_id].items() if rid not in ids}
        folded = add_to_request_stats(conn, org_id, joined)
        add_request_customers(
            conn, org_id, {rid: [m.mention_id for m in joined[rid] if m.mention_id is not None] for rid in folded}
        )
        moved = (_recent(conn, org_id, as_of) | folded) - ids
        refresh_request_windows(conn, org_id, sorted(moved), as_of=as_of)
        report.refreshed += len(ids) + len(moved)
    return report


def _free_key(key: str, taken: set[str]) -> str:
    """`key`, or a variant of it when a stored request (a merged tombstone) already has it; taken."""
    candidate, suffix = key, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{key}-{suffix}"
    taken.add(candidate)
    return candidate


def _stale(conn: Connection, org_id: int) -> set[int]:
    """Requests whose stored mention counts exceed their links (mentions removed or re-extracted
    since). Links only leave a request behind the stats' back (a cascade), so when the org's
    counts add up to its links nothing is stale, and the per-request count is skipped."""
    stored = conn.execute(
        select(func.coalesce(func.sum(FeatureRequest.mention_count), 0)).where(
            FeatureRequest.org_id == org_id, FeatureRequest.merged_into_id.is_(None)
        )
    ).scalar_one()
    links = conn.execute(
        select(func.count()).select_from(FeatureRequestMention).where(FeatureRequestMention.org_id == org_id)
    ).scalar_one()
    if int(stored) == int(links):
        return set()
    counts = (
        select(FeatureRequestMention.feature_request_id.label("rid"), func.count().label("n"))
        .where(FeatureRequestMention.org_id == org_id)
        .group_by(FeatureRequestMention.feature_request_id)
        .subquery()
    )
    return set(
        conn.execute(
            select(FeatureRequest.id)
            .outerjoin(counts, counts.c.rid == FeatureRequest.id)
            .where(
                FeatureRequest.org_id == org_id,
                FeatureRequest.merged_into_id.is_(None),
                FeatureRequest.mention_count != func.coalesce(counts.c.n, 0),
            )
        ).scalars()
    )


def _recent(conn: Connection, org_id: int, as_of: datetime) -> set[int]:
    """Requests whose 7-day windows can move with the org's latest day: seen in the last two
    weeks, or showing a non-zero window or a trend now. Bounded by recent activity, not history."""
    return set(
        conn.execute(
            select(FeatureRequest.id).where(
                FeatureRequest.org_id == org_id,
                FeatureRequest.merged_into_id.is_(None),
                or_(
                    FeatureRequest.last_seen > as_of - timedelta(days=2 * TREND_DAYS),
                    FeatureRequest.mentions_last_7d + FeatureRequest.mentions_prev_7d > 0,
                    FeatureRequest.trend != "steady",
                ),
            )
        ).scalars()
    )


def orphan_mentions(conn: Connection) -> int:
    """Mentions in no request (the asset check): mentions less links, as `load_unlinked` counts."""
    return max(0, _pending(conn))


__all__ = [
    "CatalogueWork",
    "WriteReport",
    "load_unlinked",
    "load_work",
    "orphan_mentions",
    "write_pass",
]
