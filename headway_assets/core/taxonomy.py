"""Each organisation's two-level feedback taxonomy: loaded from YAML, kept in the `themes` table.

File format (see `config/taxonomies/*.yaml`):

    org: acme
    themes:
      - path: reporting
        name: Reporting & exports
        description: ...
        sub_themes:
          - {path: exports, name: Exports, keywords: [pdf, csv]}

A sub-theme's full path is `<theme path>/<sub-theme path>`; tier-2 answers with these paths.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, delete, insert, select, update

from headway_assets.core.settings import PROJECT_ROOT
from headway_assets.core.warehouse.corrections import (
    CorrectionError,
    Outcome,
    UndoHandler,
    clean_text,
    conflict,
    invalid,
    not_found_error,
    record_audit,
)
from headway_assets.core.warehouse.schema import FeatureMention, FeatureRequest, OrgTaxonomy, Theme

LOGGER = logging.getLogger(__name__)

TAXONOMY_DIR = PROJECT_ROOT / "config" / "taxonomies"
_PATH_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")


class TaxonomyError(ValueError):
    """A taxonomy file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class TaxonomyNode:
    """A theme or a sub-theme."""

    path: str
    name: str
    description: str | None = None
    keywords: tuple[str, ...] = ()
    parent: str | None = None  # the theme's path, for a sub-theme


@dataclass(frozen=True)
class Taxonomy:
    """An organisation's taxonomy: themes and their sub-themes, in file order."""

    org_slug: str
    nodes: tuple[TaxonomyNode, ...] = field(default_factory=tuple)

    @property
    def themes(self) -> list[TaxonomyNode]:
        """Top-level themes."""
        return [node for node in self.nodes if node.parent is None]

    @property
    def sub_themes(self) -> list[TaxonomyNode]:
        """Second-level sub-themes (full paths)."""
        return [node for node in self.nodes if node.parent is not None]

    def node(self, path: str | None) -> TaxonomyNode | None:
        """The node at `path`, if any."""
        return next((node for node in self.nodes if node.path == path), None)

    def theme_of(self, sub_theme_path: str) -> str | None:
        """The theme path a sub-theme path belongs to."""
        node = self.node(sub_theme_path)
        return node.parent if node else None

    def fingerprint(self) -> str:
        """A hash of the taxonomy: part of the tier-2 cache key, so a changed taxonomy re-extracts."""
        payload = [(n.path, n.name, n.description, n.keywords) for n in self.nodes]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:16]

    def listing(self) -> tuple[tuple[str, str], ...]:
        """(path, name) of every node, as prompts show them."""
        return tuple((node.path, node.name) for node in self.nodes)


def _require(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise TaxonomyError(f"{where}: '{key}' is missing or not a string")
    return value.strip()


def _path(entry: dict[str, Any], where: str) -> str:
    path = _require(entry, "path", where)
    if not _PATH_PATTERN.match(path):
        raise TaxonomyError(f"{where}: path {path!r} must be lower-case letters, digits and dashes")
    return path


def parse_taxonomy(data: Any, *, source: str) -> Taxonomy:
    """Validate a loaded YAML document into a `Taxonomy`."""
    if not isinstance(data, dict):
        raise TaxonomyError(f"{source}: expected a mapping with 'org' and 'themes'")
    org = _require(data, "org", source)
    themes = data.get("themes")
    if not isinstance(themes, list) or not themes:
        raise TaxonomyError(f"{source}: 'themes' must be a non-empty list")
    nodes: list[TaxonomyNode] = []
    for index, theme in enumerate(themes):
        where = f"{source}: themes[{index}]"
        if not isinstance(theme, dict):
            raise TaxonomyError(f"{where}: expected a mapping")
        theme_path = _path(theme, where)
        nodes.append(
            TaxonomyNode(
                path=theme_path,
                name=_require(theme, "name", where),
                description=theme.get("description"),
                keywords=tuple(str(k).lower() for k in theme.get("keywords", [])),
            )
        )
        for sub_index, sub in enumerate(theme.get("sub_themes") or []):
            sub_where = f"{where}.sub_themes[{sub_index}]"
            if not isinstance(sub, dict):
                raise TaxonomyError(f"{sub_where}: expected a mapping")
            full_path = f"{theme_path}/{_path(sub, sub_where)}"
            nodes.append(
                TaxonomyNode(
                    path=full_path,
                    name=_require(sub, "name", sub_where),
                    description=sub.get("description"),
                    keywords=tuple(str(k).lower() for k in sub.get("keywords", [])),
                    parent=theme_path,
                )
            )
    paths = [node.path for node in nodes]
    duplicates = sorted({p for p in paths if paths.count(p) > 1})
    if duplicates:
        raise TaxonomyError(f"{source}: duplicate paths {duplicates}")
    return Taxonomy(org_slug=org, nodes=tuple(nodes))


def load_taxonomy_file(path: Path) -> Taxonomy:
    """Read and validate a taxonomy YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaxonomyError(f"{path}: no such taxonomy file") from None
    except yaml.YAMLError as error:
        raise TaxonomyError(f"{path}: not valid YAML ({error})") from None
    return parse_taxonomy(data, source=str(path))


def save_taxonomy(conn: Connection, *, org_id: int, taxonomy: Taxonomy) -> None:
    """Make the `themes` table hold exactly this taxonomy for the org (ids of kept paths stay)."""
    existing = {row.path: row.id for row in conn.execute(select(Theme.path, Theme.id).where(Theme.org_id == org_id))}
    wanted = {node.path for node in taxonomy.nodes}
    stale = [theme_id for path, theme_id in existing.items() if path not in wanted]
    if stale:
        conn.execute(delete(Theme).where(Theme.id.in_(stale)))
    ids: dict[str, int] = {path: theme_id for path, theme_id in existing.items() if path in wanted}
    for node in sorted(taxonomy.nodes, key=lambda n: n.parent is not None):  # themes before sub-themes
        values = {
            "name": node.name,
            "description": node.description,
            "keywords": {"keywords": list(node.keywords)},
            "parent_id": ids[node.parent] if node.parent else None,
        }
        if node.path in ids:
            conn.execute(update(Theme).where(Theme.id == ids[node.path]).values(**values))
        else:
            result = conn.execute(insert(Theme).values(org_id=org_id, path=node.path, **values).returning(Theme.id))
            ids[node.path] = int(result.scalar_one())


def load_taxonomy(conn: Connection, *, org_id: int, org_slug: str) -> Taxonomy:
    """The org's taxonomy as stored in the warehouse (empty when none was configured)."""
    rows = conn.execute(
        select(Theme.path, Theme.name, Theme.description, Theme.keywords, Theme.parent_id, Theme.id)
        .where(Theme.org_id == org_id)
        .order_by(Theme.id)
    ).all()
    paths = {row.id: row.path for row in rows}
    nodes = [
        TaxonomyNode(
            path=row.path,
            name=row.name,
            description=row.description,
            keywords=tuple((row.keywords or {}).get("keywords", [])),
            parent=paths.get(row.parent_id) if row.parent_id else None,
        )
        for row in rows
    ]
    return Taxonomy(org_slug=org_slug, nodes=tuple(nodes))


def taxonomy_document(taxonomy: Taxonomy) -> dict[str, Any]:
    """The taxonomy as a file-shaped mapping: `parse_taxonomy` of it gives the same nodes back."""
    themes: list[dict[str, Any]] = []
    by_path: dict[str, dict[str, Any]] = {}
    for node in taxonomy.themes:
        entry: dict[str, Any] = {"path": node.path, "name": node.name, "description": node.description}
        entry.update(keywords=list(node.keywords), sub_themes=[])
        by_path[node.path] = entry
        themes.append(entry)
    for node in taxonomy.sub_themes:
        assert node.parent is not None
        by_path[node.parent]["sub_themes"].append(
            {
                "path": node.path.split("/", 1)[1],
                "name": node.name,
                "description": node.description,
                "keywords": list(node.keywords),
            }
        )
    return {"org": taxonomy.org_slug, "themes": themes}


def store_org_taxonomy(conn: Connection, *, org_id: int, taxonomy: Taxonomy, source: str, force: bool = False) -> bool:
    """Store the org's taxonomy document (and its `themes` rows); False when kept as it was.

    A seed (`source="seeded"`) never replaces a taxonomy an operator set (`"edited"`) unless
    `force`; storing the same content again changes nothing but the timestamp.
    """
    current = conn.execute(select(OrgTaxonomy.source).where(OrgTaxonomy.org_id == org_id)).scalar_one_or_none()
    if current == "edited" and source == "seeded" and not force:
        return False
    values = {
        "document": taxonomy_document(taxonomy),
        "fingerprint": taxonomy.fingerprint(),
        "source": source,
        "updated_at": datetime.now(UTC),
    }
    if current is None:
        conn.execute(insert(OrgTaxonomy).values(org_id=org_id, **values))
    else:
        conn.execute(update(OrgTaxonomy).where(OrgTaxonomy.org_id == org_id).values(**values))
    save_taxonomy(conn, org_id=org_id, taxonomy=taxonomy)
    return True


def load_org_taxonomy(conn: Connection, *, org_id: int, org_slug: str) -> tuple[Taxonomy, str]:
    """The org's taxonomy and where it came from: "warehouse", "file" (fallback) or "none".

    The warehouse document wins; its nodes come in `themes` row order, the order the
    fingerprint (a cache key: same content, same key) has always been computed in.
    Without a document, the `themes` rows (older warehouses), then `config/taxonomies/<slug>.yaml`.
    """
    document = conn.execute(select(OrgTaxonomy.document).where(OrgTaxonomy.org_id == org_id)).scalar_one_or_none()
    rows = load_taxonomy(conn, org_id=org_id, org_slug=org_slug)
    if document is not None:
        parsed = parse_taxonomy(document, source=f"org_taxonomies[{org_id}]")
        order = {node.path: index for index, node in enumerate(rows.nodes)}
        nodes = sorted(parsed.nodes, key=lambda n: (order.get(n.path, len(order)), n.parent is not None))
        return Taxonomy(org_slug=org_slug, nodes=tuple(nodes)), "warehouse"
    if rows.nodes:
        return rows, "warehouse"
    file = TAXONOMY_DIR / f"{org_slug}.yaml"
    if file.exists():
        LOGGER.warning("no taxonomy in the warehouse for %s: using %s", org_slug, file)
        return load_taxonomy_file(file), "file"
    return rows, "none"


# --- Edits (the triage API's taxonomy writes) ------------------------------------------------


def check_path_segment(segment: str, what: str) -> str:
    """`segment` if it is a valid path segment (lower-case letters, digits, dashes), else TaxonomyError."""
    if not _PATH_PATTERN.match(segment):
        raise TaxonomyError(f"{what} {segment!r} must be 1-61 lower-case letters, digits and dashes")
    return segment


def add_node(taxonomy: Taxonomy, node: TaxonomyNode) -> Taxonomy:
    """The taxonomy with `node` added: a theme at the end, a sub-theme after its theme's last one."""
    if taxonomy.node(node.path) is not None:
        raise TaxonomyError(f"{node.path!r} already exists")
    nodes = list(taxonomy.nodes)
    if node.parent is None:
        nodes.append(node)
    else:
        parent = taxonomy.node(node.parent)
        if parent is None or parent.parent is not None:
            raise TaxonomyError(f"theme {node.parent!r} does not exist")
        last = max(index for index, n in enumerate(nodes) if n.path == node.parent or n.parent == node.parent)
        nodes.insert(last + 1, node)
    return Taxonomy(org_slug=taxonomy.org_slug, nodes=tuple(nodes))


def path_changes(taxonomy: Taxonomy, old_path: str, new_path: str) -> dict[str, str]:
    """Every node path that changes when the node at `old_path` gets `new_path` (its sub-themes too)."""
    changes = {old_path: new_path}
    for node in taxonomy.nodes:
        if node.parent == old_path:
            changes[node.path] = f"{new_path}/{node.path.split('/', 1)[1]}"
    return changes


def edit_node(
    taxonomy: Taxonomy,
    path: str,
    *,
    new_path: str | None = None,
    name: str | None = None,
    description: str | None = None,
    keywords: tuple[str, ...] | None = None,
) -> Taxonomy:
    """The taxonomy with the node at `path` renamed, re-described or moved to `new_path`.

    A theme's new path renames its sub-themes' paths with it; a sub-theme's new path may name
    another theme (a move), which must exist. The node keeps its place (a moved sub-theme goes
    after its new theme's last one).
    """
    node = taxonomy.node(path)
    if node is None:
        raise TaxonomyError(f"{path!r} does not exist")
    target = new_path or path
    if node.parent is None and "/" in target:
        raise TaxonomyError(f"a theme's path is one segment; {target!r} is a sub-theme path")
    new_parent = target.split("/", 1)[0] if node.parent is not None else None
    if node.parent is not None and "/" not in target:
        raise TaxonomyError(f"a sub-theme's path is <theme>/<sub-theme>; {target!r} is not")
    for segment in target.split("/"):
        check_path_segment(segment, "path segment")
    if target != path and taxonomy.node(target) is not None:
        raise TaxonomyError(f"{target!r} already exists")
    if new_parent is not None:
        parent = taxonomy.node(new_parent)
        if parent is None or parent.parent is not None:
            raise TaxonomyError(f"theme {new_parent!r} does not exist")
    changes = path_changes(taxonomy, path, target)
    edited = TaxonomyNode(
        path=target,
        name=name if name is not None else node.name,
        description=description if description is not None else node.description,
        keywords=keywords if keywords is not None else node.keywords,
        parent=new_parent,
    )
    nodes: list[TaxonomyNode] = []
    for other in taxonomy.nodes:
        if other.path == path:
            if new_parent == node.parent:
                nodes.append(edited)
            continue
        if other.path in changes:  # a sub-theme of a renamed theme
            other = TaxonomyNode(
                path=changes[other.path],
                name=other.name,
                description=other.description,
                keywords=other.keywords,
                parent=target,
            )
        nodes.append(other)
    moved = Taxonomy(org_slug=taxonomy.org_slug, nodes=tuple(nodes))
    return moved if new_parent == node.parent else add_node(moved, edited)


def remove_node(taxonomy: Taxonomy, path: str) -> Taxonomy:
    """The taxonomy without the node at `path` (a theme goes with its sub-themes); never empty."""
    node = taxonomy.node(path)
    if node is None:
        raise TaxonomyError(f"{path!r} does not exist")
    nodes = tuple(n for n in taxonomy.nodes if n.path != path and n.parent != path)
    if not any(n.parent is None for n in nodes):
        raise TaxonomyError("a taxonomy keeps at least one theme; add another before retiring the last")
    return Taxonomy(org_slug=taxonomy.org_slug, nodes=nodes)


# --- Writes through the triage API (audited, undoable) -----------------------------------------

THEME_CREATE = "theme_create"
THEME_EDIT = "theme_edit"
THEME_RETIRE = "theme_retire"


def node_parents(taxonomy: Taxonomy) -> dict[str, str | None]:
    """Each node's path -> its theme's path (None for a theme): what a request edit checks against."""
    return {node.path: node.parent for node in taxonomy.nodes}


def _lock_taxonomy(conn: Connection, org_id: int, org_slug: str) -> Taxonomy:
    conn.execute(select(OrgTaxonomy.org_id).where(OrgTaxonomy.org_id == org_id).with_for_update()).first()
    taxonomy, _ = load_org_taxonomy(conn, org_id=org_id, org_slug=org_slug)
    return taxonomy


def _store(conn: Connection, org_id: int, taxonomy: Taxonomy) -> None:
    store_org_taxonomy(conn, org_id=org_id, taxonomy=taxonomy, source="edited", force=True)


def _retag(conn: Connection, org_id: int, changes: Mapping[str, str]) -> dict[str, int]:
    """Rename taxonomy paths on stored mentions and requests (old path -> new path)."""
    counts = {"mentions": 0, "requests": 0}
    for model, name in ((FeatureMention, "mentions"), (FeatureRequest, "requests")):
        table = model.__table__.c
        for old, new in changes.items():
            if "/" in old:
                result = conn.execute(
                    update(model)
                    .where(table.org_id == org_id, table.sub_theme == old)
                    .values(sub_theme=new, theme=new.split("/", 1)[0])
                )
            else:
                result = conn.execute(update(model).where(table.org_id == org_id, table.theme == old).values(theme=new))
            counts[name] += result.rowcount
    return counts


def _node_document(node: TaxonomyNode) -> dict[str, Any]:
    return {
        "path": node.path,
        "name": node.name,
        "description": node.description,
        "keywords": list(node.keywords),
        "parent": node.parent,
    }


def _taxonomy_audit(
    conn: Connection, org_id: int, actor: str, action: str, old: Taxonomy, new: Taxonomy, **extra: Any
) -> int:
    before = {"document": taxonomy_document(old), "fingerprint": old.fingerprint()} | extra.pop("before", {})
    after = {"document": taxonomy_document(new), "fingerprint": new.fingerprint()} | extra
    return record_audit(conn, org_id=org_id, request_id=None, actor=actor, action=action, before=before, after=after)


def create_theme(
    conn: Connection,
    *,
    org_id: int,
    org_slug: str,
    actor: str,
    segment: str,
    parent: str | None,
    name: str,
    description: str | None = None,
    keywords: Sequence[str] = (),
) -> tuple[Outcome, TaxonomyNode]:
    """Add a theme (`parent` None) or a sub-theme of theme `parent`; `segment` is its own path part."""
    taxonomy = _lock_taxonomy(conn, org_id, org_slug)
    try:
        check_path_segment(segment, "path")
        path = segment if parent is None else f"{parent}/{segment}"
        node = TaxonomyNode(
            path=path,
            name=clean_text(name, "name", 200),
            description=description,
            keywords=tuple(str(k).lower() for k in keywords),
            parent=parent,
        )
        new = add_node(taxonomy, node)
    except TaxonomyError as error:
        raise _taxonomy_error(error) from None
    _store(conn, org_id, new)
    audit_id = _taxonomy_audit(conn, org_id, actor, THEME_CREATE, taxonomy, new, node=_node_document(node))
    return Outcome(audit_id), node


def _taxonomy_error(error: TaxonomyError) -> CorrectionError:
    message = str(error)
    if "already exists" in message:
        return conflict(message[0].upper() + message[1:] + ".")
    if "does not exist" in message:
        return CorrectionError(404, "not_found", message[0].upper() + message[1:] + ".")
    if "at least one theme" in message:
        return conflict(message[0].upper() + message[1:] + ".")
    return invalid(message[0].upper() + message[1:] + ".", "path")


def edit_theme(
    conn: Connection,
    *,
    org_id: int,
    org_slug: str,
    actor: str,
    path: str,
    new_path: str | None = None,
    name: str | None = None,
    description: str | None = None,
    keywords: Sequence[str] | None = None,
) -> tuple[Outcome, TaxonomyNode]:
    """Rename a theme or sub-theme (its name, or its path), or move a sub-theme to another theme
    (`new_path` under that theme). Stored mentions and requests follow a path change."""
    taxonomy = _lock_taxonomy(conn, org_id, org_slug)
    try:
        new = edit_node(
            taxonomy,
            path,
            new_path=new_path,
            name=None if name is None else clean_text(name, "name", 200),
            description=description,
            keywords=None if keywords is None else tuple(str(k).lower() for k in keywords),
        )
    except TaxonomyError as error:
        raise _taxonomy_error(error) from None
    target = new_path or path
    changes = path_changes(taxonomy, path, target) if target != path else {}
    node = new.node(target)
    assert node is not None
    if new == taxonomy:
        return Outcome(None), node
    _store(conn, org_id, new)
    counts = _retag(conn, org_id, changes)
    audit_id = _taxonomy_audit(
        conn, org_id, actor, THEME_EDIT, taxonomy, new, paths=changes, retagged=counts, node=_node_document(node)
    )
    return Outcome(audit_id), node


def retire_theme(
    conn: Connection, *, org_id: int, org_slug: str, actor: str, path: str, into: str | None = None
) -> Outcome:
    """Remove a theme (with its sub-themes) or a sub-theme from the taxonomy.

    Mentions and requests filed under it move to `into` (a node of the same level), or lose the
    retired placement (a sub-theme's keep their theme). Their previous placement is kept in the
    audit row, so an undo puts them back.
    """
    taxonomy = _lock_taxonomy(conn, org_id, org_slug)
    node = taxonomy.node(path)
    if node is None:
        raise not_found_error(f"Theme {path!r}")
    if into is not None:
        target = taxonomy.node(into)
        if target is None or into == path or (target.parent is None) != (node.parent is None):
            level = "theme" if node.parent is None else "sub-theme"
            raise invalid(f"`into` must be another {level} of your taxonomy.", "into")
        if node.parent is None and (into.startswith(path + "/")):
            raise invalid("`into` must not be inside the retired theme.", "into")
    try:
        new = remove_node(taxonomy, path)
    except TaxonomyError as error:
        raise _taxonomy_error(error) from None
    moved: dict[str, list[list[Any]]] = {}
    for model, name in ((FeatureMention, "mentions"), (FeatureRequest, "requests")):
        table = model.__table__.c
        column = table.theme if node.parent is None else table.sub_theme
        rows = conn.execute(
            select(table.id, table.theme, table.sub_theme).where(table.org_id == org_id, column == path)
        ).all()
        moved[name] = [[row.id, row.theme, row.sub_theme] for row in rows]
        if node.parent is None:
            values = {"theme": into, "sub_theme": None}
        else:
            values = {"sub_theme": into, "theme": into.split("/", 1)[0] if into else node.parent}
        conn.execute(update(model).where(table.org_id == org_id, column == path).values(**values))
    _store(conn, org_id, new)
    audit_id = _taxonomy_audit(
        conn,
        org_id,
        actor,
        THEME_RETIRE,
        taxonomy,
        new,
        before={"placements": moved},
        retired=path,
        into=into,
        node=_node_document(node),
    )
    return Outcome(audit_id)


def undo_taxonomy_change(
    conn: Connection, org_id: int, org_slug: str, action: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[int, ...]:
    """Put the taxonomy back as it was before a create, edit or retire, with the placements it
    changed; refused (409) if the taxonomy changed since, or a created node is in use."""
    current = _lock_taxonomy(conn, org_id, org_slug)
    if current.fingerprint() != after["fingerprint"]:
        raise conflict("The taxonomy changed since; undo the later taxonomy changes first.")
    if action == THEME_CREATE:
        # Mentions and requests filed under the new node since would lose their placement.
        path = after["node"]["path"]
        for model in (FeatureMention, FeatureRequest):
            table = model.__table__.c
            column = table.sub_theme if "/" in path else table.theme
            if conn.execute(select(table.id).where(table.org_id == org_id, column == path).limit(1)).first():
                raise conflict(f"{path!r} is in use since; retire it (with `into`) instead of undoing its creation.")
    restored = parse_taxonomy(before["document"], source="catalogue_audit")
    _store(conn, org_id, restored)
    if action == THEME_EDIT and after.get("paths"):
        _retag(conn, org_id, {new: old for old, new in after["paths"].items()})
    if action == THEME_RETIRE:
        for model, name in ((FeatureMention, "mentions"), (FeatureRequest, "requests")):
            for row_id, theme, sub_theme in before["placements"][name]:
                conn.execute(
                    update(model)
                    .where(model.__table__.c.org_id == org_id, model.__table__.c.id == row_id)
                    .values(theme=theme, sub_theme=sub_theme)
                )
    return ()


# What `corrections.undo` is given to undo the taxonomy's changes.
TAXONOMY_UNDO_HANDLERS: dict[str, UndoHandler] = {
    THEME_CREATE: undo_taxonomy_change,
    THEME_EDIT: undo_taxonomy_change,
    THEME_RETIRE: undo_taxonomy_change,
}
