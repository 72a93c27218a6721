"""Taxonomy response models: themes and sub-themes with their counts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from headway_api.schemas.common import SINGLE_LINE, ListParams, PageBase, page_example, text_filter

_THEME_EXAMPLE: JsonDict = {
    "id": 5,
    "path": "reporting/pdf-export",
    "name": "PDF export",
    "description": "Getting reports out of the product as PDF files.",
    "level": 2,
    "parent_id": 4,
    "parent_path": "reporting",
    "feature_request_count": 3,
    "mention_count": 41,
}


class ThemeOut(BaseModel):
    """A theme (level 1) or sub-theme (level 2) of the taxonomy, with catalogue counts."""

    model_config = ConfigDict(json_schema_extra={"examples": [_THEME_EXAMPLE]})

    id: int
    path: str = Field(description="`reporting` for a theme, `reporting/pdf-export` for a sub-theme.")
    name: str
    description: str | None
    level: int = Field(description="1 for a theme, 2 for a sub-theme.")
    parent_id: int | None
    parent_path: str | None
    feature_request_count: int = Field(description="Feature requests filed under this node.")
    mention_count: int = Field(description="Mentions of those feature requests.")


class ThemePage(PageBase):
    """One page of taxonomy nodes in path order (a theme comes right before its sub-themes)."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(_THEME_EXAMPLE)]})

    items: list[ThemeOut]


class ThemeListParams(ListParams):
    """Filters of the taxonomy listing."""

    level: int | None = Field(default=None, ge=1, le=2, description="1: themes only; 2: sub-themes only.")
    parent: str | None = text_filter("Only the sub-themes of this theme path.")


# --- Taxonomy writes ------------------------------------------------------------------------

_THEME_PATH = r"^[a-z0-9][a-z0-9-]{0,60}(/[a-z0-9][a-z0-9-]{0,60})?$"


class ThemeCreate(BaseModel):
    """A new theme (`path` of one segment) or sub-theme (`<theme>/<sub-theme>`, under an existing theme)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"path": "reporting/csv-export", "name": "CSV export"}]}
    )

    path: str = Field(max_length=123, pattern=_THEME_PATH, description="`billing` or `billing/invoices`.")
    name: str = Field(min_length=1, max_length=200, pattern=SINGLE_LINE)
    description: str | None = Field(default=None, max_length=2000)
    keywords: list[Annotated[str, Field(min_length=1, max_length=60, pattern=SINGLE_LINE)]] = Field(
        default_factory=list, max_length=50
    )


class ThemePatch(BaseModel):
    """What to change: a new `path` renames (a sub-theme under another theme moves there), `name`,
    `description` and `keywords` re-describe. Stored mentions and requests follow a new path."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"path": "exports/pdf", "name": "PDF export"}]}
    )

    path: str | None = Field(default=None, max_length=123, pattern=_THEME_PATH, description="The new full path.")
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=SINGLE_LINE)
    description: str | None = Field(default=None, max_length=2000)
    keywords: list[Annotated[str, Field(min_length=1, max_length=60, pattern=SINGLE_LINE)]] | None = Field(
        default=None, max_length=50
    )


class ThemeNode(BaseModel):
    """A node of the taxonomy document, as stored."""

    path: str
    name: str
    description: str | None
    keywords: list[str]
    level: int = Field(description="1 for a theme, 2 for a sub-theme.")
    parent_path: str | None


class ThemeChange(BaseModel):
    """A taxonomy change: its audit entry (undo with POST /v1/catalogue/audit/{audit_id}/undo) and the node."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "audit_id": 31,
                    "theme": {
                        "path": "reporting/csv-export",
                        "name": "CSV export",
                        "description": None,
                        "keywords": ["csv"],
                        "level": 2,
                        "parent_path": "reporting",
                    },
                }
            ]
        }
    )

    audit_id: int | None = Field(description="null when the change changed nothing.")
    theme: ThemeNode | None = Field(description="The node as it is now; null after a retirement.")


class ThemeRetireParams(BaseModel):
    """Where the retired node's mentions and requests go."""

    model_config = ConfigDict(extra="forbid")

    into: str | None = Field(
        default=None,
        max_length=123,
        pattern=_THEME_PATH,
        description="A node of the same level that takes over its mentions and requests; omitted, they lose it"
        " (a sub-theme's keep their theme).",
    )
