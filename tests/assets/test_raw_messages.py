"""The raw message assets against the demo corpus, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from sqlalchemy import select

from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.schema import (
    ConnectionKind,
    Message,
    SkippedItem,
    SourceConnection,
    SyncRun,
)
from headway_assets.core.warehouse.tenants import upsert_connection
from headway_assets.demo import DemoManifest
from headway_assets.sources.dispatch import ExportOptions, read_export
from tests.assets.conftest import MaterializeFn

DAY = "2026-10-07"
DAY_WINDOW = TimeWindow(datetime(2026, 10, 7, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC))


def _rows(url: str) -> list[dict[str, Any]]:
    with read_connection(url) as conn:
        return [dict(row._mapping) for row in conn.execute(select(Message).order_by(Message.id))]


def _expected_from_files(manifest: DemoManifest, window: TimeWindow) -> Counter[tuple[str, str]]:
    """(org, source) -> messages, read straight from the export files."""
    expected: Counter[tuple[str, str]] = Counter()
    for org in manifest.orgs:
        options = ExportOptions(
            internal_domains=org.internal_domains, workspace_url=org.workspace_url, mailbox=org.support_mailbox
        )
        for connection in org.connections:
            result = read_export(connection.source, manifest.path_of(connection.path), window, options)
            expected[(org.slug, connection.source)] += len(result.messages)
    return expected


def _check_results(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {
        (evaluation.asset_key.to_user_string(), evaluation.check_name): evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


def test_a_day_lands_from_all_four_sources(
    seeded_warehouse: str, demo_corpus: DemoManifest, materialize_assets: MaterializeFn
) -> None:
    result = materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=DAY)
    assert result.success
    rows = _rows(seeded_warehouse)
    with read_connection(seeded_warehouse) as conn:
        slugs = dict(conn.execute(select(SourceConnection.id, SourceConnection.org_id)).all())
    assert {row["source"] for row in rows} == {"slack", "gmail", "gong", "fathom"}
    assert all(DAY_WINDOW.contains(row["sent_at"]) for row in rows)
    assert all(row["sent_at"].tzinfo is not None for row in rows)
    landed = Counter((row["org_id"], row["source"]) for row in rows)
    expected = _expected_from_files(demo_corpus, DAY_WINDOW)
    assert sum(landed.values()) == sum(expected.values()) > 20
    assert set(slugs.values()) == {org_id for org_id, _ in landed}
    checks = _check_results(result)
    assert checks and all(checks.values()), checks
    materialization = result.asset_materializations_for_node("raw_slack_messages")[0]
    metadata = materialization.metadata
    assert metadata["messages"].value == sum(n for (_, source), n in expected.items() if source == "slack")
    assert "| org | channel | messages |" in metadata["by_org_and_channel"].value
    assert "| org | sent at (UTC)" in metadata["preview"].value


def test_rematerialising_leaves_identical_rows(seeded_warehouse: str, materialize_assets: MaterializeFn) -> None:
    materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=DAY)
    first = _rows(seeded_warehouse)
    for _ in range(2):
        result = materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=DAY)
        assert result.success
        metadata = result.asset_materializations_for_node("raw_gmail_messages")[0].metadata
        assert metadata["inserted"].value == 0
        assert metadata["updated"].value == 0
        assert metadata["removed"].value == 0
    assert _rows(seeded_warehouse) == first


def test_a_range_in_one_run_equals_its_days(
    seeded_warehouse: str, materialize_assets: MaterializeFn, database_url: str
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_assets(
        RAW_MESSAGE_ASSETS, seeded_warehouse, first="2026-10-03", last="2026-10-05", instance=instance
    )
    assert result.success
    assert len(instance.get_runs()) == 1
    materialized = instance.get_materialized_partitions(dg.AssetKey("raw_gong_messages"))
    assert materialized == {"2026-10-03", "2026-10-04", "2026-10-05"}
    by_range = {(r["org_id"], r["source"], r["external_id"]): r["text"] for r in _rows(seeded_warehouse)}
    with write_transaction(seeded_warehouse) as conn:
        conn.execute(Message.__table__.delete())
    for day in ("2026-10-03", "2026-10-04", "2026-10-05"):
        materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=day)
    by_day = {(r["org_id"], r["source"], r["external_id"]): r["text"] for r in _rows(seeded_warehouse)}
    assert by_range == by_day
    assert len(by_day) > 50


def test_a_failing_connection_is_recorded_and_the_others_still_land(
    seeded_warehouse: str, materialize_assets: MaterializeFn, tmp_path: Path
) -> None:
    with write_transaction(seeded_warehouse) as conn:
        org_id = conn.execute(select(SourceConnection.org_id).limit(1)).scalar_one()
        upsert_connection(
            conn,
            org_id=org_id,
            source="gong",
            name="second Gong workspace",
            kind=ConnectionKind.EXPORT,
            config={"path": str(tmp_path / "missing-gong.json")},
        )
    result = materialize_assets(RAW_MESSAGE_ASSETS[2:3], seeded_warehouse, partition=DAY)
    assert result.success, "one bad connection must not fail the asset"
    checks = _check_results(result)
    assert checks[("raw_gong_messages", "connections_synced")] is False
    assert checks[("raw_gong_messages", "no_duplicate_messages")] is True
    gong_rows = [row for row in _rows(seeded_warehouse) if row["source"] == "gong"]
    assert gong_rows, "the healthy Gong connections' calls must land"
    with read_connection(seeded_warehouse) as conn:
        failed = conn.execute(select(SyncRun.status, SyncRun.error).where(SyncRun.status == "failed")).all()
    assert len(failed) == 1
    assert "missing-gong.json" in failed[0].error
    metadata = result.asset_materializations_for_node("raw_gong_messages")[0].metadata
    assert metadata["connections_failed"].value == 1


def _rewrite_zip(source: Path, target: Path, replace: dict[str, bytes | None]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename in replace:
                content = replace[info.filename]
                if content is not None:
                    new.writestr(info.filename, content)
            else:
                new.writestr(info, old.read(info.filename))


def test_skipped_items_are_counted_recorded_and_removed_messages_pruned(
    seeded_warehouse: str, demo_corpus: DemoManifest, materialize_assets: MaterializeFn, tmp_path: Path
) -> None:
    acme = demo_corpus.org("acme")
    original = demo_corpus.path_of(acme.connection("slack").path)
    with zipfile.ZipFile(original) as archive:
        day_files = [name for name in archive.namelist() if name.endswith(f"/{DAY}.json")]
        first_day_file = day_files[0]
        messages = json.loads(archive.read(first_day_file))
    broken = tmp_path / "broken-slack.zip"
    _rewrite_zip(original, broken, {first_day_file: b"{not json"})
    with write_transaction(seeded_warehouse) as conn:
        conn.execute(
            SourceConnection.__table__.update()
            .where(SourceConnection.name == acme.connection("slack").name)
            .values(config={"path": str(broken), "internal_domains": list(acme.internal_domains)})
        )
    result = materialize_assets(RAW_MESSAGE_ASSETS[0:1], seeded_warehouse, partition=DAY)
    metadata = result.asset_materializations_for_node("raw_slack_messages")[0].metadata
    assert metadata["skipped"].value >= 1
    assert first_day_file.split("/")[0] in metadata["skipped_items"].value
    with read_connection(seeded_warehouse) as conn:
        skipped = conn.execute(select(SkippedItem.location, SkippedItem.reason)).all()
    assert any(first_day_file in location for location, _ in skipped)
    with read_connection(seeded_warehouse) as conn:
        statuses = {row.status for row in conn.execute(select(SyncRun.status))}
    assert "partial" in statuses

    # The day file is repaired but one message is gone at the source: its row is removed.
    stored = {row["external_id"] for row in _rows(seeded_warehouse) if row["source"] == "slack"}
    # The broken file's messages are not stored yet; drop one of its ingestible messages.
    dropped = next(m for m in messages if m.get("text") and not m.get("subtype"))
    survivors = [m for m in messages if m is not dropped]
    repaired = tmp_path / "repaired-slack.zip"
    _rewrite_zip(original, repaired, {first_day_file: json.dumps(survivors).encode()})
    with write_transaction(seeded_warehouse) as conn:
        conn.execute(
            SourceConnection.__table__.update()
            .where(SourceConnection.name == acme.connection("slack").name)
            .values(config={"path": str(repaired), "internal_domains": list(acme.internal_domains)})
        )
    result = materialize_assets(RAW_MESSAGE_ASSETS[0:1], seeded_warehouse, partition=DAY)
    after = {row["external_id"] for row in _rows(seeded_warehouse) if row["source"] == "slack"}
    metadata = result.asset_materializations_for_node("raw_slack_messages")[0].metadata
    assert metadata["skipped"].value == 0
    assert metadata["inserted"].value == len(after - stored) >= 1  # the once-broken file's messages
    assert not any(external_id.endswith(":" + dropped["ts"]) for external_id in after)

    # Now the full file again: the dropped message comes back, nothing else changes.
    with write_transaction(seeded_warehouse) as conn:
        conn.execute(
            SourceConnection.__table__.update()
            .where(SourceConnection.name == acme.connection("slack").name)
            .values(config={"path": str(original), "internal_domains": list(acme.internal_domains)})
        )
    result = materialize_assets(RAW_MESSAGE_ASSETS[0:1], seeded_warehouse, partition=DAY)
    metadata = result.asset_materializations_for_node("raw_slack_messages")[0].metadata
    assert metadata["inserted"].value == 1
    assert metadata["removed"].value == 0


def test_no_connections_means_an_empty_but_successful_partition(
    database_url: str, materialize_assets: MaterializeFn
) -> None:
    result = materialize_assets(RAW_MESSAGE_ASSETS, database_url, partition=DAY)
    assert result.success
    assert _rows(database_url) == []
    metadata = result.asset_materializations_for_node("raw_fathom_messages")[0].metadata
    assert metadata["messages"].value == 0
