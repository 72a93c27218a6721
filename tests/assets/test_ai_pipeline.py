"""The whole AI pipeline with the offline provider: checks, re-runs at no cost, order independence."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import delete, func, insert, select, update

from headway_assets.assets.ai_support import REFRESH_STALE_TAG
from headway_assets.assets.daily_stats import daily_message_stats
from headway_assets.assets.feature_catalog import feature_catalog
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.insights import insights, message_insights
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.message import content_hash
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.schema import (
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Message,
    MessageExtraction,
    MessageInsight,
    MessageLabel,
    Organization,
    PeriodInsight,
)
from headway_assets.llm.chunking import chunk_text
from tests.assets.conftest import MaterializeFn

DAYS = ["2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08"]
DAILY_AI = [message_labels, feature_mentions, message_insights]
AI_TABLES = [FeatureRequestMention, FeatureRequest, FeatureMention, MessageExtraction, MessageInsight, MessageLabel]


def _catalog(url: str) -> set[tuple[str, str | None, frozenset[tuple[str, int]]]]:
    """The catalogue in terms that do not depend on row ids: title, sub-theme, its mentions."""
    with read_connection(url) as conn:
        rows = conn.execute(
            select(
                FeatureRequest.key,
                FeatureRequest.title,
                FeatureRequest.sub_theme,
                Message.external_id,
                FeatureMention.ordinal,
            )
            .join(FeatureRequestMention, FeatureRequestMention.feature_request_id == FeatureRequest.id)
            .join(FeatureMention, FeatureMention.id == FeatureRequestMention.mention_id)
            .join(Message, Message.id == FeatureMention.message_id)
        ).all()
    grouped: dict[tuple[str, str, str | None], set[tuple[str, int]]] = {}
    for key, title, sub_theme, external_id, ordinal in rows:
        grouped.setdefault((key, title, sub_theme), set()).add((external_id, ordinal))
    return {(title, sub_theme, frozenset(mentions)) for (_, title, sub_theme), mentions in grouped.items()}


def _reset_ai(url: str) -> None:
    with write_transaction(url) as conn:
        for table in AI_TABLES:
            conn.execute(delete(table))


def _checks(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}


def test_the_pipeline_runs_with_passing_checks_and_costs_nothing_the_second_time(
    seeded_warehouse: str, materialize_assets: MaterializeFn
) -> None:
    everything = [*RAW_MESSAGE_ASSETS, *DAILY_AI, feature_catalog, insights, daily_message_stats]
    result = materialize_assets(everything, seeded_warehouse, first=DAYS[0], last=DAYS[-1])
    assert result.success
    checks = _checks(result)
    assert checks and all(checks.values()), {k: v for k, v in checks.items() if not v}
    with read_connection(seeded_warehouse) as conn:
        messages = conn.execute(select(func.count()).select_from(Message)).scalar_one()
        labels = conn.execute(select(func.count()).select_from(MessageLabel)).scalar_one()
        mentions = conn.execute(
            select(FeatureMention.evidence_quote, FeatureMention.evidence_start, Message.text).join(
                Message, Message.id == FeatureMention.message_id
            )
        ).all()
        requests = conn.execute(select(func.count()).select_from(FeatureRequest)).scalar_one()
        periods = conn.execute(select(PeriodInsight.content)).scalars().all()
    assert labels == messages > 100
    assert _checks(result)[("daily_message_stats", "counts_match_messages")]
    assert len(mentions) > 10 and requests > 5
    assert all(text[start : start + len(quote)] == quote for quote, start, text in mentions)
    assert periods and all(
        {"top_asks", "new_asks", "rising_asks", "by_source", "by_customer"} <= set(p) for p in periods
    )
    assert any(ask["quotes"] for p in periods for ask in p["top_asks"])
    # An object per source, as the API documents it (a bare count made /v1/insights answer 500).
    by_source = [counts for p in periods for counts in p["by_source"].values()]
    assert by_source and all(counts["mentions"] >= counts["customers"] >= 0 for counts in by_source)
    assert all(counts["mentions"] > 0 for counts in by_source)
    metadata = result.asset_materializations_for_node("message_labels")[0].metadata
    assert metadata["llm_provider"].value == "offline" and metadata["llm_calls"].value > 0

    again = materialize_assets([*DAILY_AI, feature_catalog], seeded_warehouse, first=DAYS[0], last=DAYS[-1])
    for node in ("message_labels", "feature_mentions", "message_insights", "feature_catalog"):
        rerun: Any = again.asset_materializations_for_node(node)[0].metadata
        assert rerun["llm_calls"].value == 0, f"{node} paid again for unchanged work"


def test_the_catalogue_does_not_depend_on_how_days_were_materialised(
    seeded_warehouse: str, materialize_assets: MaterializeFn
) -> None:
    materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, first=DAYS[0], last=DAYS[-1])

    for day in DAYS:
        materialize_assets(DAILY_AI, seeded_warehouse, partition=day)
    materialize_assets([feature_catalog], seeded_warehouse)
    in_order = _catalog(seeded_warehouse)
    assert len(in_order) > 5

    _reset_ai(seeded_warehouse)
    for day in reversed(DAYS):
        materialize_assets(DAILY_AI, seeded_warehouse, partition=day)
    materialize_assets([feature_catalog], seeded_warehouse)
    assert _catalog(seeded_warehouse) == in_order

    _reset_ai(seeded_warehouse)
    failures: list[BaseException] = []

    def one_day(day: str) -> None:
        try:
            assert materialize_assets(DAILY_AI, seeded_warehouse, partition=day).success
        except BaseException as error:  # surfaced below
            failures.append(error)

    threads = [threading.Thread(target=one_day, args=(day,)) for day in DAYS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    materialize_assets([feature_catalog], seeded_warehouse)
    assert _catalog(seeded_warehouse) == in_order

    _reset_ai(seeded_warehouse)
    materialize_assets([*DAILY_AI, feature_catalog], seeded_warehouse, first=DAYS[0], last=DAYS[-1])
    assert _catalog(seeded_warehouse) == in_order


@pytest.mark.parametrize(
    "how",
    [{"refresh_stale": True}, {"tags": {REFRESH_STALE_TAG: "true"}}],
    ids=["resource-config", "run-tag"],
)
def test_refresh_stale_redoes_what_another_model_prompt_or_taxonomy_made(
    seeded_warehouse: str, materialize_assets: MaterializeFn, how: dict[str, Any]
) -> None:
    url, day = seeded_warehouse, DAYS[0]
    assert materialize_assets([*RAW_MESSAGE_ASSETS, *DAILY_AI], url, partition=day).success
    with write_transaction(url) as conn:
        labels = dict(
            conn.execute(select(MessageLabel.message_id, MessageLabel.category).order_by(MessageLabel.message_id))
            .tuples()
            .all()[:3]
        )
        extractions = (
            conn.execute(select(MessageExtraction.message_id).order_by(MessageExtraction.message_id).limit(2))
            .scalars()
            .all()
        )
        summaries = dict(
            conn.execute(select(MessageInsight.message_id, MessageInsight.summary).order_by(MessageInsight.message_id))
            .tuples()
            .all()[:2]
        )
        assert len(labels) == 3 and len(extractions) == 2 and len(summaries) == 2
        # As an earlier model, taxonomy and prompt version left them.
        conn.execute(
            update(MessageLabel)
            .where(MessageLabel.message_id.in_(labels))
            .values(model="earlier-model", category="praise")
        )
        conn.execute(
            update(MessageExtraction)
            .where(MessageExtraction.message_id.in_(extractions))
            .values(taxonomy_fingerprint="earlier-taxonomy")
        )
        conn.execute(
            update(MessageInsight)
            .where(MessageInsight.message_id.in_(summaries))
            .values(prompt_version="insight-v0", summary="stale")
        )

    done = {"message_labels": "labelled_this_run", "feature_mentions": "extracted_this_run"}
    done["message_insights"] = "summarised_this_run"
    default = materialize_assets(DAILY_AI, url, partition=day)
    for node, key in done.items():  # by default only new, changed or failed items are done
        assert default.asset_materializations_for_node(node)[0].metadata[key].value == 0, node

    refreshed = materialize_assets(DAILY_AI, url, partition=day, **how)
    for node, key, stale in zip(done, done.values(), (3, 2, 2), strict=True):
        metadata: Any = refreshed.asset_materializations_for_node(node)[0].metadata
        assert metadata[key].value == stale, node
        assert metadata["refreshed_stale"].value is True
        assert metadata["remaining"].value == 0
        assert metadata["llm_calls"].value == 0, f"{node}: unchanged answers come from the cache"
    with read_connection(url) as conn:
        assert (
            dict(
                conn.execute(
                    select(MessageLabel.message_id, MessageLabel.category).where(MessageLabel.message_id.in_(labels))
                )
                .tuples()
                .all()
            )
            == labels
        )
        assert not conn.execute(select(MessageLabel).where(MessageLabel.model == "earlier-model")).first()
        assert not conn.execute(
            select(MessageExtraction).where(MessageExtraction.taxonomy_fingerprint == "earlier-taxonomy")
        ).first()
        assert (
            dict(
                conn.execute(
                    select(MessageInsight.message_id, MessageInsight.summary).where(
                        MessageInsight.message_id.in_(summaries)
                    )
                )
                .tuples()
                .all()
            )
            == summaries
        )


def test_tier2_reads_the_whole_of_a_long_call_not_only_the_windows_tier1_scored(
    seeded_warehouse: str, materialize_assets: MaterializeFn
) -> None:
    url, day = seeded_warehouse, DAYS[0]
    opening = (
        "Ana Costa: It would be really helpful if we could export dashboards as PDF files for the board. "
        "Right now we take screenshots every month and paste them into slides, which takes hours.\n"
    )
    filler = "Sam Lee: Okay, next one on the list. Let's park that and come back to it in planning.\n"
    later_ask = (
        "Ana Costa: Could you add single sign-on with Okta? Our IT team will not approve more "
        "accounts without SSO, and we need it before the renewal.\n"
    )
    head = opening + filler * 40
    text = head + later_ask + filler * 60
    ask_at = len(head)
    windows = chunk_text(text)
    assert not any(w.start <= ask_at < w.end for w in windows), "the later ask must lie outside tier-1's windows"
    materialize_assets(RAW_MESSAGE_ASSETS, url, partition=day)
    with write_transaction(url) as conn:
        org_id = conn.execute(select(Organization.id).where(Organization.slug == "acme")).scalar_one()
        message_id = conn.execute(
            insert(Message)
            .values(
                org_id=org_id,
                source="gong",
                external_id="long-call-1",
                sent_at=datetime.fromisoformat(f"{day}T15:00:00+00:00"),
                title="Quarterly review",
                text=text,
                text_length=len(text),
                content_hash=content_hash(text),
                record_hash=content_hash(text),
                source_metadata={},
            )
            .returning(Message.id)
        ).scalar_one()

    assert materialize_assets([message_labels, feature_mentions], url, partition=day).success
    with read_connection(url) as conn:
        quotes = (
            conn.execute(select(FeatureMention.evidence_quote).where(FeatureMention.message_id == message_id))
            .scalars()
            .all()
        )
    assert any("PDF" in quote for quote in quotes), quotes
    assert any("Okta" in quote for quote in quotes), quotes  # outside every window tier-1 scored
