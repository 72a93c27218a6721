"""No personal data in what the pipeline records about its runs: a day of the demo corpus (authors
with names and addresses) and the labelled PII set (names, e-mail addresses, phone numbers, cards,
IBANs, keys; one organisation with redaction for LLM calls turned off) go through every asset with
Dagster's test APIs, and no original value appears in any event of the instance's event log (every
metadata value of every materialisation and check, every log line) nor in Python logging or the
captured output. The metadata stays worth reading: counts, ids, labels, models, redacted previews.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import dagster as dg
import pytest
from dagster._serdes import serialize_value
from sqlalchemy import select

from headway_assets.assets.call_insights import call_insights
from headway_assets.assets.daily_stats import daily_message_stats
from headway_assets.assets.feature_catalog import feature_catalog
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.insights import insights, message_insights
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.pii import COMMON_NAME_WORDS
from headway_assets.core.warehouse.database import read_connection
from headway_assets.core.warehouse.schema import Message, MessageLabel
from tests.assets.conftest import MaterializeFn
from tests.assets.test_pii_redaction_pipeline import DAY, PLACEHOLDER, PLAIN_EMAIL, _leaks, _protected_values, _records
from tests.assets.test_pii_redaction_pipeline import _seed as seed_pii_set

AI_ASSETS = [
    message_labels,
    feature_mentions,
    message_insights,
    feature_catalog,
    insights,
    call_insights,
    daily_message_stats,
]


def _demo_people(url: str, pii_orgs: set[int]) -> set[str]:
    """The demo messages' authors of the day (full names and addresses), read back from the warehouse."""
    values: set[str] = set()
    with read_connection(url) as conn:
        rows = conn.execute(
            select(Message.author_name, Message.author_email).where(Message.org_id.not_in(pii_orgs))
        ).all()
    for name, email in rows:
        if email and "@" in email:
            values.add(email)
        # A full name, as the PII set's people are counted (a lone common word is no leak).
        if name and len(name.split()) > 1 and name.split()[0].casefold() not in COMMON_NAME_WORDS:
            values.add(name)
    return values


def _metadata_values(event: dg.EventLogEntry) -> list[dg.MetadataValue[Any]]:
    """Every metadata value an event carries: a materialisation's or an asset check's."""
    dagster_event = event.dagster_event
    if dagster_event is None:
        return []
    data = dagster_event.event_specific_data
    materialization = getattr(data, "materialization", None)
    if materialization is not None:
        return list(materialization.metadata.values())
    if isinstance(data, dg.AssetCheckEvaluation):
        return list(data.metadata.values())
    return []


def _text_of(value: dg.MetadataValue[Any]) -> str:
    return value.value if isinstance(value.value, str) else repr(value.value)


@pytest.mark.slow
def test_no_personal_data_in_metadata_or_logs(
    seeded_warehouse: str,
    materialize_assets: MaterializeFn,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    records = _records()
    ids = seed_pii_set(seeded_warehouse, records)
    instance = dg.DagsterInstance.ephemeral()
    caplog.set_level(logging.DEBUG)
    raw = materialize_assets(RAW_MESSAGE_ASSETS, seeded_warehouse, partition=DAY, instance=instance)
    assert raw.success
    ai = materialize_assets(AI_ASSETS, seeded_warehouse, first=DAY, last=DAY, instance=instance)
    assert ai.success

    protected = _protected_values(records) | _demo_people(seeded_warehouse, {ids["pii"], ids["plain"]})
    protected |= {PLAIN_EMAIL, "Plain Person"}
    assert len(protected) > 100

    values: list[dg.MetadataValue[Any]] = []
    events: list[str] = []
    for run in (raw, ai):
        for event in instance.all_logs(run.run_id):
            values += _metadata_values(event)
            # The whole event as stored: log lines, metadata, errors.
            events.append(serialize_value(event))
    metadata_text = "\n".join(_text_of(value) for value in values)
    assert _leaks(metadata_text, protected) == []
    assert _leaks("\n".join(events), protected) == []
    assert _leaks(caplog.text, protected) == []
    out, err = capfd.readouterr()
    assert _leaks(out + err, protected) == []

    # Still worth reading: previews with rows, placeholders where people and addresses were.
    materialized = _materializations(raw, ai)
    raw_preview = materialized["raw_slack_messages"]["preview"].value
    assert "| org | sent at (UTC) | channel | author |" in raw_preview
    assert re.search(r"\| <PERSON_1> \|", raw_preview), raw_preview
    labels = materialized["message_labels"]
    assert labels["labelled_this_run"].value > len(records)
    assert sum(labels["labels_by_model"].value.values()) == labels["labelled_this_run"].value
    assert PLACEHOLDER.search(labels["preview"].value)
    assert materialized["feature_mentions"]["mentions_this_run"].value > 0
    assert "| message id | title (redacted) |" in materialized["feature_mentions"]["preview"].value
    assert PLACEHOLDER.search(materialized["feature_mentions"]["preview"].value)
    assert "| request id | title (redacted) |" in materialized["feature_catalog"]["touched_requests"].value
    assert "| asks | new asks |" in materialized["insights"]["latest"].value
    assert materialized["message_labels"]["pii_redacted"].value  # counts of what was redacted for the LLM
    assert materialized["call_insights"]["calls"].value > 0  # the day's calls were assessed, none leaked

    # The organisation that sends its text as it is was labelled in the run (its address was there
    # to leak) and is still not in the metadata.
    with read_connection(seeded_warehouse) as conn:
        plain_labelled = conn.execute(select(MessageLabel.message_id).where(MessageLabel.org_id == ids["plain"])).all()
    assert len(plain_labelled) == 2


def _materializations(*results: dg.ExecuteInProcessResult) -> dict[str, dict[str, dg.MetadataValue[Any]]]:
    """The metadata of each asset's materialisation in these runs (the last one of each)."""
    found: dict[str, dict[str, dg.MetadataValue[Any]]] = {}
    for result in results:
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
            found[materialization.asset_key.to_user_string()] = dict(materialization.metadata)
    return found


def test_an_error_in_metadata_keeps_its_kind_and_loses_its_values() -> None:
    from pydantic import BaseModel, ValidationError

    from headway_assets.assets.metadata import safe_error

    class Quote(BaseModel):
        start: int

    with pytest.raises(ValidationError) as caught:
        Quote.model_validate({"start": "Jane Doe wrote: call +44 20 7946 0958"})
    shown = safe_error(str(caught.value))
    assert "int_parsing" in shown and not _leaks(shown, {"Jane Doe", "+44 20 7946 0958"})
    shown = safe_error("HTTP 401 for jane.doe@acme.com with key sk-ant-abcdefghijklmnopqrstuv")
    assert shown == "HTTP 401 for <EMAIL_1> with key <SECRET_1>"
    assert len(safe_error("x" * 1_000)) <= 160


def test_a_preview_names_people_by_placeholder_and_keeps_the_customer() -> None:
    from headway_assets.assets.metadata import preview_redaction, redacted_customer, redacted_excerpt
    from headway_assets.llm.redaction import message_scope

    scope = message_scope(False, ["Jane Doe", "Rita Rep"], "Acme")  # redaction off for LLM calls: still on here
    redaction = preview_redaction(scope, names=["Priya Raman"])
    assert redaction.redact("Jane Doe") == "<PERSON_1>"
    assert redacted_customer("Acme", redaction) == "Acme"
    text = "Hi, Jane here from Acme; Rita and Priya say SSO matters. Mail jdoe@acme.com."
    assert redacted_excerpt(text, redaction) == (
        "Hi, <PERSON_2> here from Acme; <PERSON_3> and <PERSON_4> say SSO matters. Mail <EMAIL_1>."
    )
