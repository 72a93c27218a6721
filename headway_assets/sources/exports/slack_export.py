"""Reader for a Slack workspace export (the ZIP from Slack's export tool, or the same tree unpacked).

Layout (vendor-apis.md §1.8): `channels.json` / `groups.json` / `mpims.json` / `dms.json` list the
conversations, `users.json` (or `org_users.json`) the members, and each conversation has a folder
(named by channel name; DMs by id) of `YYYY-MM-DD.json` day files holding JSON arrays of messages.
Which timezone decides a message's day file is undocumented, so messages are selected by their
own `ts`, reading the window's days plus one day either side.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from headway_assets.sources.fields import mapping_field, text_field
from headway_assets.sources.message import NormalisedMessage, ReadResult, SourceReadError, TimeWindow
from headway_assets.sources.people import (
    customer_from_email,
    is_internal_email,
    normalise_domains,
    normalise_email,
)
from headway_assets.warehouse.schema import SourceKind

CONVERSATION_LISTS: tuple[tuple[str, str], ...] = (
    ("channels.json", "public_channel"),
    ("groups.json", "private_channel"),
    ("mpims.json", "mpim"),
    ("dms.json", "im"),
)
USER_LISTS: tuple[str, ...] = ("users.json", "org_users.json")
DAY_FILE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.json$")

# Channel housekeeping and app posts: noise, counted in `ReadResult.ignored`, never messages.
NOISE_SUBTYPES: frozenset[str] = frozenset(
    {
        "bot_message",
        "bot_add",
        "bot_remove",
        "bot_enable",
        "bot_disable",
        "app_conversation_join",
        "app_conversation_leave",
        "channel_join",
        "channel_leave",
        "group_join",
        "group_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "group_topic",
        "group_purpose",
        "group_name",
        "group_archive",
        "group_unarchive",
        "channel_posting_permissions",
        "channel_convert_to_private",
        "channel_convert_to_public",
        "pinned_item",
        "unpinned_item",
        "reminder_add",
        "reminder_delete",
        "slackbot_response",
        "sh_room_created",
        "huddle_thread",
        "joiner_notification",
        "ekm_access_denied",
        "tombstone",
        "message_deleted",
        "message_changed",
        "message_replied",
    }
)
NOISE_SUBTYPE_PREFIXES: tuple[str, ...] = ("channel_", "group_", "bot_")

_MARKUP_RE = re.compile(r"<([^<>\n]+)>")
_TS_RE = re.compile(r"^\s*(\d{1,12})(?:\.(\d{1,9}))?\s*$")


@dataclass(frozen=True, slots=True)
class SlackConversation:
    """One conversation (channel, private channel, group DM or DM) as the normaliser needs it."""

    id: str
    name: str
    kind: str
    folder: str
    customer: str | None = None  # the one company all external members belong to, if any


@dataclass(frozen=True, slots=True)
class SlackUser:
    """One workspace member (from users.json or `users.info`) as the normaliser needs it."""

    id: str
    name: str | None
    email: str | None
    team_id: str | None
    is_bot: bool
    is_guest: bool
    is_stranger: bool


class _ExportTree:
    """The export's files, from a ZIP or an unpacked folder, addressed by POSIX paths relative to its root."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        if not path.exists():
            raise SourceReadError(
                f"Slack export {path} does not exist; check the path, or download the workspace export "
                "from Slack (Workspace settings > Import/Export Data > Export) and put the ZIP there."
            )
        if path.is_dir():
            members = [p.relative_to(path).as_posix() for p in path.rglob("*.json") if p.is_file()]
        else:
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise SourceReadError(
                    f"Slack export {path} is not a readable ZIP archive ({exc}); it is corrupt, truncated or "
                    "not a Slack export. Download the workspace export again and replace the file."
                ) from exc
            members = [name for name in self._zip.namelist() if not name.endswith("/")]
        self._root = _export_root(members)
        if self._root is None:
            self.close()
            raise SourceReadError(
                f"Slack export {path} has no channels.json, groups.json, mpims.json or dms.json, so it is "
                "not a Slack workspace export; export the workspace from Slack and point Headway at that ZIP."
            )
        prefix = f"{self._root}/" if self._root else ""
        self.names = {name[len(prefix) :] for name in members if name.startswith(prefix)}

    def read(self, name: str) -> bytes:
        """The bytes of one file; raises OSError/zipfile errors when it cannot be read."""
        full = f"{self._root}/{name}" if self._root else name
        if self._zip is not None:
            return self._zip.read(full)
        return (self.path / full).read_bytes()

    def close(self) -> None:
        """Release the ZIP file handle."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None


def read_slack_export(
    path: Path,
    window: TimeWindow,
    *,
    internal_domains: tuple[str, ...] = (),
    workspace_url: str | None = None,
) -> ReadResult:
    """Read the messages of a Slack workspace export whose `ts` falls inside `window`.

    `path` is the export ZIP (or the folder it unpacks to). Raises `SourceReadError` when the
    archive itself, its channel lists or its user list cannot be read; anything smaller that
    fails (a broken day file, a message without text) becomes a skipped item.
    """
    tree = _ExportTree(path)
    try:
        return _SlackExportReader(tree, window, normalise_domains(internal_domains), workspace_url).read()
    finally:
        tree.close()


class _SlackExportReader:
    def __init__(
        self,
        tree: _ExportTree,
        window: TimeWindow,
        internal_domains: tuple[str, ...],
        workspace_url: str | None,
    ) -> None:
        self.tree = tree
        self.window = window
        self.internal_domains = internal_domains
        self.workspace_url = workspace_url.rstrip("/") if workspace_url else None
        self.label = tree.path.name
        self.result = ReadResult()
        self.users = self._load_users()
        # The workspace's own team is the one most members belong to; others are Slack Connect orgs.
        teams = Counter(u.team_id for u in self.users.values() if u.team_id and not u.is_bot)
        self.channel_names: dict[str, str] = {}
        self.normaliser = SlackMessageNormaliser(
            users=self.users,
            channel_names=self.channel_names,
            home_team=teams.most_common(1)[0][0] if teams else None,
            internal_domains=internal_domains,
            workspace_url=workspace_url,
            result=self.result,
        )
        self.conversations = self._load_conversations()
        self.channel_names.update({c.id: c.name for c in self.conversations})

    def read(self) -> ReadResult:
        first_day = self.window.start.astimezone(UTC).date()
        last_day = (self.window.end.astimezone(UTC) - timedelta(microseconds=1)).date()
        # Day files are bucketed in an undocumented timezone: read one more day on each side.
        read_from, read_to = first_day - timedelta(days=1), last_day + timedelta(days=1)
        days_by_folder = self._day_files()
        listed = {c.folder for c in self.conversations}
        for folder, days in sorted(days_by_folder.items()):
            if folder not in listed and any(read_from <= d <= read_to for d in days):
                self.result.skip(
                    f"{self.label}:{folder}/",
                    f"folder '{folder}' has day files but no entry in channels.json, groups.json, mpims.json "
                    "or dms.json, so its channel id is unknown; re-export including that conversation's list",
                )
        for conversation in self.conversations:
            for day in sorted(days_by_folder.get(conversation.folder, {})):
                if read_from <= day <= read_to:
                    core = first_day <= day <= last_day  # per-message problems are reported once
                    self._read_day_file(conversation, days_by_folder[conversation.folder][day], core)
        self.result.messages.sort(key=lambda m: (m.sent_at, m.external_id))
        return self.result

    # -- the lists ---------------------------------------------------------------------------

    def _load_list(self, name: str) -> list[Any]:
        try:
            raw = self.tree.read(name)
        except (OSError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            raise SourceReadError(
                f"Slack export {self.tree.path}: cannot read {name} ({exc}); the archive is damaged. "
                "Download the workspace export again."
            ) from exc
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceReadError(
                f"Slack export {self.tree.path}: {name} is not valid JSON ({exc}); without it the export "
                "cannot be mapped. Download the workspace export again."
            ) from exc
        if not isinstance(data, list):
            raise SourceReadError(
                f"Slack export {self.tree.path}: {name} should be a JSON array but is a "
                f"{type(data).__name__}; this does not look like a Slack export. "
                "Download the workspace export again."
            )
        return data

    def _load_users(self) -> dict[str, SlackUser]:
        name = next((n for n in USER_LISTS if n in self.tree.names), None)
        if name is None:
            raise SourceReadError(
                f"Slack export {self.tree.path} has no users.json (or org_users.json), so authors cannot be "
                "named or told apart from customers; re-export the workspace with its member list."
            )
        users: dict[str, SlackUser] = {}
        for index, entry in enumerate(self._load_list(name)):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                self.result.skip(f"{self.label}:{name} entry {index}", "user entry has no string 'id'")
                continue
            users[entry["id"]] = slack_user(entry)
        return users

    def _load_conversations(self) -> list[SlackConversation]:
        conversations: list[SlackConversation] = []
        for name, kind in CONVERSATION_LISTS:
            if name not in self.tree.names:
                continue
            for index, entry in enumerate(self._load_list(name)):
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                    self.result.skip(
                        f"{self.label}:{name} entry {index}",
                        "conversation entry has no string 'id'; its folder cannot be read",
                    )
                    continue
                channel_id = entry["id"]
                members = [str(m) for m in entry.get("members") or ([entry["user"]] if entry.get("user") else [])]
                customer = self.normaliser.members_company(members)
                if kind == "im":
                    name = "dm:" + self.normaliser.dm_name(members)
                    conversations.append(SlackConversation(channel_id, name, kind, channel_id, customer))
                else:
                    channel_name = text_field(entry.get("name")) or channel_id
                    conversations.append(SlackConversation(channel_id, channel_name, kind, channel_name, customer))
        return conversations

    def _day_files(self) -> dict[str, dict[date, str]]:
        by_folder: dict[str, dict[date, str]] = {}
        for name in self.tree.names:
            parts = PurePosixPath(name).parts
            if len(parts) != 2:
                continue
            match = DAY_FILE_RE.match(parts[1])
            if not match:
                continue
            try:
                day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                continue
            by_folder.setdefault(parts[0], {})[day] = name
        return by_folder

    # -- one day file ------------------------------------------------------------------------

    def _read_day_file(self, conversation: SlackConversation, name: str, core: bool) -> None:
        location = f"{self.label}:{name}"
        try:
            data = json.loads(self.tree.read(name).decode("utf-8-sig"))
        except (OSError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            self.result.skip(location, f"day file could not be read from the archive ({exc}); re-export it")
            return
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.result.skip(location, f"day file is not valid JSON ({exc}); its messages were not read")
            return
        if not isinstance(data, list):
            self.result.skip(location, f"day file should be a JSON array of messages but is a {type(data).__name__}")
            return
        for index, raw in enumerate(data):
            if not isinstance(raw, dict):
                if core:
                    self.result.skip(f"{location} item {index}", "entry is not a message object")
                continue
            ts = slack_ts(raw.get("ts"))
            sent_at = slack_ts_datetime(ts) if ts else None
            if ts is None or sent_at is None:
                if core:
                    self.result.skip(f"{location} item {index}", f"message has no valid 'ts' ({raw.get('ts')!r})")
                continue
            if not self.window.contains(sent_at):
                continue
            message = self.normaliser.normalise(conversation, raw, ts, sent_at, location=f"{location} ts {ts}")
            if message is not None:
                self.result.messages.append(message)


class SlackMessageNormaliser:
    """Turns one Slack message object into a `NormalisedMessage`: shared by the export and live readers.

    A day-file message of an export and the same message from `conversations.history` /
    `conversations.replies` have the same shape, so both readers hand them here and get
    identical messages (ids, text, author, customer, metadata). `users` and `channel_names`
    may be lazy mappings (the live reader fetches `users.info` on first use). `home_team` is
    the workspace's own team id: members of other teams are Slack Connect users (external).
    """

    def __init__(
        self,
        *,
        users: Mapping[str, SlackUser],
        channel_names: Mapping[str, str],
        home_team: str | None,
        internal_domains: tuple[str, ...],
        workspace_url: str | None,
        result: ReadResult,
    ) -> None:
        self.users = users
        self.channel_names = channel_names
        self.home_team = home_team
        self.internal_domains = internal_domains
        self.workspace_url = workspace_url.rstrip("/") if workspace_url else None
        self.result = result
        self.seen_ids: set[str] = set()

    def members_company(self, member_ids: list[str]) -> str | None:
        """The customer a shared channel or DM is with, when its external members all share one company."""
        companies = set()
        for member_id in member_ids:
            user = self.users.get(member_id)
            if user is None or user.is_bot or self.is_internal({}, user, user.email) is not False:
                continue
            company = customer_from_email(user.email, self.internal_domains)
            if company:
                companies.add(company)
        return companies.pop() if len(companies) == 1 else None

    def dm_name(self, member_ids: list[str]) -> str:
        """How a DM is named: its members' names, comma-separated (prefixed with `dm:` by callers)."""
        return ",".join(self.user_name(m) for m in member_ids)

    def normalise(
        self,
        conversation: SlackConversation,
        raw: Mapping[str, Any],
        ts: str,
        sent_at: datetime,
        *,
        location: str,
    ) -> NormalisedMessage | None:
        """The message for one raw message object, or None when it is noise, a repeat or unusable.

        `ts` is the message's canonical ts (`slack_ts`) and `sent_at` its moment; noise and
        repeats are counted in the result's `ignored`, unusable items recorded as skipped at
        `location`.
        """
        subtype = text_field(raw.get("subtype"))
        user_id = text_field(raw.get("user"))
        user = self.users.get(user_id) if user_id else None
        noise = self.noise_reason(raw, subtype, user_id, user)
        if noise is not None:
            self.result.ignored[noise] = self.result.ignored.get(noise, 0) + 1
            return None
        external_id = f"{conversation.id}:{ts}"
        if external_id in self.seen_ids:
            self.result.ignored["duplicate"] = self.result.ignored.get("duplicate", 0) + 1
            return None
        self.seen_ids.add(external_id)

        text_source = text_field(raw.get("text")) or ""
        if subtype == "file_comment" and isinstance(raw.get("comment"), dict):
            text_source = text_field(raw["comment"].get("comment")) or text_source
        text, links = self.render(text_source)
        files = _files(raw)
        if not text:
            if not files:
                self.result.skip(location, "message has no text and no files")
                return None
            text = "[shared file: " + ", ".join(f["name"] for f in files) + "]"

        metadata: dict[str, Any] = {
            "channel_id": conversation.id,
            "channel_type": conversation.kind,
            "ts": ts,
        }
        if user_id:
            metadata["user_id"] = user_id
        if subtype:
            metadata["subtype"] = subtype
        thread_ts = slack_ts(raw.get("thread_ts"))
        thread_id = None
        if thread_ts:
            thread_id = f"{conversation.id}:{thread_ts}"
            metadata["thread_ts"] = thread_ts
            metadata["is_thread_parent"] = thread_ts == ts
            if isinstance(raw.get("reply_count"), int):
                metadata["reply_count"] = raw["reply_count"]
            if subtype in ("thread_broadcast", "reply_broadcast"):
                metadata["broadcast"] = True
        if files:
            metadata["files"] = files
        if links:
            metadata["links"] = links
        edited = raw.get("edited")
        if isinstance(edited, dict):
            edited_ts = slack_ts(edited.get("ts"))
            edited_at = slack_ts_datetime(edited_ts) if edited_ts else None
            editor = text_field(edited.get("user"))
            metadata["edited"] = {
                "by": self.user_name(editor) if editor else None,
                "at": edited_at.isoformat() if edited_at else None,
            }
        reactions = raw.get("reactions")
        if isinstance(reactions, list):
            counts = {
                str(r["name"]): int(r.get("count") or len(r.get("users") or []))
                for r in reactions
                if isinstance(r, dict) and r.get("name")
            }
            if counts:
                metadata["reactions"] = counts

        profile = mapping_field(raw.get("user_profile"))
        author_name = (user.name if user else None) or _first_text(
            profile.get("real_name"), profile.get("display_name"), raw.get("username"), user_id
        )
        author_email = user.email if user else None
        is_internal = self.is_internal(raw, user, author_email)
        customer = customer_from_email(author_email, self.internal_domains) if is_internal is False else None
        if customer is None and conversation.customer:
            customer = conversation.customer
            metadata["customer_source"] = "channel_members"

        return NormalisedMessage(
            source=SourceKind.SLACK,
            external_id=external_id,
            sent_at=sent_at,
            text=text,
            thread_id=thread_id,
            channel=conversation.name,
            author_name=author_name,
            author_email=author_email,
            author_is_internal=is_internal,
            customer=customer,
            url=self.permalink(conversation.id, ts, thread_ts),
            metadata=metadata,
        )

    def noise_reason(
        self, raw: Mapping[str, Any], subtype: str | None, user_id: str | None, user: SlackUser | None
    ) -> str | None:
        """Why the message is noise (its subtype, `slackbot`, `bot_user`, `bot_message`), or None."""
        if subtype and (subtype in NOISE_SUBTYPES or subtype.startswith(NOISE_SUBTYPE_PREFIXES)):
            return subtype
        if user_id == "USLACKBOT":
            return "slackbot"
        if user is not None and user.is_bot:
            return "bot_user"
        if raw.get("bot_id") and user is None:
            return "bot_message"
        return None

    def is_internal(self, raw: Mapping[str, Any], user: SlackUser | None, email: str | None) -> bool | None:
        """Whether the author works for the organisation (None when it cannot be told)."""
        by_domain = is_internal_email(email, self.internal_domains)
        if by_domain is not None:
            return by_domain
        home = self.home_team
        message_team = text_field(raw.get("user_team")) or text_field(raw.get("source_team"))
        if user is not None and (user.is_stranger or user.is_guest):
            return False
        if home and message_team and message_team != home:
            return False  # a Slack Connect user from another organisation
        if user is not None and home and user.team_id and user.team_id != home:
            return False
        if user is not None:
            return True  # a full member of the workspace
        return None

    # -- text --------------------------------------------------------------------------------

    def render(self, text: str) -> tuple[str, list[str]]:
        """Slack markup resolved to plain text (mentions by name), plus the links it held."""
        links: list[str] = []

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            target, _, label = inner.partition("|")
            if target.startswith("@"):
                name = self.users[target[1:]].name if target[1:] in self.users else None
                return "@" + (name or label.lstrip("@") or target[1:])
            if target.startswith("#"):
                return "#" + (label or self.channel_names.get(target[1:]) or target[1:])
            if target.startswith("!"):
                keyword = target[1:]
                if keyword in ("here", "channel", "everyone"):
                    return "@" + keyword
                if label:
                    return label
                return "@" + keyword.split("^", 1)[-1] if keyword.startswith("subteam^") else keyword
            links.append(target)
            if label:
                return label
            return target.removeprefix("mailto:")

        rendered = _MARKUP_RE.sub(replace, text)
        rendered = rendered.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        return rendered.strip(), links

    def user_name(self, user_id: str) -> str:
        """A member's name, or the id when the member is unknown."""
        user = self.users.get(user_id)
        return (user.name if user else None) or user_id

    def permalink(self, channel_id: str, ts: str, thread_ts: str | None) -> str | None:
        """The message's Slack link (needs the workspace URL)."""
        if not self.workspace_url:
            return None
        link = f"{self.workspace_url}/archives/{channel_id}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel_id}"
        return link


def slack_user(entry: Mapping[str, Any]) -> SlackUser:
    """A member from a users.json entry or a `users.info` user (the same shape); `entry` has a string id."""
    profile = mapping_field(entry.get("profile"))
    return SlackUser(
        id=entry["id"],
        name=_first_text(
            profile.get("real_name"),
            entry.get("real_name"),
            profile.get("display_name"),
            entry.get("name"),
        ),
        email=normalise_email(profile.get("email") or entry.get("email")),
        team_id=text_field(entry.get("team_id") or profile.get("team")),
        is_bot=bool(entry.get("is_bot") or entry.get("is_app_user")) or entry["id"] == "USLACKBOT",
        is_guest=bool(entry.get("is_restricted") or entry.get("is_ultra_restricted")),
        is_stranger=bool(entry.get("is_stranger")),
    )


def _export_root(members: list[str]) -> str | None:
    """The folder inside the archive that holds the lists (often "", sometimes one wrapper folder)."""
    markers = {name for name, _ in CONVERSATION_LISTS}
    candidates = [PurePosixPath(m) for m in members if PurePosixPath(m).name in markers]
    if not candidates:
        return None
    shallowest = min(candidates, key=lambda p: (len(p.parts), str(p)))
    parent = str(shallowest.parent)
    return "" if parent == "." else parent


def _files(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """File names and types from `files[]` (new exports) or `file` (old ones).

    Never the URLs: export links carry access tokens.
    """
    entries: list[Any] = []
    if isinstance(raw.get("files"), list):
        entries.extend(raw["files"])
    if isinstance(raw.get("file"), dict):
        entries.append(raw["file"])
    files: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name = _first_text(entry.get("name"), entry.get("title"), entry.get("id"))
        if name is None:
            continue
        info: dict[str, Any] = {"name": name}
        for key in ("title", "mimetype", "filetype", "size"):
            if entry.get(key) not in (None, ""):
                info[key] = entry[key]
        files.append(info)
    return files


def slack_ts(value: Any) -> str | None:
    """A Slack ts as its canonical string (`"1715000100.000200"`), from a string or a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = f"{value:.6f}"
    if not isinstance(value, str):
        return None
    match = _TS_RE.match(value)
    if not match:
        return None
    fraction = (match.group(2) or "").ljust(6, "0")[:6]
    return f"{match.group(1)}.{fraction}"


def slack_ts_datetime(ts: str) -> datetime | None:
    """The UTC moment of a canonical ts string, exact to the microsecond."""
    seconds, _, fraction = ts.partition(".")
    try:
        return datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=int(fraction or "0"))
    except (ValueError, OverflowError, OSError):
        return None


def _first_text(*values: Any) -> str | None:
    return next((text for text in (text_field(v) for v in values) if text), None)
