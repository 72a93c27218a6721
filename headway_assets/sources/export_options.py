"""Per-connection settings the export readers take; apart from `reader.py` so source specs can name it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """Per-connection settings the readers need.

    `internal_domains` tells the org's people from customers; `workspace_url`
    (`https://acme.slack.com`) makes Slack permalinks; `mailbox` is the address an mbox belongs to.
    """

    internal_domains: tuple[str, ...] = ()
    workspace_url: str | None = None
    mailbox: str | None = None


__all__ = ["ExportOptions"]
