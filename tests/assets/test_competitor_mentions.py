"""Tier-2's competitor mentions on the demo corpus: offline and through a hosted provider (the fake
Anthropic server), against the corpus's ground truth; verbatim quotes, re-runs that converge, and
mentions that go with a removed message."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.database import migrate, read_connection, write_transaction
from headway_assets.core.warehouse.removals import archive_and_delete
from headway_assets.core.warehouse.schema import (
    Competitor,
    CompetitorMention,
    FeatureMention,
    Message,
    MessageExtraction,
    Organization,
)
from headway_assets.demo import DemoManifest, build_demo_corpus, seed_demo
from headway_assets.llm.providers.json_schema import strict_json_schema
from headway_assets.llm.schemas import CompetitorMentionDraft, MentionBatch, MentionDraft, MentionExtraction
from headway_assets.llm.tasks import COMPETITORS_HEADING
from headway_assets.testing.fakes.llm_servers import FakeAnthropicServer
from tests.assets.conftest import DEMO_DAYS, DEMO_START, MaterializeFn

SENTENCES = Path(__file__).parents[1] / "data" / "competitors" / "sentences.jsonl"
FIRST, LAST = "2026-10-27", "2026-10-28"  # five messages of the demo name a competitor on these days
Found = set[tuple[str, str, str, str]]  # (org slug, message external id, competitor, context)


def _truth() -> Found:
    """What the demo corpus says tier-2 should find on FIRST..LAST."""
    corpus = build_demo_corpus(start=DEMO_START, days=DEMO_DAYS)
    days = {date.fromisoformat(FIRST), date.fromisoformat(LAST)}
    return {
        (org.org.slug, item.external_id, name, context)
        for org in corpus
        for item in org.expected
        if item.sent_at.date() in days
        for name, context in item.competitors
    }


def _found(url: str) -> tuple[Found, list[dict[str, Any]]]:
    """The competitor mentions stored, as truth tuples, and their rows with the message text."""
    with read_connection(url) as conn:
        rows = [
            dict(row)
            for row in conn.execute(
                select(
                    CompetitorMention.__table__,
                    Organization.slug,
                    Message.external_id,
                    Message.text,
                    Message.org_id.label("message_org_id"),
                    Competitor.name,
                    Competitor.aliases,
                    Competitor.org_id.label("competitor_org_id"),
                )
                .join(Message, Message.id == CompetitorMention.message_id)
                .join(Organization, Organization.id == Message.org_id)
                .join(Competitor, Competitor.id == CompetitorMention.competitor_id)
            ).mappings()
        ]
    return {(r["slug"], r["external_id"], r["name"], r["context"]) for r in rows}, rows


def _relevant(url: str, truth: Found) -> Found:
    """The truth of the messages tier-2 read (tier-1 judged them relevant)."""
    with read_connection(url) as conn:
        read = set(
            conn.execute(
                select(Message.external_id).join(MessageExtraction, MessageExtraction.message_id == Message.id)
            ).scalars()
        )
    return {entry for entry in truth if entry[1] in read}


def _check_rows(url: str, rows: list[dict[str, Any]]) -> None:
    with read_connection(url) as conn:
        asks = {(row.message_id, row.ordinal) for row in conn.execute(select(FeatureMention))}
    for row in rows:
        start = row["evidence_start"]
        assert row["text"][start : start + len(row["evidence_quote"])] == row["evidence_quote"]
        quote = row["evidence_quote"].casefold()
        assert any(term.casefold() in quote for term in (row["name"], *row["aliases"])), "the quote names it"
        assert row["org_id"] == row["message_org_id"] == row["competitor_org_id"]
        if row["mention_ordinal"] is not None:
            assert (row["message_id"], row["mention_ordinal"]) in asks


def test_offline_tier2_records_the_competitors_the_demo_names(
    seeded_warehouse: str, materialize_assets: MaterializeFn
) -> None:
    url = seeded_warehouse
    truth = _truth()
    assert len(truth) == 5
    materialize_assets([*RAW_MESSAGE_ASSETS, message_labels], url, first=FIRST, last=LAST)
    result = materialize_assets([feature_mentions], url, first=FIRST, last=LAST)
    expected = _relevant(url, truth)
    # Tier-2 reads what tier-1 finds relevant: most of these, not all (docs/quality.md).
    assert len(expected) >= 3
    found, rows = _found(url)
    assert found == expected
    _check_rows(url, rows)
    assert any(row["mention_ordinal"] is not None for row in rows), "asks co-occur with some of them"

    metadata = result.asset_materializations_for_node("feature_mentions")[0].metadata
    assert metadata["competitor_mentions_this_run"].value == len(rows)
    counts: dict[str, dict[str, int]] = metadata["competitor_mention_counts"].value  # type: ignore[assignment]
    assert sum(n for contexts in counts.values() for n in contexts.values()) == len(rows)
    assert {label.split(" (#")[0] for label in counts} == {entry[2] for entry in found}
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["evidence_quotes_are_substrings"]
    preview = metadata["competitor_preview"].value
    assert isinstance(preview, str) and all(row["text"] not in preview for row in rows), "no message text"

    # A re-run after the extractions are forgotten writes the same mentions again, once.
    with write_transaction(url) as conn:
        conn.execute(delete(MessageExtraction))
    materialize_assets([feature_mentions], url, first=FIRST, last=LAST)
    again, rows_again = _found(url)
    assert again == found and len(rows_again) == len(rows)

    # A message the source no longer has takes its competitor mentions with it.
    removed = rows[0]["message_id"]
    with write_transaction(url) as conn:
        assert archive_and_delete(conn, [removed], dagster_run_id=None, sync_run_id=None, reason="test") == 1
    _, left = _found(url)
    assert left and all(row["message_id"] != removed for row in left)


def test_hosted_tier2_gets_the_competitor_list_and_records_the_same(
    demo_corpus: DemoManifest, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'hosted.db'}"  # the provider's path does not depend on the backend
    migrate(url)
    with write_transaction(url) as conn:
        seed_demo(conn, demo_corpus, data_dir=tmp_path)
    materialize_assets([*RAW_MESSAGE_ASSETS, message_labels], url, first=FIRST, last=LAST)
    llm = {"provider": "anthropic", "base_url": anthropic_server.base_url, "max_retries": 1, "timeout_seconds": 5.0}
    result = materialize_assets([feature_mentions], url, first=FIRST, last=LAST, **llm)
    assert result.success

    prompts = [
        f"{r.llm_request.system_text}\n{r.llm_request.user_text}"
        for r in anthropic_server.requests
        if r.llm_request is not None and "Extract the asks" in r.llm_request.user_text
    ]
    assert prompts, "tier-2 went to the hosted provider"
    for prompt in prompts:
        block = prompt[prompt.index(COMPETITORS_HEADING) :].split("\n\n", 1)[0]
        assert "- Metricly: Metricly Cloud" in block or "- CarePoint: CarePoint EHR" in block
        assert len(block) < 200, "a short block"

    found, rows = _found(url)
    assert found == _relevant(url, _truth()) and found
    _check_rows(url, rows)
    assert {row["provider"] for row in rows} == {"anthropic"}
    assert {row["prompt_version"] for row in rows} == {"tier2-v6"}

    # Answers are cached: the same run again asks the provider nothing.
    calls = len(anthropic_server.requests)
    with write_transaction(url) as conn:
        conn.execute(delete(MessageExtraction))
    materialize_assets([feature_mentions], url, first=FIRST, last=LAST, **llm)
    assert len(anthropic_server.requests) == calls
    assert _found(url)[0] == found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We moved over from Metricly last spring.", [("Metricly", "switching_from")]),
        ("Honestly we're evaluating DashHub because exports keep failing.", [("DashHub", "switching_to")]),
        ("QBase quoted us 30% less per seat.", [("Querybase", "pricing")]),
        ("metricly cloud already does this out of the box.", [("Metricly", "comparison")]),
        ("We also use Dash Hub in marketing.", [("DashHub", "other")]),
        ("Metriclyish and DashHubs are other words.", []),
    ],
)
def test_the_offline_heuristic_finds_names_and_aliases_with_a_context(
    text: str, expected: list[tuple[str, str]]
) -> None:
    from headway_assets.llm.tasks import Tier2Input
    from headway_assets.offline import answer

    listed = (("DashHub", ("Dash Hub",)), ("Metricly", ("Metricly Cloud",)), ("Querybase", ("QBase",)))
    item = Tier2Input(text=text, source="slack", customer=None, title=None, taxonomy=(), competitors=listed)
    found = answer("tier2", item).competitors
    assert [(c.competitor, c.context) for c in found] == expected
    assert all(c.evidence_quote in text for c in found)


def test_the_prompt_lists_competitors_only_when_there_are_some() -> None:
    from headway_assets.llm.tasks import PROMPT_COMPETITORS, Tier2Input, tier2_request

    item = Tier2Input(text="Please add SSO.", source="slack", customer=None, title=None, taxonomy=())
    assert COMPETITORS_HEADING not in (tier2_request([("0", item)]).context or "")
    many = tuple((f"Rival {n}", (f"R{n}x", "alias two")) for n in range(100))
    context = tier2_request([("0", Tier2Input("Please add SSO.", "slack", None, None, (), many))]).context or ""
    block = context[context.index(COMPETITORS_HEADING) :]
    assert block.count("\n- ") == PROMPT_COMPETITORS and "- Rival 0: R0x, alias two" in block


def test_the_labelled_sentences_keep_their_measured_quality() -> None:
    # The figures of docs/quality.md ("Competitor mentions"): a regression guard, not a target.
    from headway_assets.offline import find_competitor_mentions

    listed = (("DashHub", ("Dash Hub",)), ("Metricly", ("Metricly Cloud",)), ("Querybase", ("QBase",)))
    rows = [json.loads(line) for line in SENTENCES.read_text(encoding="utf-8").splitlines()]
    truth = {(i, name, context) for i, row in enumerate(rows) for name, context in row["expected"]}
    found = {
        (i, c.competitor, c.context)
        for i, row in enumerate(rows)
        for c in find_competitor_mentions(row["text"], listed)
    }
    named = {(i, name) for i, name, _ in found}
    assert named <= {(i, name) for i, name, _ in truth}, "no competitor found that is not there"
    assert len(named) >= 21 and len(found & truth) >= 15


def test_a_tier2_answer_lists_competitors_once_with_item_ids_and_each_item_gets_its_own() -> None:
    ask = MentionDraft(
        title="Export to PDF",
        description="PDF export.",
        kind="feature_request",
        urgency="medium",
        sentiment="neutral",
        evidence_quote="We need PDF export",
    )
    found = CompetitorMentionDraft(competitor="Tableau", context="comparison", evidence_quote="Tableau exports PDF")
    answers = [
        ("m1", MentionExtraction(mentions=[ask], competitors=[found])),
        ("m2", MentionExtraction(mentions=[ask], competitors=[])),
    ]
    batch = MentionBatch.of(answers)
    dumped = batch.model_dump(mode="json")
    # No list per item (most items name no competitor): one list, each entry with its item's id.
    assert all(set(item) == {"id", "mentions"} for item in dumped["items"])
    assert [entry["id"] for entry in dumped["competitors"]] == ["m1"]
    assert batch.per_item() == dict(answers)
    schema = strict_json_schema(MentionBatch)
    assert set(schema["required"]) == {"items", "competitors"}
    # An entry naming an id the answer has no item for is dropped; an item keeps at most eight.
    stray = MentionBatch.model_validate(
        dumped | {"competitors": [*dumped["competitors"] * 9, {**dumped["competitors"][0], "id": "zz"}]}
    )
    assert set(stray.per_item()) == {"m1", "m2"} and len(stray.per_item()["m1"].competitors) == 8
