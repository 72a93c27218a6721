"""Slack messages as the Web API and the export files both carry them, turned into `NormalisedMessage`s.

Shared by the export reader (`sources/slack/export.py`) and the live client (`sources/slack/live.py`).
It holds no export-file parsing, so the read API's OAuth callback can import the live client
without loading the export reader (issue 13: the API loads no export parser).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from headway_assets.core.message import NormalisedMessage, ReadResult
from headway_assets.sources.fields import mapping_field, text_field
from headway_assets.sources.people import customer_from_email, is_internal_email, normalise_email
from headway_assets.sources.slack import SOURCE

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
        connect_team = self.connect_team(raw, user)
        if connect_team:
            # The customer resolution maps a Slack Connect org to its customer by this id, also
            # for its members whose e-mail Slack hides or who sign in with a free-mail address.
            metadata["slack_connect_team"] = connect_team
        customer = customer_from_email(author_email, self.internal_domains) if is_internal is False else None
        if customer is None and conversation.customer:
            customer = conversation.customer
            metadata["customer_source"] = "channel_members"

        return NormalisedMessage(
            source=SOURCE,
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

    def connect_team(self, raw: Mapping[str, Any], user: SlackUser | None) -> str | None:
        """The author's Slack team id when it is another organisation's (Slack Connect), else None."""
        home = self.home_team
        team = text_field(raw.get("user_team")) or (user.team_id if user is not None else None)
        if not home or not team or team == home:
            return None
        return team

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
