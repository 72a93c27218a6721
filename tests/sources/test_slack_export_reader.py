"""The Slack workspace-export reader, on small exports built here."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from headway_assets.sources.exports.slack_export import read_slack_export
from headway_assets.sources.message import ReadResult, SkippedItem, SourceReadError, TimeWindow

WINDOW = TimeWindow(datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC))
DOMAINS = ("acme.example",)
WORKSPACE = "https://acme.slack.com/"


def ts(hour: int, minute: int = 0, micro: int = 100, day: int = 3) -> str:
    """A Slack ts string for 2026-10-<day> hour:minute UTC."""
    moment = datetime(2026, 10, day, hour, minute, tzinfo=UTC)
    return f"{int(moment.timestamp())}.{micro:06d}"


def at(hour: int, minute: int = 0, micro: int = 100, day: int = 3) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC) + timedelta(microseconds=micro)


PARENT = ts(10)
EDITED = ts(10, 5)
BROADCAST = ts(10, 10)
EMPTY = ts(11)
NEW_FILE = ts(12)
OLD_FILE = ts(13)
LATE_REPLY = ts(23, 30)
DM = ts(14)

USERS: list[dict[str, Any]] = [
    {
        "id": "U0ALICE01",
        "team_id": "T0ACME",
        "name": "alice",
        "real_name": "Alice Ng",
        "profile": {"real_name": "Alice Ng", "display_name": "alice", "email": "Alice@Acme.example"},
    },
    {
        "id": "U0BOB0001",
        "team_id": "T0ACME",
        "name": "bob",
        "is_restricted": True,
        "profile": {"real_name": "Bob Buyer", "email": "bob@globex-corp.example"},
    },
    {"id": "U0DAN0001", "team_id": "T0ACME", "name": "dan", "profile": {"real_name": "Dan Dev"}},
    {"id": "U0BOT0001", "team_id": "T0ACME", "name": "crm", "is_bot": True, "profile": {"real_name": "CRM"}},
]

CHANNELS: list[dict[str, Any]] = [
    {
        "id": "C0GENERAL",
        "name": "general",
        "created": "1452837318",
        "creator": "U0ALICE01",
        "topic": {"value": "", "creator": "", "last_set": "0"},
        "purpose": {"value": "Everyone", "creator": "", "last_set": 0},
    },
    {"id": "C0FEEDBK1", "name": "customer-feedback", "created": 1452837318},
]
GROUPS: list[dict[str, Any]] = [{"id": "G0PRIV001", "name": "private-deals", "created": 1500000000}]
DMS: list[dict[str, Any]] = [{"id": "D0DM00001", "created": 1500000000, "members": ["U0ALICE01", "U0BOB0001"]}]

GENERAL_DAY: list[dict[str, Any]] = [
    {
        "type": "message",
        "user": "U0BOB0001",
        "text": "Can we get SSO with <https://okta.com|Okta>? cc <@U0ALICE01> see "
        "<#C0FEEDBK1|customer-feedback> &amp; <https://docs.acme.example/sso> &lt;3",
        "ts": PARENT,
        "thread_ts": PARENT,
        "reply_count": 2,
        "reactions": [{"name": "eyes", "users": ["U0ALICE01"], "count": 1}],
    },
    {
        "type": "message",
        "subtype": "channel_join",
        "user": "U0DAN0001",
        "text": "<@U0DAN0001> has joined",
        "ts": ts(10, 1),
    },
    {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B01",
        "username": "CRM bot",
        "text": "Deal moved",
        "ts": ts(10, 2),
    },
    {
        "type": "message",
        "user": "U0ALICE01",
        "text": "Noted, we're on it 🚀",
        "ts": EDITED,
        "edited": {"user": "U0ALICE01", "ts": ts(10, 6, micro=0)},
    },
    {
        "type": "message",
        "subtype": "thread_broadcast",
        "user": "U0DAN0001",
        "text": "SSO is planned for Q1",
        "ts": BROADCAST,
        "thread_ts": PARENT,
        "parent_user_id": "U0BOB0001",
    },
    {"type": "message", "user": "U0BOB0001", "text": "", "ts": EMPTY},
    {
        "type": "message",
        "subtype": "file_share",
        "user": "U0BOB0001",
        "text": "",
        "ts": NEW_FILE,
        "files": [
            {
                "id": "F01",
                "name": "export.csv",
                "title": "export.csv",
                "mimetype": "text/csv",
                "size": 1234,
                "url_private": "https://files.slack.com/files-pri/T0-F01/export.csv?t=xoxe-secret",
            }
        ],
    },
    {
        "type": "message",
        "subtype": "file_share",
        "user": "U0BOB0001",
        "text": "<@U0BOB0001|bob> uploaded a file: <https://acme.slack.com/files/U0BOB0001/F02/roadmap.pdf|roadmap.pdf>",
        "ts": OLD_FILE,
        "file": {"id": "F02", "name": "roadmap.pdf", "title": "Roadmap", "filetype": "pdf"},
    },
    {"type": "message", "user": "U0BOB0001", "text": "day after, outside the window", "ts": ts(1, day=4)},
]

# Day files are bucketed in an undocumented timezone, so a message of 2026-10-03 23:30 UTC
# can sit in the next day's file; a Slack Connect user from another org replies here.
GENERAL_NEXT_DAY: list[dict[str, Any]] = [
    {
        "type": "message",
        "user": "U0CAROL01",
        "user_team": "T0GLOBEX",
        "user_profile": {"real_name": "Carol Chen", "display_name": "carol"},
        "text": "Same ask from our side",
        "ts": LATE_REPLY,
        "thread_ts": PARENT,
    },
    {"type": "message", "user": "U0BOB0001", "text": "next day proper", "ts": ts(12, day=4)},
]
GENERAL_PREVIOUS_DAY: list[dict[str, Any]] = [
    {"type": "message", "user": "U0BOB0001", "text": "day before", "ts": ts(22, day=2)},
    {"type": "message", "user": "U0BOB0001", "text": "no ts, but in a padding day file"},
]
DM_DAY: list[dict[str, Any]] = [
    {"type": "message", "user": "U0BOB0001", "text": "ダッシュボードが遅いです 😢 — trop lent", "ts": DM},
]


def build_export(path: Path, *, prefix: str = "", **overrides: Any) -> Path:
    """Write a small Slack export ZIP; `overrides` replace or (with None) drop members."""
    members: dict[str, Any] = {
        "channels.json": CHANNELS,
        "groups.json": GROUPS,
        "dms.json": DMS,
        "users.json": USERS,
        "integration_logs.json": [],
        "general/2026-10-02.json": GENERAL_PREVIOUS_DAY,
        "general/2026-10-03.json": GENERAL_DAY,
        "general/2026-10-04.json": GENERAL_NEXT_DAY,
        "general/2026-09-20.json": "not json at all {",  # far outside the window: never read
        "customer-feedback/2026-10-03.json": "[{not json",
        "private-deals/2026-10-03.json": {"not": "an array"},
        "D0DM00001/2026-10-03.json": DM_DAY,
        "random/2026-10-03.json": [{"type": "message", "user": "U0BOB0001", "text": "orphan", "ts": ts(9)}],
    }
    for name, value in overrides.items():
        key = name.replace("__", "/").replace("_json", ".json")
        if value is None:
            members.pop(key, None)
        else:
            members[key] = value
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in members.items():
            data = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            archive.writestr(prefix + name, data)
    return path


def read(path: Path, **kwargs: Any) -> ReadResult:
    kwargs.setdefault("internal_domains", DOMAINS)
    kwargs.setdefault("workspace_url", WORKSPACE)
    return read_slack_export(path, WINDOW, **kwargs)


def by_id(result: ReadResult) -> dict[str, Any]:
    return {m.external_id: m for m in result.messages}


def test_reads_messages_of_the_window_only_by_their_own_ts(tmp_path: Path) -> None:
    result = read(build_export(tmp_path / "slack-export.zip"))
    assert [m.external_id for m in result.messages] == [
        f"C0GENERAL:{PARENT}",
        f"C0GENERAL:{EDITED}",
        f"C0GENERAL:{BROADCAST}",
        f"C0GENERAL:{NEW_FILE}",
        f"C0GENERAL:{OLD_FILE}",
        f"D0DM00001:{DM}",
        f"C0GENERAL:{LATE_REPLY}",
    ]
    assert all(WINDOW.contains(m.sent_at) for m in result.messages)


def test_thread_parent_fields_markup_and_customer(tmp_path: Path) -> None:
    parent = by_id(read(build_export(tmp_path / "slack-export.zip")))[f"C0GENERAL:{PARENT}"]
    assert (
        parent.text
        == "Can we get SSO with Okta? cc @Alice Ng see #customer-feedback & https://docs.acme.example/sso <3"
    )
    assert parent.sent_at == at(10)
    assert parent.channel == "general"
    assert parent.thread_id == f"C0GENERAL:{PARENT}"
    assert parent.author_name == "Bob Buyer"
    assert parent.author_email == "bob@globex-corp.example"
    assert parent.author_is_internal is False
    assert parent.customer == "Globex Corp"
    assert parent.url == f"https://acme.slack.com/archives/C0GENERAL/p{PARENT.replace('.', '')}"
    assert parent.metadata["links"] == ["https://okta.com", "https://docs.acme.example/sso"]
    assert parent.metadata["reply_count"] == 2
    assert parent.metadata["is_thread_parent"] is True
    assert parent.metadata["reactions"] == {"eyes": 1}
    assert parent.metadata["channel_type"] == "public_channel"


def test_replies_join_the_parent_thread_and_link_to_it(tmp_path: Path) -> None:
    messages = by_id(read(build_export(tmp_path / "slack-export.zip")))
    broadcast = messages[f"C0GENERAL:{BROADCAST}"]
    assert broadcast.thread_id == f"C0GENERAL:{PARENT}"
    assert broadcast.metadata["broadcast"] is True
    assert broadcast.metadata["is_thread_parent"] is False
    assert broadcast.author_name == "Dan Dev"
    assert broadcast.author_is_internal is True  # a full member without e-mail
    assert broadcast.customer is None
    assert broadcast.url == (
        f"https://acme.slack.com/archives/C0GENERAL/p{BROADCAST.replace('.', '')}?thread_ts={PARENT}&cid=C0GENERAL"
    )
    late = messages[f"C0GENERAL:{LATE_REPLY}"]
    assert late.sent_at == at(23, 30)
    assert late.thread_id == f"C0GENERAL:{PARENT}"
    assert late.author_name == "Carol Chen"
    assert late.author_is_internal is False  # Slack Connect: another organisation's team
    assert late.text == "Same ask from our side"


def test_edits_keep_current_text_and_record_the_edit(tmp_path: Path) -> None:
    edited = by_id(read(build_export(tmp_path / "slack-export.zip")))[f"C0GENERAL:{EDITED}"]
    assert edited.text == "Noted, we're on it 🚀"
    assert edited.metadata["edited"] == {"by": "Alice Ng", "at": at(10, 6, micro=0).isoformat()}
    assert edited.author_email == "alice@acme.example"
    assert edited.author_is_internal is True
    assert edited.thread_id is None


def test_file_shares_new_and_old_style_without_urls(tmp_path: Path) -> None:
    messages = by_id(read(build_export(tmp_path / "slack-export.zip")))
    new = messages[f"C0GENERAL:{NEW_FILE}"]
    assert new.text == "[shared file: export.csv]"
    assert new.metadata["files"] == [
        {"name": "export.csv", "title": "export.csv", "mimetype": "text/csv", "size": 1234}
    ]
    assert "xoxe" not in json.dumps(new.metadata)
    old = messages[f"C0GENERAL:{OLD_FILE}"]
    assert old.text == "@Bob Buyer uploaded a file: roadmap.pdf"
    assert old.metadata["files"] == [{"name": "roadmap.pdf", "title": "Roadmap", "filetype": "pdf"}]
    assert old.metadata["subtype"] == "file_share"


def test_dm_channel_named_by_members_and_unicode_unchanged(tmp_path: Path) -> None:
    dm = by_id(read(build_export(tmp_path / "slack-export.zip")))[f"D0DM00001:{DM}"]
    assert dm.channel == "dm:Alice Ng,Bob Buyer"
    assert dm.text == "ダッシュボードが遅いです 😢 — trop lent"
    assert dm.url == f"https://acme.slack.com/archives/D0DM00001/p{DM.replace('.', '')}"
    assert dm.metadata["channel_type"] == "im"


def test_noise_is_counted_apart_from_skipped_items(tmp_path: Path) -> None:
    result = read(build_export(tmp_path / "slack-export.zip"))
    assert result.ignored == {"channel_join": 1, "bot_message": 1}
    assert result.skipped == [
        SkippedItem(
            "slack-export.zip:random/",
            "folder 'random' has day files but no entry in channels.json, groups.json, mpims.json or "
            "dms.json, so its channel id is unknown; re-export including that conversation's list",
        ),
        SkippedItem("slack-export.zip:general/2026-10-03.json ts " + EMPTY, "message has no text and no files"),
        SkippedItem(
            "slack-export.zip:customer-feedback/2026-10-03.json",
            "day file is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 3 "
            "(char 2)); its messages were not read",
        ),
        SkippedItem(
            "slack-export.zip:private-deals/2026-10-03.json",
            "day file should be a JSON array of messages but is a dict",
        ),
    ]


def test_without_workspace_url_or_domains(tmp_path: Path) -> None:
    result = read_slack_export(build_export(tmp_path / "slack-export.zip"), WINDOW)
    messages = by_id(result)
    parent = messages[f"C0GENERAL:{PARENT}"]
    assert parent.url is None
    # No internal domains: a guest account is still a customer, a full member is staff.
    assert parent.author_is_internal is False
    assert parent.customer == "Globex Corp"
    assert messages[f"C0GENERAL:{EDITED}"].author_is_internal is True


def test_unpacked_folder_and_wrapper_folder_read_the_same(tmp_path: Path) -> None:
    reference = read(build_export(tmp_path / "slack-export.zip"))
    wrapped = read(build_export(tmp_path / "wrapped.zip", prefix="Acme Slack export Oct 2026/"))
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(tmp_path / "slack-export.zip") as archive:
        archive.extractall(unpacked)
    from_folder = read(unpacked)
    assert wrapped.messages == reference.messages
    assert from_folder.messages == reference.messages
    assert [s.reason for s in from_folder.skipped] == [s.reason for s in reference.skipped]
    assert from_folder.skipped[0].location == "unpacked:random/"


def test_org_users_json_and_public_only_export(tmp_path: Path) -> None:
    path = build_export(tmp_path / "grid.zip", users_json=None, org_users_json=USERS, groups_json=None, dms_json=None)
    result = read(path)
    channels = {m.channel for m in result.messages}
    assert channels == {"general"}
    assert by_id(result)[f"C0GENERAL:{PARENT}"].author_name == "Bob Buyer"
    # Folders of conversations missing from the lists are reported, not guessed.
    assert {s.location for s in result.skipped} >= {"grid.zip:D0DM00001/", "grid.zip:private-deals/"}


def test_missing_file_raises_with_advice(tmp_path: Path) -> None:
    with pytest.raises(SourceReadError, match=r"slack-export\.zip does not exist; check the path"):
        read(tmp_path / "slack-export.zip")


def test_not_a_zip_raises_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "slack-export.zip"
    path.write_text("this is not a zip file")
    with pytest.raises(SourceReadError) as caught:
        read(path)
    assert str(path) in str(caught.value)
    assert "is not a readable ZIP archive" in str(caught.value)
    assert "Download the workspace export again" in str(caught.value)


def test_truncated_zip_raises_with_advice(tmp_path: Path) -> None:
    path = build_export(tmp_path / "slack-export.zip")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SourceReadError, match="corrupt, truncated or not a Slack export"):
        read(path)


def test_zip_without_lists_or_users_raises(tmp_path: Path) -> None:
    other = tmp_path / "photos.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("holiday.json", "[]")
    with pytest.raises(SourceReadError, match=r"has no channels\.json, groups\.json, mpims\.json or dms\.json"):
        read(other)
    no_users = build_export(tmp_path / "no-users.zip", users_json=None)
    with pytest.raises(SourceReadError, match=r"has no users\.json \(or org_users\.json\)"):
        read(no_users)


def test_broken_channel_list_raises(tmp_path: Path) -> None:
    path = build_export(tmp_path / "slack-export.zip", channels_json="{broken")
    with pytest.raises(SourceReadError, match=r"channels\.json is not valid JSON"):
        read(path)


def test_shared_channel_names_its_customer_for_staff_messages(tmp_path: Path) -> None:
    shared = [{**CHANNELS[0], "members": ["U0ALICE01", "U0BOB0001", "U0DAN0001"]}, CHANNELS[1]]
    messages = by_id(read(build_export(tmp_path / "shared.zip", channels_json=shared)))
    staff = messages[f"C0GENERAL:{BROADCAST}"]
    assert staff.author_is_internal is True
    assert staff.customer == "Globex Corp"
    assert staff.metadata["customer_source"] == "channel_members"
    # Without a member list nothing is guessed.
    plain = by_id(read(build_export(tmp_path / "plain.zip")))[f"C0GENERAL:{BROADCAST}"]
    assert plain.customer is None
    assert "customer_source" not in plain.metadata


def test_channel_with_two_customer_companies_names_none(tmp_path: Path) -> None:
    users = [
        *USERS,
        {
            "id": "U0EVE0001",
            "team_id": "T0ACME",
            "profile": {"real_name": "Eve", "email": "eve@initech.example"},
        },
    ]
    mixed = [{**CHANNELS[0], "members": ["U0ALICE01", "U0BOB0001", "U0EVE0001", "U0DAN0001"]}, CHANNELS[1]]
    messages = by_id(read(build_export(tmp_path / "mixed.zip", channels_json=mixed, users_json=users)))
    assert messages[f"C0GENERAL:{BROADCAST}"].customer is None
    assert messages[f"C0GENERAL:{PARENT}"].customer == "Globex Corp"  # the author's own company still counts
