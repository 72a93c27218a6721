"""The Slack workspace-export reader, on small exports built here."""

from __future__ import annotations

import json
import time
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from headway_assets.core.message import ReadResult, SkippedItem, SourceReadError, TimeWindow
from headway_assets.sources.exports.limits import ExportLimits, ExportTooLargeError
from headway_assets.sources.slack.export import read_slack_export

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
        f"random:{ts(9)}",  # a folder no list names is still read, by its folder name
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
            "folder has day files but no entry in channels.json, groups.json, mpims.json or dms.json; its "
            "messages were read as a channel named after the folder, with the folder name as channel id "
            "(a full export names the real id); re-export including that conversation's list",
        ),
        SkippedItem("slack-export.zip:general/2026-10-03.json ts " + EMPTY, "message has no text and no files"),
        SkippedItem(
            "slack-export.zip:customer-feedback/2026-10-03.json",
            "day file is not valid JSON (lexical error: invalid string in json text.); its messages were not read",
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
    assert channels == {"general", "random", "D0DM00001"}
    assert by_id(result)[f"C0GENERAL:{PARENT}"].author_name == "Bob Buyer"
    # Folders of conversations missing from the lists are read by folder name, and reported.
    assert {s.location for s in result.skipped} >= {"grid.zip:D0DM00001/", "grid.zip:private-deals/"}
    dm = by_id(result)[f"D0DM00001:{DM}"]  # a DM folder is named by the DM's id: the id is exact
    assert dm.metadata["channel_type"] == "im"
    assert dm.text == "ダッシュボードが遅いです 😢 — trop lent"


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


# -- hostile and partial exports (issue 12) ---------------------------------------------------


def message(text: str, stamp: str, user: str = "U0BOB0001") -> dict[str, Any]:
    return {"type": "message", "user": user, "text": text, "ts": stamp}


def zip_of(path: Path, members: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A ZIP holding exactly `members` (bytes written as they are)."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def tree_listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_empty_file_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "slack-export.zip"
    path.write_bytes(b"")
    with pytest.raises(SourceReadError) as caught:
        read(path)
    assert str(path) in str(caught.value)
    assert "is empty (0 bytes)" in str(caught.value)
    assert "Download the workspace export again" in str(caught.value)


def test_export_without_any_day_file_is_refused_not_read_as_empty(tmp_path: Path) -> None:
    lists_only = zip_of(tmp_path / "lists-only.zip", {"channels.json": json.dumps(CHANNELS), "users.json": "[]"})
    with pytest.raises(SourceReadError, match=r"lists-only\.zip has no channel folders of YYYY-MM-DD\.json day files"):
        read(lists_only)
    empty_zip = zip_of(tmp_path / "empty.zip", {})
    with pytest.raises(
        SourceReadError, match=r"empty\.zip has no channels\.json.*so it is not a Slack workspace export"
    ):
        read(empty_zip)
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(SourceReadError, match="not a Slack workspace export"):
        read(tmp_path / "empty-folder")


def test_deeply_nested_message_is_one_skipped_item(tmp_path: Path) -> None:
    depth = 100_000
    deep = "[" * depth + "]" * depth
    day = f"[{json.dumps(message('before', ts(9)))}, {deep}, {json.dumps(message('after', ts(9, 5)))}]"
    result = read(build_export(tmp_path / "deep.zip", **{"general__2026-10-03_json": day}))
    assert [m.text for m in result.messages if m.channel == "general" and m.sent_at.hour == 9] == ["before", "after"]
    assert SkippedItem("deep.zip:general/2026-10-03.json item 1", "message nested deeper than 64 levels") in (
        result.skipped
    )
    # The day before reads that file too (its messages may belong there), but reports nothing.
    day_before = TimeWindow(WINDOW.start - timedelta(days=1), WINDOW.start)
    earlier = read_slack_export(tmp_path / "deep.zip", day_before, internal_domains=DOMAINS)
    assert [s for s in earlier.skipped if "nested" in s.reason] == []


def test_unclosed_deep_day_file_skips_that_file_and_keeps_the_rest(tmp_path: Path) -> None:
    result = read(build_export(tmp_path / "deep.zip", **{"general__2026-10-03_json": "[" * 100_000}))
    assert f"C0GENERAL:{PARENT}" not in by_id(result)
    assert f"C0GENERAL:{LATE_REPLY}" in by_id(result)  # from the next day's file
    assert f"D0DM00001:{DM}" in by_id(result)  # the other files still land
    assert (
        SkippedItem(
            "deep.zip:general/2026-10-03.json",
            "day file is not valid JSON (parse error: premature EOF); its messages were not read",
        )
        in result.skipped
    )


def test_truncated_day_file_keeps_the_messages_before_the_damage(tmp_path: Path) -> None:
    day = json.dumps([message("first", ts(9)), message("second", ts(9, 1))])[:-1] + ', {"text": "my secret pla'
    result = read(build_export(tmp_path / "cut.zip", **{"general__2026-10-03_json": day}))
    assert [m.text for m in result.messages if m.channel == "general" and m.sent_at.hour == 9] == ["first", "second"]
    [skip] = [s for s in result.skipped if s.location == "cut.zip:general/2026-10-03.json"]
    assert skip.reason == (
        "day file is not valid JSON (after 2 messages: parse error: premature EOF); "
        "the messages before that were read, the rest were not"
    )
    assert "secret" not in json.dumps([s.reason for s in result.skipped])  # the parser quotes input: not kept


def test_invalid_utf8_is_replaced_recorded_and_the_messages_land(tmp_path: Path) -> None:
    day = json.dumps([message("caf\udcff price", ts(9)), message("fine", ts(9, 1))], ensure_ascii=False)
    raw = day.encode("utf-8", errors="surrogateescape")  # \udcff becomes the invalid byte 0xff
    assert b"caf\xff price" in raw
    path = zip_of(
        tmp_path / "latin.zip",
        {"channels.json": json.dumps(CHANNELS), "users.json": json.dumps(USERS), "general/2026-10-03.json": raw},
    )
    result = read(path)
    assert [m.text for m in result.messages] == ["caf\ufffd price", "fine"]
    assert result.skipped == [
        SkippedItem(
            "latin.zip:general/2026-10-03.json",
            "invalid UTF-8 bytes were replaced by U+FFFD; its entries were read with those characters replaced",
        )
    ]


def test_bad_and_absurd_ts_are_counted_not_dropped(tmp_path: Path) -> None:
    centuries = str(int(datetime(2400, 10, 3, tzinfo=UTC).timestamp())) + ".000100"
    day = [
        message("good", ts(9)),
        message("non-numeric", "soon"),
        message("centuries away", centuries),
        message("past year 9999", "999999999999.000000"),
        message("a bool", True),  # type: ignore[arg-type]
        message("a month early", ts(9, day=3).replace(ts(9, day=3)[:4], str(int(ts(9)[:4]) - 26))),
        {"type": "message", "user": "U0BOB0001", "text": "no ts at all"},
    ]
    path = zip_of(
        tmp_path / "ts.zip",
        {
            "channels.json": json.dumps(CHANNELS),
            "users.json": json.dumps(USERS),
            "general/2026-10-03.json": json.dumps(day),
        },
    )
    result = read(path)
    assert [m.text for m in result.messages] == ["good"]
    reasons = {s.location.rsplit(" ", 1)[-1]: s.reason for s in result.skipped}
    assert reasons == {
        "1": "message has no valid 'ts' ('soon')",
        "2": "message 'ts' is more than 2 days from its day file's date (ts "
        f"{centuries} is 2400-10-03, {(date(2400, 10, 3) - date(2026, 10, 3)).days} days away); "
        "implausible, so it is placed in no window",
        "3": "message has no valid 'ts' ('999999999999.000000')",
        "4": "message has no valid 'ts' (True)",
        "5": reasons["5"],
        "6": "message has no valid 'ts' (None)",
    }
    assert reasons["5"].startswith("message 'ts' is more than 2 days from its day file's date (ts ")


def test_missing_users_json_still_ingests_with_user_ids(tmp_path: Path) -> None:
    reference = read(build_export(tmp_path / "full.zip"))
    result = read(build_export(tmp_path / "no-users.zip", users_json=None))
    assert [m.external_id for m in result.messages] == [m.external_id for m in reference.messages]
    parent = by_id(result)[f"C0GENERAL:{PARENT}"]
    assert parent.author_name == "U0BOB0001"
    assert parent.author_email is None
    assert parent.author_is_internal is None  # cannot be told without the member list
    assert parent.text.startswith("Can we get SSO with Okta? cc @U0ALICE01 see #customer-feedback")
    assert (
        SkippedItem(
            "no-users.zip:users.json",
            "users.json (or org_users.json) is missing; 8 messages landed with their author named by the "
            "message's own profile or Slack user id, without e-mail, so staff and customers cannot be told "
            "apart. Re-export the workspace with its member list",
        )
        in result.skipped
    )


def test_partial_users_json_keeps_the_members_before_the_damage(tmp_path: Path) -> None:
    cut = json.dumps(USERS)[: json.dumps(USERS).index('{"id": "U0DAN0001"')] + '{"id": "U0DA'
    result = read(build_export(tmp_path / "cut-users.zip", users_json=cut))
    messages = by_id(result)
    assert messages[f"C0GENERAL:{PARENT}"].author_name == "Bob Buyer"  # listed before the damage
    assert messages[f"C0GENERAL:{BROADCAST}"].author_name == "U0DAN0001"  # lost with the damage
    [skip] = [s for s in result.skipped if s.location == "cut-users.zip:users.json"]
    assert skip.reason.startswith("users.json is not valid JSON (after 2 entries: parse error: premature EOF); ")


def test_missing_or_broken_channels_json_reads_folders_as_channels(tmp_path: Path) -> None:
    reference = by_id(read(build_export(tmp_path / "full.zip")))
    for name, channels in (("no-channels.zip", None), ("broken-channels.zip", "{broken")):
        result = read(build_export(tmp_path / name, channels_json=channels))
        general = {m.external_id: m for m in result.messages if m.channel == "general"}
        assert sorted(general) == sorted(
            k.replace("C0GENERAL:", "general:") for k, m in reference.items() if m.channel == "general"
        )
        assert general[f"general:{PARENT}"].text == reference[f"C0GENERAL:{PARENT}"].text
        assert general[f"general:{PARENT}"].metadata["channel_type"] == "unlisted"
        assert f"{name}:general/" in {s.location for s in result.skipped}
    broken = read(build_export(tmp_path / "broken-channels.zip", channels_json="{broken"))
    assert (
        SkippedItem(
            "broken-channels.zip:channels.json",
            "channels.json should be a JSON array but is a dict; folders it does not list are read as channels "
            "named after the folder",
        )
        in broken.skipped
    )


def test_day_folders_without_any_list_still_ingest(tmp_path: Path) -> None:
    path = zip_of(tmp_path / "bare.zip", {"export/general/2026-10-03.json": json.dumps(GENERAL_DAY)})
    result = read(path)
    assert {m.channel for m in result.messages} == {"general"}
    assert len(result.messages) == 5
    assert {s.location for s in result.skipped} >= {"bare.zip:general/", "bare.zip:users.json"}


def bomb(path: Path, name: str, mebibytes: int, extra: dict[str, bytes | str] | None = None) -> Path:
    """A ZIP whose member `name` inflates to `mebibytes` MiB of zeros (streamed: cheap to build)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for other, data in (extra or {}).items():
            archive.writestr(other, data)
        with archive.open(name, "w", force_zip64=True) as member:
            chunk = bytes(1024 * 1024)
            for _ in range(mebibytes):
                member.write(chunk)
    return path


LISTS: dict[str, bytes | str] = {"channels.json": json.dumps(CHANNELS), "users.json": json.dumps(USERS)}


def test_zip_bomb_member_is_refused_quickly(tmp_path: Path) -> None:
    path = bomb(tmp_path / "bomb.zip", "general/2026-10-03.json", 256, LISTS)
    started = time.monotonic()
    with pytest.raises(ExportTooLargeError) as caught:
        read(path)
    assert time.monotonic() - started < 5
    assert str(path) in str(caught.value)
    assert "general/2026-10-03.json declares more than 64 MiB (the limit for one file)" in str(caught.value)


def test_compression_ratio_past_the_limit_is_refused(tmp_path: Path) -> None:
    path = bomb(tmp_path / "ratio.zip", "general/2026-10-03.json", 16, LISTS)  # under the size limit
    with pytest.raises(ExportTooLargeError, match=r"times its compressed size \(limit 200\), the mark of a zip bomb"):
        read(path)


def test_declared_size_that_lies_is_not_believed(tmp_path: Path) -> None:
    path = bomb(tmp_path / "liar.zip", "general/2026-10-03.json", 48, LISTS)
    data = bytearray(path.read_bytes())
    # Claim 1,000 bytes in the central directory and the local header; the member inflates to 48 MiB.
    name = b"general/2026-10-03.json"
    central = data.index(b"PK\x01\x02" + bytes(24)[:0], data.rindex(b"PK\x01\x02", 0, data.rindex(name)))
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    local = data.rindex(b"PK\x03\x04", 0, data.index(name))
    data[local + 22 : local + 26] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    result = read(path)
    assert result.messages == []
    [skip] = [s for s in result.skipped if s.location == "liar.zip:general/2026-10-03.json"]
    assert skip.reason.startswith("day file could not be read from the archive (Bad CRC-32")


def test_total_inflated_size_is_bounded(tmp_path: Path) -> None:
    limits = ExportLimits(max_total_inflated_bytes=3000)
    with pytest.raises(
        ExportTooLargeError, match=r"takes the export past 3000 bytes inflated \(the limit for one export\)"
    ):
        read(build_export(tmp_path / "slack-export.zip"), limits=limits)


def test_unpacked_file_past_the_member_limit_is_refused(tmp_path: Path) -> None:
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(build_export(tmp_path / "slack-export.zip")) as archive:
        archive.extractall(unpacked)
    with pytest.raises(ExportTooLargeError, match=r"general/2026-10-03\.json declares more than 1000 bytes"):
        read(unpacked, limits=ExportLimits(max_member_bytes=1000))


def test_symlinks_in_an_unpacked_export_are_not_followed(tmp_path: Path) -> None:
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(build_export(tmp_path / "slack-export.zip")) as archive:
        archive.extractall(unpacked)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "2026-10-03.json").write_text(json.dumps([message("read from outside", ts(9, 30))]))
    (unpacked / "general" / "2026-10-03.json").unlink()
    (unpacked / "general" / "2026-10-03.json").symlink_to(outside / "2026-10-03.json")
    (unpacked / "evil").symlink_to(outside, target_is_directory=True)
    result = read(unpacked)
    assert "read from outside" not in {m.text for m in result.messages}
    assert f"D0DM00001:{DM}" in by_id(result)
    link_skips = {s.location: s.reason for s in result.skipped if "symbolic link" in s.reason}
    assert set(link_skips) == {"unpacked:evil", "unpacked:general/2026-10-03.json"}
    assert link_skips["unpacked:evil"].startswith("folder is a symbolic link; not followed")


def test_member_names_with_dot_dot_are_only_names_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    hostile = json.dumps([message("escaped", ts(9, 30))])
    path = build_export(tmp_path / "work" / "slack-export.zip")
    with zipfile.ZipFile(path, "a") as archive:
        for name in ("../2026-10-03.json", "../../escape/2026-10-03.json", "general/../../x/2026-10-03.json"):
            archive.writestr(name, hostile)
    before = tree_listing(tmp_path)
    result = read(path)
    assert tree_listing(tmp_path) == before  # nothing extracted, nothing written
    assert "escaped" not in {m.text for m in result.messages}
    assert result.messages == read(build_export(tmp_path / "reference.zip")).messages


def test_json_token_budget_refuses_before_parsing(tmp_path: Path) -> None:
    # 60 MiB of `[` is 63 million tokens: parsing it alone took 18 s on a loaded machine.
    brackets = {**LISTS, "general/2026-10-03.json": b"[" * (60 * 1024 * 1024)}
    path = zip_of(tmp_path / "brackets.zip", brackets, zipfile.ZIP_STORED)  # stored: no ratio to give it away
    started = time.monotonic()
    with pytest.raises(ExportTooLargeError) as caught:
        read(path)
    assert time.monotonic() - started < 5
    assert "reading general/2026-10-03.json takes the read past 24,000,000 JSON tokens" in str(caught.value)
    # The same budget, lowered, counts every file read, lists included.
    with pytest.raises(ExportTooLargeError, match="past 200 JSON tokens"):
        read(build_export(tmp_path / "slack-export.zip"), limits=ExportLimits(max_json_tokens=200))


def test_many_bad_items_in_one_file_are_counted_not_listed_one_by_one(tmp_path: Path) -> None:
    day = json.dumps([message("good", ts(9)), *range(1000), message("also good", ts(9, 1))])
    path = zip_of(tmp_path / "junk.zip", {**LISTS, "general/2026-10-03.json": day})
    result = read(path)
    assert [m.text for m in result.messages] == ["good", "also good"]
    listed = [s for s in result.skipped if s.reason == "entry is not a message object"]
    assert len(listed) == 100
    assert listed[0].location == "junk.zip:general/2026-10-03.json item 1"
    assert result.skipped[-1] == SkippedItem(
        "junk.zip:general/2026-10-03.json",
        "day file has 900 more bad items than the 100 listed one by one (skipped and counted here, not listed)",
    )


def test_items_per_read_are_bounded(tmp_path: Path) -> None:
    limits = ExportLimits(max_items_per_read=12)
    with pytest.raises(ExportTooLargeError, match="takes the read past 12 messages") as caught:
        read(build_export(tmp_path / "slack-export.zip"), limits=limits)
    assert "Read a shorter window" in str(caught.value)
    assert (
        len(read(build_export(tmp_path / "slack-export.zip"), limits=ExportLimits(max_items_per_read=30)).messages) == 8
    )
