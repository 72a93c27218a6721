"""The demo corpus as an in-memory model, in the vendors' own API shapes.

`build_demo_corpus()` (in `build.py`) generates, for two fictional organisations, a month of Slack messages,
support-mailbox e-mail, Gong calls and Fathom meetings, plus the ground truth for every item
(its intended tier-1 category and the canonical ask it expresses). The objects are kept in the
shapes of vendor-apis.md (Slack `conversations.history` messages, RFC 822 bytes with Gmail
thread ids and labels, Gong `calls/extensive` + `callTranscripts` items, Fathom Meeting
objects), so the same model feeds the export writers (`writers.py`) and the fake vendor API
servers, which only need to page through these lists.

Generation is deterministic: everything random comes from `random.Random` instances seeded
from `seed`, and no wall clock is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

DEFAULT_SEED = 7
DEFAULT_START = date(2026, 10, 1)
DEFAULT_DAYS = 30
MAX_DAYS = 366
# Items longer than this are "oversized": the pipeline must skip them explicitly (DESIGN.md).

# Gmail system labels as Takeout spells them -> the API's label ids.
GMAIL_SYSTEM_LABEL_IDS: dict[str, str] = {
    "Inbox": "INBOX",
    "Sent": "SENT",
    "Unread": "UNREAD",
    "Important": "IMPORTANT",
    "Starred": "STARRED",
    "Spam": "SPAM",
    "Trash": "TRASH",
    "Category Updates": "CATEGORY_UPDATES",
    "Category Promotions": "CATEGORY_PROMOTIONS",
    "Category Personal": "CATEGORY_PERSONAL",
    "Category Social": "CATEGORY_SOCIAL",
    "Category Forums": "CATEGORY_FORUMS",
}


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """Someone who writes or speaks in the corpus: an employee (`company is None`) or a customer."""

    name: str
    email: str
    title: str
    company: str | None
    language: str
    region: str

    @property
    def first_name(self) -> str:
        """The first name, skipping a "Dr." prefix."""
        parts = self.name.split()
        return parts[1] if parts[0] == "Dr." and len(parts) > 1 else parts[0]

    @property
    def is_internal(self) -> bool:
        """True for the organisation's own staff."""
        return self.company is None

    @property
    def domain(self) -> str:
        """The e-mail domain."""
        return self.email.rsplit("@", 1)[1]


@dataclass(frozen=True, slots=True)
class DemoCompany:
    """A customer company and its people."""

    name: str
    slug: str
    domain: str
    language: str
    people: tuple[DemoPerson, ...]


@dataclass(frozen=True, slots=True)
class DemoOrg:
    """One tenant of the demo: the organisation whose customers are talking."""

    slug: str
    name: str
    internal_domains: tuple[str, ...]
    companies: tuple[DemoCompany, ...]
    staff: tuple[DemoPerson, ...]
    workspace_url: str
    support_mailbox: str

    def company(self, name: str) -> DemoCompany:
        """The customer company with this name."""
        for company in self.companies:
            if company.name == name:
                return company
        raise KeyError(f"demo org {self.slug} has no customer company named {name!r}")


@dataclass(frozen=True, slots=True)
class DemoAsk:
    """A canonical ask (feature or problem) and how often it comes up over the window."""

    key: str
    title: str
    kind: str
    trend: str
    starts_at: float

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "title": self.title,
            "kind": self.kind,
            "trend": self.trend,
            "starts_at": self.starts_at,
        }


@dataclass(frozen=True, slots=True)
class ExpectedItem:
    """Ground truth for one generated item, keyed the way the source readers key messages.

    `category` is the intended tier-1 category; `ask` is the canonical ask the item expresses
    (the first one for calls and meetings) and `asks` all of them. `kind` says what the item
    is (`message`, `reply`, `bot_message`, `channel_join`, `newsletter`, `call`, ...), so an
    evaluation can leave out what a reader treats as noise.
    """

    source: str
    external_id: str
    sent_at: datetime
    category: str
    ask: str | None
    asks: tuple[str, ...]
    kind: str
    language: str
    oversized: bool = False
    customer: str | None = None
    author_is_internal: bool | None = None
    customer_domain: str | None = None
    # (competitor name, context) pairs the item names: what tier-2's competitor mentions should be.
    competitors: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The `expected.jsonl` line for this item."""
        return {
            "source": self.source,
            "external_id": self.external_id,
            "sent_at": self.sent_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "category": self.category,
            "ask": self.ask,
            "asks": list(self.asks),
            "kind": self.kind,
            "language": self.language,
            "oversized": self.oversized,
            "customer": self.customer,
            "customer_domain": self.customer_domain,
            "author_is_internal": self.author_is_internal,
            "competitors": [list(pair) for pair in self.competitors],
        }


@dataclass(slots=True)
class SlackWorkspace:
    """One Slack workspace in API shape.

    `channels` are `conversations.list` items, `users` are `users.info` users, `history` holds
    each channel's top-level messages (what `conversations.history` returns) oldest first, and
    `replies` each thread's replies oldest first, keyed by channel id and then parent `ts`.
    """

    team_id: str
    team_name: str
    url: str
    channels: list[dict[str, Any]]
    users: list[dict[str, Any]]
    members: dict[str, list[str]]
    history: dict[str, list[dict[str, Any]]]
    replies: dict[str, dict[str, list[dict[str, Any]]]]

    def channel(self, key: str) -> dict[str, Any]:
        """A channel by id or name."""
        for channel in self.channels:
            if key in (channel["id"], channel["name"]):
                return channel
        raise KeyError(f"Slack workspace {self.team_name} has no channel {key!r}")

    def top_level(self, channel_id: str) -> list[dict[str, Any]]:
        """The channel's top-level messages, oldest first (`conversations.history` reverses this)."""
        return self.history.get(channel_id, [])

    def thread(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
        """Parent then replies, as `conversations.replies` returns them."""
        parent = next((m for m in self.top_level(channel_id) if m["ts"] == thread_ts), None)
        if parent is None:
            raise KeyError(f"channel {channel_id} has no message with ts {thread_ts}")
        return [parent, *self.replies.get(channel_id, {}).get(thread_ts, [])]

    def all_messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Top-level messages and replies together, in `ts` order (the export's day-file order)."""
        items = list(self.top_level(channel_id))
        for replies in self.replies.get(channel_id, {}).values():
            items.extend(replies)
        return sorted(items, key=lambda m: _ts_key(m["ts"]))

    def message_count(self) -> int:
        """Every message object in the workspace (top-level and replies)."""
        return sum(len(self.all_messages(c["id"])) for c in self.channels)


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


@dataclass(frozen=True, slots=True)
class GmailMessage:
    """One message of the support mailbox: its RFC 822 bytes (CRLF) plus Gmail's own metadata.

    `gmail_id` and `thread_id` are the decimal forms Takeout writes (`X-GM-THRID`); the API uses
    their lowercase hex (`api_id`, `api_thread_id`). `labels` are Takeout label names.
    """

    gmail_id: int
    thread_id: int
    labels: tuple[str, ...]
    raw: bytes
    message_id: str
    internal_date: datetime

    @property
    def api_id(self) -> str:
        """The message id as the Gmail API shows it (lowercase hex)."""
        return format(self.gmail_id, "x")

    @property
    def api_thread_id(self) -> str:
        """The thread id as the Gmail API shows it (lowercase hex)."""
        return format(self.thread_id, "x")

    @property
    def internal_date_ms(self) -> int:
        """`internalDate`: epoch milliseconds."""
        return int(self.internal_date.timestamp() * 1000)

    @property
    def label_ids(self) -> list[str]:
        """API label ids: system labels by their fixed ids, user labels as `Label_<name>`."""
        ids = []
        for label in self.labels:
            if label in GMAIL_SYSTEM_LABEL_IDS:
                ids.append(GMAIL_SYSTEM_LABEL_IDS[label])
            elif label not in ("Opened", "Archived"):
                ids.append("Label_" + "".join(ch if ch.isalnum() else "_" for ch in label))
        return ids


@dataclass(slots=True)
class GmailMailbox:
    """The support mailbox: its address and every message, oldest first."""

    address: str
    messages: list[GmailMessage]

    def threads(self) -> dict[int, list[GmailMessage]]:
        """Messages grouped by thread id, each thread oldest first."""
        threads: dict[int, list[GmailMessage]] = {}
        for message in self.messages:
            threads.setdefault(message.thread_id, []).append(message)
        return threads


@dataclass(slots=True)
class GongData:
    """Gong: `/v2/users` items, `/v2/calls/extensive` `calls` items and `callTranscripts` items.

    `calls` and `transcripts` are in the same order (by start time).
    """

    workspace_id: str
    users: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    transcripts: list[dict[str, Any]]

    def transcript(self, call_id: str) -> dict[str, Any]:
        """The `callTranscripts` item of one call."""
        for item in self.transcripts:
            if item["callId"] == call_id:
                return item
        raise KeyError(f"no Gong transcript for call {call_id}")


@dataclass(slots=True)
class FathomData:
    """Fathom Meeting objects (as `/meetings?include_transcript=true` returns them), oldest first."""

    meetings: list[dict[str, Any]]


@dataclass(slots=True)
class DemoOrgCorpus:
    """Everything generated for one organisation."""

    org: DemoOrg
    asks: tuple[DemoAsk, ...]
    slack: SlackWorkspace
    gmail: GmailMailbox
    gong: GongData
    fathom: FathomData
    expected: list[ExpectedItem] = field(default_factory=list)

    def expected_for(self, source: str) -> list[ExpectedItem]:
        """The ground truth of one source."""
        return [item for item in self.expected if item.source == source]


@dataclass(slots=True)
class DemoCorpus:
    """The whole demo corpus: the generation parameters and one `DemoOrgCorpus` per organisation."""

    seed: int
    start: date
    days: int
    orgs: tuple[DemoOrgCorpus, ...]

    @property
    def window_start(self) -> datetime:
        """First instant of the window (UTC midnight of `start`)."""
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def window_end(self) -> datetime:
        """End of the window (exclusive)."""
        return self.window_start + timedelta(days=self.days)

    def org(self, slug: str) -> DemoOrgCorpus:
        """One organisation's corpus by slug."""
        for org in self.orgs:
            if org.org.slug == slug:
                return org
        raise KeyError(f"the demo corpus has no organisation {slug!r}; it has {[o.org.slug for o in self.orgs]}")

    def __iter__(self) -> Iterator[DemoOrgCorpus]:
        return iter(self.orgs)
