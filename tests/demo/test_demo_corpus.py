"""The demo corpus: determinism, volumes, content mix, vendor file formats and the manifest.

Most checks read the written export files back with independent parsers (zipfile, json,
the stdlib `mailbox` and `email` packages), so they test what the pipeline will read, not
the generator's own bookkeeping.
"""

from __future__ import annotations

import json
import mailbox
import re
import zipfile
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from headway_assets.core.warehouse.customer_import import read_customer_file
from headway_assets.core.warehouse.schema import ConnectionKind
from headway_assets.demo import (
    DemoManifest,
    DemoManifestError,
    build_demo_corpus,
    generate_demo,
    load_manifest,
)
from headway_assets.llm.schemas import TIER1_CATEGORIES
from headway_assets.sources.registry import source_names

WINDOW_START = datetime(2026, 10, 1, tzinfo=UTC)
WINDOW_END = WINDOW_START + timedelta(days=30)
OVERSIZED = 50_000
COUNT_RANGES = {"slack": (450, 550), "gmail": (250, 320), "gong": (35, 45), "fathom": (35, 45)}
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
DAY_FILE = re.compile(r"^(?P<channel>[^/]+)/(?P<day>\d{4}-\d{2}-\d{2})\.json$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    """The default corpus (seed 7, October 2026) written to a temporary folder."""
    return generate_demo(tmp_path_factory.mktemp("demo-a"))


@pytest.fixture(scope="module")
def demo_again(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    """The same corpus written a second time, to another folder."""
    return generate_demo(tmp_path_factory.mktemp("demo-b"))


@pytest.fixture(scope="module")
def files(demo: DemoManifest) -> dict[str, dict[str, Any]]:
    """Every org's export files, parsed: Slack messages, mails, Gong calls, Fathom meetings, ground truth."""
    parsed: dict[str, dict[str, Any]] = {}
    for org in demo.orgs:
        slack = _read_slack(demo.path_of(org.connection("slack").path))
        mbox = mailbox.mbox(demo.path_of(org.connection("gmail").path), create=False)
        mails = [_Mail(mbox.get_message(key), mbox.get_bytes(key)) for key in mbox.iterkeys()]
        mbox.close()
        gong = json.loads(demo.path_of(org.connection("gong").path).read_text(encoding="utf-8"))
        fathom = json.loads(demo.path_of(org.connection("fathom").path).read_text(encoding="utf-8"))
        expected = [json.loads(line) for line in demo.path_of(org.expected_path).read_text("utf-8").splitlines()]
        asks = json.loads(demo.path_of(org.asks_path).read_text(encoding="utf-8"))
        parsed[org.slug] = {
            "slack": slack,
            "mails": mails,
            "gong": gong,
            "fathom": fathom,
            "expected": expected,
            "asks": {a["key"]: a for a in asks},
        }
    return parsed


class _Mail:
    """One mbox entry: the `mailbox` message, its bytes, and its decoded body text (parsed once)."""

    def __init__(self, message: mailbox.mboxMessage, raw: bytes) -> None:
        self.message = message
        self.raw = raw
        self.text = _body_text(message)


def _body_text(message: Message) -> str:
    """The first text/plain part (else text/html), decoded with its declared charset."""
    parts = [p for p in message.walk() if p.get_content_maintype() == "text"]
    assert parts, message["Message-ID"]
    part = next((p for p in parts if p.get_content_subtype() == "plain"), parts[0])
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "us-ascii")


def _read_slack(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        channels = json.loads(archive.read("channels.json"))
        users = json.loads(archive.read("users.json"))
        days: dict[str, Any] = {name: json.loads(archive.read(name)) for name in names if DAY_FILE.match(name)}
    return {"names": names, "channels": channels, "users": users, "days": days}


def _slack_messages(slack: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(channel id, message) for every message of every day file."""
    ids = {c["name"]: c["id"] for c in slack["channels"]}
    out: list[tuple[str, dict[str, Any]]] = []
    for name, messages in slack["days"].items():
        match = DAY_FILE.match(name)
        assert match is not None
        out.extend((ids[match["channel"]], m) for m in messages)
    return out


def _ts_time(ts: str) -> datetime:
    seconds, _, micros = ts.partition(".")
    return datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=int(micros))


def _gong_text(transcript: dict[str, Any]) -> str:
    return " ".join(s["text"] for mono in transcript["transcript"] for s in mono["sentences"])


def _fathom_text(meeting: dict[str, Any]) -> str:
    return " ".join(item["text"] for item in meeting["transcript"])


# ---- determinism -----------------------------------------------------------------------------


def test_two_runs_write_byte_identical_files(demo: DemoManifest, demo_again: DemoManifest) -> None:
    first = {p.relative_to(demo.base_dir): p.read_bytes() for p in demo.base_dir.rglob("*") if p.is_file()}
    second = {p.relative_to(demo_again.base_dir): p.read_bytes() for p in demo_again.base_dir.rglob("*") if p.is_file()}
    assert sorted(first) == sorted(second)
    assert len(first) == 1 + 7 * len(demo.orgs)  # manifest; per org 4 exports, truth, asks, CRM export
    different = [str(name) for name in first if first[name] != second[name]]
    assert different == []


def test_a_different_seed_gives_a_different_corpus() -> None:
    base = build_demo_corpus(seed=7, days=4)
    other = build_demo_corpus(seed=8, days=4)
    for org in ("acme", "northwind"):
        ids = {e.external_id for e in base.org(org).expected}
        other_ids = {e.external_id for e in other.org(org).expected}
        assert not ids & other_ids


def test_zip_entries_have_fixed_timestamps(demo: DemoManifest) -> None:
    for org in demo.orgs:
        with zipfile.ZipFile(demo.path_of(org.connection("slack").path)) as archive:
            stamps = {info.date_time for info in archive.infolist()}
        assert stamps == {(2026, 10, 31, 0, 0, 0)}


# ---- volumes and mix -------------------------------------------------------------------------


def test_counts_are_within_the_agreed_ranges(demo: DemoManifest, files: dict[str, dict[str, Any]]) -> None:
    total = 0
    for org in demo.orgs:
        data = files[org.slug]
        counts = {
            "slack": len(_slack_messages(data["slack"])),
            "gmail": len(data["mails"]),
            "gong": len(data["gong"]["calls"]),
            "fathom": len(data["fathom"]["items"]),
        }
        for source, (low, high) in COUNT_RANGES.items():
            assert low <= counts[source] <= high, (org.slug, source, counts[source])
            assert org.connection(source).items == counts[source]
        assert len(data["expected"]) == sum(counts.values())
        total += sum(counts.values())
    assert 1700 <= total <= 2100


def test_every_category_and_plenty_of_noise_appear(files: dict[str, dict[str, Any]]) -> None:
    for slug, data in files.items():
        expected = data["expected"]
        assert {e["category"] for e in expected} == set(TIER1_CATEGORIES), slug
        for source in ("slack", "gmail"):
            assert {e["category"] for e in expected if e["source"] == source} == set(TIER1_CATEGORIES)
        other = sum(e["category"] == "other" for e in expected)
        assert other / len(expected) > 0.3, slug
        kinds = Counter(e["kind"] for e in expected)
        for kind in (
            "bot_message",
            "channel_join",
            "file_share",
            "reply",
            "newsletter",
            "notification",
            "agent_reply",
        ):
            assert kinds[kind] > 0, (slug, kind)


def test_feedback_carries_known_ask_keys(files: dict[str, dict[str, Any]]) -> None:
    for slug, data in files.items():
        asks = data["asks"]
        domains = {item["customer"]: item["customer_domain"] for item in data["expected"] if item["customer"]}
        assert all(domains.values()) and len(set(domains.values())) == len(domains)
        for item in data["expected"]:
            assert set(item["asks"]) <= set(asks), (slug, item)
            assert item["ask"] == (item["asks"][0] if item["asks"] else None)
            if item["source"] in ("slack", "gmail"):
                if item["category"] in ("feature_request", "bug_report", "pain_point"):
                    assert item["ask"] is not None, item
                else:
                    assert item["ask"] is None, item
            if item["category"] == "feature_request" and item["source"] in ("slack", "gmail"):
                assert asks[item["ask"]]["kind"] == "feature"


def test_calls_and_meetings_list_several_feedback_moments(files: dict[str, dict[str, Any]]) -> None:
    for data in files.values():
        calls = [e for e in data["expected"] if e["source"] in ("gong", "fathom")]
        with_asks = [e for e in calls if e["asks"]]
        assert len(with_asks) > len(calls) / 2
        assert any(len(e["asks"]) >= 3 for e in calls)
        assert all(not e["asks"] for e in calls if e["category"] == "other")
        assert any(e["category"] == "other" for e in calls)


def test_feature_requests_recur_across_customers_with_varied_wording(
    files: dict[str, dict[str, Any]],
) -> None:
    for slug, data in files.items():
        mentions: Counter[str] = Counter()
        sources: dict[str, set[str]] = defaultdict(set)
        customers: dict[str, set[str]] = defaultdict(set)
        days: dict[str, set[str]] = defaultdict(set)
        for item in data["expected"]:
            for ask in item["asks"]:
                mentions[ask] += 1
                sources[ask].add(item["source"])
                days[ask].add(item["sent_at"][:10])
                if item["customer"]:
                    customers[ask].add(item["customer"])
        features = [key for key, _ in mentions.most_common() if data["asks"][key]["kind"] == "feature"]
        assert sum(mentions[key] >= 10 for key in features) >= 4, slug
        top = features[0]
        assert sources[top] == {"slack", "gmail", "gong", "fathom"}, (slug, top)
        assert len(customers[top]) >= 5 and len(days[top]) >= 10, (slug, top)
        by_id = {f"{cid}:{m['ts']}": m["text"] for cid, m in _slack_messages(data["slack"])}
        texts = [
            by_id[item["external_id"]]
            for item in data["expected"]
            if item["source"] == "slack" and item["ask"] == top and item["category"] == "feature_request"
        ]
        assert len(set(texts)) >= 5 and len(set(texts)) >= 0.8 * len(texts), (slug, top, texts)


def test_rising_asks_grow_and_late_asks_only_appear_late(files: dict[str, dict[str, Any]]) -> None:
    middle = WINDOW_START + timedelta(days=15)
    for slug, data in files.items():
        first: Counter[str] = Counter()
        second: Counter[str] = Counter()
        earliest: dict[str, datetime] = {}
        for item in data["expected"]:
            sent = datetime.fromisoformat(item["sent_at"].replace("Z", "+00:00"))
            for ask in item["asks"]:
                (first if sent < middle else second)[ask] += 1
                earliest[ask] = min(earliest.get(ask, sent), sent)
        by_trend: dict[str, list[str]] = defaultdict(list)
        for key, ask in data["asks"].items():
            by_trend[ask["trend"]].append(key)
        rising_first = sum(first[k] for k in by_trend["rising"])
        rising_second = sum(second[k] for k in by_trend["rising"])
        assert rising_second > 1.8 * rising_first, (slug, rising_first, rising_second)
        steady_first = sum(first[k] for k in by_trend["steady"])
        steady_second = sum(second[k] for k in by_trend["steady"])
        assert 0.6 < steady_second / steady_first < 1.6, (slug, steady_first, steady_second)
        assert by_trend["late"], slug
        for key in by_trend["late"]:
            starts = WINDOW_START + timedelta(days=30 * data["asks"][key]["starts_at"] - 0.5)
            assert key in earliest, (slug, key)
            assert earliest[key] >= starts, (slug, key, earliest[key])
            assert first[key] == 0


# ---- size, language, emoji -------------------------------------------------------------------


def test_oversized_items_exist_and_are_flagged_exactly(files: dict[str, dict[str, Any]]) -> None:
    flagged_total = 0
    for slug, data in files.items():
        lengths: dict[str, int] = {}
        for cid, message in _slack_messages(data["slack"]):
            lengths[f"{cid}:{message['ts']}"] = len(message.get("text", ""))
        for mail in data["mails"]:
            lengths[str(mail.message["Message-ID"]).strip("<>")] = len(mail.text)
        for transcript in data["gong"]["callTranscripts"]:
            lengths[transcript["callId"]] = len(_gong_text(transcript))
        for meeting in data["fathom"]["items"]:
            lengths[str(meeting["recording_id"])] = len(_fathom_text(meeting))
        flagged = {e["external_id"] for e in data["expected"] if e["oversized"]}
        big = {key for key, length in lengths.items() if length > OVERSIZED}
        assert flagged == big, slug
        assert {e["source"] for e in data["expected"] if e["oversized"]} >= {"gmail"}
        flagged_total += len(flagged)
    assert 3 <= flagged_total <= 6


def test_transcripts_are_long(files: dict[str, dict[str, Any]]) -> None:
    for data in files.values():
        lengths = [len(_gong_text(t)) for t in data["gong"]["callTranscripts"]]
        lengths += [len(_fathom_text(m)) for m in data["fathom"]["items"]]
        assert all(length > 1500 for length in lengths)
        regular = [length for length in lengths if length <= OVERSIZED]
        assert min(regular) >= 3000 and max(regular) <= 30_000


def test_non_english_and_emoji_are_present(files: dict[str, dict[str, Any]]) -> None:
    languages: Counter[str] = Counter()
    total = 0
    japanese_mail = False
    emoji_messages = 0
    for data in files.values():
        languages.update(e["language"] for e in data["expected"])
        total += len(data["expected"])
        emoji_messages += sum(bool(EMOJI.search(m.get("text", ""))) for _, m in _slack_messages(data["slack"]))
        japanese_mail |= any(re.search("[\u3040-\u30ff]", mail.text) for mail in data["mails"])
    assert {"de", "fr", "es", "pt", "ja"} <= set(languages)
    non_english = total - languages["en"]
    assert 0.02 < non_english / total < 0.1
    assert japanese_mail
    assert emoji_messages >= 20


# ---- Gmail / mbox ----------------------------------------------------------------------------


def test_mbox_parses_with_the_stdlib_and_matches_the_ground_truth(files: dict[str, dict[str, Any]]) -> None:
    for slug, data in files.items():
        mails = data["mails"]
        ids = []
        threads: dict[str, str] = {}
        for mail in mails:
            message = mail.message
            assert message.get_from().split("@")[0].isdigit()
            assert re.fullmatch(r"\d{15,20}", str(message["X-GM-THRID"]))
            assert message["X-Gmail-Labels"]
            message_id = str(message["Message-ID"]).strip("<>")
            ids.append(message_id)
            threads[message_id] = str(message["X-GM-THRID"])
        assert len(ids) == len(set(ids))
        assert sorted(ids) == sorted(e["external_id"] for e in data["expected"] if e["source"] == "gmail"), slug
        replies = 0
        for mail in mails:
            message = mail.message
            parent = message["In-Reply-To"]
            if parent:
                replies += 1
                assert threads[str(parent).strip("<>")] == str(message["X-GM-THRID"])
        assert replies > 50


def test_mbox_uses_mboxrd_escaping(demo: DemoManifest, files: dict[str, dict[str, Any]]) -> None:
    escaped = 0
    for org in demo.orgs:
        raw = demo.path_of(org.connection("gmail").path).read_bytes()
        escaped += len(re.findall(rb"^>From ", raw, re.MULTILINE))
        envelopes = len(re.findall(rb"^From ", raw, re.MULTILINE))
        assert envelopes == len(files[org.slug]["mails"])
    assert escaped > 0


def test_mail_formats_are_varied(files: dict[str, dict[str, Any]]) -> None:
    types: Counter[str] = Counter()
    charsets: set[str] = set()
    encoded_subjects = 0
    quoted_replies = 0
    for data in files.values():
        for mail in data["mails"]:
            types[mail.message.get_content_type()] += 1
            for part in mail.message.walk():
                if part.get_content_charset():
                    charsets.add(str(part.get_content_charset()))
            head = mail.raw.split(b"\n\n", 1)[0]
            encoded_subjects += bool(re.search(rb"^Subject: .*=\?", head, re.MULTILINE))
            quoted_replies += "\n> " in mail.text or "From:" in mail.text
    assert types["text/plain"] and types["text/html"] and types["multipart/alternative"] and types["multipart/mixed"]
    assert {"iso-8859-1", "windows-1252", "utf-8"} <= charsets
    assert encoded_subjects >= 5
    assert quoted_replies >= 50


# ---- Slack export ----------------------------------------------------------------------------


def test_slack_zip_has_the_export_layout(files: dict[str, dict[str, Any]]) -> None:
    for slug, data in files.items():
        slack = data["slack"]
        assert {"channels.json", "users.json", "integration_logs.json"} <= set(slack["names"])
        channel_names = {c["name"] for c in slack["channels"]}
        assert {"general", "random", "support", "customer-feedback"} <= channel_names
        assert any(name.startswith("ext-") for name in channel_names)
        for name in slack["names"]:
            if name.endswith(".json") and "/" in name:
                match = DAY_FILE.match(name)
                assert match is not None, name
                assert match["channel"] in channel_names
        for name, messages in slack["days"].items():
            match = DAY_FILE.match(name)
            assert match is not None
            assert isinstance(messages, list) and messages, name
            for message in messages:
                assert _ts_time(message["ts"]).strftime("%Y-%m-%d") == match["day"]
            assert [m["ts"] for m in messages] == sorted((m["ts"] for m in messages), key=_ts_time)
        user_ids = {u["id"] for u in slack["users"]}
        assert all(u["profile"].get("email") for u in slack["users"] if not u["is_bot"])
        for _, message in _slack_messages(slack):
            if message.get("user") not in (None, "USLACKBOT"):
                assert message["user"] in user_ids, slug


def test_slack_ids_threads_and_subtypes(files: dict[str, dict[str, Any]]) -> None:
    for slug, data in files.items():
        messages = _slack_messages(data["slack"])
        keys = [f"{cid}:{m['ts']}" for cid, m in messages]
        assert len(keys) == len(set(keys))
        assert sorted(keys) == sorted(e["external_id"] for e in data["expected"] if e["source"] == "slack"), slug
        by_key = dict(zip(keys, (m for _, m in messages), strict=True))
        replies: Counter[str] = Counter()
        for cid, message in messages:
            if "parent_user_id" in message:
                parent = by_key[f"{cid}:{message['thread_ts']}"]
                assert _ts_time(message["ts"]) > _ts_time(parent["ts"])
                replies[f"{cid}:{message['thread_ts']}"] += 1
        assert len(replies) > 50
        for key, count in replies.items():
            parent = by_key[key]
            assert parent["reply_count"] == count == len(parent["replies"])
            assert parent["latest_reply"] == max((r["ts"] for r in parent["replies"]), key=_ts_time)
        subtypes = Counter(m.get("subtype") for _, m in messages)
        assert subtypes["bot_message"] and subtypes["channel_join"] and subtypes["file_share"]
        assert sum("edited" in m for _, m in messages) > 5
        assert all(m["files"][0]["url_private"] for _, m in messages if m.get("subtype") == "file_share")


# ---- Gong and Fathom -------------------------------------------------------------------------


def test_gong_calls_and_transcripts_match(files: dict[str, dict[str, Any]]) -> None:
    for slug, data in files.items():
        gong = data["gong"]
        assert set(gong) == {"calls", "callTranscripts"}
        calls = {c["metaData"]["id"]: c for c in gong["calls"]}
        assert list(calls) == [t["callId"] for t in gong["callTranscripts"]]
        assert sorted(calls) == sorted(e["external_id"] for e in data["expected"] if e["source"] == "gong"), slug
        for transcript in gong["callTranscripts"]:
            call = calls[transcript["callId"]]
            speakers = {p["speakerId"]: p for p in call["parties"] if "speakerId" in p}
            assert {p["affiliation"] for p in call["parties"]} == {"Internal", "External"}
            last = 0
            for monologue in transcript["transcript"]:
                assert monologue["speakerId"] in speakers
                for sentence in monologue["sentences"]:
                    assert last <= sentence["start"] < sentence["end"]
                    last = sentence["end"]
            assert call["metaData"]["duration"] * 1000 >= last
            assert all(isinstance(call["metaData"][k], str) for k in ("id", "primaryUserId", "workspaceId"))


def test_fathom_meetings_have_the_meeting_shape(files: dict[str, dict[str, Any]]) -> None:
    for slug, data in files.items():
        fathom = data["fathom"]
        assert fathom["limit"] is None and fathom["next_cursor"] is None
        ids = [m["recording_id"] for m in fathom["items"]]
        assert all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids))
        assert sorted(map(str, ids)) == sorted(e["external_id"] for e in data["expected"] if e["source"] == "fathom")
        for meeting in fathom["items"]:
            assert meeting["recorded_by"]["email"].endswith(meeting["recorded_by"]["email_domain"])
            assert all(re.fullmatch(r"\d{2}:\d{2}:\d{2}", item["timestamp"]) for item in meeting["transcript"])
            assert meeting["calendar_invitees_domains_type"] in ("only_internal", "one_or_more_external")
            external = any(i["is_external"] for i in meeting["calendar_invitees"])
            assert external == (meeting["calendar_invitees_domains_type"] == "one_or_more_external"), slug


# ---- time window -----------------------------------------------------------------------------


def test_every_sent_time_is_inside_the_window(files: dict[str, dict[str, Any]]) -> None:
    def inside(moment: datetime) -> bool:
        return WINDOW_START <= moment < WINDOW_END

    for data in files.values():
        assert all(inside(_ts_time(m["ts"])) for _, m in _slack_messages(data["slack"]))
        assert all(inside(parsedate_to_datetime(str(mail.message["Date"]))) for mail in data["mails"])
        for call in data["gong"]["calls"]:
            for key in ("scheduled", "started"):
                assert inside(datetime.fromisoformat(call["metaData"][key].replace("Z", "+00:00")))
        for meeting in data["fathom"]["items"]:
            for key in ("scheduled_start_time", "recording_start_time", "recording_end_time", "created_at"):
                assert inside(datetime.fromisoformat(meeting[key].replace("Z", "+00:00")))
        assert all(inside(datetime.fromisoformat(e["sent_at"].replace("Z", "+00:00"))) for e in data["expected"])


def test_start_and_days_move_the_window() -> None:
    corpus = build_demo_corpus(seed=3, start=date(2027, 2, 1), days=5)
    start = datetime(2027, 2, 1, tzinfo=UTC)
    end = start + timedelta(days=5)
    for org in corpus:
        assert org.expected
        assert {e.source for e in org.expected} == set(source_names())
        assert all(start <= e.sent_at < end for e in org.expected)
        assert 60 <= org.slack.message_count() <= 120


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="days"):
        build_demo_corpus(days=0)
    with pytest.raises(TypeError, match="seed"):
        build_demo_corpus(seed="7")  # type: ignore[arg-type]


# ---- in-memory model -------------------------------------------------------------------------


def test_model_is_api_shaped_and_pageable() -> None:
    org = build_demo_corpus(days=3).org("acme")
    channel = org.slack.channel("support")["id"]
    parents = [m for m in org.slack.top_level(channel) if m.get("reply_count")]
    assert parents
    thread = org.slack.thread(channel, parents[0]["ts"])
    assert thread[0] is parents[0] and len(thread) == 1 + parents[0]["reply_count"]
    assert all(m["thread_ts"] == parents[0]["ts"] for m in thread)
    message = org.gmail.messages[0]
    assert int(message.api_thread_id, 16) == message.thread_id
    assert message.raw.count(b"\r\n") > 3
    assert org.gong.transcript(org.gong.calls[0]["metaData"]["id"])["transcript"]


# ---- manifest --------------------------------------------------------------------------------


def test_manifest_round_trips(demo: DemoManifest) -> None:
    path = demo.base_dir / "manifest.json"
    loaded = load_manifest(path)
    assert loaded == demo
    assert json.loads(path.read_text("utf-8")) == loaded.to_json()
    loaded.verify()
    acme = loaded.org("acme")
    assert acme.workspace_url == "https://acme-analytics.slack.com"
    assert acme.internal_domains == ("acme-analytics.example",)
    assert acme.support_mailbox == "support@acme-analytics.example"
    assert {c.source for c in acme.connections} == set(source_names())
    assert all(c.kind == ConnectionKind.EXPORT for c in acme.connections)
    assert loaded.org("northwind").name == "Northwind Health"


def test_manifest_errors_name_the_file_and_the_problem(tmp_path: Path, demo: DemoManifest) -> None:
    with pytest.raises(DemoManifestError, match="does not exist"):
        load_manifest(tmp_path / "manifest.json")
    data = demo.to_json()
    del data["orgs"][0]["support_mailbox"]
    broken = tmp_path / "manifest.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DemoManifestError, match="support_mailbox") as error:
        load_manifest(broken)
    assert str(broken) in str(error.value)
    data = demo.to_json()
    data["orgs"][0]["connections"][0]["path"] = "/etc/passwd"
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DemoManifestError, match="relative"):
        load_manifest(broken)
    data = demo.to_json()
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DemoManifestError, match="missing"):
        load_manifest(broken).verify()


# ---- CRM export ------------------------------------------------------------------------------


def test_each_org_s_crm_export_imports_cleanly_and_covers_the_companies_people_write_from(
    demo: DemoManifest,
) -> None:
    corpus = build_demo_corpus(seed=demo.seed, start=demo.start, days=demo.days)
    for org, built in zip(demo.orgs, corpus.orgs, strict=True):
        frame = read_customer_file(demo.path_of(org.customers_path))
        rows = frame.to_dict("records")
        companies = {company.domain: company for company in built.org.companies}
        # The CRM's headers map onto the import's fields.
        assert {"name", "domains", "external_id", "arr", "mrr", "plan", "segment", "deal_stage"} <= set(frame.columns)
        # Every row is a company of the corpus, under the domain its people write from.
        assert {row["domains"] for row in rows} < set(companies)
        assert all(companies[row["domains"]].name == row["name"] for row in rows)
        # One company is left out on purpose, for the resolution to auto-create.
        assert len(companies) - len(rows) == 1
        assert all(row["deal_stage"] and row["arr"].startswith("$") for row in rows)
        assert len({row["external_id"] for row in rows}) == len(rows)
