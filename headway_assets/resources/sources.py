"""Reading a connection's messages for a time window, whatever kind of connection it is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from headway_assets.core.credentials import CredentialsError, decrypt_credentials
from headway_assets.core.message import ReadResult, SourceReadError, TimeWindow
from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse.ingestion import ConnectionInfo
from headway_assets.core.warehouse.removals import RemovalGuard
from headway_assets.core.warehouse.schema import ConnectionKind
from headway_assets.sources.dispatch import ExportOptions, live_reader_for, read_export
from headway_assets.sources.live.base import LiveReadRequest


class SourcesResource(dg.ConfigurableResource):
    """Turns a source connection and a window into normalised messages."""

    data_dir: str | None = Field(
        default=None,
        description="Folder that relative export paths are resolved against (default HEADWAY_DATA_DIR).",
    )
    max_messages_per_sync: int = Field(
        default=60,
        ge=0,
        description="Messages one live sync of one connection fetches before stopping (0 = no cap); "
        "a capped sync resumes where it stopped on the next run. A connection's config may override "
        "it with 'max_messages_per_sync'.",
    )
    max_removal_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Largest share of a day's stored messages of a connection one sync may remove before the "
        "removal is held (default HEADWAY_MAX_REMOVAL_SHARE, 0.5).",
    )
    removal_guard_floor: int | None = Field(
        default=None,
        ge=0,
        description="Messages of a day a sync may always remove, whatever the share "
        "(default HEADWAY_REMOVAL_GUARD_FLOOR, 2).",
    )

    def removal_guard(self) -> RemovalGuard:
        """The removal guard of this run: the resource's values, else the settings'."""
        settings = get_settings().pipeline
        return RemovalGuard(
            max_share=settings.max_removal_share if self.max_removal_share is None else self.max_removal_share,
            floor=settings.removal_guard_floor if self.removal_guard_floor is None else self.removal_guard_floor,
        )

    def resolve_path(self, path: str) -> Path:
        """An export path from a connection's config, made absolute."""
        candidate = Path(path).expanduser()
        if candidate.is_absolute():
            return candidate
        return Path(self.data_dir or get_settings().pipeline.data_dir) / candidate

    def read(
        self,
        connection: ConnectionInfo,
        window: TimeWindow,
        *,
        resume_state: dict[str, Any] | None = None,
        save_credentials: Callable[[dict[str, Any]], None] | None = None,
    ) -> ReadResult:
        """Every message of `connection` sent inside `window`, plus what had to be skipped.

        Live connections stop at the per-sync cap and resume from `resume_state`.
        Raises `SourceReadError` when the connection as a whole cannot be read.
        """
        if connection.kind == ConnectionKind.EXPORT.value:
            return self._read_export(connection, window)
        if connection.kind == ConnectionKind.API.value:
            cap = int(connection.config.get("max_messages_per_sync", self.max_messages_per_sync))
            try:
                credentials = decrypt_credentials(connection.credentials_encrypted, connection=connection.label)
            except CredentialsError as error:
                raise SourceReadError(str(error)) from None
            request = LiveReadRequest(
                connection=connection,
                credentials=credentials,
                window=window,
                max_messages=cap or None,
                resume_state=resume_state or {},
                save_credentials=save_credentials,
            )
            return live_reader_for(connection.source).read(request)
        raise SourceReadError(
            f"connection {connection.label} has kind {connection.kind!r}, which this Headway version cannot "
            f"read; set its kind to one of {[k.value for k in ConnectionKind]}"
        )

    def _read_export(self, connection: ConnectionInfo, window: TimeWindow) -> ReadResult:
        path_value = connection.config.get("path")
        if not path_value:
            raise SourceReadError(
                f"export connection {connection.label} has no 'path' in its config; "
                "set it to the export file (relative to the data folder or absolute)"
            )
        options = ExportOptions(
            internal_domains=tuple(connection.config.get("internal_domains", ())),
            workspace_url=connection.config.get("workspace_url"),
            mailbox=connection.config.get("mailbox"),
        )
        return read_export(connection.source, self.resolve_path(path_value), window, options)
