"""Write the demo corpus as vendor export files, plus the manifest the seeding step reads.

Per organisation, under `out_dir/<slug>/`:

- `slack-export.zip`: a Slack workspace export (vendor-apis.md §1.8): `channels.json`,
  `users.json`, `integration_logs.json`, and one folder per channel of `YYYY-MM-DD.json` day
  files (days bucketed by UTC), each a JSON array of messages in `ts` order;
- `gmail.mbox`: a Google Takeout mbox (§2.6): envelope `From ` lines, `X-GM-THRID`,
  `X-Gmail-Labels`, the RFC 822 message, mboxrd `>From ` escaping;
- `gong-calls.json`: `{"calls": [...], "callTranscripts": [...]}` (§3.1, §3.2, §3.6);
- `fathom-meetings.json`: `{"items": [...], "limit": null, "next_cursor": null}` (§4.1, §4.5);
- `expected.jsonl`: the ground truth, one JSON object per item;
- `asks.json`: the canonical asks with their titles and trends.

`out_dir/manifest.json` lists the organisations and their connections. Every file is
byte-identical for the same seed, start and days: ZIP entries carry a fixed timestamp and
fixed attributes, and JSON is written in a stable order.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from headway_assets.core.warehouse.schema import ConnectionKind
from headway_assets.demo.build import build_demo_corpus
from headway_assets.demo.corpus import (
    DEFAULT_DAYS,
    DEFAULT_SEED,
    DEFAULT_START,
    DemoCorpus,
    DemoOrgCorpus,
    GmailMessage,
    SlackWorkspace,
)
from headway_assets.demo.crm import CUSTOMERS_FILE, customers_csv, demo_accounts
from headway_assets.sources.registry import source_names

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
EXPORT_FILES: dict[str, str] = {
    "slack": "slack-export.zip",
    "gmail": "gmail.mbox",
    "gong": "gong-calls.json",
    "fathom": "fathom-meetings.json",
}
EXPECTED_FILE = "expected.jsonl"
ASKS_FILE = "asks.json"
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


class DemoManifestError(ValueError):
    """`manifest.json` is missing, malformed, or points at files that are not there."""


@dataclass(frozen=True, slots=True)
class ManifestConnection:
    """One export-file connection of a demo organisation."""

    source: str
    name: str
    kind: ConnectionKind
    path: str
    sha256: str
    items: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "source": self.source,
            "name": self.name,
            "kind": self.kind.value,
            "path": self.path,
            "sha256": self.sha256,
            "items": self.items,
        }


@dataclass(frozen=True, slots=True)
class ManifestOrg:
    """One demo organisation as the manifest lists it."""

    slug: str
    name: str
    internal_domains: tuple[str, ...]
    workspace_url: str
    support_mailbox: str
    connections: tuple[ManifestConnection, ...]
    expected_path: str
    asks_path: str
    customers_path: str  # the CRM export to import (`headway customers import`)

    def connection(self, source: str) -> ManifestConnection:
        """The connection of one source."""
        for connection in self.connections:
            if connection.source == source:
                return connection
        raise KeyError(f"demo org {self.slug} has no {source} connection")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "slug": self.slug,
            "name": self.name,
            "internal_domains": list(self.internal_domains),
            "workspace_url": self.workspace_url,
            "support_mailbox": self.support_mailbox,
            "connections": [c.to_json() for c in self.connections],
            "expected_path": self.expected_path,
            "asks_path": self.asks_path,
            "customers_path": self.customers_path,
        }


@dataclass(frozen=True, slots=True)
class DemoManifest:
    """The parsed `manifest.json`: generation parameters, organisations and their export files.

    Paths are relative to `base_dir` (the folder holding `manifest.json`); `path_of()` resolves
    them. `base_dir` is left out of equality, so a manifest equals its own reloaded copy.
    """

    version: int
    seed: int
    start: date
    days: int
    orgs: tuple[ManifestOrg, ...]
    base_dir: Path = field(compare=False)

    @property
    def window_start(self) -> datetime:
        """UTC midnight of `start`."""
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def window_end(self) -> datetime:
        """End of the window (exclusive)."""
        return self.window_start + timedelta(days=self.days)

    def org(self, slug: str) -> ManifestOrg:
        """One organisation by slug."""
        for org in self.orgs:
            if org.slug == slug:
                return org
        raise KeyError(f"demo manifest has no organisation {slug!r}; it has {[o.slug for o in self.orgs]}")

    def path_of(self, relative: str) -> Path:
        """A manifest path resolved against `base_dir`."""
        return self.base_dir / relative

    def verify(self) -> None:
        """Check that every listed file exists and matches its SHA-256; raise `DemoManifestError` if not."""
        problems = []
        for org in self.orgs:
            for connection in org.connections:
                path = self.path_of(connection.path)
                if not path.is_file():
                    problems.append(f"{path} is missing")
                elif _sha256(path.read_bytes()) != connection.sha256:
                    problems.append(f"{path} does not match the SHA-256 in the manifest")
            for extra in (org.expected_path, org.asks_path, org.customers_path):
                if not self.path_of(extra).is_file():
                    problems.append(f"{self.path_of(extra)} is missing")
        if problems:
            raise DemoManifestError(
                f"demo corpus in {self.base_dir} is incomplete: "
                + "; ".join(problems)
                + ". Regenerate it with generate_demo() (python -m headway_assets.demo)."
            )

    def to_json(self) -> dict[str, Any]:
        """The `manifest.json` content."""
        return {
            "version": self.version,
            "generator": "headway_assets.demo",
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "window": {"start": _iso(self.window_start), "end": _iso(self.window_end)},
            "orgs": [o.to_json() for o in self.orgs],
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_bytes(value: Any, indent: int = 2) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=indent) + "\n").encode("utf-8")


# ---- Slack -----------------------------------------------------------------------------------


def slack_export_bytes(workspace: SlackWorkspace, export_time: datetime) -> bytes:
    """The workspace as a Slack export ZIP; every entry is stamped with `export_time`."""
    stamp = (export_time.year, export_time.month, export_time.day, export_time.hour, export_time.minute, 0)
    users = {u["id"]: u for u in workspace.users}
    entries: list[tuple[str, bytes]] = []
    channels = [
        {
            "id": c["id"],
            "name": c["name"],
            "created": c["created"],
            "creator": c["creator"],
            "is_archived": c["is_archived"],
            "is_general": c["is_general"],
            "members": workspace.members[c["id"]],
            "topic": c["topic"],
            "purpose": c["purpose"],
        }
        for c in workspace.channels
    ]
    entries.append(("channels.json", _json_bytes(channels, indent=4)))
    entries.append(("users.json", _json_bytes(workspace.users, indent=4)))
    admin = next((u for u in workspace.users if u.get("is_admin")), workspace.users[0])
    logs = [
        {
            "user_id": admin["id"],
            "user_name": admin["name"],
            "date": str(u["updated"]),
            "change_type": "added",
            "service_id": u["profile"]["bot_id"],
            "service_type": u["real_name"],
        }
        for u in workspace.users
        if u.get("is_bot")
    ]
    entries.append(("integration_logs.json", _json_bytes(logs, indent=4)))
    for channel in sorted(workspace.channels, key=lambda c: c["name"]):
        days: dict[str, list[dict[str, Any]]] = {}
        for message in workspace.all_messages(channel["id"]):
            item = copy.deepcopy(message)
            user = users.get(item.get("user", ""))
            # Exports carry the author's profile on people's messages (not on bots or housekeeping).
            if user is not None and not user.get("is_bot") and item.get("subtype") in (None, "file_share"):
                item["user_profile"] = {
                    "image_72": user["profile"]["image_72"],
                    "first_name": user["profile"].get("first_name", ""),
                    "real_name": user["real_name"],
                    "display_name": user["profile"]["display_name"],
                    "team": user["team_id"],
                    "name": user["name"],
                    "is_restricted": False,
                    "is_ultra_restricted": False,
                }
            if item.get("reply_count"):
                item["replies"] = [
                    {"user": r["user"], "ts": r["ts"]} for r in workspace.replies[channel["id"]][item["ts"]]
                ]
            day = datetime.fromtimestamp(int(item["ts"].split(".")[0]), UTC).strftime("%Y-%m-%d")
            days.setdefault(day, []).append(item)
        for day in sorted(days):
            entries.append((f"{channel['name']}/{day}.json", _json_bytes(days[day], indent=4)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


# ---- Gmail -----------------------------------------------------------------------------------


def _label_field(label: str) -> str:
    if "," in label or '"' in label:
        return '"' + label.replace('"', '""') + '"'
    return label


def _envelope_date(moment: datetime) -> str:
    m = moment.astimezone(UTC)
    return f"{_DAY_NAMES[m.weekday()]} {_MONTH_NAMES[m.month - 1]} {m.day:02d} {m:%H:%M:%S} +0000 {m.year}"


def mbox_bytes(messages: list[GmailMessage]) -> bytes:
    """Messages as a Takeout-style mboxrd file (LF line endings)."""
    out = bytearray()
    for message in messages:
        out += f"From {message.gmail_id}@xxx {_envelope_date(message.internal_date)}\n".encode("ascii")
        out += f"X-GM-THRID: {message.thread_id}\n".encode("ascii")
        labels = ",".join(_label_field(label) for label in message.labels)
        out += f"X-Gmail-Labels: {labels}\n".encode()
        body = message.raw.replace(b"\r\n", b"\n")
        # mboxrd: any line that starts with zero or more '>' and then "From " gains one more '>'.
        out += _FROM_LINE.sub(rb">\1", body)
        if not body.endswith(b"\n"):
            out += b"\n"
        out += b"\n"
    return bytes(out)


# ---- whole corpus ----------------------------------------------------------------------------


def _org_files(org: DemoOrgCorpus, export_time: datetime) -> dict[str, tuple[bytes, int]]:
    return {
        "slack": (slack_export_bytes(org.slack, export_time), org.slack.message_count()),
        "gmail": (mbox_bytes(org.gmail.messages), len(org.gmail.messages)),
        "gong": (
            _json_bytes({"calls": org.gong.calls, "callTranscripts": org.gong.transcripts}),
            len(org.gong.calls),
        ),
        "fathom": (
            _json_bytes({"items": org.fathom.meetings, "limit": None, "next_cursor": None}),
            len(org.fathom.meetings),
        ),
    }


_CONNECTION_NAMES = {
    "slack": "Slack workspace export",
    "gmail": "Support mailbox (Takeout mbox)",
    "gong": "Gong calls (JSON)",
    "fathom": "Fathom meetings (JSON)",
}


def write_demo_exports(corpus: DemoCorpus, out_dir: Path) -> DemoManifest:
    """Write every organisation's export files and `out_dir/manifest.json`; return the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    export_time = corpus.window_end
    orgs = []
    for org in corpus.orgs:
        folder = out_dir / org.org.slug
        folder.mkdir(parents=True, exist_ok=True)
        connections = []
        for source, (data, items) in _org_files(org, export_time).items():
            relative = f"{org.org.slug}/{EXPORT_FILES[source]}"
            (out_dir / relative).write_bytes(data)
            connections.append(
                ManifestConnection(
                    source=source,
                    name=f"{org.org.name} {_CONNECTION_NAMES[source]}",
                    kind=ConnectionKind.EXPORT,
                    path=relative,
                    sha256=_sha256(data),
                    items=items,
                )
            )
        expected = "".join(json.dumps(e.to_json(), ensure_ascii=False, sort_keys=True) + "\n" for e in org.expected)
        (folder / EXPECTED_FILE).write_bytes(expected.encode("utf-8"))
        (folder / ASKS_FILE).write_bytes(_json_bytes([a.to_json() for a in org.asks]))
        (folder / CUSTOMERS_FILE).write_bytes(customers_csv(demo_accounts(org.org)))
        orgs.append(
            ManifestOrg(
                slug=org.org.slug,
                name=org.org.name,
                internal_domains=org.org.internal_domains,
                workspace_url=org.org.workspace_url,
                support_mailbox=org.org.support_mailbox,
                connections=tuple(connections),
                expected_path=f"{org.org.slug}/{EXPECTED_FILE}",
                asks_path=f"{org.org.slug}/{ASKS_FILE}",
                customers_path=f"{org.org.slug}/{CUSTOMERS_FILE}",
            )
        )
    manifest = DemoManifest(
        version=MANIFEST_VERSION,
        seed=corpus.seed,
        start=corpus.start,
        days=corpus.days,
        orgs=tuple(orgs),
        base_dir=out_dir,
    )
    (out_dir / MANIFEST_NAME).write_bytes(_json_bytes(manifest.to_json()))
    return manifest


def generate_demo(
    out_dir: Path, seed: int = DEFAULT_SEED, start: date = DEFAULT_START, days: int = DEFAULT_DAYS
) -> DemoManifest:
    """Build the demo corpus and write its export files and manifest to `out_dir`."""
    return write_demo_exports(build_demo_corpus(seed=seed, start=start, days=days), out_dir)


# ---- reading the manifest back -------------------------------------------------------------


def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise DemoManifestError(f"{where}: missing key {key!r}")
    value = data[key]
    if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
        raise DemoManifestError(f"{where}: {key!r} should be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _relative(value: str, where: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or not value:
        raise DemoManifestError(f"{where}: path {value!r} must be relative to the manifest's folder")
    return value


def load_manifest(path: Path) -> DemoManifest:
    """Read and validate `manifest.json`.

    Raises `DemoManifestError` naming the file and the offending key when it is missing or
    malformed; regenerate the corpus with `generate_demo()` to fix it. File contents are not
    checked here; call `DemoManifest.verify()` for that.
    """
    path = Path(path)
    fix = "regenerate the demo corpus with generate_demo() (python -m headway_assets.demo)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DemoManifestError(f"demo manifest {path} does not exist; {fix}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DemoManifestError(f"demo manifest {path} is not readable JSON ({exc}); {fix}") from exc
    where = str(path)
    if not isinstance(data, dict):
        raise DemoManifestError(f"{where}: expected a JSON object at the top level; {fix}")
    try:
        version = _need(data, "version", int, where)
        if version != MANIFEST_VERSION:
            raise DemoManifestError(
                f"{where}: manifest version {version} is not supported (expected {MANIFEST_VERSION})"
            )
        try:
            start = date.fromisoformat(_need(data, "start", str, where))
        except ValueError as exc:
            raise DemoManifestError(f"{where}: 'start' is not an ISO date ({exc})") from exc
        orgs = []
        for index, raw_org in enumerate(_need(data, "orgs", list, where)):
            org_where = f"{where} orgs[{index}]"
            if not isinstance(raw_org, dict):
                raise DemoManifestError(f"{org_where}: expected an object")
            connections = []
            for c_index, raw in enumerate(_need(raw_org, "connections", list, org_where)):
                c_where = f"{org_where}.connections[{c_index}]"
                if not isinstance(raw, dict):
                    raise DemoManifestError(f"{c_where}: expected an object")
                try:
                    source = _need(raw, "source", str, c_where)
                    if source not in source_names():
                        raise ValueError(f"{source!r} is not a known source")
                    kind = ConnectionKind(_need(raw, "kind", str, c_where))
                except ValueError as exc:
                    raise DemoManifestError(f"{c_where}: {exc}") from exc
                connections.append(
                    ManifestConnection(
                        source=source,
                        name=_need(raw, "name", str, c_where),
                        kind=kind,
                        path=_relative(_need(raw, "path", str, c_where), c_where),
                        sha256=_need(raw, "sha256", str, c_where),
                        items=_need(raw, "items", int, c_where),
                    )
                )
            domains = _need(raw_org, "internal_domains", list, org_where)
            if not all(isinstance(d, str) for d in domains):
                raise DemoManifestError(f"{org_where}: 'internal_domains' must be a list of strings")
            orgs.append(
                ManifestOrg(
                    slug=_need(raw_org, "slug", str, org_where),
                    name=_need(raw_org, "name", str, org_where),
                    internal_domains=tuple(domains),
                    workspace_url=_need(raw_org, "workspace_url", str, org_where),
                    support_mailbox=_need(raw_org, "support_mailbox", str, org_where),
                    connections=tuple(connections),
                    expected_path=_relative(_need(raw_org, "expected_path", str, org_where), org_where),
                    asks_path=_relative(_need(raw_org, "asks_path", str, org_where), org_where),
                    customers_path=_relative(_need(raw_org, "customers_path", str, org_where), org_where),
                )
            )
        return DemoManifest(
            version=version,
            seed=_need(data, "seed", int, where),
            start=start,
            days=_need(data, "days", int, where),
            orgs=tuple(orgs),
            base_dir=path.parent,
        )
    except DemoManifestError as exc:
        raise DemoManifestError(f"{exc}; {fix}") from None
