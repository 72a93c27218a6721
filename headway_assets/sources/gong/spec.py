"""Gong's entry in the source registry."""

from __future__ import annotations

from pathlib import Path

from headway_assets.core.message import ReadResult, TimeWindow
from headway_assets.sources.export_options import ExportOptions
from headway_assets.sources.gong import SOURCE
from headway_assets.sources.source_spec import SourceSpec


def _read(path: Path, window: TimeWindow, options: ExportOptions) -> ReadResult:
    # Imported here so that reading the registry loads no parser.
    from headway_assets.sources.gong.export import read_gong_transcripts

    return read_gong_transcripts(path, window, internal_domains=options.internal_domains)


# The name the warehouse stores for this source; the folder's readers use it, the kernel lists none.

SPEC = SourceSpec(
    name=SOURCE,
    display_name="Gong",
    read_export=_read,
    export_filename="gong-calls.json",
    description="Sales and success calls from Gong: one row per call, the speaker-attributed "
    "transcript as text, the customer from the external parties.",
    place="on a call",
    live_reader="headway_assets.sources.gong.live:GongLiveReader",
    speaker_turns=True,
)
