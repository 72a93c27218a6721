"""An organisation's settings as the pipeline applies them: the one rule per setting with a fallback.

An organisation's own value (in `organizations.settings`) or the deployment's HEADWAY_* default is
what is *set*; what the pipeline *applies* can differ. `call_insights` assesses calls with the
deployment's model when the provider ignores the setting (the offline provider reads calls with its
own model) or does not offer the stored model (the provider changed since it was set),
`message_labels` runs no local first pass with the offline provider (it is local already), and a
number setting whose stored value is no number (edited by hand in the warehouse: PATCH and the CLI
store numbers) falls back to the deployment's value (`invalid_value`). The
assets and the read API (`GET /v1/organization/settings`, which may import only the kernel) both
ask these functions, so what the API shows is what runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from headway_assets.core.llm_catalogue import CALL, OFFLINE_PROVIDER, checked_call_model, get_provider_spec

FIRST_PASS_SETTING: Final = "local_first_pass_threshold"
BUDGET_SETTING: Final = "llm_monthly_budget_usd"

# Why the applied value is not the one set (the API's `reason.code`).
NotAppliedCode = Literal["provider_ignores_setting", "not_offered_by_provider", "invalid_value"]
PROVIDER_IGNORES: Final = "provider_ignores_setting"
NOT_OFFERED: Final = "not_offered_by_provider"
INVALID_VALUE: Final = "invalid_value"


@dataclass(frozen=True, slots=True)
class NotApplied:
    """Why a setting's value is not applied: a stable code and a sentence for people."""

    code: NotAppliedCode
    message: str


@dataclass(frozen=True, slots=True)
class Applied:
    """The value the pipeline applies, and why it is not the value set (None when it is)."""

    value: Any
    reason: NotApplied | None = None


def applied_call_model(provider: str, models: Mapping[str, str], own: Any) -> Applied:
    """The model `call_insights` assesses an organisation's calls with.

    `models` is the model per task in effect (`deployment_models`, or the LLM resource's own), whose
    `CALL` entry is the deployment's call model; `own` is the organisation's `call_model` setting
    (None: it has none). The organisation's model applies unless the provider ignores the setting
    (the offline provider) or does not offer that model (it changed since the setting was made)."""
    default = models[CALL]
    if own is None or own == default:
        return Applied(default)
    if not get_provider_spec(provider).configurable_models:
        return Applied(
            default,
            NotApplied(
                PROVIDER_IGNORES,
                f"the {provider} provider assesses calls with its own model, {default}; the setting applies"
                " with a hosted provider",
            ),
        )
    try:
        return Applied(checked_call_model(provider, models.values(), str(own)))
    except ValueError as error:
        return Applied(default, NotApplied(NOT_OFFERED, f"{error}; calls use {default} meanwhile"))


def _stored_number(own: Any, default: float, *, minimum: float | None = None) -> Applied:
    """A number setting's stored value as applied: `own` when it is a finite number (JSON's, so no
    bool and no string; at least `minimum` when given), else `default` with an `invalid_value`
    reason (None: the organisation has none, the default applies with no reason)."""
    if own is None:
        return Applied(default)
    if isinstance(own, int | float) and not isinstance(own, bool) and math.isfinite(own):
        if minimum is None or own >= minimum:
            return Applied(float(own))
        wanted = f"a number of at least {minimum:g}"
    else:
        wanted = "a number"
    return Applied(default, NotApplied(INVALID_VALUE, f"{own!r} is not {wanted}; the deployment's {default:g} applies"))


def applied_monthly_budget(own: Any, default: float) -> Applied:
    """The monthly LLM budget in USD the pipeline holds an organisation to (0 = no limit): its own
    `llm_monthly_budget_usd`, else `default` (HEADWAY_LLM_MONTHLY_BUDGET_USD); the default too when
    the stored value is not a number of 0 or more (a budget that is text, negative or infinite would
    otherwise crash the run or lift the limit)."""
    return _stored_number(own, default, minimum=0.0)


def applied_first_pass_threshold(provider: str, own: Any, default: float) -> Applied:
    """The local first-pass threshold `message_labels` applies to an organisation (0 = off): its own
    setting, else `default` (HEADWAY_LOCAL_FIRST_PASS_THRESHOLD); off with the offline provider."""
    stored = _stored_number(own, default)
    if provider == OFFLINE_PROVIDER and stored.value > 0:
        return Applied(
            0.0,
            NotApplied(
                PROVIDER_IGNORES,
                "the offline provider labels every message locally already, so there is no first pass to skip"
                " the provider's model; the setting applies with a hosted provider",
            ),
        )
    return stored


__all__ = [
    "BUDGET_SETTING",
    "FIRST_PASS_SETTING",
    "INVALID_VALUE",
    "NOT_OFFERED",
    "PROVIDER_IGNORES",
    "Applied",
    "NotApplied",
    "NotAppliedCode",
    "applied_call_model",
    "applied_first_pass_threshold",
    "applied_monthly_budget",
]
