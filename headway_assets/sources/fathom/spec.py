"""Fathom's entry in the source registry."""

from __future__ import annotations

from pathlib import Path

from headway_assets.core.message import ReadResult, TimeWindow
from headway_assets.sources.export_options import ExportOptions
from headway_assets.sources.fathom import SOURCE
from headway_assets.sources.source_spec import SourceSpec


def _read(path: Path, window: TimeWindow, options: ExportOptions) -> ReadResult:
    # Imported here so that reading the registry loads no parser.
    from headway_assets.sources.fathom.export import read_fathom_meetings

    return read_fathom_meetings(path, window, internal_domains=options.internal_domains)


# The name the warehouse stores for this source; the folder's readers use it, the kernel lists none.

SPEC = SourceSpec(
    name=SOURCE,
    display_name="Fathom",
    read_export=_read,
    export_filename="fathom-meetings.json",
    description="Meetings recorded by Fathom: one row per meeting, the transcript as text, the "
    "customer from the external calendar invitees.",
    place="in a meeting",
    live_reader="headway_assets.sources.fathom.live:FathomLiveReader",
    speaker_turns=True,
)
