"""The organisation's settings: read them with their deployment defaults, and change them (admins).

The settings live in `organizations.settings` (JSON), written here as by the CLI
(`headway orgs budget`, `headway orgs call-model`) through `org_settings.change_org_settings`, which
audits each change in `org_settings_audit` (read back by `list_history`); a key left
out of it takes the deployment's HEADWAY_* value. The allowed call models come from the kernel's
provider catalogue (`core.llm_catalogue`), the one the pipeline reads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select

from headway_api.core.principal import Principal
from headway_api.db import Database, Reader
from headway_api.pagination import AnySelect, SortKey, page_document, page_of, page_params, paginate
from headway_api.queries.corrections import _transaction
from headway_api.schemas.organization import SettingsHistoryParams
from headway_assets.core.llm_catalogue import CALL, call_model_choices, checked_call_model, deployment_models
from headway_assets.core.org_settings import (
    Applied,
    applied_call_model,
    applied_first_pass_threshold,
    applied_monthly_budget,
)
from headway_assets.core.people import is_free_mail_domain, normalise_domains
from headway_assets.core.settings import HeadwaySettings
from headway_assets.core.warehouse.corrections import CorrectionError
from headway_assets.core.warehouse.customer_import import parse_domains
from headway_assets.core.warehouse.org_settings import VIA_API, SettingsActor, change_org_settings
from headway_assets.core.warehouse.schema import Organization, OrgSettingsAudit

# Each change is also logged here (the record is the `org_settings_audit` table).
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


def applied_settings(own: Mapping[str, Any], headway: HeadwaySettings) -> dict[str, Applied]:
    """What the pipeline applies of the settings that can fall back (the kernel's rules, the ones the
    assets follow: `core.org_settings`)."""
    return {
        "call_model": applied_call_model(headway.llm_provider, deployment_models(headway), own.get("call_model")),
        "llm_monthly_budget_usd": applied_monthly_budget(
            own.get("llm_monthly_budget_usd"), float(headway.llm_monthly_budget_usd)
        ),
        "local_first_pass_threshold": applied_first_pass_threshold(
            headway.llm_provider, own.get("local_first_pass_threshold"), float(headway.local_first_pass_threshold)
        ),
    }


def settings_document(own: Mapping[str, Any] | None, headway: HeadwaySettings) -> dict[str, Any]:
    """An `OrganizationSettings` document: each setting's value, source and default, and what the
    pipeline applies (`effective`) with the `reason` when that is not the value."""
    own = own or {}
    applied = applied_settings(own, headway)
    document: dict[str, Any] = {}
    for key, default in deployment_defaults(headway).items():
        value = own.get(key)
        value = default if value is None else value
        if isinstance(default, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
            # Stored by hand, not through PATCH or the CLI: the pipeline applies the default (the
            # rule's `reason` says so), and a number setting shows a number.
            value = default
        rule = applied.get(key)
        reason = rule.reason if rule is not None else None
        document[key] = {
            "value": value,
            "effective": rule.value if rule is not None else value,
            "source": "default" if own.get(key) is None else "organization",
            "default": default,
            "reason": None if reason is None else {"code": reason.code, "message": reason.message},
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


def settings_actor(principal: Principal) -> SettingsActor:
    """Who the settings audit names for a caller: the token's subject (no e-mail), user and token ids."""
    return SettingsActor(actor=principal.subject, via=VIA_API, user_id=principal.user_id, token_id=principal.token_id)


def patch_settings(
    db: Database, principal: Principal, headway: HeadwaySettings, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Apply `changes` (None clears a setting) in one transaction, audited in `org_settings_audit` (one
    row per changed setting, none when nothing changed) and logged; the new `OrganizationSettings`
    document."""
    values = _checked(changes, headway)
    with _transaction(db) as conn:
        change = change_org_settings(conn, principal.org_id, values, settings_actor(principal))
    if change.changes:
        # Also on the log, for deployments that ship it: who (the token's subject, no e-mail), when,
        # and each changed setting before and after.
        AUDIT.info(
            "organisation settings changed: org=%s by=%s at=%s before=%s after=%s",
            principal.org_slug,
            principal.subject,
            datetime.now(UTC).isoformat(timespec="seconds"),
            {item.setting: item.before for item in change.changes},
            {item.setting: item.after for item in change.changes},
        )
    return settings_document(change.after, headway)


# --- The settings history ------------------------------------------------------------------------

OSA = OrgSettingsAudit.__table__.c
HISTORY_SORT = SortKey("-id", (OSA.id,), ("int",), descending=True, listing="organization-settings-history")
HISTORY_COLUMNS = (
    OSA.id,
    OSA.setting,
    OSA.before,
    OSA.after,
    OSA.actor,
    OSA.actor_user_id,
    OSA.token_id,
    OSA.via,
    OSA.created_at,
)


@lru_cache(maxsize=2)
def _history_statement(with_cursor: bool) -> AnySelect:
    query = select(*HISTORY_COLUMNS).where(OSA.org_id == bindparam("org_id"))
    return paginate(query, HISTORY_SORT, with_cursor=with_cursor)


async def list_history(db: Reader, org_id: int, params: SettingsHistoryParams) -> dict[str, Any]:
    """One page of the organisation's settings changes, newest first (the index on (org_id, id))."""
    values: dict[str, Any] = {"org_id": org_id, **page_params(HISTORY_SORT, params.cursor, params.limit)}
    rows = await db.dicts(_history_statement(params.cursor is not None), values)
    page, next_cursor = page_of(rows, HISTORY_SORT, params.limit)
    return page_document(page, next_cursor)
