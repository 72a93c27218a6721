"""Finding a source's reader through the registry: `read_export(source, path, window)` for an export
file, `live_reader_for(source)` for its live API. It sits above the source folders and the registry,
so the shared machinery below them (`exports/`, `live/`) never imports the registry back."""

from __future__ import annotations

import importlib
from pathlib import Path

from headway_assets.core.message import ReadResult, TimeWindow
from headway_assets.sources.export_options import ExportOptions
from headway_assets.sources.live.base import LiveReader
from headway_assets.sources.registry import all_sources, get_source

# The file names the demo corpus uses under `data/demo/<org>/`, from the source registry.
DEFAULT_EXPORT_FILENAMES: dict[str, str] = {spec.name: spec.export_filename for spec in all_sources()}


def read_export(source: str, path: Path, window: TimeWindow, options: ExportOptions | None = None) -> ReadResult:
    """Read the messages of one export file whose `sent_at` falls inside `window`.

    `source` is a registered source name. Raises `SourceReadError`
    when the file as a whole cannot be read (missing, corrupt, wrong format); items that could not
    be read are in `ReadResult.skipped`, noise in `ReadResult.ignored`. An unregistered source is a
    `ValueError`.
    """
    try:
        spec = get_source(source)
    except KeyError:
        raise ValueError(f"no export reader for source {source!r}") from None
    return spec.read_export(Path(path), window, options or ExportOptions())


def live_reader_for(source: str) -> LiveReader:
    """A new live reader for `source`, found through the source registry."""
    # Imported on first use so a vendor SDK problem cannot stop the other sources from loading.
    path = get_source(source).live_reader
    if path is None:
        raise KeyError(f"source {source!r} has no live reader")
    module_name, class_name = path.split(":")
    reader_class = getattr(importlib.import_module(module_name), class_name)
    reader: LiveReader = reader_class()
    return reader


__all__ = ["DEFAULT_EXPORT_FILENAMES", "ExportOptions", "live_reader_for", "read_export"]
