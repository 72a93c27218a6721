"""Gmail's entry in the source registry."""

from __future__ import annotations

from pathlib import Path

from headway_assets.core.message import ReadResult, TimeWindow
from headway_assets.sources.export_options import ExportOptions
from headway_assets.sources.gmail import SOURCE
from headway_assets.sources.source_spec import SourceSpec


def _read(path: Path, window: TimeWindow, options: ExportOptions) -> ReadResult:
    # Imported here so that reading the registry loads no parser.
    from headway_assets.sources.gmail.export import read_gmail_mbox

    return read_gmail_mbox(path, window, internal_domains=options.internal_domains, mailbox=options.mailbox)


# The name the warehouse stores for this source; the folder's readers use it, the kernel lists none.

SPEC = SourceSpec(
    name=SOURCE,
    display_name="Gmail",
    read_export=_read,
    export_filename="gmail.mbox",
    description="Support mail from Gmail: one row per email, HTML turned into text, quoted replies "
    "and signatures stripped, threads from Gmail's thread id.",
    place="by email",
    live_reader="headway_assets.sources.gmail.live:GmailLiveReader",
)
