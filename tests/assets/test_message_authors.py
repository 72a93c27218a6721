"""`message_authors` through Dagster: the demo corpus resolved, checks passing, counts-only metadata."""

from __future__ import annotations

from typing import Any

import dagster as dg
from sqlalchemy import func, select

from headway_assets.assets.message_authors import (
    CHECK_EVERY_MESSAGE_RESOLVED,
    CHECK_NO_FREE_MAIL_CUSTOMER,
    message_authors,
)
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.database import get_engine
from headway_assets.core.warehouse.schema import Contact, Customer, Message, MessageAuthor
from headway_assets.definitions import defs
from headway_assets.orchestration.sensors import ai_automation
from tests.assets.conftest import MaterializeFn

FIRST, LAST = "2026-10-01", "2026-10-04"


def _materialization(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == message_authors.key]
    assert events
    return {key: value.value for key, value in events[-1].materialization.metadata.items()}


def test_the_demo_days_resolve_with_counts_only_metadata(
    seeded_warehouse: str, materialize_assets: MaterializeFn
) -> None:
    result = materialize_assets([*RAW_MESSAGE_ASSETS, message_authors], seeded_warehouse, first=FIRST, last=LAST)
    assert result.success
    checks = {
        c.check_name: c.passed for c in result.get_asset_check_evaluations() if c.asset_key == message_authors.key
    }
    assert checks == {CHECK_EVERY_MESSAGE_RESOLVED: True, CHECK_NO_FREE_MAIL_CUSTOMER: True}
    metadata = _materialization(result)
    with get_engine(seeded_warehouse).connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Message)).scalar_one()
        outcomes = dict(
            conn.execute(select(MessageAuthor.status, func.count()).group_by(MessageAuthor.status)).tuples().all()
        )
        auto_created = conn.execute(
            select(func.count()).select_from(Customer).where(Customer.auto_created)
        ).scalar_one()
        names = set(conn.execute(select(Message.author_name).where(Message.author_name.isnot(None))).scalars())
        emails = set(conn.execute(select(Message.author_email).where(Message.author_email.isnot(None))).scalars())
        contacts = conn.execute(select(func.count()).select_from(Contact)).scalar_one()
    assert metadata["messages"] == stored == sum(outcomes.values()) > 0
    assert metadata["resolved"] == outcomes["resolved"] > 0
    assert metadata["internal"] == outcomes["internal"] > 0
    assert metadata["customers_auto_created"] == auto_created > 0
    assert metadata["contacts_created"] == contacts > 0
    assert metadata["partition"] == f"{FIRST}...{LAST}"
    text = repr(metadata)
    assert "@" not in text  # no e-mail address
    assert not any(name in text for name in names | emails)  # no author
    assert set(metadata["resolved_by_method"]) <= {"email_domain", "slack_team", "call_participants", "contact"}


def test_a_second_run_rewrites_nothing(seeded_warehouse: str, materialize_assets: MaterializeFn) -> None:
    first = materialize_assets([*RAW_MESSAGE_ASSETS, message_authors], seeded_warehouse, partition=FIRST)
    again = materialize_assets([message_authors], seeded_warehouse, partition=FIRST)
    assert _materialization(first)["rows_written"] == _materialization(first)["messages"] > 0
    assert _materialization(again)["rows_written"] == 0
    assert _materialization(again)["customers_auto_created"] == 0
    assert _materialization(again)["resolved"] == _materialization(first)["resolved"]


def test_the_asset_is_in_the_code_location_downstream_of_every_raw_asset() -> None:
    graph = defs.resolve_asset_graph()
    node = graph.get(message_authors.key)
    assert node.parent_keys == {asset.key for asset in RAW_MESSAGE_ASSETS}
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    authors = specs[message_authors.key]
    assert authors.group_name == "customers" and authors.owners and authors.description
    assert {"python", "sql"} <= set(authors.kinds)


def test_the_automation_sensor_resolves_a_sync_s_new_authors() -> None:
    selected = ai_automation.asset_selection.resolve(defs.resolve_asset_graph())
    assert message_authors.key in selected
