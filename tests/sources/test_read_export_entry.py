"""`read_export`: one entry point that routes each source to its reader with the connection's options."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from headway_assets.core.message import SourceReadError, TimeWindow
from headway_assets.sources.dispatch import DEFAULT_EXPORT_FILENAMES, ExportOptions, read_export
from headway_assets.sources.registry import source_names

WINDOW = TimeWindow(datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC))
OPTIONS = ExportOptions(
    internal_domains=("acme.example",), workspace_url="https://acme.slack.com", mailbox="support@acme.example"
)
NOON = datetime(2026, 10, 3, 12, tzinfo=UTC)


def write_corpus(folder: Path) -> None:
    """One message per source, in the demo corpus's file names."""
    noon_ts = f"{int(NOON.timestamp())}.000000"
    with zipfile.ZipFile(folder / DEFAULT_EXPORT_FILENAMES["slack"], "w") as archive:
        archive.writestr("channels.json", json.dumps([{"id": "C1", "name": "feedback", "created": 1}]))
        users = [{"id": "U1", "team_id": "T1", "profile": {"real_name": "Bob", "email": "bob@globex.example"}}]
        archive.writestr("users.json", json.dumps(users))
        archive.writestr("feedback/2026-10-03.json", json.dumps([{"user": "U1", "text": "Need SSO", "ts": noon_ts}]))
    (folder / DEFAULT_EXPORT_FILENAMES["gmail"]).write_bytes(
        b"From 1@xxx Sat Oct 03 12:00:00 +0000 2026\n"
        b"From: Bob <bob@globex.example>\nTo: help@acme.example\nSubject: SSO\n"
        b"Date: Sat, 03 Oct 2026 12:00:00 +0000\nMessage-ID: <sso@globex.example>\n\nNeed SSO\n"
    )
    gong = {
        "calls": [
            {
                "metaData": {"id": "77", "started": "2026-10-03T12:00:00Z", "system": "Zoom"},
                "parties": [{"speakerId": "s1", "name": "Bob", "emailAddress": "bob@globex.example"}],
            }
        ],
        "callTranscripts": [{"callId": "77", "transcript": [{"speakerId": "s1", "sentences": [{"text": "Need SSO"}]}]}],
    }
    (folder / DEFAULT_EXPORT_FILENAMES["gong"]).write_text(json.dumps(gong))
    fathom = {
        "items": [
            {
                "recording_id": 5,
                "recording_start_time": "2026-10-03T12:00:00Z",
                "calendar_invitees": [{"name": "Bob", "email": "bob@globex.example"}],
                "transcript": [{"speaker": {"display_name": "Bob"}, "text": "Need SSO", "timestamp": "00:00:01"}],
            }
        ]
    }
    (folder / DEFAULT_EXPORT_FILENAMES["fathom"]).write_text(json.dumps(fathom))


@pytest.mark.parametrize(
    ("source", "external_id", "channel", "url"),
    [
        (
            "slack",
            f"C1:{int(NOON.timestamp())}.000000",
            "feedback",
            "https://acme.slack.com/archives/C1/p",
        ),
        ("gmail", "sso@globex.example", "support@acme.example", "https://mail.google.com/"),
        ("gong", "77", "gong:zoom", None),
        ("fathom", "5", "fathom", None),
    ],
)
def test_routes_each_source_with_its_options(
    tmp_path: Path, source: str, external_id: str, channel: str, url: str | None
) -> None:
    write_corpus(tmp_path)
    result = read_export(source, tmp_path / DEFAULT_EXPORT_FILENAMES[source], WINDOW, OPTIONS)
    assert len(result.messages) == 1
    message = result.messages[0]
    assert message.source == source
    assert message.external_id == external_id
    assert message.channel == channel
    assert message.sent_at == NOON
    assert "Need SSO" in message.text
    assert message.author_is_internal is False  # globex.example is not one of OPTIONS' domains
    assert message.customer == "Globex"
    if url is None:
        assert message.url is None
    else:
        assert message.url is not None and message.url.startswith(url)
    assert result.skipped == []


def test_window_outside_the_data_reads_nothing(tmp_path: Path) -> None:
    write_corpus(tmp_path)
    later = TimeWindow(datetime(2026, 10, 4, tzinfo=UTC), datetime(2026, 10, 5, tzinfo=UTC))
    for source, name in DEFAULT_EXPORT_FILENAMES.items():
        assert read_export(source, tmp_path / name, later, OPTIONS).messages == []


@pytest.mark.parametrize("source", source_names())
def test_missing_files_raise_source_read_error(tmp_path: Path, source: str) -> None:
    name = DEFAULT_EXPORT_FILENAMES[source]
    with pytest.raises(SourceReadError, match=f"{name} does not exist"):
        read_export(source, tmp_path / name, WINDOW)


def test_options_are_frozen_with_empty_defaults() -> None:
    defaults = ExportOptions()
    assert (defaults.internal_domains, defaults.workspace_url, defaults.mailbox) == ((), None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.mailbox = "x@y.example"  # type: ignore[misc]
