"""No read removes what it could not see: held, archived and restored removals, on SQLite and PostgreSQL.

The export files are the demo corpus's Slack ZIP, rewritten per test: a day's files left out (a
valid export that reads as no messages), one message deleted upstream, most of a day deleted, a
day file broken. Every run goes through `dg.materialize` on an ephemeral instance.
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import func, select

from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.cli import main
from headway_assets.core.message import TimeWindow
from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.removals import (
    ALLOW_REMOVALS_TAG,
    RemovalGuard,
    Removals,
    restore_removed_messages,
    review_removals,
)
from headway_assets.core.warehouse.schema import (
    Message,
    MessageLabel,
    RemovedMessage,
    SourceConnection,
    SyncRun,
    User,
)
from headway_assets.demo import DemoManifest
from headway_assets.resources.sources import SourcesResource
from headway_assets.testing.fakes.headway_responder import headway_responder
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer
from tests.api.support import app_client, bearer
from tests.assets.conftest import MaterializeFn

DAY = "2026-10-07"
DAY_WINDOW = TimeWindow(datetime(2026, 10, 7, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC))
SLACK = RAW_MESSAGE_ASSETS[0:1]
ALLOW = {ALLOW_REMOVALS_TAG: "true"}


@pytest.fixture
def cli_warehouse(seeded_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The seeded warehouse as the `headway` command's warehouse."""
    monkeypatch.setenv("HEADWAY_DATABASE_URL", seeded_warehouse)
    get_settings.cache_clear()
    yield seeded_warehouse
    get_settings.cache_clear()


def _acme_slack(manifest: DemoManifest) -> tuple[Path, str, tuple[str, ...]]:
    acme = manifest.org("acme")
    connection = acme.connection("slack")
    return manifest.path_of(connection.path), connection.name, tuple(acme.internal_domains)


def _rewrite_slack(manifest: DemoManifest, url: str, target: Path, change: dict[str, list[Any] | None]) -> None:
    """Point acme's Slack connection at a copy of its export with day files replaced (None: left out)."""
    original, name, domains = _acme_slack(manifest)
    with zipfile.ZipFile(original) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename not in change:
                new.writestr(info, old.read(info.filename))
            elif (content := change[info.filename]) is not None:
                new.writestr(info.filename, json.dumps(content))
    _point_slack_at(url, name, target, domains)


def _point_slack_at(url: str, name: str, path: Path, domains: tuple[str, ...]) -> None:
    with write_transaction(url) as conn:
        conn.execute(
            SourceConnection.__table__.update()
            .where(SourceConnection.name == name)
            .values(config={"path": str(path), "internal_domains": list(domains)})
        )


def _day_files(manifest: DemoManifest) -> dict[str, list[dict[str, Any]]]:
    original, _, _ = _acme_slack(manifest)
    with zipfile.ZipFile(original) as archive:
        return {n: json.loads(archive.read(n)) for n in archive.namelist() if n.endswith(f"/{DAY}.json")}


def _acme_connection(url: str, manifest: DemoManifest) -> int:
    _, name, _ = _acme_slack(manifest)
    with read_connection(url) as conn:
        return int(conn.execute(select(SourceConnection.id).where(SourceConnection.name == name)).scalar_one())


def _stored(url: str, connection_id: int) -> dict[str, dict[str, Any]]:
    """The connection's stored messages of the day, by external id, as full rows."""
    with read_connection(url) as conn:
        rows = conn.execute(
            select(Message).where(
                Message.connection_id == connection_id,
                Message.sent_at >= DAY_WINDOW.start,
                Message.sent_at < DAY_WINDOW.end,
            )
        )
        return {row.external_id: dict(row._mapping) for row in rows}


def _ids(rows: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {key: row["id"] for key, row in rows.items()}


def _latest_sync(url: str, connection_id: int) -> Any:
    with read_connection(url) as conn:
        return conn.execute(
            select(SyncRun).where(SyncRun.connection_id == connection_id).order_by(SyncRun.id.desc()).limit(1)
        ).one()


def _archived(url: str) -> list[Any]:
    with read_connection(url) as conn:
        return list(conn.execute(select(RemovedMessage).order_by(RemovedMessage.id)))


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == "removals_within_limit")


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    metadata = result.asset_materializations_for_node("raw_slack_messages")[0].metadata
    return {key: value.value for key, value in metadata.items()}


def _acme_user(url: str, connection_id: int) -> int:
    """A product manager of the connection's organisation, to call the read API as."""
    with write_transaction(url) as conn:
        org_id = conn.execute(select(SourceConnection.org_id).where(SourceConnection.id == connection_id)).scalar_one()
        return int(
            conn.execute(
                User.__table__.insert()
                .values(org_id=org_id, email="pm@acme.example", role="member", is_active=True)
                .returning(User.id)
            ).scalar_one()
        )


def _ingestible(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("text") and not m.get("subtype")]


def test_an_empty_read_keeps_the_stored_messages_until_explicitly_allowed(
    seeded_warehouse: str, demo_corpus: DemoManifest, materialize_assets: MaterializeFn, tmp_path: Path
) -> None:
    url = seeded_warehouse
    connection_id = _acme_connection(url, demo_corpus)
    assert materialize_assets(SLACK, url, partition=DAY).success
    before = _stored(url, connection_id)
    assert len(before) > 2

    # A valid export that holds nothing for the day (its day files are gone) reads as 0 messages.
    _rewrite_slack(demo_corpus, url, tmp_path / "no-day.zip", dict.fromkeys(_day_files(demo_corpus)))
    for _ in range(2):  # held again on a re-run: nothing converges towards deletion
        result = materialize_assets(SLACK, url, partition=DAY)
        assert result.success
        assert _stored(url, connection_id) == before
        assert _archived(url) == []
        metadata = _metadata(result)
        assert metadata["removed"] == 0
        assert metadata["removals_held"] == len(before)
        assert "| removals held |" in metadata["sync"]
        check = _check(result)
        assert check.passed is False
        assert check.severity == dg.AssetCheckSeverity.ERROR
        held_table = check.metadata["held"].value
        assert "acme/slack/" in held_table and f"| {len(before)} | {len(before)} | 100% |" in held_table
        assert "returned no messages" in held_table
        sync = _latest_sync(url, connection_id)
        assert sync.messages_held == len(before) and sync.messages_removed == 0
        assert f"{ALLOW_REMOVALS_TAG}=true" in sync.error

    # A read that fails (the file is gone) removes nothing either.
    _, name, domains = _acme_slack(demo_corpus)
    _point_slack_at(url, name, tmp_path / "missing.zip", domains)
    assert materialize_assets(SLACK, url, partition=DAY).success
    assert _stored(url, connection_id) == before
    assert _latest_sync(url, connection_id).status == "failed"

    # The operator confirms the day is really empty upstream: the removal goes through, archived.
    _rewrite_slack(demo_corpus, url, tmp_path / "no-day.zip", dict.fromkeys(_day_files(demo_corpus)))
    allowed = materialize_assets(SLACK, url, partition=DAY, tags=ALLOW)
    assert _check(allowed).passed is True
    assert _metadata(allowed)["removed"] == len(before)
    assert _stored(url, connection_id) == {}
    archived = _archived(url)
    assert {row.message_id for row in archived} == {row["id"] for row in before.values()}
    assert {row.removed_by_dagster_run_id for row in archived} == {allowed.run_id}
    assert {row.removed_by_sync_run_id for row in archived} == {_latest_sync(url, connection_id).id}
    assert all(DAY in row.reason or "2026-10-07" in row.reason for row in archived)


def test_a_message_deleted_upstream_is_archived_with_its_run_and_restored_with_its_id(
    cli_warehouse: str,
    demo_corpus: DemoManifest,
    materialize_assets: MaterializeFn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = cli_warehouse
    connection_id = _acme_connection(url, demo_corpus)
    assert materialize_assets(SLACK, url, partition=DAY).success
    before = _stored(url, connection_id)
    day_files = _day_files(demo_corpus)
    name, messages = next((n, m) for n, m in day_files.items() if len(_ingestible(m)) >= 2)
    dropped = _ingestible(messages)[0]
    [gone_id] = [key for key in before if key.endswith(":" + dropped["ts"])]

    _rewrite_slack(demo_corpus, url, tmp_path / "one-gone.zip", {name: [m for m in messages if m is not dropped]})
    for attempt in range(2):  # the second run converges: nothing more removed, nothing archived twice
        result = materialize_assets(SLACK, url, partition=DAY)
        assert _check(result).passed is True
        metadata = _metadata(result)
        assert (metadata["removed"], metadata["removals_held"]) == ((1, 0) if attempt == 0 else (0, 0))
        if attempt == 0:
            removing_run = result.run_id
    after = _stored(url, connection_id)
    assert set(after) == set(before) - {gone_id}
    # The read API sees live messages only: the removed one is gone from it, its neighbours are not.
    user_id = _acme_user(url, connection_id)
    api = app_client(url, tmp_path)
    with api:
        headers = bearer(api, user_id, "acme")
        gone_row_id, kept_row_id = before[gone_id]["id"], next(iter(after.values()))["id"]
        assert api.get(f"/v1/messages/{gone_row_id}", headers=headers).status_code == 404
        assert api.get(f"/v1/messages/{kept_row_id}", headers=headers).status_code == 200
    [archived] = _archived(url)
    assert archived.message_id == before[gone_id]["id"]
    assert archived.removed_by_dagster_run_id == removing_run
    assert archived.restored_at is None
    # The whole row is archived: every message column, as it was.
    assert {k: getattr(archived, "message_id" if k == "id" else k) for k in before[gone_id]} == before[gone_id]

    assert main(["messages", "restore", "--run", removing_run]) == 0
    said = capsys.readouterr().out
    assert "restored 1 message(s) (0 under a new id" in said and DAY in said
    restored = _stored(url, connection_id)
    assert restored[gone_id] == before[gone_id]  # the same row, under the same id
    assert _ids(restored) == _ids(before)
    [archived] = _archived(url)
    assert archived.restored_at is not None and archived.restored_message_id == before[gone_id]["id"]
    with api:
        assert api.get(f"/v1/messages/{gone_row_id}", headers=headers).json()["external_id"] == gone_id
    assert main(["messages", "restore", "--run", removing_run]) == 0
    assert "restored 0 message(s)" in capsys.readouterr().out
    assert main(["messages", "restore"]) == 2  # a restore must say what to restore

    # Back to the full export: nothing to add, nothing to remove, no duplicate anywhere.
    original, connection_name, domains = _acme_slack(demo_corpus)
    _point_slack_at(url, connection_name, original, domains)
    result = materialize_assets(SLACK, url, partition=DAY)
    metadata = _metadata(result)
    assert (metadata["inserted"], metadata["removed"], metadata["removals_held"]) == (0, 0, 0)
    with read_connection(url) as conn:
        copies = conn.execute(
            select(func.count()).select_from(Message).where(Message.external_id == gone_id)
        ).scalar_one()
    assert copies == 1


def test_a_large_removal_is_held_and_the_allow_tag_lets_it_through(
    seeded_warehouse: str, demo_corpus: DemoManifest, materialize_assets: MaterializeFn, tmp_path: Path
) -> None:
    url = seeded_warehouse
    connection_id = _acme_connection(url, demo_corpus)
    assert materialize_assets(SLACK, url, partition=DAY).success
    before = _stored(url, connection_id)
    # Delete upstream all but one of the day's messages, file by file.
    day_files = _day_files(demo_corpus)
    keeper = next(m for messages in day_files.values() for m in _ingestible(messages))
    change: dict[str, list[Any] | None] = {name: [m for m in ms if m is keeper] for name, ms in day_files.items()}
    _rewrite_slack(demo_corpus, url, tmp_path / "mostly-gone.zip", change)
    would_remove = len(before) - 1
    assert would_remove > max(2, len(before) / 2)

    held = materialize_assets(SLACK, url, partition=DAY)
    assert held.success
    check = _check(held)
    assert check.passed is False
    table = check.metadata["held"].value
    share = f"{would_remove / len(before):.0%}"
    assert f"| {len(before)} | {would_remove} | {share} |" in table and "acme/slack/" in table
    assert check.metadata["allow_with"].value == f"run tag {ALLOW_REMOVALS_TAG}=true"
    kept = _stored(url, connection_id)
    # Every stored message is still there under its id; the one the read returned may be rewritten.
    assert _ids(kept) == _ids(before)
    assert all(kept[key] == row for key, row in before.items() if not key.endswith(":" + keeper["ts"]))
    sync = _latest_sync(url, connection_id)
    assert sync.messages_held == would_remove and "removals held" in sync.error
    # The sync history the frontend reads says what was held and why.
    api = app_client(url, tmp_path)
    with api:
        answer = api.get(f"/v1/sync-runs/{sync.id}", headers=bearer(api, _acme_user(url, connection_id), "acme"))
    assert answer.status_code == 200
    assert answer.json()["messages_held"] == would_remove and "removals held" in answer.json()["error"]

    allowed = materialize_assets(SLACK, url, partition=DAY, tags=ALLOW)
    assert _check(allowed).passed is True
    assert _metadata(allowed)["removed"] == would_remove
    assert len(_stored(url, connection_id)) == 1
    assert _latest_sync(url, connection_id).error is None
    again = materialize_assets(SLACK, url, partition=DAY, tags=ALLOW)
    assert [_metadata(again)[key] for key in ("removed", "inserted", "updated")] == [0, 0, 0]
    assert len(_archived(url)) == would_remove

    # Restoring by connection and day brings every one back under its own id.
    with write_transaction(url) as conn:
        stats = restore_removed_messages(conn, connection_id=connection_id, window=DAY_WINDOW)
    assert (stats.restored, stats.new_ids, stats.days) == (would_remove, 0, (date(2026, 10, 7),))
    assert _ids(_stored(url, connection_id)) == _ids(before)


def test_a_read_that_skipped_items_keeps_what_it_could_not_see(
    seeded_warehouse: str, demo_corpus: DemoManifest, materialize_assets: MaterializeFn, tmp_path: Path
) -> None:
    url = seeded_warehouse
    connection_id = _acme_connection(url, demo_corpus)
    assert materialize_assets(SLACK, url, partition=DAY).success
    before = _stored(url, connection_id)
    original, name, domains = _acme_slack(demo_corpus)
    broken_file = next(n for n, ms in _day_files(demo_corpus).items() if len(_ingestible(ms)) >= 2)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(original) as old, zipfile.ZipFile(broken, "w") as new:
        for info in old.infolist():
            new.writestr(info, b"{not json" if info.filename == broken_file else old.read(info.filename))
    _point_slack_at(url, name, broken, domains)

    result = materialize_assets(SLACK, url, partition=DAY)
    metadata = _metadata(result)
    assert metadata["skipped"] >= 1 and metadata["removed"] == 0
    assert metadata["removals_held"] >= 2
    assert _ids(_stored(url, connection_id)) == _ids(before)
    assert _archived(url) == []
    sync = _latest_sync(url, connection_id)
    assert sync.status == "partial" and sync.messages_held == metadata["removals_held"]
    assert "skipped" in sync.error
    # Not a guard hold: the read's skipped items already show in its own metadata and history.
    assert _check(result).passed is True


def test_a_message_back_at_the_source_gets_its_old_id(
    seeded_warehouse: str, demo_corpus: DemoManifest, materialize_assets: MaterializeFn, tmp_path: Path
) -> None:
    url = seeded_warehouse
    connection_id = _acme_connection(url, demo_corpus)
    assert materialize_assets(SLACK, url, partition=DAY).success
    before = _stored(url, connection_id)
    name, messages = next((n, m) for n, m in _day_files(demo_corpus).items() if len(_ingestible(m)) >= 2)
    dropped = _ingestible(messages)[0]
    _rewrite_slack(demo_corpus, url, tmp_path / "one-gone.zip", {name: [m for m in messages if m is not dropped]})
    assert _metadata(materialize_assets(SLACK, url, partition=DAY))["removed"] == 1
    # Shown again upstream (e.g. a hidden Slack message): it returns under the id it had.
    original, connection_name, domains = _acme_slack(demo_corpus)
    _point_slack_at(url, connection_name, original, domains)
    back = materialize_assets(SLACK, url, partition=DAY)
    assert (_metadata(back)["inserted"], _metadata(back)["removed"]) == (1, 0)
    assert _ids(_stored(url, connection_id)) == _ids(before)
    [archived] = _archived(url)
    assert archived.restored_at is not None and archived.restored_message_id == archived.message_id
    with write_transaction(url) as conn:  # nothing left to restore
        assert restore_removed_messages(conn, connection_id=connection_id).restored == 0


def test_restore_gives_a_new_id_when_the_original_is_taken(
    seeded_warehouse: str, demo_corpus: DemoManifest, materialize_assets: MaterializeFn, tmp_path: Path
) -> None:
    url = seeded_warehouse
    connection_id = _acme_connection(url, demo_corpus)
    assert materialize_assets(SLACK, url, partition=DAY).success
    day_files = _day_files(demo_corpus)
    name, messages = next((n, m) for n, m in day_files.items() if len(_ingestible(m)) >= 2)
    dropped = _ingestible(messages)[0]
    _rewrite_slack(demo_corpus, url, tmp_path / "one-gone.zip", {name: [m for m in messages if m is not dropped]})
    result = materialize_assets(SLACK, url, partition=DAY)
    [archived] = _archived(url)
    # Another message now holds the removed message's id.
    with write_transaction(url) as conn:
        row = dict(conn.execute(select(Message.__table__).limit(1)).mappings().one())
        conn.execute(Message.__table__.insert().values(row | {"id": archived.message_id, "external_id": "squatter"}))
        stats = restore_removed_messages(conn, dagster_run_id=result.run_id)
    assert (stats.restored, stats.new_ids) == (1, 1)
    restored = _stored(url, connection_id)[archived.external_id]
    assert restored["id"] != archived.message_id
    assert _archived(url)[0].restored_message_id == restored["id"]


def test_relabelling_a_restored_message_is_free(
    seeded_warehouse: str,
    demo_corpus: DemoManifest,
    materialize_assets: MaterializeFn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The removal cascades the message's label away; the restore's advice (re-run the AI assets)
    # costs no LLM call, because answers are cached by content hash.
    url = seeded_warehouse
    connection_id = _acme_connection(url, demo_corpus)
    with FakeAnthropicServer(responder=headway_responder) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_ANTHROPIC_KEY)
        llm = {"provider": "anthropic", "base_url": server.base_url, "max_retries": 1, "timeout_seconds": 5.0}
        assert materialize_assets(SLACK, url, partition=DAY).success
        assert materialize_assets([message_labels], url, partition=DAY, **llm).success
        calls = server.calls()
        assert calls > 0
        name, messages = next((n, m) for n, m in _day_files(demo_corpus).items() if len(_ingestible(m)) >= 2)
        dropped = _ingestible(messages)[0]
        _rewrite_slack(demo_corpus, url, tmp_path / "one-gone.zip", {name: [m for m in messages if m is not dropped]})
        removing = materialize_assets(SLACK, url, partition=DAY)
        [archived] = _archived(url)
        with read_connection(url) as conn:
            assert (
                conn.execute(select(MessageLabel).where(MessageLabel.message_id == archived.message_id)).first() is None
            )
        with write_transaction(url) as conn:
            assert restore_removed_messages(conn, dagster_run_id=removing.run_id).restored == 1
        relabel = materialize_assets([message_labels], url, partition=DAY, **llm)
        assert server.calls() == calls
        metadata = relabel.asset_materializations_for_node("message_labels")[0].metadata
        assert metadata["llm_calls"].value == 0 and metadata["llm_cache_hits"].value >= 1
        with read_connection(url) as conn:
            label = conn.execute(select(MessageLabel).where(MessageLabel.message_id == archived.message_id)).one()
        assert label.content_hash == archived.content_hash
        assert archived.message_id in _ids(_stored(url, connection_id)).values()


def _day(n: int) -> date:
    return date(2026, 10, n)


@pytest.mark.parametrize(
    ("stored", "stale", "read", "held"),
    [
        ({1: 2}, {1: 1}, 1, False),  # 1 of 2: half, and a single deleted message
        ({1: 3}, {1: 2}, 1, False),  # 2 of 3: over half, but within the small-day floor of 2
        ({1: 4}, {1: 3}, 1, True),  # 3 of 4: over half and over the floor
        ({1: 10}, {1: 5}, 5, False),  # exactly half is allowed
        ({1: 10}, {1: 6}, 4, True),
        ({1: 2}, {1: 2}, 0, True),  # an empty read where messages were stored, however few
        ({1: 10, 2: 4}, {2: 4}, 10, True),  # a range: one day emptied of more than the floor
        ({1: 10, 2: 2}, {2: 2}, 10, False),  # a range: a small day emptied, within the floor
    ],
)
def test_the_removal_guard_rule(stored: dict[int, int], stale: dict[int, int], read: int, held: bool) -> None:
    def review(allow: bool) -> Any:
        return review_removals(
            stored_days=Counter({_day(d): n for d, n in stored.items()}),
            stale_days=Counter({_day(d): n for d, n in stale.items()}),
            read_count=read,
            removals=Removals(
                dagster_run_id="run", guard=RemovalGuard(max_share=0.5, floor=2), allow_beyond_guard=allow
            ),
        )

    verdict = review(allow=False)
    assert (verdict.held, verdict.held_by_guard) == (held, held)
    assert verdict.would_remove == sum(stale.values()) and verdict.stored == sum(stored.values())
    assert review(allow=True).held is False


def test_the_guard_is_configured_by_settings_and_per_run_on_the_sources_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HEADWAY_MAX_REMOVAL_SHARE", "HEADWAY_REMOVAL_GUARD_FLOOR"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        assert SourcesResource().removal_guard() == RemovalGuard(max_share=0.5, floor=2)
        monkeypatch.setenv("HEADWAY_MAX_REMOVAL_SHARE", "0.8")
        monkeypatch.setenv("HEADWAY_REMOVAL_GUARD_FLOOR", "5")
        get_settings.cache_clear()
        assert SourcesResource().removal_guard() == RemovalGuard(max_share=0.8, floor=5)
        assert SourcesResource(max_removal_share=0.1, removal_guard_floor=0).removal_guard() == RemovalGuard(0.1, 0)
        monkeypatch.setenv("HEADWAY_MAX_REMOVAL_SHARE", "1.5")
        get_settings.cache_clear()
        with pytest.raises(ValueError, match="max_removal_share"):
            SourcesResource().removal_guard()
    finally:
        get_settings.cache_clear()
