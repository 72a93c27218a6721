"""Taxonomy response models: themes and sub-themes with their counts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from headway_api.schemas.common import ListParams, PageBase, page_example, text_filter

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
