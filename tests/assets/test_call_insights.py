"""`call_insights` through Dagster: demo calls assessed with verbatim quotes, customer health per day,
a re-run that costs nothing, the hosted path through the fake Anthropic server, and removals."""

from __future__ import annotations

import re
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import func, insert, select

from headway_assets.assets.ai_support import REFRESH_STALE_TAG
from headway_assets.assets.call_insights import CHECK_EVERY_CALL_ASSESSED, call_excerpt, call_insights
from headway_assets.assets.message_authors import message_authors
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.cli import main
from headway_assets.core.org_settings import BUDGET_SETTING
from headway_assets.core.warehouse.database import get_engine, write_transaction
from headway_assets.core.warehouse.org_settings import change_org_settings, script_actor
from headway_assets.core.warehouse.removals import archive_and_delete
from headway_assets.core.warehouse.schema import (
    CallInsight,
    CustomerHealth,
    LlmUsage,
    Message,
    MessageAuthor,
    Organization,
)
from headway_assets.core.warehouse.summary import warehouse_summary
from headway_assets.definitions import defs
from headway_assets.llm.tasks import CALL
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer
from tests.assets.conftest import MaterializeFn

DAY = "2026-10-02"
CALL_ASSETS = [a for a in RAW_MESSAGE_ASSETS if a.key.path[-1] in ("raw_gong_messages", "raw_fathom_messages")]


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == call_insights.key]
    assert events
    return {key: value.value for key, value in events[-1].materialization.metadata.items()}


def _calls(url: str) -> list[Any]:
    with get_engine(url).connect() as conn:
        return conn.execute(
            select(CallInsight.__table__, Message.text.label("call_text")).join(
                Message, Message.id == CallInsight.message_id
            )
        ).all()


def test_the_demo_calls_of_a_day_are_assessed_with_verbatim_quotes_and_health(
    seeded_warehouse: str, materialize_assets: MaterializeFn
) -> None:
    result = materialize_assets([*CALL_ASSETS, message_authors, call_insights], seeded_warehouse, partition=DAY)
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks[CHECK_EVERY_CALL_ASSESSED] is True
    metadata = _metadata(result)
    rows = _calls(seeded_warehouse)
    with get_engine(seeded_warehouse).connect() as conn:
        calls = conn.execute(
            select(func.count()).select_from(Message).where(Message.source.in_(("gong", "fathom")))
        ).scalar_one()
        health = conn.execute(select(CustomerHealth.__table__)).all()
        resolved = conn.execute(
            select(func.count())
            .select_from(CallInsight)
            .join(MessageAuthor, MessageAuthor.message_id == CallInsight.message_id)
            .where(MessageAuthor.customer_id.is_not(None))
        ).scalar_one()
    assert metadata["calls"] == metadata["assessed_this_run"] == len(rows) == calls > 0
    assert metadata["remaining"] == 0 and metadata["llm_provider"] == "offline"
    quoted = 0
    for insight in rows:
        text = insight.call_text
        assert {insight.deal_risk, insight.churn_risk, insight.expansion_potential} <= {"low", "medium", "high"}
        assert insight.prompt_version == "call-v2" and insight.model
        for dimension in ("deal_risk", "churn_risk", "expansion_potential"):
            reasons = insight.reasons[dimension]
            assert bool(reasons) == (getattr(insight, dimension) != "low")
            for reason in reasons:
                assert text[reason["start"] : reason["start"] + len(reason["quote"])] == reason["quote"]
                quoted += 1
        for step in insight.next_steps["steps"]:
            assert text[step["start"] : step["start"] + len(step["quote"])] == step["quote"]
    assert quoted > 0
    assert any(row.next_steps["steps"] for row in rows)
    # The demo's summary says what was found, per organisation, with counts only.
    summary = [line for line in warehouse_summary(seeded_warehouse) if line.strip().startswith("calls:")]
    assert sum(_number(r"calls: (\d+) assessed", line) for line in summary) == len(rows)
    high_churn = sum(row.churn_risk == "high" for row in rows)
    assert sum(_number(r"high churn risk (\d+)", line) for line in summary) == high_churn
    # Every resolved call shows up in its customer's health that day; scores are 0..100.
    assert resolved > 0 and sum(h.calls for h in health) == resolved
    assert all(0 <= h.score <= 100 for h in health)
    # Metadata: levels and ids, never a quote.
    text = repr(metadata)
    assert not any(reason["quote"] in text for row in rows for r in row.reasons.values() for reason in r)

    # Re-running the unchanged day costs nothing and rewrites nothing.
    again = materialize_assets([call_insights], seeded_warehouse, partition=DAY)
    assert _metadata(again)["assessed_this_run"] == 0
    assert _metadata(again)["llm_calls"] == 0 and _metadata(again)["llm_cache_hits"] == 0
    with get_engine(seeded_warehouse).connect() as conn:
        assert conn.execute(select(func.count()).select_from(CustomerHealth)).scalar_one() == len(health)

    # A removed call takes its insight with it, and its customer's day is recomputed.
    row = next(r for r in rows if r.message_id in _resolved_ids(seeded_warehouse))
    with write_transaction(seeded_warehouse) as conn:
        assert archive_and_delete(conn, [row.message_id], dagster_run_id=None, sync_run_id=None, reason="test") == 1
    with get_engine(seeded_warehouse).connect() as conn:
        assert conn.execute(select(CallInsight).where(CallInsight.message_id == row.message_id)).first() is None
        assert conn.execute(select(func.sum(CustomerHealth.calls))).scalar_one() == resolved - 1


def _number(pattern: str, line: str) -> int:
    found = re.search(pattern, line)
    assert found is not None, f"{pattern!r} not in {line!r}"
    return int(found[1])


def _resolved_ids(url: str) -> set[int]:
    with get_engine(url).connect() as conn:
        return set(
            conn.execute(select(MessageAuthor.message_id).where(MessageAuthor.customer_id.is_not(None))).scalars()
        )


def test_a_hosted_provider_gets_several_calls_per_request_and_a_rerun_makes_none(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    materialize_assets([*CALL_ASSETS, message_authors], seeded_warehouse, partition=DAY)
    hosted = {
        "provider": "anthropic",
        "base_url": anthropic_server.base_url,
        "call_batch_items": 2,
        "call_model": "claude-haiku-4-5",  # a model assesses the calls only when asked for
    }
    result = materialize_assets([call_insights], seeded_warehouse, partition=DAY, **hosted)
    metadata = _metadata(result)
    requests = [r for r in anthropic_server.requests if f"record_{CALL}" in repr(r.body)]
    # Two calls per request at most: the day's calls in ceil(calls / 2) requests, each call asked once.
    per_request = [int(n) for r in requests for n in re.findall(r"Assess each of these (\d+) calls", repr(r.body))]
    assert len(per_request) == len(requests)
    assert metadata["calls"] > 2 and metadata["assessed_this_run"] == metadata["calls"] == sum(per_request)
    assert max(per_request) == 2 and len(requests) == -(-metadata["calls"] // 2)
    assert metadata["llm_calls"] == len(requests)
    # The transcripts went redacted: no participant e-mail address reached the provider.
    with get_engine(seeded_warehouse).connect() as conn:
        emails = {e for e in conn.execute(select(Message.author_email).where(Message.source == "gong")).scalars() if e}
    sent = "".join(repr(r.body) for r in requests)
    assert emails and not any(email in sent for email in emails)
    # Quotes are stored with the original text put back, located in the call.
    for row in _calls(seeded_warehouse):
        text = row.call_text
        assert row.provider == "anthropic" and row.model == "claude-haiku-4-5"
        for reasons in row.reasons.values():
            for reason in reasons:
                assert text[reason["start"] : reason["start"] + len(reason["quote"])] == reason["quote"]
    again = materialize_assets([call_insights], seeded_warehouse, partition=DAY, **hosted)
    assert _metadata(again)["llm_calls"] == 0
    assert len([r for r in anthropic_server.requests if f"record_{CALL}" in repr(r.body)]) == len(requests)


def test_by_default_a_hosted_provider_assesses_calls_locally_with_no_llm_call(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    materialize_assets([*CALL_ASSETS, message_authors], seeded_warehouse, partition=DAY)
    hosted = {"provider": "anthropic", "base_url": anthropic_server.base_url}
    result = materialize_assets([call_insights], seeded_warehouse, partition=DAY, **hosted)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    metadata = _metadata(result)
    assert checks[CHECK_EVERY_CALL_ASSESSED] is True and metadata["remaining"] == 0
    assert metadata["assessed_by"] == "local-heuristics" and metadata["llm_calls"] == 0
    assert anthropic_server.requests == []
    rows = _calls(seeded_warehouse)
    assert len(rows) == metadata["calls"] == metadata["assessed_this_run"] > 0
    # The provider is visible: these levels come from the cue phrases of the whole call, not a model.
    assert {(row.provider, row.model) for row in rows} == {("local-heuristics", "headway-call-cues-1")}
    assert any(row.deal_risk != "low" or row.churn_risk != "low" or row.expansion_potential != "low" for row in rows)
    for row in rows:
        for reasons in row.reasons.values():
            for reason in reasons:
                assert row.call_text[reason["start"] : reason["start"] + len(reason["quote"])] == reason["quote"]
        for step in row.next_steps["steps"]:
            assert row.call_text[step["start"] : step["start"] + len(step["quote"])] == step["quote"]
    # Unchanged calls are current: a re-run writes nothing; a refresh of stale outcomes keeps them too.
    again = materialize_assets([call_insights], seeded_warehouse, partition=DAY, **hosted)
    assert _metadata(again)["assessed_this_run"] == 0 and _metadata(again)["remaining"] == 0
    refresh = materialize_assets([call_insights], seeded_warehouse, partition=DAY, refresh_stale=True, **hosted)
    assert _metadata(refresh)["assessed_this_run"] == 0
    # Asking for a model afterwards changes nothing until a run refreshes stale outcomes (long calls
    # included, which the model would read as an excerpt); then the model redoes them.
    switched = materialize_assets(
        [call_insights], seeded_warehouse, partition=DAY, **hosted, call_model="claude-haiku-4-5"
    )
    assert (_metadata(switched)["assessed_this_run"], _metadata(switched)["llm_calls"]) == (0, 0)
    model = {**hosted, "call_model": "claude-haiku-4-5", "refresh_stale": True}
    redo = materialize_assets([call_insights], seeded_warehouse, partition=DAY, **model)
    assert _metadata(redo)["assessed_this_run"] == len(rows) and _metadata(redo)["llm_calls"] > 0
    assert {row.provider for row in _calls(seeded_warehouse)} == {"anthropic"}


def test_a_long_call_is_excerpted_to_its_feedback_and_cue_lines() -> None:
    filler = "\n".join(f"Alex: Let me share my screen, slide number {n} shows the dashboard." for n in range(80))
    text = (
        "Alex: Hi everyone.\n"
        + filler
        + "\nSam: Honestly we are evaluating other tools because of the outages.\n"
        + filler
        + "\nAlex: I'll send a recap email right after this call."
    )
    excerpt = call_excerpt(text, frozenset({"Alex"}), threshold=0.99)
    assert len(excerpt) < len(text) / 5
    assert "Sam: Honestly we are evaluating other tools because of the outages." in excerpt
    assert "Alex: I'll send a recap email right after this call." in excerpt
    assert "[...]" in excerpt
    assert call_excerpt(text, frozenset({"Alex"}), threshold=0) == text


def test_a_long_call_excerpt_is_capped_keeping_the_customers_cue_lines_first() -> None:
    filler = "\n".join(f"Sam: We mostly look at slide number {n} of the weekly dashboard." for n in range(60))
    vendor_steps = "\n".join(f"Alex: I'll send the deck number {n} after the call." for n in range(40))
    risk = "Sam: Honestly we are evaluating other tools because of the outages."
    text = f"Alex: Hi everyone.\n{filler}\n{risk}\n{vendor_steps}\n{filler}"
    whole = call_excerpt(text, frozenset({"Alex"}), threshold=0.01, max_chars=len(text))
    capped = call_excerpt(text, frozenset({"Alex"}), threshold=0.01, max_chars=1_000)
    assert len(whole) > 2_000 and len(capped) <= 1_000
    # The customer's risk line is kept before any vendor line or likely-feedback line, verbatim.
    assert risk in capped and capped.count("Alex: I'll send the deck") < 40
    lines = capped.split("\n")
    assert all(line == "[...]" or line in text.split("\n") for line in lines)


def test_the_asset_is_in_the_ai_group_downstream_of_authors_and_insights() -> None:
    graph = defs.resolve_asset_graph()
    assert {dg.AssetKey("message_authors"), dg.AssetKey("message_insights")} <= graph.get(call_insights.key).parent_keys
    spec = {s.key: s for s in defs.resolve_all_asset_specs()}[call_insights.key]
    assert spec.group_name == "ai" and spec.owners and spec.description and "llm" in spec.kinds


def _org_ids(url: str) -> dict[str, int]:
    with get_engine(url).connect() as conn:
        return dict(conn.execute(select(Organization.slug, Organization.id)).tuples().all())


def _calls_per_org(url: str) -> dict[int, int]:
    with get_engine(url).connect() as conn:
        return dict(
            conn.execute(
                select(Message.org_id, func.count())
                .where(Message.source.in_(("gong", "fathom")))
                .group_by(Message.org_id)
            )
            .tuples()
            .all()
        )


def _assessors(url: str) -> dict[int, set[tuple[str, str]]]:
    found: dict[int, set[tuple[str, str]]] = {}
    for row in _calls(url):
        found.setdefault(row.org_id, set()).add((row.provider, row.model))
    return found


def test_each_organisation_has_its_calls_assessed_as_it_chose(
    seeded_warehouse: str,
    materialize_assets: MaterializeFn,
    anthropic_server: FakeAnthropicServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = seeded_warehouse
    materialize_assets([*CALL_ASSETS, message_authors], url, partition=DAY)
    orgs = _org_ids(url)
    acme, northwind = orgs["acme"], orgs["northwind"]
    calls = _calls_per_org(url)
    assert calls[acme] > 0 and calls[northwind] > 0
    # Set from the command line, checked there: a model the provider does not have is refused, naming the choices.
    monkeypatch.setenv("HEADWAY_DATABASE_URL", url)
    monkeypatch.setenv("HEADWAY_LLM_PROVIDER", "anthropic")
    assert main(["orgs", "call-model", "--org", "acme", "--model", "gpt-4.1"]) == 2
    refused = capsys.readouterr().out
    assert "'gpt-4.1'" in refused and "headway-call-cues-1" in refused and "claude-haiku-4-5" in refused
    assert main(["orgs", "call-model", "--org", "acme", "--model", "claude-haiku-4-5"]) == 0
    assert "acme: calls assessed by claude-haiku-4-5 (its own setting" in capsys.readouterr().out
    # Northwind keeps the heuristics, and its monthly budget is spent: in-process work is not held by it.
    with write_transaction(url) as conn:
        change_org_settings(conn, northwind, {BUDGET_SETTING: 0.01}, script_actor("tests"))
        conn.execute(
            insert(LlmUsage).values(
                asset="call_insights", task="call", provider="anthropic", model="m", org_id=northwind, cost_usd=0.02
            )
        )

    hosted = {"provider": "anthropic", "base_url": anthropic_server.base_url, "call_batch_items": 2}
    result = materialize_assets([call_insights], url, partition=DAY, **hosted)
    metadata = _metadata(result)
    # Only acme's calls reached the provider, and only acme's spend is recorded.
    requests = [r for r in anthropic_server.requests if f"record_{CALL}" in repr(r.body)]
    per_request = [int(n) for r in requests for n in re.findall(r"Assess each of these (\d+) calls", repr(r.body))]
    assert sum(per_request) == calls[acme] and metadata["llm_calls"] == len(requests) > 0
    with get_engine(url).connect() as conn:
        spenders = set(conn.execute(select(LlmUsage.org_id).where(LlmUsage.asset == "call_insights")).scalars())
    assert spenders == {acme, northwind}  # northwind's is the row written above, nothing of this run
    assert _assessors(url) == {
        acme: {("anthropic", "claude-haiku-4-5")},
        northwind: {("local-heuristics", "headway-call-cues-1")},
    }
    assert metadata["assessed_by"] == "llm, local-heuristics" and metadata["skipped_over_budget"] == {}
    assert metadata["assessed_by_org"] == {
        "acme": {"provider": "anthropic", "model": "claude-haiku-4-5", "assessed": calls[acme]},
        "northwind": {"provider": "local-heuristics", "model": "headway-call-cues-1", "assessed": calls[northwind]},
    }
    assert metadata["remaining"] == 0

    # A re-run makes no call and writes nothing.
    again = _metadata(materialize_assets([call_insights], url, partition=DAY, **hosted))
    assert (again["llm_calls"], again["assessed_this_run"], again["remaining"]) == (0, 0, 0)
    assert {org["assessed"] for org in again["assessed_by_org"].values()} == {0}
    assert len([r for r in anthropic_server.requests if f"record_{CALL}" in repr(r.body)]) == len(requests)

    # Switching both: nothing changes until a run refreshes stale outcomes, then each gets its new assessor.
    assert main(["orgs", "call-model", "--org", "acme", "--clear"]) == 0
    assert main(["orgs", "call-model", "--org", "northwind", "--model", "claude-haiku-4-5"]) == 0
    with write_transaction(url) as conn:
        change_org_settings(conn, northwind, {BUDGET_SETTING: None}, script_actor("tests"))
    switched = _metadata(materialize_assets([call_insights], url, partition=DAY, **hosted))
    assert (switched["llm_calls"], switched["assessed_this_run"], switched["remaining"]) == (0, 0, 0)
    anthropic_server.reset_records()
    refreshed = materialize_assets([call_insights], url, partition=DAY, tags={REFRESH_STALE_TAG: "true"}, **hosted)
    metadata = _metadata(refreshed)
    assert metadata["assessed_this_run"] == calls[acme] + calls[northwind] and metadata["remaining"] == 0
    sent = [
        int(n) for r in anthropic_server.requests for n in re.findall(r"Assess each of these (\d+) calls", repr(r.body))
    ]
    assert sum(sent) == calls[northwind]
    assert _assessors(url) == {
        acme: {("local-heuristics", "headway-call-cues-1")},
        northwind: {("anthropic", "claude-haiku-4-5")},
    }
    last = _metadata(
        materialize_assets([call_insights], url, partition=DAY, tags={REFRESH_STALE_TAG: "true"}, **hosted)
    )
    assert (last["llm_calls"], last["assessed_this_run"]) == (0, 0)
