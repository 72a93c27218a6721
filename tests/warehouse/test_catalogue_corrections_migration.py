"""Migration 0007 adds the triage columns without losing a request or a link, on both backends."""

from __future__ import annotations

from sqlalchemy import text

from headway_assets.core.warehouse.database import get_engine, migrate


def test_upgrade_keeps_requests_and_links(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    migrate(url, "0006")
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organizations (id, slug, name, is_active, settings, created_at) "
                "VALUES (1, 'acme', 'Acme', 1, '{}', '2025-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO messages (id, org_id, source, external_id, sent_at, text, text_length, content_hash, "
                "record_hash, source_metadata, ingested_at, updated_at) VALUES (1, 1, 'slack', 'm1', "
                "'2025-01-01 00:00:00', 't', 1, 'h', 'h', '{}', '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO feature_mentions (id, org_id, message_id, ordinal, source, sent_at, title, "
                "description, kind, urgency, sentiment, evidence_quote, evidence_start, provider, model, "
                "prompt_version, created_at) "
                "VALUES (1, 1, 1, 0, 'slack', '2025-01-01 00:00:00', 'Export', 'd', 'feature_request', 'low', "
                "'neutral', 't', 0, 'offline', 'm', 'v', '2025-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO feature_requests (id, org_id, key, title, description, kind, mention_count, "
                "customer_count, customers, sources, first_seen, last_seen, mentions_last_7d, mentions_prev_7d, "
                "trend, updated_at) "
                "VALUES (1, 1, 'k', 'Export', 'd', 'feature_request', 1, 0, '{}', '{}', '2025-01-01 00:00:00', "
                "'2025-01-01 00:00:00', 0, 0, 'new', '2025-01-01 00:00:00')"
            )
        )
        conn.execute(text("INSERT INTO feature_request_mentions (feature_request_id, mention_id, org_id, "
                          "match_method, match_score) VALUES (1, 1, 1, 'new', 1.0)"))  # fmt: skip
    migrate(url)
    with get_engine(url).connect() as conn:
        request = conn.execute(
            text(
                "SELECT status, owner, version, title_locked, taxonomy_locked, merged_into_id, origin "
                "FROM feature_requests"
            )
        ).one()
        links = conn.execute(text("SELECT feature_request_id, mention_id, pinned FROM feature_request_mentions")).all()
    assert tuple(request) == ("new", None, 1, 0, 0, None, "pipeline")
    assert [tuple(link) for link in links] == [(1, 1, 0)]
