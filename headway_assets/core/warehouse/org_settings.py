"""Changing an organisation's settings, audited: the one write path of the API and the CLI.

PATCH /v1/organization/settings, the `headway orgs` commands (`create`, `budget`,
`call-model`), the demo seed (`seed:demo`, via `seed`) and set-up code (scripts, tests:
`script_actor`) all change `organizations.settings`
through `change_org_settings`, the one write path of settings, which writes one
`org_settings_audit` row per setting whose stored value changed, in the caller's transaction: the
change and its record commit together or not at all. A change that changes nothing writes nothing.
Validating a value is the caller's job (the API's 400/422, the CLI's messages); this stores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, insert, select, update

from headway_assets.core.warehouse.schema import Organization, OrgSettingsAudit, utc_now

Via = Literal["api", "cli", "seed", "script"]
VIA_API: Final = "api"
VIA_CLI: Final = "cli"
# The demo seed (`headway demo`, the tests' demo warehouses).
VIA_SEED: Final = "seed"
# Set-up outside the product's commands: benchmark scripts and tests seeding an organisation.
VIA_SCRIPT: Final = "script"


@dataclass(frozen=True, slots=True)
class SettingsActor:
    """Who changes settings, and through what.

    `actor` is the API token's subject (`user:12`, or the identity provider's subject) or
    `cli:LOGIN`, `seed:demo` or `script:NAME`; never an e-mail address, so the record holds no
    customer's personal data."""

    actor: str
    via: Via
    user_id: int | None = None
    token_id: str | None = None


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One setting whose stored value changed (None: the organisation had, or now has, none)."""

    setting: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """The organisation's stored settings before and after, and what changed."""

    before: dict[str, Any]
    after: dict[str, Any]
    changes: tuple[SettingChange, ...]


def script_actor(name: str) -> SettingsActor:
    """Who a script's (or a test's set-up) change is recorded as: `script:NAME`, via `script`."""
    return SettingsActor(actor=f"{VIA_SCRIPT}:{name}"[:320], via=VIA_SCRIPT)


def change_org_settings(
    conn: Connection, org_id: int, values: Mapping[str, Any], actor: SettingsActor
) -> SettingsChange:
    """Set each of `values` on organisation `org_id` (None removes a setting: the deployment default
    applies), keeping the others, and audit each one whose stored value changed.

    The organisation's row is locked first (PostgreSQL), so concurrent changes of different settings
    never lose one another's, and each audit row's `before` is what that change really replaced."""
    stored = conn.execute(select(Organization.settings).where(Organization.id == org_id).with_for_update()).scalar_one()
    before = dict(stored or {})
    after = dict(before)
    for key, value in values.items():
        if value is None:
            after.pop(key, None)
        else:
            after[key] = value
    changes = tuple(
        SettingChange(key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    )
    if not changes:
        return SettingsChange(before, before, ())
    conn.execute(update(Organization).where(Organization.id == org_id).values(settings=after))
    now = utc_now()
    conn.execute(
        insert(OrgSettingsAudit),
        [
            {
                "org_id": org_id,
                "setting": change.setting,
                "before": change.before,
                "after": change.after,
                "actor": actor.actor,
                "actor_user_id": actor.user_id,
                "token_id": actor.token_id,
                "via": actor.via,
                "created_at": now,
            }
            for change in changes
        ],
    )
    return SettingsChange(before, after, changes)


__all__ = [
    "VIA_API",
    "VIA_CLI",
    "VIA_SCRIPT",
    "VIA_SEED",
    "SettingChange",
    "SettingsActor",
    "SettingsChange",
    "Via",
    "change_org_settings",
    "script_actor",
]
