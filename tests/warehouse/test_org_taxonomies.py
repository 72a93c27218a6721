"""Organisation taxonomies live in the warehouse (`org_taxonomies`): seeding, edits, readers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from headway_assets.assets.feature_mentions import _taxonomies
from headway_assets.core.taxonomy import (
    TAXONOMY_DIR,
    load_org_taxonomy,
    load_taxonomy,
    load_taxonomy_file,
    parse_taxonomy,
    store_org_taxonomy,
    taxonomy_document,
)
from headway_assets.core.warehouse.database import write_transaction
from headway_assets.core.warehouse.schema import OrgTaxonomy, Theme
from headway_assets.core.warehouse.tenants import upsert_organization

EDITED = parse_taxonomy(
    {"org": "acme", "themes": [{"path": "billing", "name": "Billing", "sub_themes": [{"path": "tax", "name": "Tax"}]}]},
    source="test",
)


def _org(url: str, slug: str = "acme") -> int:
    with write_transaction(url) as conn:
        return upsert_organization(conn, slug=slug, name=slug.title())


def test_document_round_trips_to_the_same_fingerprint() -> None:
    taxonomy = load_taxonomy_file(TAXONOMY_DIR / "acme.yaml")
    again = parse_taxonomy(taxonomy_document(taxonomy), source="round trip")
    assert again == taxonomy
    assert again.fingerprint() == taxonomy.fingerprint()


def test_seed_stores_the_document_and_is_idempotent(database_url: str) -> None:
    org_id = _org(database_url)
    seeded = load_taxonomy_file(TAXONOMY_DIR / "acme.yaml")
    for _ in range(2):
        with write_transaction(database_url) as conn:
            assert store_org_taxonomy(conn, org_id=org_id, taxonomy=seeded, source="seeded")
    with write_transaction(database_url) as conn:
        row = conn.execute(select(OrgTaxonomy)).one()
        assert (row.source, row.fingerprint) == ("seeded", seeded.fingerprint())
        assert parse_taxonomy(row.document, source="row") == seeded
        paths = set(conn.execute(select(Theme.path).where(Theme.org_id == org_id)).scalars())
        assert paths == {node.path for node in seeded.nodes}
        # Same content, same cache key as the pipeline computed from the `themes` rows before.
        taxonomy, origin = load_org_taxonomy(conn, org_id=org_id, org_slug="acme")
        assert origin == "warehouse"
        assert taxonomy.fingerprint() == load_taxonomy(conn, org_id=org_id, org_slug="acme").fingerprint()


def test_reseed_keeps_an_edited_taxonomy_unless_forced(database_url: str) -> None:
    org_id = _org(database_url)
    seeded = load_taxonomy_file(TAXONOMY_DIR / "acme.yaml")
    with write_transaction(database_url) as conn:
        store_org_taxonomy(conn, org_id=org_id, taxonomy=EDITED, source="edited")
        assert not store_org_taxonomy(conn, org_id=org_id, taxonomy=seeded, source="seeded")
        taxonomy, _ = load_org_taxonomy(conn, org_id=org_id, org_slug="acme")
        assert taxonomy.fingerprint() == EDITED.fingerprint()
        assert store_org_taxonomy(conn, org_id=org_id, taxonomy=seeded, source="seeded", force=True)
        taxonomy, _ = load_org_taxonomy(conn, org_id=org_id, org_slug="acme")
        assert {n.path for n in taxonomy.nodes} == {n.path for n in seeded.nodes}
        assert conn.execute(select(OrgTaxonomy.source)).scalar_one() == "seeded"


def test_pipeline_reads_the_warehouse_copy(database_url: str) -> None:
    org_id = _org(database_url)
    with write_transaction(database_url) as conn:
        store_org_taxonomy(
            conn, org_id=org_id, taxonomy=load_taxonomy_file(TAXONOMY_DIR / "acme.yaml"), source="seeded"
        )
        store_org_taxonomy(conn, org_id=org_id, taxonomy=EDITED, source="edited")
        assert _taxonomies(conn, {org_id})[org_id].listing() == (("billing", "Billing"), ("billing/tax", "Tax"))


def test_falls_back_to_the_file_only_without_a_warehouse_copy(database_url: str) -> None:
    acme, other = _org(database_url), _org(database_url, "no-such-org")
    with write_transaction(database_url) as conn:
        taxonomy, origin = load_org_taxonomy(conn, org_id=acme, org_slug="acme")
        assert origin == "file"
        assert taxonomy == load_taxonomy_file(TAXONOMY_DIR / "acme.yaml")
        taxonomy, origin = load_org_taxonomy(conn, org_id=other, org_slug="no-such-org")
        assert (origin, taxonomy.nodes) == ("none", ())


def test_demo_seed_keeps_an_edit(database_url: str, tmp_path: Path) -> None:
    from headway_assets.demo import generate_demo
    from headway_assets.demo.seed import seed_demo

    manifest = generate_demo(tmp_path / "demo", seed=7, days=2)
    with write_transaction(database_url) as conn:
        org_ids = seed_demo(conn, manifest, data_dir=tmp_path)
        store_org_taxonomy(conn, org_id=org_ids["acme"], taxonomy=EDITED, source="edited")
        seed_demo(conn, manifest, data_dir=tmp_path)
        taxonomy, _ = load_org_taxonomy(conn, org_id=org_ids["acme"], org_slug="acme")
        assert taxonomy.listing() == EDITED.listing()


def test_cli_set_taxonomy_marks_it_edited(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from headway_assets.cli import main
    from headway_assets.core.settings import get_settings

    org_id = _org(database_url)
    file = tmp_path / "acme.yaml"
    file.write_text(yaml.safe_dump(taxonomy_document(EDITED)), encoding="utf-8")
    monkeypatch.setenv("HEADWAY_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        assert main(["orgs", "set-taxonomy", "--org", "acme", "--file", str(file)]) == 0
    finally:
        get_settings.cache_clear()
    with write_transaction(database_url) as conn:
        assert conn.execute(select(OrgTaxonomy.source)).scalar_one() == "edited"
        assert load_org_taxonomy(conn, org_id=org_id, org_slug="acme")[0].listing() == EDITED.listing()


def test_the_demo_seed_sets_settings_through_the_audited_path_and_a_reseed_keeps_an_edit(
    database_url: str, tmp_path: Path
) -> None:
    from headway_assets.core.warehouse.org_settings import SettingsActor, change_org_settings
    from headway_assets.core.warehouse.schema import Organization, OrgSettingsAudit
    from headway_assets.demo import generate_demo
    from headway_assets.demo.seed import seed_demo

    manifest = generate_demo(tmp_path / "demo", seed=7, days=2)
    with write_transaction(database_url) as conn:
        org_ids = seed_demo(conn, manifest, data_dir=tmp_path)
        first = conn.execute(select(OrgSettingsAudit.org_id, OrgSettingsAudit.setting, OrgSettingsAudit.via)).all()
        assert {(org_id, setting) for org_id, setting, _ in first} == {
            (org_id, setting)
            for org_id in org_ids.values()
            for setting in ("demo", "internal_domains", "support_mailbox", "workspace_url")
        }
        assert {via for *_, via in first} == {"seed"}
        change_org_settings(conn, org_ids["acme"], {"llm_monthly_budget_usd": 3.0}, SettingsActor("cli:ops", "cli"))
        seed_demo(conn, manifest, data_dir=tmp_path)
        count = conn.execute(select(func.count()).select_from(OrgSettingsAudit)).scalar_one()
        assert count == len(first) + 1, "a re-seed that changes nothing records nothing"
        settings = conn.execute(select(Organization.settings).where(Organization.id == org_ids["acme"])).scalar_one()
        assert settings["llm_monthly_budget_usd"] == 3.0 and settings["demo"] is True
