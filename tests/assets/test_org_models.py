"""An organisation's own tier-1 model in the pipeline: `headway model train --org acme` writes it to
the models folder, and with the shipped local model as the tier-1 model the `message_labels` asset
labels acme's messages with it and every other organisation's with the shipped one. The model's
name and version are recorded on each label and are part of the cache key: retraining and a refresh
run re-label acme's messages with the new model, and a person's label still wins.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from headway_assets.assets.ai_support import REFRESH_STALE_TAG
from headway_assets.assets.message_labels import message_labels
from headway_assets.cli import main
from headway_assets.core.message import content_hash
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.label_corrections import set_label
from headway_assets.core.warehouse.schema import Message, MessageLabel, Organization
from headway_assets.llm.registry import LOCAL_MODEL
from headway_assets.resources.llm import LlmResource
from tests.assets.conftest import MaterializeFn

DAY = "2026-10-14"
START = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)
TEXTS = [
    "Could you add SSO with Okta? We need it before rolling out to the whole company.",
    "The CSV export crashes every time I include custom fields, we get a blank file.",
    "Please add a dark mode, my eyes hurt after a long day in the dashboard.",
    "When I click save on the report builder the page freezes and nothing is saved.",
    "It would be great to schedule the weekly digest for Monday mornings.",
    "lunch is here, come grab it in the kitchen",
    "who booked meeting room 3 for the afternoon?",
    "Thanks everyone for the offsite, great fun!",
    "Can we get an API endpoint to bulk update tags? Doing it by hand takes hours.",
    "Search returns no results for names with accents, e.g. Müller.",
]
ACME_ONLY = ["other", "praise"]  # the classes acme's first model knows (its person's label is praise)
ACME_RETRAINED = ["other", "praise", "question"]  # ... and its retrained one


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Path]:
    """The models folder and the warehouse the command line reads (the pipeline's resource gets its URL)."""
    folder = tmp_path / "models"
    monkeypatch.setenv("HEADWAY_MODELS_DIR", str(folder))
    monkeypatch.setenv("HEADWAY_DATABASE_URL", database_url)
    yield folder


def _seed(url: str) -> dict[str, int]:
    """Organisations acme and globex, each with the same ten messages of the day."""
    ids: dict[str, int] = {}
    with write_transaction(url) as conn:
        for slug in ("acme", "globex"):
            ids[slug] = conn.execute(
                insert(Organization).values(slug=slug, name=slug.title(), is_active=True).returning(Organization.id)
            ).scalar_one()
            conn.execute(
                insert(Message),
                [
                    {
                        "org_id": ids[slug],
                        "source": "slack",
                        "external_id": f"{slug}-{index}",
                        "sent_at": START + timedelta(minutes=index),
                        "text": text,
                        "text_length": len(text),
                        "content_hash": content_hash(text),
                        "record_hash": content_hash(f"{slug}-{index}{text}"),
                        "source_metadata": {},
                        "author_name": "Robin Example",
                    }
                    for index, text in enumerate(TEXTS)
                ],
            )
    return ids


def _correct_acme_0(url: str, ids: dict[str, int]) -> int:
    """A person of acme labels its message acme-0 as praise; returns that message's id."""
    with read_connection(url) as conn:
        corrected: int = conn.execute(
            select(Message.id).where(Message.org_id == ids["acme"], Message.external_id == "acme-0")
        ).scalar_one()
    with write_transaction(url) as conn:
        set_label(conn, org_id=ids["acme"], message_id=corrected, actor="pm@acme.example", category="praise")
    return corrected


def _train(tmp_path: Path, name: str, labels: list[str]) -> None:
    """`headway model train --org acme` on a small labelled CSV (plus acme's corrections), into the
    models folder (no --output)."""
    data = tmp_path / f"{name}.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for index in range(40):
            text = index % len(TEXTS)  # each text always under the same label
            writer.writerow([f"{TEXTS[text]} ({name} example {index})", labels[text % len(labels)]])
    command = ["model", "train", "--org", "acme", "--csv", str(data), "--text-column", "text"]
    assert main([*command, "--label-column", "label", "--cv-folds", "0"]) == 0


def _labels(url: str, org_id: int) -> Sequence[Any]:
    with read_connection(url) as conn:
        return conn.execute(
            select(MessageLabel.message_id, MessageLabel.model, MessageLabel.category, MessageLabel.labelled_by).where(
                MessageLabel.org_id == org_id
            )
        ).all()


def _run(materialize_assets: MaterializeFn, url: str, **tags: str) -> dict[str, Any]:
    result = materialize_assets([message_labels], url, partition=DAY, tier1_model=LOCAL_MODEL, tags=tags or None)
    assert result.success
    return {
        key: value.value for key, value in result.asset_materializations_for_node("message_labels")[0].metadata.items()
    }


@pytest.mark.slow
def test_an_organisation_is_labelled_with_its_own_model(
    database_url: str, materialize_assets: MaterializeFn, models_dir: Path, tmp_path: Path
) -> None:
    ids = _seed(database_url)
    corrected = _correct_acme_0(database_url, ids)

    _train(tmp_path, "first", ACME_ONLY)
    artefact = models_dir / "acme" / "tier1.joblib"
    assert artefact.is_file() and artefact.with_suffix(".json").is_file()
    # Only with the shipped local model as tier-1: the lexicon or a hosted model keeps one model for all.
    assert LlmResource(provider="offline").tier1_models_by_org({ids["acme"]: "acme"}) == {}
    acme_model = LlmResource(provider="offline", tier1_model=LOCAL_MODEL).tier1_models_by_org(
        {ids["acme"]: "acme", ids["globex"]: "globex"}
    )[ids["acme"]]
    assert acme_model.startswith("org:acme@tier1-")

    metadata = _run(materialize_assets, database_url)
    assert metadata["tier1_org_models"] == {"acme": acme_model}
    # Which model labelled what: the person's label was written when it was set, not by this run.
    assert metadata["labels_by_model"] == {acme_model: len(TEXTS) - 1, LOCAL_MODEL: len(TEXTS)}
    acme = {row.message_id: row for row in _labels(database_url, ids["acme"])}
    globex = _labels(database_url, ids["globex"])
    assert {row.model for mid, row in acme.items() if mid != corrected} == {acme_model}
    assert {row.category for row in acme.values()} <= set(ACME_ONLY)
    assert acme[corrected].labelled_by == "pm@acme.example" and acme[corrected].category == "praise"
    assert {row.model for row in globex} == {LOCAL_MODEL}
    # The shipped model tells asks and bugs apart in the same texts: the organisations really differ.
    assert {row.category for row in globex} & {"feature_request", "bug_report"}

    # Nothing changed: the next run asks nothing.
    again = _run(materialize_assets, database_url)
    assert again["labelled_this_run"] == 0

    # Retrained: another version, so another name and cache key; a refresh run re-labels acme only.
    _train(tmp_path, "second", ACME_RETRAINED)
    refreshed = _run(materialize_assets, database_url, **{REFRESH_STALE_TAG: "true"})
    new_model = refreshed["tier1_org_models"]["acme"]
    assert new_model != acme_model and new_model.startswith("org:acme@tier1-")
    assert refreshed["labelled_this_run"] == len(TEXTS) - 1  # acme's, not globex's, not the person's
    assert refreshed["llm_tier1"]["cache_hits"] == 0
    acme = {row.message_id: row for row in _labels(database_url, ids["acme"])}
    assert {row.model for mid, row in acme.items() if mid != corrected} == {new_model}
    assert "question" in {row.category for mid, row in acme.items() if mid != corrected} <= set(ACME_RETRAINED)
    assert (acme[corrected].labelled_by, acme[corrected].category) == ("pm@acme.example", "praise")
    assert {row.model for row in _labels(database_url, ids["globex"])} == {LOCAL_MODEL}


@pytest.mark.slow
def test_an_unreadable_organisation_model_holds_that_organisation_only(
    database_url: str, materialize_assets: MaterializeFn, models_dir: Path, tmp_path: Path
) -> None:
    ids = _seed(database_url)
    corrected = _correct_acme_0(database_url, ids)  # `--org` trains on the organisation's corrections too
    _train(tmp_path, "first", ACME_ONLY)
    (models_dir / "acme" / "tier1.json").write_text("{not json", encoding="utf-8")  # a damaged manifest

    metadata = _run(materialize_assets, database_url)
    held = metadata["held_for_unreadable_org_model"]
    assert list(held) == ["acme"] and held["acme"]["messages"] == len(TEXTS) - 1
    assert "acme's tier-1 model cannot be read" in held["acme"]["reason"]
    # acme's messages stay pending (never labelled by another model) but the person's label; globex
    # is labelled as usual.
    assert [(row.message_id, row.labelled_by) for row in _labels(database_url, ids["acme"])] == [
        (corrected, "pm@acme.example")
    ]
    assert {row.model for row in _labels(database_url, ids["globex"])} == {LOCAL_MODEL}
    assert metadata["remaining"] == len(TEXTS) - 1 and metadata["complete"] is False
