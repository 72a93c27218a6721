"""The one list of conversation sources Headway reads.

How to add a source (say Intercom): create the folder `headway_assets/sources/intercom/` with
`export.py` (a reader `read_intercom_export(path, window, *, internal_domains, ...) -> ReadResult`),
`live.py` (the live API client, built on `sources/live/base.py`) and `spec.py`, which declares
`SOURCE = "intercom"` (the folder's modules use it) and
`SPEC = SourceSpec(name=SOURCE, display_name="Intercom", ...)`: the export reader (imported
inside a small function so that reading the registry loads no parser), the demo export file name,
the raw asset's description and the phrase summaries use ("in Intercom"). Then add one line to
`_register_built_in` below. Everything else reads this registry: `read_export` and
`DEFAULT_EXPORT_FILENAMES` (sources/dispatch.py), the per-source raw assets and their keys
(`raw_messages_asset_name`, assets/raw_messages.py), the CLI's `--source` choices, the API
schemas' allowed values and the offline summariser's wording. A source registered at run time
with `register()` (tests do this) is picked up the same way, as long as it is registered before
those consumers are built. The warehouse stores a source as its plain `name` string; the kernel
(`headway_assets/core`) lists no sources, so nothing there changes. API models type a source
field `SourceName` (below): validated against, and documented with, the registered names.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from headway_assets.sources.source_spec import ExportReader, SourceSpec

_REGISTRY: dict[str, SourceSpec] = {}


def register(spec: SourceSpec) -> SourceSpec:
    """Add a source to the registry; a second source of the same name is an error."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"source {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a source (tests that register a throwaway source clean up with this)."""
    _REGISTRY.pop(name, None)


def get_source(name: str) -> SourceSpec:
    """The spec of one source; `KeyError` names the known sources when `name` is unknown."""
    try:
        return _REGISTRY[str(name)]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(_REGISTRY)}") from None


def all_sources() -> list[SourceSpec]:
    """Every registered source, in registration order."""
    return list(_REGISTRY.values())


def source_names() -> list[str]:
    """The names of every registered source, in registration order."""
    return list(_REGISTRY)


def raw_messages_asset_name(source: str) -> str:
    """The key of a source's raw message asset: the only place `raw_<source>_messages` is spelt."""
    return f"raw_{source}_messages"


def _check_source_name(value: str) -> str:
    # A ValueError here is a validation error, so the API answers 422 for an unknown source.
    if value not in _REGISTRY:
        raise ValueError(f"unknown source {value!r}; known: {', '.join(_REGISTRY)}")
    return value


class _ListSourceNames:
    """Pydantic metadata: the JSON schema lists the registered names, read when the schema is built."""

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema: dict[str, Any] = handler(core_schema)
        schema["enum"] = source_names()
        return schema


SourceName = Annotated[str, AfterValidator(_check_source_name), _ListSourceNames()]
"""A registered source's name, for pydantic models and query parameters: an unknown name fails
validation, and the JSON schema (so the OpenAPI document) lists the allowed names as an enum."""


def _register_built_in() -> None:
    # One line per source; importing a spec module loads no parser (readers import lazily).
    from headway_assets.sources.fathom.spec import SPEC as FATHOM
    from headway_assets.sources.gmail.spec import SPEC as GMAIL
    from headway_assets.sources.gong.spec import SPEC as GONG
    from headway_assets.sources.slack.spec import SPEC as SLACK

    for spec in (SLACK, GMAIL, GONG, FATHOM):
        register(spec)


_register_built_in()

__all__ = [
    "ExportReader",
    "SourceName",
    "SourceSpec",
    "all_sources",
    "get_source",
    "raw_messages_asset_name",
    "register",
    "source_names",
    "unregister",
]
