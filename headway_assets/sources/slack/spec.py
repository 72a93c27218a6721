"""Slack's entry in the source registry."""

from __future__ import annotations

from pathlib import Path

from headway_assets.core.message import ReadResult, TimeWindow
from headway_assets.sources.export_options import ExportOptions
from headway_assets.sources.slack import SOURCE
from headway_assets.sources.source_spec import SourceSpec


def _read(path: Path, window: TimeWindow, options: ExportOptions) -> ReadResult:
    # Imported here so that reading the registry loads no parser.
    from headway_assets.sources.slack.export import read_slack_export

    return read_slack_export(
        path, window, internal_domains=options.internal_domains, workspace_url=options.workspace_url
    )


# The name the warehouse stores for this source; the folder's readers use it, the kernel lists none.

SPEC = SourceSpec(
    name=SOURCE,
    display_name="Slack",
    read_export=_read,
    export_filename="slack-export.zip",
    description="Customer messages from Slack: shared customer channels and feedback channels, "
    "thread replies included, joins and bot noise left out.",
    place="in Slack",
    live_reader="headway_assets.sources.slack.live:SlackLiveReader",
)
