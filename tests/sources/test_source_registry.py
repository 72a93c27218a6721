"""A source is one spec plus one registration: the consumers pick it up without other edits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from headway_assets.assets.raw_messages import build_raw_message_assets
from headway_assets.cli import build_parser
from headway_assets.core.message import NormalisedMessage, ReadResult, TimeWindow
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.ingestion import active_connections, start_sync_run, write_window
from headway_assets.core.warehouse.schema import ConnectionKind, Message
from headway_assets.core.warehouse.sync_requests import create_sync_request
from headway_assets.core.warehouse.tenants import upsert_connection, upsert_organization
from headway_assets.sources.dispatch import read_export
from headway_assets.sources.export_options import ExportOptions
from headway_assets.sources.registry import (
    SourceName,
    SourceSpec,
    get_source,
    raw_messages_asset_name,
    register,
    source_names,
    unregister,
)

WINDOW = TimeWindow(datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC))
READ: list[Path] = []


def _read_intercom(path: Path, window: TimeWindow, options: ExportOptions) -> ReadResult:
    READ.append(path)
    return ReadResult()


@pytest.fixture
def intercom() -> Iterator[SourceSpec]:
    """A throwaway source registered for one test only."""
    spec = register(
        SourceSpec(
            name="intercom",
            display_name="Intercom",
            read_export=_read_intercom,
            export_filename="intercom.json",
            description="Conversations from Intercom.",
            place="in Intercom",
        )
    )
    yield spec
    unregister("intercom")
    READ.clear()


def test_the_registry_lists_the_built_in_sources() -> None:
    assert source_names()[:4] == ["slack", "gmail", "gong", "fathom"]
    assert get_source("gmail").display_name == "Gmail"


def test_a_registered_source_reaches_raw_assets_cli_and_export_dispatch(intercom: SourceSpec, tmp_path: Path) -> None:
    keys = {key.to_user_string() for asset in build_raw_message_assets() for key in asset.keys}
    assert raw_messages_asset_name("intercom") == "raw_intercom_messages"
    assert {"raw_intercom_messages", "raw_slack_messages"} <= keys

    args = build_parser().parse_args(["exports", "inspect", "--source", "intercom", str(tmp_path / "intercom.json")])
    assert args.source == "intercom"

    read_export("intercom", tmp_path / "intercom.json", WINDOW)
    assert [tmp_path / "intercom.json"] == READ


def test_the_live_reader_comes_from_the_registry(intercom: SourceSpec) -> None:
    from headway_assets.sources.dispatch import live_reader_for
    from headway_assets.sources.slack.live import SlackLiveReader

    assert isinstance(live_reader_for("slack"), SlackLiveReader)
    with pytest.raises(KeyError, match="no live reader"):
        live_reader_for("intercom")


def test_an_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no export reader"):
        read_export("intercom", tmp_path / "x.json", WINDOW)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["exports", "inspect", "--source", "intercom", str(tmp_path / "x.json")])


def test_the_kernel_stores_a_new_source_without_edits(intercom: SourceSpec, database_url: str) -> None:
    # Core lists no sources: a connection, a sync run, messages and a sync request of the new
    # source go through the kernel as they are.
    with write_transaction(database_url) as conn:
        org_id = upsert_organization(conn, slug="acme", name="Acme")
        upsert_connection(
            conn, org_id=org_id, source="intercom", name="Acme Intercom", kind=ConnectionKind.EXPORT, config={}
        )
        [connection] = active_connections(conn, "intercom")
        run_id = start_sync_run(conn, connection=connection, window=WINDOW, dagster_run_id=None)
        message = NormalisedMessage(
            source="intercom", external_id="conv-1", sent_at=WINDOW.start, text="Please add SSO to the widget."
        )
        stats = write_window(conn, connection=connection, window=WINDOW, messages=[message], sync_run_id=run_id)
        request = create_sync_request(
            conn,
            org_id=org_id,
            source="intercom",
            known_sources=source_names(),
            first_day=WINDOW.start.date(),
            last_day=WINDOW.start.date(),
        )
    assert stats.inserted == 1 and request.source == "intercom"
    with read_connection(database_url) as conn:
        assert conn.execute(select(Message.source, Message.external_id)).all() == [("intercom", "conv-1")]


def test_the_api_source_type_follows_the_registry(intercom: SourceSpec) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(SourceName)
    assert adapter.validate_python("intercom") == "intercom"
    with pytest.raises(ValidationError, match="unknown source 'myspace'"):
        adapter.validate_python("myspace")
    assert adapter.json_schema()["enum"] == source_names()
    assert "intercom" in adapter.json_schema()["enum"]


def test_a_sync_request_names_a_registered_source(database_url: str) -> None:
    with write_transaction(database_url) as conn:
        org_id = upsert_organization(conn, slug="acme", name="Acme")
        with pytest.raises(ValueError, match="intercom"):
            create_sync_request(
                conn,
                org_id=org_id,
                source="intercom",
                known_sources=source_names(),
                first_day=WINDOW.start.date(),
                last_day=WINDOW.start.date(),
            )
