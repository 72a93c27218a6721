"""One entry for reading any source's export file: `read_export(source, path, window)`."""

from __future__ import annotations

from pathlib import Path

from headway_assets.core.message import ReadResult, TimeWindow
from headway_assets.sources.export_options import ExportOptions
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


__all__ = ["DEFAULT_EXPORT_FILENAMES", "ExportOptions", "read_export"]
