"""The organisation's settings: what GET /v1/organization/settings answers and PATCH takes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictStr,
    model_validator,
)

from headway_api.schemas.common import SINGLE_LINE, ListParams, PageBase, page_example
from headway_assets.core.org_settings import NotAppliedCode
from headway_assets.core.warehouse.org_settings import Via

Source = Literal["organization", "default"]
SOURCE_DESCRIPTION = "`organization`: the organisation's own setting; `default`: the deployment's (HEADWAY_*)."
MAX_INTERNAL_DOMAINS = 100

EFFECTIVE_DESCRIPTION = (
    "What the pipeline applies. The same as `value` unless `reason` says why not (show `effective` as what runs)."
)
REASON_DESCRIPTION = "null when `effective` is `value`; otherwise why the pipeline applies something else."

_EXAMPLE: dict[str, Any] = {
    "pii_redaction": {"value": True, "effective": True, "source": "default", "default": True, "reason": None},
    "llm_monthly_budget_usd": {
        "value": 50.0,
        "effective": 50.0,
        "source": "organization",
        "default": 0.0,
        "reason": None,
    },
    "call_model": {
        "value": "gpt-4.1",
        "effective": "headway-call-cues-1",
        "source": "organization",
        "default": "headway-call-cues-1",
        "reason": {
            "code": "not_offered_by_provider",
            "message": "unknown call model 'gpt-4.1' for the anthropic provider: use headway-call-cues-1 (the local"
            " cue-phrase heuristics, no LLM call) or a model: claude-haiku-4-5, claude-sonnet-4-5, claude-opus-4-5;"
            " calls use headway-call-cues-1 meanwhile",
        },
        "allowed": ["headway-call-cues-1", "claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5"],
    },
    "local_first_pass_threshold": {
        "value": 0.0,
        "effective": 0.0,
        "source": "default",
        "default": 0.0,
        "reason": None,
    },
    "internal_domains": {
        "value": ["acme.com"],
        "effective": ["acme.com"],
        "source": "organization",
        "default": [],
        "reason": None,
    },
}


class NotApplied(BaseModel):
    """Why the pipeline does not apply a setting's value."""

    code: NotAppliedCode = Field(
        description="`provider_ignores_setting`: the deployment's provider does not use this setting (the offline"
        " provider reads calls with its own model and labels every message locally); `not_offered_by_provider`:"
        " the provider does not have the value (it changed since the value was set; PATCH one of `allowed`);"
        " `invalid_value`: the stored value is not of the setting's type."
    )
    message: str = Field(description="The same, in a sentence a person can act on.")


class BoolSetting(BaseModel):
    """A yes/no setting: its value, what is applied, where it comes from, and the deployment's."""

    value: bool = Field(description="The organisation's own value, else the deployment default.")
    effective: bool = Field(description=EFFECTIVE_DESCRIPTION)
    source: Source = Field(description=SOURCE_DESCRIPTION)
    default: bool
    reason: NotApplied | None = Field(description=REASON_DESCRIPTION)


class NumberSetting(BaseModel):
    """A number setting: its value, what is applied, where it comes from, and the deployment's."""

    value: float = Field(description="The organisation's own value, else the deployment default.")
    effective: float = Field(description=EFFECTIVE_DESCRIPTION)
    source: Source = Field(description=SOURCE_DESCRIPTION)
    default: float
    reason: NotApplied | None = Field(description=REASON_DESCRIPTION)


class DomainsSetting(BaseModel):
    """A list of domains: the list, what is applied, where it comes from, and the deployment's (none)."""

    value: list[str] = Field(description="The organisation's own list, else the deployment default.")
    effective: list[str] = Field(description=EFFECTIVE_DESCRIPTION)
    source: Source = Field(description=SOURCE_DESCRIPTION)
    default: list[str]
    reason: NotApplied | None = Field(description=REASON_DESCRIPTION)


class CallModelSetting(BaseModel):
    """What assesses the organisation's Gong and Fathom calls, and the values it may take."""

    value: str = Field(description="The organisation's own `call_model`, else the deployment default.")
    effective: str = Field(
        description="The model `call_insights` assesses the calls with. It is `default` when the provider ignores"
        " the setting (the offline provider reads calls with its own model) or does not offer `value` (the"
        " provider changed since it was set); `reason` says which."
    )
    source: Source = Field(description=SOURCE_DESCRIPTION)
    default: str = Field(description="The deployment's (HEADWAY_CALL_MODEL, or the offline provider's own model).")
    reason: NotApplied | None = Field(description=REASON_DESCRIPTION)
    allowed: list[str] = Field(
        description="What PATCH accepts with the deployment's provider: headway-call-cues-1 (local heuristics, no"
        " LLM call) or one of the provider's models. The offline provider reads calls with its own model and"
        " ignores the setting."
    )


class OrganizationSettings(BaseModel):
    """Every setting of the caller's organisation: its value, and what the pipeline applies (`effective`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    pii_redaction: BoolSetting = Field(
        description="Replace e-mail addresses, phone numbers, card numbers, keys and people's names with"
        " placeholders before any LLM call (HEADWAY_PII_REDACTION)."
    )
    llm_monthly_budget_usd: NumberSetting = Field(
        description="Monthly LLM spend (USD at list prices, UTC month) after which the organisation gets no more"
        " AI work that month; 0 = no limit (HEADWAY_LLM_MONTHLY_BUDGET_USD)."
    )
    call_model: CallModelSetting
    local_first_pass_threshold: NumberSetting = Field(
        description="With a hosted provider, messages the local model gives at least this P(not feedback) are"
        " labelled locally and not sent to tier-1; 0 = off (HEADWAY_LOCAL_FIRST_PASS_THRESHOLD). Off (`effective`"
        " 0) with the offline provider."
    )
    internal_domains: DomainsSetting = Field(
        description="The organisation's own e-mail domains: their people are internal, not customers."
    )


Domain = Annotated[StrictStr, Field(min_length=1, max_length=253, pattern=SINGLE_LINE)]


class OrganizationSettingsPatch(BaseModel):
    """The settings to change. Omitted ones stay; `null` clears one back to the deployment default."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"llm_monthly_budget_usd": 50, "call_model": None}]},
    )

    pii_redaction: StrictBool | None = None
    llm_monthly_budget_usd: Annotated[float, Strict(), Field(ge=0, le=1_000_000)] | None = Field(
        default=None, description="USD a month; 0 = no limit."
    )
    call_model: Annotated[StrictStr, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="One of GET's `call_model.allowed`."
    )
    local_first_pass_threshold: Annotated[float, Strict(), Field(ge=0, le=1)] | None = Field(
        default=None, description="A probability, 0 to 1; 0 = off."
    )
    internal_domains: Annotated[list[Domain], Field(max_length=MAX_INTERNAL_DOMAINS)] | None = Field(
        default=None, description="Domains such as `acme.com` (lower-cased, a leading `@` dropped)."
    )

    @model_validator(mode="before")
    @classmethod
    def _known_settings(cls, data: Any) -> Any:
        """Refuse unknown keys with a message naming them and the settings there are."""
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(
                    f"unknown setting {', '.join(map(repr, unknown))}: the settings are {', '.join(cls.model_fields)}"
                )
        return data


_HISTORY_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "setting": "call_model",
    "before": None,
    "after": "claude-haiku-4-5",
    "actor": "user:12",
    "actor_user_id": 12,
    "token_id": "9f2c4b1e7a0d4c55",
    "via": "api",
    "created_at": "2026-12-07T08:30:00Z",
}


class SettingsChangeEntry(BaseModel):
    """One change of one setting: who, when, through what, the value before and after."""

    model_config = ConfigDict(json_schema_extra={"examples": [_HISTORY_EXAMPLE]})

    id: int
    setting: str = Field(description="The setting's name, as in GET /v1/organization/settings.")
    before: Any = Field(description="Its own value before; null: none, the deployment default applied.")
    after: Any = Field(description="Its own value after; null: cleared, the deployment default applies.")
    actor: str = Field(
        description="Who: the API token's subject (`user:12`, or the identity provider's subject), or"
        " `cli:LOGIN` for a `headway orgs` command on the server, `seed:demo` for the demo seed, `script:NAME`"
        " for a set-up script."
    )
    actor_user_id: int | None = Field(description="The user, when a user's token made the change.")
    token_id: str | None = Field(description="The token's id (`jti`), when the change came through the API.")
    via: Via = Field(
        description="`api`: PATCH /v1/organization/settings; `cli`: `headway orgs`; `seed`: the demo seed;"
        " `script`: a set-up script."
    )
    created_at: datetime


class SettingsHistoryPage(PageBase):
    """One page of the organisation's settings changes, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_HISTORY_EXAMPLE)]})

    items: list[SettingsChangeEntry]


class SettingsHistoryParams(ListParams):
    """Paging of the settings history."""
