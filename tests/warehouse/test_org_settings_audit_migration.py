"""Migration 0022 (org_settings_audit) goes down to 0021 and back up on both backends, keeping the
organisations' settings; the audit rows go with the table."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select

from headway_assets.core.warehouse.database import (
    ALEMBIC_INI,
    PROJECT_ROOT,
    dispose_engines,
    get_engine,
    migrate,
    normalise_database_url,
    write_transaction,
)
from headway_assets.core.warehouse.org_settings import SettingsActor, change_org_settings
from headway_assets.core.warehouse.schema import Organization, OrgSettingsAudit
from headway_assets.core.warehouse.tenants import upsert_organization


def _downgrade(url: str, revision: str) -> None:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["database_url"] = normalise_database_url(url)
    command.downgrade(config, revision)


def _tables(url: str) -> set[str]:
    with get_engine(url).connect() as conn:
        return set(inspect(conn).get_table_names())


def test_the_settings_audit_table_downgrades_and_upgrades(database_url: str) -> None:
    with write_transaction(database_url) as conn:
        org_id = upsert_organization(conn, slug="acme", name="Acme")
        change_org_settings(conn, org_id, {"pii_redaction": False}, SettingsActor(actor="cli:ops", via="cli"))
    try:
        _downgrade(database_url, "0021")
        dispose_engines()  # the cached engines' reflected state predates the downgrade
        assert "org_settings_audit" not in _tables(database_url)
        with get_engine(database_url).connect() as conn:
            assert conn.execute(select(Organization.settings)).scalar_one() == {"pii_redaction": False}
    finally:
        migrate(database_url)  # the PostgreSQL database is the session's: leave it at head
    assert "org_settings_audit" in _tables(database_url)
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(OrgSettingsAudit.id)).all() == []
