"""The contract every live (vendor API) reader fulfils.

A live reader fetches one connection's messages for one window from the vendor's API with
the vendor's real client (slack-sdk, httpx), pointed at `connection.config["base_url"]`
when set (tests point it at a local fake server). It

- returns messages whose sent time is inside the window (`ReadResult.messages`), items it
  could not ingest with where and why (`skipped`), and noise it left out (`ignored`);
- stops after `max_messages` messages when a cap is given, returning `complete=False` and a
  JSON-serialisable `resume_state` from which the next call continues (same window, same
  connection) without refetching or losing anything; a rate limit that outlasts the retry
  budget ends the read the same way (what arrived is kept);
- raises `SourceReadError` when the connection as a whole cannot be read (revoked token,
  bad credentials), with a message that says what to do and never contains a secret;
- records per-channel / per-item problems as skipped items and carries on;
- persists refreshed tokens through `request.save_credentials` (OAuth refresh).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from headway_assets.core.credentials import Credentials
from headway_assets.core.message import ReadResult, TimeWindow
from headway_assets.core.warehouse.ingestion import ConnectionInfo


@dataclass(frozen=True)
class LiveReadRequest:
    """Everything a live reader needs for one sync of one window."""

    connection: ConnectionInfo
    credentials: Credentials
    window: TimeWindow
    max_messages: int | None = None
    resume_state: dict[str, Any] = field(default_factory=dict)
    save_credentials: Callable[[dict[str, Any]], None] | None = None

    @property
    def base_url(self) -> str | None:
        """The API base URL override of this connection (tests: a local fake)."""
        value = self.connection.config.get("base_url")
        return str(value) if value else None


class LiveReader(ABC):
    """One vendor's live reader."""

    source: ClassVar[str]

    @abstractmethod
    def read(self, request: LiveReadRequest) -> ReadResult:
        """Fetch the window (see the module docstring for the contract)."""
