"""People's corrections are constraints the pipeline honours (issue 14, item 6).

A person merges two requests, moves a mention to another request, moves one out to a new
request, renames a request and sets a status (through the same code the triage API runs:
`core/warehouse/corrections.py`). Then the pipeline runs again in every way that could undo
them: a day re-materialised, a backfill of every day, a change of LLM provider (tier-2
re-extracts every message, so every mention gets a new id) and a `catalogue_rebuild`. After
each, every correction must still hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from headway_assets.assets.ai_support import REFRESH_STALE_TAG
from headway_assets.assets.feature_catalog import feature_catalog
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.corrections import merge_requests, move_mention, update_request
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.schema import (
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Message,
    Organization,
)
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer
from tests.assets.conftest import MaterializeFn

DAYS = ["2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08", "2026-10-09", "2026-10-10"]
DAILY_AI = [message_labels, feature_mentions]
ACTOR = "pm@acme.example"
MentionKey = tuple[str, int]  # (message external id, position): survives re-extraction


@dataclass(frozen=True)
class Corrections:
    """What the person did, in terms that survive new mention ids."""

    merged_from: int
    merged_into: int
    merged_mentions: frozenset[MentionKey]
    moved: MentionKey
    moved_to: int
    moved_out: MentionKey
    new_request: int
    renamed: int
    planned: int


def _requests_by_mention(url: str) -> dict[MentionKey, int]:
    with read_connection(url) as conn:
        rows = conn.execute(
            select(Message.external_id, FeatureMention.ordinal, FeatureRequestMention.feature_request_id)
            .select_from(FeatureMention)
            .join(Message, Message.id == FeatureMention.message_id)
            .join(FeatureRequestMention, FeatureRequestMention.mention_id == FeatureMention.id)
        ).all()
    placed: dict[MentionKey, int] = {}
    for external_id, ordinal, request_id in rows:
        assert (external_id, ordinal) not in placed, "a mention is in two requests"
        placed[(external_id, ordinal)] = request_id
    return placed


def _correct(url: str) -> Corrections:
    """Make the five corrections on the catalogue the pipeline built."""
    placed = _requests_by_mention(url)
    members: dict[int, list[MentionKey]] = {}
    for key, request_id in sorted(placed.items()):
        members.setdefault(request_id, []).append(key)
    with read_connection(url) as conn:
        org_id = conn.execute(select(Organization.id).where(Organization.slug == "acme")).scalar_one()
        ids = list(
            conn.execute(
                select(FeatureRequest.id)
                .where(FeatureRequest.org_id == org_id, FeatureRequest.merged_into_id.is_(None))
                .order_by(FeatureRequest.mention_count.desc(), FeatureRequest.id)
            ).scalars()
        )
    big = [i for i in ids if len(members.get(i, [])) >= 2]
    assert len(big) >= 3 and len(ids) >= 7, "the demo days give enough requests to correct"
    merged_from, merged_into, move_from, out_from = big[0], ids[-1], big[1], big[2]
    moved_to, renamed, planned = ids[-2], ids[-3], ids[-4]
    moved, moved_out = members[move_from][-1], members[out_from][-1]
    with write_transaction(url) as conn:
        merge_requests(conn, org_id=org_id, source_id=merged_from, into_id=merged_into, actor=ACTOR)
        move_mention(
            conn, org_id=org_id, request_id=move_from, mention_id=_mention_id_in(conn, moved), actor=ACTOR, to=moved_to
        )
        created = move_mention(
            conn,
            org_id=org_id,
            request_id=out_from,
            mention_id=_mention_id_in(conn, moved_out),
            actor=ACTOR,
            to=None,
            title="Custom ask named by a person",
        ).created_request_id
        for request_id, changes in ((renamed, {"title": "Renamed by a person"}), (planned, {"status": "planned"})):
            version = conn.execute(select(FeatureRequest.version).where(FeatureRequest.id == request_id)).scalar_one()
            update_request(
                conn,
                org_id=org_id,
                request_id=request_id,
                actor=ACTOR,
                changes=changes,
                expected_version=version,
            )
    assert created is not None
    return Corrections(
        merged_from=merged_from,
        merged_into=merged_into,
        merged_mentions=frozenset(members[merged_from]),
        moved=moved,
        moved_to=moved_to,
        moved_out=moved_out,
        new_request=created,
        renamed=renamed,
        planned=planned,
    )


def _mention_id_in(conn: Any, key: MentionKey) -> int:
    return int(
        conn.execute(
            select(FeatureMention.id)
            .join(Message, Message.id == FeatureMention.message_id)
            .where(Message.external_id == key[0], FeatureMention.ordinal == key[1])
        ).scalar_one()
    )


def _assert_kept(url: str, corrections: Corrections, after: str) -> None:
    placed = _requests_by_mention(url)
    with read_connection(url) as conn:
        requests = {row.id: row for row in conn.execute(select(FeatureRequest))}
    merged = requests[corrections.merged_from]
    assert merged.merged_into_id == corrections.merged_into, after
    assert all(placed[key] == corrections.merged_into for key in corrections.merged_mentions), after
    assert placed[corrections.moved] == corrections.moved_to, after
    assert placed[corrections.moved_out] == corrections.new_request, after
    assert requests[corrections.new_request].title == "Custom ask named by a person", after
    assert requests[corrections.renamed].title == "Renamed by a person", after
    assert requests[corrections.planned].status == "planned", after
    linked = {request_id for request_id in placed.values()}
    assert corrections.merged_from not in linked, f"{after}: a tombstone holds mentions"


def test_corrections_survive_re_runs_backfills_a_provider_change_and_a_rebuild(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    url = seeded_warehouse
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, first=DAYS[0], last=DAYS[-1]).success
    assert materialize_assets([*DAILY_AI, feature_catalog], url, first=DAYS[0], last=DAYS[-1]).success
    corrections = _correct(url)
    _assert_kept(url, corrections, "right after the corrections")

    assert materialize_assets([*DAILY_AI, feature_catalog], url, partition=DAYS[2]).success
    _assert_kept(url, corrections, "after a day was re-materialised")

    backfill = materialize_assets(
        [*DAILY_AI, feature_catalog], url, first=DAYS[0], last=DAYS[-1], tags={REFRESH_STALE_TAG: "true"}
    )
    assert backfill.success
    _assert_kept(url, corrections, "after a backfill of every day")

    anthropic = {"provider": "anthropic", "base_url": anthropic_server.base_url, "max_retries": 1}
    changed = materialize_assets(
        [*DAILY_AI, feature_catalog], url, first=DAYS[0], last=DAYS[-1], tags={REFRESH_STALE_TAG: "true"}, **anthropic
    )
    assert changed.success
    assert _extracted_by(url) == {"anthropic"}, "the provider change re-extracted every message (new mention rows)"
    _assert_kept(url, corrections, "after a change of LLM provider")

    rebuild = materialize_assets(
        [feature_catalog],
        url,
        run_config={"ops": {"feature_catalog": {"config": {"rebuild": True, "orgs": []}}}},
        **anthropic,
    )
    assert rebuild.success
    _assert_kept(url, corrections, "after a catalogue rebuild")
    checks = {e.check_name: e.passed for e in rebuild.get_asset_check_evaluations()}
    assert checks == {"every_mention_in_one_request": True}


def _extracted_by(url: str) -> set[str]:
    with read_connection(url) as conn:
        return set(conn.execute(select(FeatureMention.provider)).scalars())


def _catalogue(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every request (its columns but `updated_at`) and every link (by mention key), in a fixed order."""
    columns = [column for column in FeatureRequest.__table__.columns if column.name != "updated_at"]
    with read_connection(url) as conn:
        requests = [tuple(row) for row in conn.execute(select(*columns).order_by(FeatureRequest.id))]
        links = sorted(
            tuple(row)
            for row in conn.execute(
                select(
                    Message.external_id,
                    FeatureMention.ordinal,
                    FeatureRequestMention.feature_request_id,
                    FeatureRequestMention.match_method,
                    FeatureRequestMention.match_score,
                    FeatureRequestMention.pinned,
                )
                .select_from(FeatureRequestMention)
                .join(FeatureMention, FeatureMention.id == FeatureRequestMention.mention_id)
                .join(Message, Message.id == FeatureMention.message_id)
            )
        )
    return requests, links


def test_two_rebuilds_in_a_row_agree_with_corrections(seeded_warehouse: str, materialize_assets: MaterializeFn) -> None:
    """A rebuild does not depend on the catalogue it replaces: a second one changes nothing.

    A request people decided on survives a rebuild; it must start from the links the rebuild
    keeps (its pinned members), not from the wordings the replaced catalogue's pipeline links
    left stored with it, or the second rebuild links by near-identical title what the first asked
    the matcher about (match method and score change, and a mention can change request)."""
    url = seeded_warehouse
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, first=DAYS[0], last=DAYS[-1]).success
    assert materialize_assets([*DAILY_AI, feature_catalog], url, first=DAYS[0], last=DAYS[-1]).success
    corrections = _correct(url)
    rebuild_config = {"ops": {"feature_catalog": {"config": {"rebuild": True, "orgs": []}}}}
    assert materialize_assets([feature_catalog], url, run_config=rebuild_config).success
    first = _catalogue(url)
    assert materialize_assets([feature_catalog], url, run_config=rebuild_config).success
    _assert_kept(url, corrections, "after two rebuilds")
    second = _catalogue(url)
    assert second[0] == first[0], "the second rebuild changed requests"
    assert second[1] == first[1], "the second rebuild changed links"
