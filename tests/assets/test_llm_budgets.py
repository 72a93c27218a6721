"""Cost you can cap (issue 15, item 7): a per-run budget stops a run cleanly and the next one
resumes; an organisation over its monthly budget gets no AI work while the others do; every
run's spend is recorded per organisation; a stored budget that is no number (edited by hand in the
warehouse) takes the deployment's budget instead of crashing the run, and the run's metadata says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.llm_spend import month_to_date_spend
from headway_assets.core.warehouse.org_settings import change_org_settings, script_actor
from headway_assets.core.warehouse.schema import LlmUsage, Message, MessageLabel, Organization, utc_now
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer
from tests.assets.conftest import MaterializeFn

DAY = "2026-10-06"
BUDGET = "llm_monthly_budget_usd"


def _anthropic(server: FakeAnthropicServer, **extra: Any) -> dict[str, Any]:
    return {"provider": "anthropic", "base_url": server.base_url, "max_retries": 1, **extra}


def _labels_meta(result: Any) -> dict[str, Any]:
    return {k: v.value for k, v in result.asset_materializations_for_node("message_labels")[0].metadata.items()}


def _orgs(url: str) -> dict[str, int]:
    with read_connection(url) as conn:
        return dict(conn.execute(select(Organization.slug, Organization.id)).tuples().all())


def test_a_run_stops_when_its_budget_is_spent_and_the_next_run_resumes(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    url = seeded_warehouse
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, partition=DAY).success
    # One call at a time over small slices, so the run has many slices to stop between.
    small = _anthropic(anthropic_server, max_in_flight=1, batch_chars=1500, run_budget_usd=0.000001)
    first = materialize_assets([message_labels], url, partition=DAY, **small)
    assert first.success, "a spent budget stops a run cleanly, not with a failure"
    meta = _labels_meta(first)
    assert 0 < meta["labelled_this_run"] < meta["messages_in_window"] // 2 and meta["remaining"] > 0, meta
    checks = {e.check_name: e.passed for e in first.get_asset_check_evaluations()}
    assert checks == {"every_message_has_outcome": False}
    with read_connection(url) as conn:
        spent = conn.execute(select(func.sum(LlmUsage.cost_usd))).scalar_one()
    assert spent == pytest.approx(meta["llm_cost_usd"], abs=1e-6) and spent > 0.000001

    second = materialize_assets([message_labels], url, partition=DAY, **_anthropic(anthropic_server))
    assert second.success and _labels_meta(second)["remaining"] == 0
    assert _labels_meta(second)["labelled_this_run"] == meta["remaining"], "the rest, not all again"


def test_an_organisation_over_its_monthly_budget_waits_and_spend_is_recorded_per_organisation(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    url = seeded_warehouse
    orgs = _orgs(url)
    acme, other = orgs["acme"], next(org_id for slug, org_id in orgs.items() if slug != "acme")
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, partition=DAY).success
    with write_transaction(url) as conn:
        change_org_settings(conn, acme, {BUDGET: 0.01}, script_actor("tests"))
        conn.execute(
            insert(LlmUsage).values(
                asset="message_labels", task="tier1", provider="anthropic", model="m", org_id=acme, cost_usd=0.02
            )
        )

    result = materialize_assets([message_labels], url, partition=DAY, **_anthropic(anthropic_server))
    assert result.success
    meta = _labels_meta(result)
    with read_connection(url) as conn:
        acme_texts = list(conn.execute(select(Message.text).where(Message.org_id == acme)).scalars())
        labelled = dict(
            conn.execute(select(Message.org_id, func.count()).join(MessageLabel).group_by(Message.org_id))
            .tuples()
            .all()
        )
        recorded = dict(
            conn.execute(
                select(LlmUsage.org_id, func.sum(LlmUsage.cost_usd))
                .where(LlmUsage.dagster_run_id.is_not(None))
                .group_by(LlmUsage.org_id)
            )
            .tuples()
            .all()
        )
    assert meta["skipped_over_budget"] == {str(acme): len(acme_texts)}, meta["skipped_over_budget"]
    assert acme not in labelled and labelled.get(other, 0) > 0
    sent = "".join(json.dumps(request.body, ensure_ascii=False) for request in anthropic_server.requests)
    assert not any(text.strip()[:40] in sent for text in acme_texts if text.strip()), "acme's text went out"
    assert set(recorded) == {other} and recorded[other] == pytest.approx(meta["llm_cost_usd"], abs=1e-6)

    # A higher budget lets acme's work through; both organisations' spend adds up to the run's.
    with write_transaction(url) as conn:
        change_org_settings(conn, acme, {BUDGET: 5.0}, script_actor("tests"))
    again = materialize_assets([message_labels], url, partition=DAY, **_anthropic(anthropic_server))
    assert again.success and _labels_meta(again)["labelled_this_run"] == len(acme_texts)
    with read_connection(url) as conn:
        spend = month_to_date_spend(conn, [acme, other], utc_now())
    assert spend[acme] == pytest.approx(0.02 + _labels_meta(again)["llm_cost_usd"], abs=1e-6)


@pytest.fixture
def default_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    """The deployment's monthly budget per organisation (HEADWAY_LLM_MONTHLY_BUDGET_USD): one cent."""
    monkeypatch.setenv("HEADWAY_LLM_MONTHLY_BUDGET_USD", "0.01")
    get_settings.cache_clear()
    yield 0.01
    get_settings.cache_clear()


def test_a_stored_budget_that_is_no_number_takes_the_deployment_budget_and_the_run_says_so(
    seeded_warehouse: str,
    materialize_assets: MaterializeFn,
    anthropic_server: FakeAnthropicServer,
    default_budget: float,
) -> None:
    url = seeded_warehouse
    orgs = _orgs(url)
    acme, other = orgs["acme"], next(org_id for slug, org_id in orgs.items() if slug != "acme")
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, partition=DAY).success
    with write_transaction(url) as conn:
        # Edited by hand, past PATCH and the CLI: text for acme, a negative amount (no limit, were it
        # taken as stored) for the other; acme already spent more than the deployment's cent.
        conn.execute(update(Organization).where(Organization.id == acme).values(settings={BUDGET: "lots"}))
        conn.execute(update(Organization).where(Organization.id == other).values(settings={BUDGET: -5}))
        conn.execute(
            insert(LlmUsage).values(
                asset="message_labels", task="tier1", provider="anthropic", model="m", org_id=acme, cost_usd=0.02
            )
        )

    result = materialize_assets([message_labels], url, partition=DAY, **_anthropic(anthropic_server))
    assert result.success, "an invalid stored budget must not fail the run"
    meta = _labels_meta(result)
    applied = {"reason": "invalid_value", "applied_budget_usd": default_budget}
    assert meta["invalid_llm_budgets"] == {str(acme): applied, str(other): applied}, meta["invalid_llm_budgets"]
    with read_connection(url) as conn:
        acme_messages = conn.execute(select(func.count()).where(Message.org_id == acme)).scalar_one()
    # The deployment's cent applies to acme, which spent two: its messages wait; the other's were labelled.
    assert meta["skipped_over_budget"] == {str(acme): acme_messages}, meta["skipped_over_budget"]
    assert meta["labelled_this_run"] > 0
    assert "lots" not in json.dumps(meta["invalid_llm_budgets"]), "the stored value stays out of the metadata"
