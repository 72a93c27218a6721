"""Reader for a Slack workspace export (the ZIP from Slack's export tool, or the same tree unpacked).

Layout (vendor-apis.md §1.8): `channels.json` / `groups.json` / `mpims.json` / `dms.json` list the
conversations, `users.json` (or `org_users.json`) the members, and each conversation has a folder
(named by channel name; DMs by id) of `YYYY-MM-DD.json` day files holding JSON arrays of messages.
Which timezone decides a message's day file is undocumented, so messages are selected by their
own `ts`, reading the window's days plus one day either side.

The export is customer-supplied and may be hostile (vendor-apis.md, issue 12): it is read
member by member in bounded chunks under `ExportLimits`, never extracted or written anywhere,
and one bad day file or message is one skipped item, never a failed export.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any

import ijson

from headway_assets.core.message import (
    ReadResult,
    SkippedItem,
    SourceReadError,
    TimeWindow,
)
from headway_assets.sources.exports.limits import (
    DEFAULT_LIMITS,
    MIB,
    ExportLimits,
    ExportTooLargeError,
    JsonItem,
    decode_text,
    iter_json_items,
)
from headway_assets.sources.fields import text_field
from headway_assets.sources.people import normalise_domains
from headway_assets.sources.slack.messages import (
    SlackConversation,
    SlackMessageNormaliser,
    SlackUser,
    slack_ts,
    slack_ts_datetime,
    slack_user,
)

CONVERSATION_LISTS: tuple[tuple[str, str], ...] = (
    ("channels.json", "public_channel"),
    ("groups.json", "private_channel"),
    ("mpims.json", "mpim"),
    ("dms.json", "im"),
)
USER_LISTS: tuple[str, ...] = ("users.json", "org_users.json")
DAY_FILE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.json$")
_DM_FOLDER_RE = re.compile(r"^D[A-Z0-9]{6,}$")  # DM folders are named by the DM's id

# A message more days than this from its day file's date is misplaced: the undocumented
# day-file timezone moves a message by at most one day, and no window's read would find it.
MAX_DAY_FILE_DRIFT_DAYS = 2
# Deflate packs small or repetitive JSON tightly, so the compression ratio only counts once a
# member is this large; below it the member size limit is the bound.
RATIO_FLOOR_BYTES = 4 * MIB
READ_CHUNK_BYTES = 1 * MIB
# Past this many bad items in one day file the rest are counted in one entry, not one each:
# a file of millions of junk entries must not become millions of skip records in memory.
MAX_ITEM_SKIPS_PER_FILE = 100


class _ExportTree:
    """The export's files, from a ZIP or an unpacked folder, addressed by POSIX paths relative to its root.

    Nothing is extracted: members are read into memory one at a time, in chunks, under `limits`.
    A member name such as `../x.json` is only a name. In an unpacked folder, symbolic links are
    never followed (they could point outside the export); each one found is listed in `skipped`.
    """

    def __init__(self, path: Path, limits: ExportLimits) -> None:
        self.path = path
        self.limits = limits
        self.label = path.name
        self.skipped: list[SkippedItem] = []
        self.inflated = 0  # bytes read so far across the whole export
        self._zip: zipfile.ZipFile | None = None
        if not path.exists():
            raise SourceReadError(
                f"Slack export {path} does not exist; check the path, or download the workspace export "
                "from Slack (Workspace settings > Import/Export Data > Export) and put the ZIP there."
            )
        if path.is_dir():
            members = self._scan_folder()
        else:
            if path.stat().st_size == 0:
                raise SourceReadError(
                    f"Slack export {path} is empty (0 bytes): the download or copy did not finish. "
                    "Download the workspace export again and replace the file."
                )
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise SourceReadError(
                    f"Slack export {path} is not a readable ZIP archive ({exc}); it is corrupt, truncated or "
                    "not a Slack export. Download the workspace export again and replace the file."
                ) from exc
            members = [name for name in self._zip.namelist() if not name.endswith("/")]
        self._root = _export_root(members)
        prefix = f"{self._root}/" if self._root else ""
        self.names = {name[len(prefix) :] for name in members if self._root is not None and name.startswith(prefix)}
        if self._root is None or not any(_day_file(name) for name in self.names):
            self.close()
            what = (
                "has no channels.json, groups.json, mpims.json or dms.json and no channel folders of "
                "YYYY-MM-DD.json day files, so it is not a Slack workspace export"
                if self._root is None
                else "has no channel folders of YYYY-MM-DD.json day files, so it holds no messages at all"
            )
            raise SourceReadError(
                f"Slack export {path} {what}; export the workspace from Slack (Workspace settings > "
                "Import/Export Data > Export) and point Headway at that ZIP."
            )

    def _scan_folder(self) -> list[str]:
        """The JSON files of an unpacked export, skipping (and listing) symbolic links."""
        members: list[str] = []
        for folder, dirs, files in os.walk(self.path, followlinks=False):
            here = Path(folder)
            for name in sorted(dirs):
                if (here / name).is_symlink():
                    self._skip_link(here / name, "folder")
            for name in sorted(files):
                entry = here / name
                if entry.is_symlink():
                    if name.endswith(".json"):
                        self._skip_link(entry, "file")
                elif name.endswith(".json") and entry.is_file():
                    members.append(entry.relative_to(self.path).as_posix())
        return members

    def _skip_link(self, entry: Path, kind: str) -> None:
        self.skipped.append(
            SkippedItem(
                f"{self.label}:{entry.relative_to(self.path).as_posix()}",
                f"{kind} is a symbolic link; not followed, since it could point outside the export. "
                "Copy the real file into the export folder instead",
            )
        )

    def read(self, name: str) -> bytes:
        """The bytes of one file, read in chunks and refused past the limits.

        Raises `ExportTooLargeError` past a limit, OSError/KeyError/zipfile errors when the
        member cannot be read.
        """
        full = f"{self._root}/{name}" if self._root else name
        if self._zip is not None:
            info = self._zip.getinfo(full)
            self._check_size(name, info.file_size, info.compress_size, declared=True)
            with self._zip.open(info) as stream:
                return self._read_bounded(name, stream, info.compress_size)
        # O_NOFOLLOW: a file swapped for a symlink after the scan is still not followed.
        fd = os.open(self.path / full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as stream:
            self._check_size(name, os.fstat(fd).st_size, None, declared=True)
            return self._read_bounded(name, stream, None)

    def _read_bounded(self, name: str, stream: IO[bytes], compressed: int | None) -> bytes:
        # Declared sizes can lie, so the bytes really inflated are counted as they come.
        buffer = io.BytesIO()
        size = 0
        while chunk := stream.read(READ_CHUNK_BYTES):
            size += len(chunk)
            self.inflated += len(chunk)
            self._check_size(name, size, compressed, declared=False)
            buffer.write(chunk)
        return buffer.getvalue()

    def _check_size(self, name: str, size: int, compressed: int | None, *, declared: bool) -> None:
        limits = self.limits
        what = "declares" if declared else "inflates to"
        problem = None
        if size > limits.max_member_bytes:
            problem = f"{name} {what} more than {_size(limits.max_member_bytes)} (the limit for one file)"
        elif not declared and self.inflated > limits.max_total_inflated_bytes:
            problem = (
                f"reading {name} takes the export past {_size(limits.max_total_inflated_bytes)} inflated "
                "(the limit for one export)"
            )
        elif compressed is not None and size > RATIO_FLOOR_BYTES and size > limits.max_compression_ratio * compressed:
            problem = (
                f"{name} {what} {size // max(compressed, 1)} times its compressed size "
                f"(limit {limits.max_compression_ratio:g}), the mark of a zip bomb"
            )
        if problem:
            raise ExportTooLargeError(
                f"Slack export {self.path} refused: {problem}. A real Slack day file is a few MB; "
                "check where this file came from and export the workspace from Slack again."
            )

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
    limits: ExportLimits = DEFAULT_LIMITS,
) -> ReadResult:
    """Read the messages of a Slack workspace export whose `ts` falls inside `window`.

    `path` is the export ZIP (or the folder it unpacks to). Raises `SourceReadError` when the
    export as a whole is unusable: missing, empty, not a ZIP, or holding no channel folders of
    day files. Anything smaller that fails (a broken day file, a message without text or with an
    absurd `ts`, a too-deep item) becomes a skipped item and the rest lands; a missing or broken
    `users.json` / `channels.json` is recorded as skipped and the messages still land.

    A file past `limits` (member size, inflated total, compression ratio) raises
    `ExportTooLargeError` for the whole export rather than skipping that file: a skipped file
    would let the window look read, so the pipeline could remove what it stored from that file
    before, while a refused export changes nothing and names the file and the limit.
    """
    tree = _ExportTree(path, limits)
    try:
        reader = _SlackExportReader(tree, window, normalise_domains(internal_domains), workspace_url, limits)
        return reader.read()
    finally:
        tree.close()


@dataclass(frozen=True, slots=True)
class _Broken:
    """Where a streamed JSON array stopped being JSON: after `count` elements, with the parser's reason."""

    count: int
    error: str


class _SlackExportReader:
    def __init__(
        self,
        tree: _ExportTree,
        window: TimeWindow,
        internal_domains: tuple[str, ...],
        workspace_url: str | None,
        limits: ExportLimits,
    ) -> None:
        self.tree = tree
        self.window = window
        self.limits = limits
        self.internal_domains = internal_domains
        self.workspace_url = workspace_url.rstrip("/") if workspace_url else None
        self.label = tree.path.name
        self.result = ReadResult()
        self.result.skipped.extend(tree.skipped)
        self.users_list = USER_LISTS[0]
        self.tokens = 0  # JSON tokens parsed so far, estimated (see `_count_tokens`)
        self.items = 0  # day-file items parsed so far
        self.item_skips: Counter[str] = Counter()  # per day file, capped at MAX_ITEM_SKIPS_PER_FILE
        self.users_problem: str | None = None  # why the member list is missing or partial
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
        conversations = list(self.conversations)
        listed = {c.folder for c in conversations}
        for folder, days in sorted(days_by_folder.items()):
            if folder in listed:
                continue
            # Read it anyway, named after its folder: its messages are real even if the list is not.
            conversations.append(_unlisted_conversation(folder))
            if any(read_from <= d <= read_to for d in days):
                self.result.skip(
                    f"{self.label}:{folder}/",
                    "folder has day files but no entry in channels.json, groups.json, mpims.json or dms.json; "
                    "its messages were read as a channel named after the folder, with the folder name as "
                    "channel id (a full export names the real id); re-export including that conversation's list",
                )
        for conversation in conversations:
            for day in sorted(days_by_folder.get(conversation.folder, {})):
                if read_from <= day <= read_to:
                    core = first_day <= day <= last_day  # per-message problems are reported once
                    self._read_day_file(conversation, days_by_folder[conversation.folder][day], day, core)
        self.result.messages.sort(key=lambda m: (m.sent_at, m.external_id))
        if self.users_problem is not None:
            unknown = sum(1 for m in self.result.messages if m.metadata.get("user_id") not in self.users)
            self.result.skip(
                f"{self.label}:{self.users_list}",
                f"{self.users_problem}; {unknown} messages landed with their author named by the message's "
                "own profile or Slack user id, without e-mail, so staff and customers cannot be told apart. "
                "Re-export the workspace with its member list",
            )
        return self.result

    # -- the lists ---------------------------------------------------------------------------

    def _load_list(self, name: str) -> tuple[list[Any], str | None]:
        """The entries of one list file, and why it is missing or partial (None when whole).

        A broken list is not fatal: the entries read before the damage are kept, and the caller
        records the problem so that the messages still land, only less well named.
        """
        if name not in self.tree.names:
            return [], f"{name} is missing"
        data, problem = self._read_json(name)
        if data is None:
            return [], f"{name} {problem}"
        entries: list[Any] = []
        for item in self._items(data):
            if isinstance(item, _Broken):  # keep what came before the damage
                return entries, f"{name} is not valid JSON (after {item.count} entries: {item.error})"
            if item.skip_reason:
                self.result.skip(f"{self.label}:{name} entry {item.index}", item.skip_reason)
                continue
            entries.append(item.value)
        return entries, None

    def _load_users(self) -> dict[str, SlackUser]:
        name = self.users_list = next((n for n in USER_LISTS if n in self.tree.names), USER_LISTS[0])
        entries, self.users_problem = self._load_list(name)
        if self.users_problem and name not in self.tree.names:
            self.users_problem = "users.json (or org_users.json) is missing"
        users: dict[str, SlackUser] = {}
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                self.result.skip(f"{self.label}:{name} entry {index}", "user entry has no string 'id'")
                continue
            users[entry["id"]] = slack_user(entry)
        return users

    def _load_conversations(self) -> list[SlackConversation]:
        conversations: list[SlackConversation] = []
        for name, kind in CONVERSATION_LISTS:
            if name not in self.tree.names:
                continue  # a public-only export has no groups/mpims/dms; unlisted folders are read anyway
            entries, problem = self._load_list(name)
            if problem:
                self.result.skip(
                    f"{self.label}:{name}",
                    f"{problem}; folders it does not list are read as channels named after the folder",
                )
            for index, entry in enumerate(entries):
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                    self.result.skip(
                        f"{self.label}:{name} entry {index}",
                        "conversation entry has no string 'id'; its folder is read as a channel named after it",
                    )
                    continue
                channel_id = entry["id"]
                members = [str(m) for m in entry.get("members") or ([entry["user"]] if entry.get("user") else [])]
                customer = self.normaliser.members_company(members)
                if kind == "im":
                    dm_name = "dm:" + self.normaliser.dm_name(members)
                    conversations.append(SlackConversation(channel_id, dm_name, kind, channel_id, customer))
                else:
                    channel_name = text_field(entry.get("name")) or channel_id
                    conversations.append(SlackConversation(channel_id, channel_name, kind, channel_name, customer))
        return conversations

    def _day_files(self) -> dict[str, dict[date, str]]:
        by_folder: dict[str, dict[date, str]] = {}
        for name in self.tree.names:
            found = _day_file(name)
            if found is not None:
                by_folder.setdefault(found[0], {})[found[1]] = name
        return by_folder

    # -- reading JSON within bounds ------------------------------------------------------------

    def _read_json(self, name: str, array: str = "a JSON array") -> tuple[bytes | None, str | None]:
        """One member's bytes as clean UTF-8, ready for `_items`, or None and why it cannot be read.

        Invalid UTF-8 is replaced (U+FFFD) rather than dropping the file, and recorded as skipped
        so the damage is seen. `ExportTooLargeError` propagates: the whole export is refused.
        """
        try:
            raw = self.tree.read(name)
        except ExportTooLargeError:
            raise
        except (OSError, KeyError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error) as exc:
            # RuntimeError: an encrypted member; NotImplementedError: an unknown compression method.
            return None, f"could not be read from the archive ({exc}); re-export it"
        text, replaced = decode_text(raw)
        if replaced:
            self.result.skip(
                f"{self.label}:{name}",
                "invalid UTF-8 bytes were replaced by U+FFFD; its entries were read with those characters replaced",
            )
            raw = text.encode("utf-8")
        elif raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        self._count_tokens(name, raw)
        kind = _json_kind(raw)
        if kind != "list":
            return None, f"should be {array} but is {kind}"
        return raw, None

    def _count_tokens(self, name: str, data: bytes) -> None:
        """Refuse the export before parsing past `max_json_tokens`: parse time grows with tokens."""
        # Every token but a lone scalar opens a container or follows a comma or colon; quoted
        # text may add a few, which only errs towards refusing a file that is not Slack JSON.
        self.tokens += sum(data.count(mark) for mark in (b"[", b"{", b",", b":")) + 1
        if self.tokens > self.limits.max_json_tokens:
            raise ExportTooLargeError(
                f"Slack export {self.tree.path} refused: reading {name} takes the read past "
                f"{self.limits.max_json_tokens:,} JSON tokens (the limit for one read; a real Slack day "
                "file holds about one per 15 bytes). Check where this file came from, or read a shorter window."
            )

    def _items(self, data: bytes) -> Iterator[JsonItem | _Broken]:
        """The elements of a JSON array streamed within the depth limit; a `_Broken` ends it."""
        count = 0
        try:
            for item in iter_json_items(io.BytesIO(data), (), self.limits):
                count += 1
                yield item
        except ijson.JSONError as exc:
            yield _Broken(count, _json_error(exc))

    # -- one day file ------------------------------------------------------------------------

    def _read_day_file(self, conversation: SlackConversation, name: str, day: date, core: bool) -> None:
        location = f"{self.label}:{name}"
        data, problem = self._read_json(name, "a JSON array of messages")
        if data is None:
            self.result.skip(location, f"day file {problem}")
            return
        for item in self._items(data):
            if isinstance(item, _Broken):
                self._end_of_file(location)
                self.result.skip(
                    location,
                    f"day file is not valid JSON ({item.error}); its messages were not read"
                    if item.count == 0
                    else f"day file is not valid JSON (after {item.count} messages: {item.error}); "
                    "the messages before that were read, the rest were not",
                )
                return
            self.items += 1
            if self.items > self.limits.max_items_per_read:
                raise ExportTooLargeError(
                    f"Slack export {self.tree.path} refused: reading {name} takes the read past "
                    f"{self.limits.max_items_per_read:,} messages (the limit for one read, which keeps it "
                    "under 1 GiB and 30 s). Read a shorter window."
                )
            if item.skip_reason:
                if core:  # like every per-message problem, reported in its own day's window only
                    self._skip_item(location, item.index, f"message {item.skip_reason}")
                continue
            self._read_message(conversation, location, item.index, item.value, day, core)
        self._end_of_file(location)

    def _skip_item(self, location: str, index: int, reason: str) -> None:
        """Record one bad item of a day file; past the cap only count it (see MAX_ITEM_SKIPS_PER_FILE)."""
        self.item_skips[location] += 1
        if self.item_skips[location] <= MAX_ITEM_SKIPS_PER_FILE:
            self.result.skip(f"{location} item {index}", reason)

    def _end_of_file(self, location: str) -> None:
        more = self.item_skips.pop(location, 0) - MAX_ITEM_SKIPS_PER_FILE
        if more > 0:
            self.result.skip(
                location,
                f"day file has {more} more bad items than the {MAX_ITEM_SKIPS_PER_FILE} listed one by one "
                "(skipped and counted here, not listed)",
            )

    def _read_message(
        self, conversation: SlackConversation, location: str, index: int, raw: Any, day: date, core: bool
    ) -> None:
        if not isinstance(raw, dict):
            if core:
                self._skip_item(location, index, "entry is not a message object")
            return
        ts = slack_ts(raw.get("ts"))
        sent_at = slack_ts_datetime(ts) if ts else None
        if ts is None or sent_at is None:
            if core:
                shown = repr(raw.get("ts"))
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                self._skip_item(location, index, f"message has no valid 'ts' ({shown})")
            return
        drift = abs((sent_at.date() - day).days)
        if drift > MAX_DAY_FILE_DRIFT_DAYS:
            if core:
                self._skip_item(
                    location,
                    index,
                    f"message 'ts' is more than {MAX_DAY_FILE_DRIFT_DAYS} days from its day file's date "
                    f"(ts {ts} is {sent_at.date().isoformat()}, {drift} days away); implausible, so it is "
                    "placed in no window",
                )
            return
        if not self.window.contains(sent_at):
            return
        message = self.normaliser.normalise(conversation, raw, ts, sent_at, location=f"{location} ts {ts}")
        if message is not None:
            self.result.messages.append(message)


def _export_root(members: list[str]) -> str | None:
    """The folder inside the archive that holds the export (often "", sometimes one wrapper folder).

    Found by its lists (channels.json, users.json, ...) or, when they are all missing, by its
    channel folders of day files; None when there is neither.
    """
    markers = {name for name, _ in CONVERSATION_LISTS} | set(USER_LISTS)
    paths = [PurePosixPath(m) for m in members]
    candidates = [p.parent for p in paths if p.name in markers]
    if not candidates:
        candidates = [p.parent.parent for p in paths if len(p.parts) >= 2 and _day_file("/".join(p.parts[-2:]))]
    if not candidates:
        return None
    shallowest = min(candidates, key=lambda p: (len(p.parts), str(p)))
    return "" if str(shallowest) == "." else str(shallowest)


def _day_file(name: str) -> tuple[str, date] | None:
    """The folder and day of a `folder/YYYY-MM-DD.json` day file, or None for any other name.

    Names are only names: `..`, `.` or an absolute path is never a channel folder.
    """
    parts = PurePosixPath(name).parts
    if len(parts) != 2 or parts[0] in ("..", ".", "/") or "\\" in parts[0]:
        return None
    match = DAY_FILE_RE.match(parts[1])
    if not match:
        return None
    try:
        return parts[0], date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _unlisted_conversation(folder: str) -> SlackConversation:
    """A conversation for a folder no list names: DM folders are named by their id, others by name."""
    if _DM_FOLDER_RE.match(folder):
        return SlackConversation(folder, folder, "im", folder)
    return SlackConversation(folder, folder, "mpim" if folder.startswith("mpdm-") else "unlisted", folder)


def _size(count: int) -> str:
    return f"{count // MIB} MiB" if count >= MIB else f"{count} bytes"


def _json_kind(data: bytes) -> str:
    """What a JSON document is at its top: "list", "a dict", "a str", ..., "empty" or "not JSON"."""
    try:
        event, value = next(iter(ijson.basic_parse(io.BytesIO(data))))
    except StopIteration:
        return "empty"
    except ijson.JSONError as exc:
        return "empty" if not data.strip() else f"not JSON ({_json_error(exc)})"
    kinds = {"start_array": "list", "start_map": "a dict", "null": "null"}
    return kinds.get(event) or f"a {type(value).__name__}"


def _json_error(exc: Exception) -> str:
    """The first line of a parser error: yajl's later lines quote the input, which may be customer text."""
    message = exc.args[0] if exc.args else ""
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    first = str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__
    return first[:120]
