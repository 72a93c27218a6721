"""The taxonomy: themes and sub-themes in path order, with catalogue counts."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, select

from headway_api.db import Reader
from headway_api.pagination import AnySelect, SortKey, page_document, page_of, page_params, paginate
from headway_api.schemas.themes import ThemeListParams
from headway_assets.core.warehouse.schema import FeatureRequest, Theme

T = Theme.__table__.c
FR = FeatureRequest.__table__.c
_PARENT = Theme.__table__.alias("parent_theme")
THEME_SORT = SortKey("path", (T.path, T.id), ("str", "int"), descending=False, listing="themes")


@lru_cache(maxsize=16)
def _list_statement(level: int | None, with_parent: bool, with_cursor: bool) -> AnySelect:
    query = (
        select(T.id, T.path, T.name, T.description, T.parent_id, _PARENT.c.path.label("parent_path"))
        .select_from(Theme.__table__.outerjoin(_PARENT, _PARENT.c.id == T.parent_id))
        .where(T.org_id == bindparam("org_id"))
    )
    if level == 1:
        query = query.where(T.parent_id.is_(None))
    elif level == 2:
        query = query.where(T.parent_id.is_not(None))
    if with_parent:
        query = query.where(_PARENT.c.path == bindparam("parent"))
    return paginate(query, THEME_SORT, with_cursor=with_cursor)


def _counts_statement(column: Any) -> Any:
    # Built once per column; the paths are an expanding IN parameter.
    return (
        select(column, func.count(), func.coalesce(func.sum(FR.mention_count), 0))
        .where(
            FR.org_id == bindparam("org_id"),
            FR.merged_into_id.is_(None),
            column.in_(bindparam("paths", expanding=True)),
        )
        .group_by(column)
    )


_THEME_COUNTS = _counts_statement(FR.theme)
_SUB_THEME_COUNTS = _counts_statement(FR.sub_theme)


async def _counts(db: Reader, org_id: int, statement: Any, paths: list[str]) -> dict[str, tuple[int, int]]:
    if not paths:
        return {}
    rows = await db.rows(statement, {"org_id": org_id, "paths": paths})
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


async def list_themes(db: Reader, org_id: int, params: ThemeListParams) -> dict[str, Any]:
    """One page of taxonomy nodes with how many feature requests (and their mentions) each holds."""
    statement = _list_statement(params.level, params.parent is not None, params.cursor is not None)
    values: dict[str, Any] = {"org_id": org_id, **page_params(THEME_SORT, params.cursor, params.limit)}
    if params.parent is not None:
        values["parent"] = params.parent
    rows = await db.dicts(statement, values)
    page, next_cursor = page_of(rows, THEME_SORT, params.limit)
    top_counts = await _counts(db, org_id, _THEME_COUNTS, [row["path"] for row in page if row["parent_id"] is None])
    sub_counts = await _counts(
        db, org_id, _SUB_THEME_COUNTS, [row["path"] for row in page if row["parent_id"] is not None]
    )
    items = []
    for row in page:
        top_level = row["parent_id"] is None
        counts = (top_counts if top_level else sub_counts).get(row["path"], (0, 0))
        # In `ThemeOut`'s field order.
        items.append(
            {
                "id": row["id"],
                "path": row["path"],
                "name": row["name"],
                "description": row["description"],
                "level": 1 if top_level else 2,
                "parent_id": row["parent_id"],
                "parent_path": row["parent_path"],
                "feature_request_count": counts[0],
                "mention_count": counts[1],
            }
        )
    return page_document(items, next_cursor)
