"""Whose each text is: the redaction scope of messages, read from the warehouse for the AI assets.

An organisation redacts personal data before LLM calls unless its settings say
`{"pii_redaction": false}` (default: HEADWAY_PII_REDACTION, on). A message's people are its
author and the participants its source recorded (`core.pii.message_people`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from headway_assets.core.pii import message_people, org_redacts
from headway_assets.core.warehouse.schema import Message, Organization
from headway_assets.llm.redaction import PiiScope, PrivacyGuard, default_enabled, message_scope

# Ids per query: well inside every backend's limit on bound parameters.
_IDS_PER_QUERY = 2_000


def redacting_orgs(conn: Connection, org_ids: Collection[int]) -> dict[int, bool]:
    """Whether each organisation redacts personal data before LLM calls."""
    default = default_enabled()
    rows = conn.execute(select(Organization.id, Organization.settings).where(Organization.id.in_(list(org_ids))))
    return {int(org_id): org_redacts(settings, default) for org_id, settings in rows}


def message_scopes(conn: Connection, message_ids: Iterable[int]) -> dict[int, PiiScope]:
    """The redaction scope of each message: its organisation's setting, its people, its customer."""
    ids = sorted(set(message_ids))
    rows: list[Any] = []
    for start in range(0, len(ids), _IDS_PER_QUERY):
        rows += conn.execute(
            select(
                Message.id,
                Message.org_id,
                Message.author_name,
                Message.author_email,
                Message.customer,
                Message.source_metadata,
            ).where(Message.id.in_(ids[start : start + _IDS_PER_QUERY]))
        ).all()
    enabled = redacting_orgs(conn, {row.org_id for row in rows}) if rows else {}
    default = default_enabled()  # once: reading the settings compares the whole environment
    return {
        row.id: message_scope(
            enabled.get(row.org_id, default),
            message_people(row.author_name, row.author_email, row.source_metadata),
            row.customer,
        )
        for row in rows
    }


def register_texts(guard: PrivacyGuard, scopes: Mapping[int, PiiScope], texts: Mapping[int, Iterable[str]]) -> None:
    """Tell the engine's guard whose each text is: `texts` maps a message id to the texts of it
    that the engine will send (chunks, the whole text, a quote)."""
    for message_id, pieces in texts.items():
        scope = scopes.get(message_id)
        if scope is None:
            continue
        for text in pieces:
            guard.register(text, scope)
