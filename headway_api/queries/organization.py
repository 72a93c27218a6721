"""The organisation's settings: read them with their deployment defaults, and change them (admins).

The settings live in `organizations.settings` (JSON), written here as by the CLI
(`headway orgs budget`, `headway orgs call-model`) through `tenants.set_org_setting`; a key left
out of it takes the deployment's HEADWAY_* value. The allowed call models come from the kernel's
provider catalogue (`core.llm_catalogue`), the one the pipeline reads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select

from headway_api.core.principal import Principal
from headway_api.db import Database, Reader
from headway_api.queries.corrections import _transaction
from headway_assets.core.llm_catalogue import CALL, call_model_choices, checked_call_model, deployment_models
from headway_assets.core.people import is_free_mail_domain, normalise_domains
from headway_assets.core.settings import HeadwaySettings
from headway_assets.core.warehouse.corrections import CorrectionError
from headway_assets.core.warehouse.customer_import import parse_domains
from headway_assets.core.warehouse.schema import Organization
from headway_assets.core.warehouse.tenants import set_org_setting

# No audit table fits (catalogue_audit is the catalogue's, with undo): each change is logged here.
AUDIT = logging.getLogger("headway_api.audit")
_SETTINGS = select(Organization.settings).where(Organization.id == bindparam("org_id"))


def deployment_defaults(headway: HeadwaySettings) -> dict[str, Any]:
    """Each setting's value when the organisation has none of its own."""
    return {
        "pii_redaction": headway.pii_redaction,
        "llm_monthly_budget_usd": float(headway.llm_monthly_budget_usd),
        "call_model": deployment_models(headway)[CALL],
        "local_first_pass_threshold": float(headway.local_first_pass_threshold),
        "internal_domains": [],
    }


def allowed_call_models(headway: HeadwaySettings) -> list[str]:
    """The values an organisation's `call_model` may take with the deployment's provider."""
    return list(call_model_choices(headway.llm_provider, deployment_models(headway).values()))


def settings_document(own: Mapping[str, Any] | None, headway: HeadwaySettings) -> dict[str, Any]:
    """An `OrganizationSettings` document: each setting in effect, its source and its default."""
    own = own or {}
    document: dict[str, Any] = {}
    for key, default in deployment_defaults(headway).items():
        value = own.get(key)
        document[key] = {
            "value": default if value is None else value,
            "source": "default" if value is None else "organization",
            "default": default,
        }
    document["call_model"]["allowed"] = allowed_call_models(headway)
    return document


async def get_settings(db: Reader, org_id: int, headway: HeadwaySettings) -> dict[str, Any]:
    """The caller's organisation's settings document."""
    rows = await db.rows(_SETTINGS, {"org_id": org_id})
    return settings_document(rows[0][0] if rows else None, headway)


def _checked(changes: Mapping[str, Any], headway: HeadwaySettings) -> dict[str, Any]:
    """The changes as stored; a `CorrectionError` (400 `invalid_value`) for a value the pipeline would refuse."""
    values = dict(changes)
    model = values.get("call_model")
    if model is not None:
        try:
            checked_call_model(headway.llm_provider, deployment_models(headway).values(), model)
        except ValueError as error:
            raise CorrectionError(400, "invalid_value", f"call_model: {error}", "call_model") from None
    for key in ("llm_monthly_budget_usd", "local_first_pass_threshold"):
        if values.get(key) is not None:
            values[key] = float(values[key])
    if values.get("internal_domains") is not None:
        free = [domain for domain in normalise_domains(values["internal_domains"]) if is_free_mail_domain(domain)]
        if free:
            raise CorrectionError(
                400,
                "invalid_value",
                f"internal_domains: {free[0]} is a free-mail provider's domain; its people are not all yours.",
                "internal_domains",
            )
        try:
            # The import's rules for a customer's domains (a URL or an e-mail address gives its domain).
            values["internal_domains"] = list(parse_domains(" ".join(values["internal_domains"])))
        except ValueError as error:
            raise CorrectionError(400, "invalid_value", f"internal_domains: {error}", "internal_domains") from None
        if not values["internal_domains"]:
            raise CorrectionError(
                400,
                "invalid_value",
                "internal_domains: give domains such as acme.com (null clears the list).",
                "internal_domains",
            )
    return values


def patch_settings(
    db: Database, principal: Principal, headway: HeadwaySettings, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Apply `changes` (None clears a setting) in one transaction and log who changed what; the new
    `OrganizationSettings` document."""
    values = _checked(changes, headway)
    with _transaction(db) as conn:
        # Locked (PostgreSQL): two concurrent PATCHes of different keys must not lose one another's.
        before = dict(
            conn.execute(
                select(Organization.settings).where(Organization.id == principal.org_id).with_for_update()
            ).scalar_one()
            or {}
        )
        for key, value in values.items():
            set_org_setting(conn, principal.org_id, key, value)
        after = dict(
            conn.execute(select(Organization.settings).where(Organization.id == principal.org_id)).scalar_one()
        )
    changed = {key for key in values if before.get(key) != after.get(key)}
    if changed:
        # Who (the token's subject, no e-mail), when, and each changed setting before and after.
        AUDIT.info(
            "organisation settings changed: org=%s by=%s at=%s before=%s after=%s",
            principal.org_slug,
            principal.subject,
            datetime.now(UTC).isoformat(timespec="seconds"),
            {key: before.get(key) for key in sorted(changed)},
            {key: after.get(key) for key in sorted(changed)},
        )
    return settings_document(after, headway)
