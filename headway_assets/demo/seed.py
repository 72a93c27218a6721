"""Registering the demo organisations, their export connections and taxonomies in the warehouse."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from headway_assets.core.taxonomy import TAXONOMY_DIR, load_taxonomy_file, store_org_taxonomy
from headway_assets.core.warehouse.competitors import upsert_competitor
from headway_assets.core.warehouse.org_settings import VIA_SEED, SettingsActor, change_org_settings
from headway_assets.core.warehouse.schema import ConnectionKind
from headway_assets.core.warehouse.tenants import upsert_connection, upsert_organization
from headway_assets.demo.content import DEMO_COMPETITORS
from headway_assets.demo.writers import DemoManifest

# Who the settings audit names for the demo's settings (changed only when the seed changes them).
DEMO_SEED = SettingsActor(actor="seed:demo", via=VIA_SEED)


def _stored_path(path: Path, data_dir: Path) -> str:
    """Paths inside the data folder are stored relative to it, so the folder can move."""
    try:
        return str(path.resolve().relative_to(data_dir.resolve()))
    except ValueError:
        return str(path.resolve())


def seed_demo(conn: Connection, manifest: DemoManifest, *, data_dir: Path) -> dict[str, int]:
    """Create or update the demo orgs, one export connection per source, their taxonomies and
    competitors.

    Idempotent: running it again updates the same rows. Returns org ids by slug.
    """
    org_ids: dict[str, int] = {}
    for org in manifest.orgs:
        org_id = upsert_organization(conn, slug=org.slug, name=org.name)
        change_org_settings(
            conn,
            org_id,
            {
                "internal_domains": list(org.internal_domains),
                "workspace_url": org.workspace_url,
                "support_mailbox": org.support_mailbox,
                "demo": True,
            },
            DEMO_SEED,
        )
        org_ids[org.slug] = org_id
        for connection in org.connections:
            upsert_connection(
                conn,
                org_id=org_id,
                source=connection.source,
                name=connection.name,
                kind=ConnectionKind.EXPORT,
                config={
                    "path": _stored_path(manifest.path_of(connection.path), data_dir),
                    "internal_domains": list(org.internal_domains),
                    "workspace_url": org.workspace_url,
                    "mailbox": org.support_mailbox,
                },
            )
        taxonomy_file = TAXONOMY_DIR / f"{org.slug}.yaml"
        if taxonomy_file.exists():
            # A taxonomy an operator edited in the warehouse is kept (store_org_taxonomy).
            store_org_taxonomy(conn, org_id=org_id, taxonomy=load_taxonomy_file(taxonomy_file), source="seeded")
        # The competitors the corpus names; one a person deleted comes back with the next seed.
        for competitor in DEMO_COMPETITORS.get(org.slug, ()):
            upsert_competitor(conn, org_id, competitor.name, competitor.aliases)
    return org_ids
