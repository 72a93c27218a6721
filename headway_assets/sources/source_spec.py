"""`SourceSpec`: what a source folder declares about itself (apart from the registry so a spec
module can be imported first without a circle)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from headway_assets.core.message import ReadResult, TimeWindow
from headway_assets.sources.export_options import ExportOptions

ExportReader = Callable[[Path, TimeWindow, ExportOptions], ReadResult]


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Everything the rest of Headway needs to know about one source.

    `name` is the stored source kind (`"slack"`); `read_export` reads one export file;
    `export_filename` is the file's name in a demo organisation's folder; `description` describes
    the raw asset; `place` finishes a summary sentence ("in Slack", "by email");
    `live_reader` names the live reader class.
    """

    name: str
    display_name: str
    read_export: ExportReader
    export_filename: str
    description: str
    place: str
    # "module:Class" of the live reader, imported on first use (a vendor SDK problem cannot stop
    # the other sources loading); None for a source read from export files only.
    live_reader: str | None = None
    # True for call sources whose messages count speaker turns: `exports inspect` totals them.
    speaker_turns: bool = False


__all__ = ["ExportReader", "SourceSpec"]
