"""The organisation's settings: what GET /v1/organization/settings answers and PATCH takes."""

from __future__ import annotations

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

from headway_api.schemas.common import SINGLE_LINE

Source = Literal["organization", "default"]
SOURCE_DESCRIPTION = "`organization`: the organisation's own setting; `default`: the deployment's (HEADWAY_*)."
MAX_INTERNAL_DOMAINS = 100

_EXAMPLE: dict[str, Any] = {
    "pii_redaction": {"value": True, "source": "default", "default": True},
    "llm_monthly_budget_usd": {"value": 50.0, "source": "organization", "default": 0.0},
    "call_model": {
        "value": "headway-call-cues-1",
        "source": "default",
        "default": "headway-call-cues-1",
        "allowed": ["headway-call-cues-1", "claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5"],
    },
    "local_first_pass_threshold": {"value": 0.0, "source": "default", "default": 0.0},
    "internal_domains": {"value": ["acme.com"], "source": "organization", "default": []},
}


class BoolSetting(BaseModel):
    """A yes/no setting: its value in effect, where it comes from, and the deployment's."""

    value: bool
    source: Source = Field(description=SOURCE_DESCRIPTION)
    default: bool


class NumberSetting(BaseModel):
    """A number setting: its value in effect, where it comes from, and the deployment's."""

    value: float
    source: Source = Field(description=SOURCE_DESCRIPTION)
    default: float


class DomainsSetting(BaseModel):
    """A list of domains: the list in effect, where it comes from, and the deployment's (none)."""

    value: list[str]
    source: Source = Field(description=SOURCE_DESCRIPTION)
    default: list[str]


class CallModelSetting(BaseModel):
    """What assesses the organisation's Gong and Fathom calls, and the values it may take."""

    value: str
    source: Source = Field(description=SOURCE_DESCRIPTION)
    default: str = Field(description="The deployment's (HEADWAY_CALL_MODEL, or the offline provider's own model).")
    allowed: list[str] = Field(
        description="What PATCH accepts with the deployment's provider: headway-call-cues-1 (local heuristics, no"
        " LLM call) or one of the provider's models. The offline provider reads calls with its own model and"
        " ignores the setting."
    )


class OrganizationSettings(BaseModel):
    """Every setting of the caller's organisation, as the pipeline applies it."""

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
        " labelled locally and not sent to tier-1; 0 = off (HEADWAY_LOCAL_FIRST_PASS_THRESHOLD)."
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
