"""One entry for reading any source's export file: `read_export(source, path, window)`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from headway_assets.core.message import ReadResult, TimeWindow
from headway_assets.core.warehouse.schema import SourceKind
from headway_assets.sources.fathom.export import read_fathom_meetings
from headway_assets.sources.gmail.export import read_gmail_mbox
from headway_assets.sources.gong.export import read_gong_transcripts
from headway_assets.sources.slack.export import read_slack_export

# The file names the demo corpus uses under `data/demo/<org>/`.
DEFAULT_EXPORT_FILENAMES: dict[SourceKind, str] = {
    SourceKind.SLACK: "slack-export.zip",
    SourceKind.GMAIL: "gmail.mbox",
    SourceKind.GONG: "gong-calls.json",
    SourceKind.FATHOM: "fathom-meetings.json",
}


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """Per-connection settings the readers need.

    `internal_domains` tells the org's people from customers; `workspace_url`
    (`https://acme.slack.com`) makes Slack permalinks; `mailbox` is the address an mbox belongs to.
    """

    internal_domains: tuple[str, ...] = ()
    workspace_url: str | None = None
    mailbox: str | None = None


def read_export(source: SourceKind, path: Path, window: TimeWindow, options: ExportOptions | None = None) -> ReadResult:
    """Read the messages of one export file whose `sent_at` falls inside `window`.

    Raises `SourceReadError` when the file as a whole cannot be read (missing, corrupt, wrong
    format); items that could not be read are in `ReadResult.skipped`, noise in `ReadResult.ignored`.
    """
    options = options or ExportOptions()
    path = Path(path)
    if source is SourceKind.SLACK:
        return read_slack_export(
            path, window, internal_domains=options.internal_domains, workspace_url=options.workspace_url
        )
    if source is SourceKind.GMAIL:
        return read_gmail_mbox(path, window, internal_domains=options.internal_domains, mailbox=options.mailbox)
    if source is SourceKind.GONG:
        return read_gong_transcripts(path, window, internal_domains=options.internal_domains)
    if source is SourceKind.FATHOM:
        return read_fathom_meetings(path, window, internal_domains=options.internal_domains)
    raise ValueError(f"no export reader for source {source!r}")


__all__ = ["DEFAULT_EXPORT_FILENAMES", "ExportOptions", "read_export"]
