"""Benchmark of the read API on a large PostgreSQL warehouse (a script that prints figures, not a test).

    .venv/bin/python scripts/bench_api.py                 # fill headway_bench (once), then measure
    .venv/bin/python scripts/bench_api.py --refill        # drop and refill the database first
    .venv/bin/python scripts/bench_api.py --duration 20 --workers 2

It fills the PostgreSQL database `headway_bench` with 1,000,000 messages and their tier-1 labels
for 10 organisations (plus taxonomy, feature mentions, feature requests and daily stats), starts
the API under uvicorn and, as the floor, a bare ASGI app running the same SQL with the same
driver (`scripts/bench_floor.py`), and drives each from a separate process with wrk at 8 and at
32 connections. It prints requests per second, p50/p99 latency and the server's CPU time per
request per endpoint for both, and the ratios the targets are stated in. Both servers get the same
number of database connections (`--overflow` lets the API open more). Needs wrk
(`apt-get install -y wrk`).

The write scenario (`--endpoints triage`) drives PATCH /v1/feature-requests/{id} with wrk's Lua
hook: each request sets another status on one of the organisation's requests in turn (`If-Match:
*`), so every one is a real write (a locked row, a new version, an audit row, one transaction).
It has no floor; its p99 is what the write-latency target is stated in.

    .venv/bin/python scripts/bench_api.py --endpoints triage --only api --connections 8
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from pydantic import SecretStr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from headway_api.core.config import ApiSettings  # noqa: E402
from headway_api.core.security import CATALOGUE_WRITE_SCOPE, TokenCodec  # noqa: E402
from headway_api.pagination import configure_cursor_key, derive_cursor_key, encode_cursor  # noqa: E402
from headway_api.queries.messages import MESSAGE_SORTS  # noqa: E402
from headway_assets.core.message import TimeWindow  # noqa: E402
from headway_assets.core.warehouse.database import create_warehouse_engine, migrate  # noqa: E402
from headway_assets.core.warehouse.schema import Base  # noqa: E402
from headway_assets.core.warehouse.stats import refresh_daily_stats  # noqa: E402

SERVER_URL = os.environ.get("HEADWAY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Another name (HEADWAY_BENCH_DATABASE) keeps parallel runs from refilling each other's database.
DATABASE = os.environ.get("HEADWAY_BENCH_DATABASE", "headway_bench")
JWT_SECRET = "bench-secret-" + "x" * 40  # a throwaway secret for a throwaway database
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
SOURCES = ("slack", "gmail", "gong", "fathom")
CATEGORIES = ("feature_request", "bug_report", "pain_point", "praise", "question", "other")
CATEGORY_WEIGHTS = (18, 12, 10, 8, 12, 40)
VOCABULARY = (
    "export report dashboard pdf slack sso login invoice billing sync calendar webhook api filter search "
    "mobile app slow crash error permission admin team workspace notification email digest csv chart "
    "integration salesforce hubspot onboarding pricing plan upgrade bulk edit template dark mode offline"
)
WORDS = tuple(VOCABULARY.split())
ORG_SHARE_0 = 0.28  # the measured organisation holds 280k of the 1M messages
PAGE = 20
DEEP_PAGES = 10_000
REQUESTS_PER_ORG = 300
MENTION_RATE = 0.03
POOL_SIZE = 10  # database connections of each server
CUSTOMERS_PER_ORG = 50  # the accounts behind the messages' `customer` names (issue 16's revenue asks)
SEGMENTS = ("enterprise", "mid-market", "smb")
PLANS = ("Enterprise", "Business", "Growth")
TRIAGE = "triage PATCH (write)"


@dataclass(frozen=True)
class BenchFixture:
    """What the load needs to know about the filled database."""

    org_id: int
    token: str
    feature_request_id: int
    deep_cursor: str
    deep_page: int  # the page number the cursor opens
    stats_since: date
    stats_until: date
    triage_ids: tuple[int, ...] = ()  # the requests the write scenario edits in turn
    write_token: str = ""  # the same caller with the catalogue:write scope (it is a service client)


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(SERVER_URL, autocommit=True)


def database_url() -> str:
    """The benchmark database's URL."""
    return SERVER_URL.rsplit("/", 1)[0] + f"/{DATABASE}"


def _secondary_indexes(conn: psycopg.Connection[Any], tables: tuple[str, ...]) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "WHERE i.schemaname = 'public' AND i.tablename = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        (list(tables),),
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


class _DefaultedCopy:
    """A COPY that appends the ORM defaults of the NOT NULL columns the caller did not list.

    The pipeline's schema grows; columns it adds with a Python-side default get that default here.
    """

    def __init__(self, copy: Any, extras: tuple[Any, ...]) -> None:
        self.copy = copy
        self.extras = extras

    def write_row(self, row: tuple[Any, ...]) -> None:
        self.copy.write_row((*row, *self.extras))


@contextmanager
def copy_rows(cursor: psycopg.Cursor[Any], statement: str) -> Iterator[_DefaultedCopy]:
    """`cursor.copy(statement)`, completed with the defaults of the table's unlisted NOT NULL columns."""
    match = re.match(r"COPY (\w+) \(([^)]*)\) FROM STDIN", statement)
    if match is None:
        raise ValueError(f"unexpected COPY statement: {statement}")
    table = Base.metadata.tables[match.group(1)]
    listed = [name.strip() for name in match.group(2).split(",")]
    names: list[str] = []
    extras: list[Any] = []
    for column in table.columns:
        if column.name in listed or column.nullable or column.primary_key:
            continue
        default = column.default
        usable = default is not None and (default.is_scalar or callable(getattr(default, "arg", None)))
        if not usable:
            raise ValueError(f"{table.name}.{column.name} is NOT NULL without a default: the benchmark must fill it")
        value = default.arg if default.is_scalar else default.arg(None)  # type: ignore[union-attr]
        names.append(column.name)
        extras.append(json.dumps(value) if isinstance(value, dict | list) else value)
    full = f"COPY {table.name} ({', '.join(listed + names)}) FROM STDIN"
    with cursor.copy(full) as copy:
        yield _DefaultedCopy(copy, tuple(extras))


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 60))).capitalize() + "."


def _fill_customers(cursor: psycopg.Cursor[Any], orgs: int, now: datetime) -> dict[int, tuple[int, str]]:
    """Each organisation's accounts (the messages' `customer` names) with ARR, plan and segment; returns
    customer id -> (ARR in cents, segment). From its own random stream, so the messages do not change."""
    rng = random.Random(16)
    accounts: dict[int, tuple[int, str]] = {}
    with copy_rows(
        cursor,
        "COPY customers (id, org_id, name, arr, mrr, plan, segment, deal_stage, created_at, updated_at) FROM STDIN",
    ) as copy:
        for org in range(1, orgs + 1):
            for account in range(CUSTOMERS_PER_ORG):
                customer_id = (org - 1) * CUSTOMERS_PER_ORG + account + 1
                tier = rng.choices(range(3), (1, 3, 6))[0]
                arr = rng.randint(*((150_000, 900_000), (40_000, 150_000), (5_000, 40_000))[tier])
                accounts[customer_id] = (arr * 100, SEGMENTS[tier])
                stage = rng.choice(("closed_won", "closed_won", "negotiation", "trial"))
                name = f"Customer {org}-{account}"
                copy.write_row(
                    (customer_id, org, name, arr, round(arr / 12, 2), PLANS[tier], SEGMENTS[tier], stage, now, now)
                )
    cursor.execute(f"SELECT setval('customers_id_seq', {max(len(accounts), 1)})")
    return accounts


def fill(total_messages: int, orgs: int, seed: int = 7) -> None:
    """Drop, recreate, migrate and fill the benchmark database."""
    started = time.perf_counter()
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    url = database_url()
    migrate(url)
    rng = random.Random(seed)
    texts = [_text(rng) for _ in range(4000)]
    now = datetime(2026, 1, 2, tzinfo=UTC)
    with psycopg.connect(url) as conn:
        indexes = _secondary_indexes(conn, ("messages", "message_labels", "feature_mentions", "message_authors"))
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for org in range(1, orgs + 1):
            conn.execute(
                "INSERT INTO organizations (id, slug, name, is_active, settings, created_at) "
                "VALUES (%s, %s, %s, true, '{}', %s)",
                (org, f"bench-{org}", f"Bench Org {org}", now),
            )
            conn.execute(
                "INSERT INTO users (org_id, email, full_name, hashed_password, role, is_active, created_at) "
                "VALUES (%s, %s, 'Bench client', NULL, 'service', true, %s)",
                (org, f"bench@{org}.example", now),
            )
            theme_id = 0
            for theme in range(8):
                conn.execute(
                    "INSERT INTO themes (org_id, parent_id, path, name, keywords) VALUES (%s, NULL, %s, %s, '{}')",
                    (org, f"theme-{theme}", f"Theme {theme}"),
                )
                theme_id = conn.execute("SELECT max(id) FROM themes").fetchone()[0]  # type: ignore[index]
                for sub in range(4):
                    conn.execute(
                        "INSERT INTO themes (org_id, parent_id, path, name, keywords) VALUES (%s, %s, %s, %s, '{}')",
                        (org, theme_id, f"theme-{theme}/sub-{sub}", f"Sub-theme {theme}.{sub}"),
                    )
        # Messages of org 1 first (its share), the rest spread evenly over the other orgs.
        first_org_messages = int(total_messages * ORG_SHARE_0) if orgs > 1 else total_messages
        seconds_in_year = 365 * 24 * 3600
        mentions: list[tuple[int, int, str, datetime, str, int]] = []  # (message id, org, source, sent_at, customer,
        # customer id)
        customer_of: list[int] = [0] * (total_messages + 1)  # message id -> its resolved customer's id
        with conn.cursor() as cursor:
            with copy_rows(
                cursor,
                "COPY messages (id, org_id, source, external_id, thread_id, channel, author_name, author_email, "
                "author_is_internal, customer, sent_at, title, text, text_length, url, content_hash, record_hash, "
                "source_metadata, ingested_at, updated_at) FROM STDIN",
            ) as copy:
                for message_id in range(1, total_messages + 1):
                    if message_id <= first_org_messages:
                        org = 1
                    else:
                        org = 2 + (message_id - first_org_messages) % max(1, orgs - 1)
                    source = SOURCES[message_id % 4]
                    sent_at = YEAR_START + timedelta(seconds=rng.randrange(seconds_in_year))
                    account = rng.randrange(CUSTOMERS_PER_ORG)
                    customer = f"Customer {org}-{account}"
                    customer_of[message_id] = (org - 1) * CUSTOMERS_PER_ORG + account + 1
                    text = texts[message_id % len(texts)]
                    copy.write_row(
                        (
                            message_id,
                            org,
                            source,
                            f"ext-{message_id}",
                            f"thread-{message_id // 5}",
                            f"#channel-{message_id % 40}",
                            f"Author {message_id % 997}",
                            f"author{message_id % 997}@customer.example",
                            False,
                            customer,
                            sent_at,
                            None,
                            text,
                            len(text),
                            f"https://example.invalid/m/{message_id}",
                            f"{message_id:064x}",
                            f"{message_id:064x}",
                            "{}",
                            now,
                            now,
                        )
                    )
                    if rng.random() < MENTION_RATE:
                        mentions.append((message_id, org, source, sent_at, customer, customer_of[message_id]))
            with copy_rows(
                cursor,
                "COPY message_labels (message_id, org_id, content_hash, status, is_feedback, category, relevance, "
                "confidence, chunk_count, best_chunk, provider, model, prompt_version, labelled_at) FROM STDIN",
            ) as copy:
                for message_id in range(1, total_messages + 1):
                    org = (
                        1
                        if message_id <= first_org_messages
                        else 2 + (message_id - first_org_messages) % max(1, orgs - 1)
                    )
                    category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
                    relevance = rng.randint(0, 10) if category != "other" else rng.randint(0, 3)
                    copy.write_row(
                        (
                            message_id,
                            org,
                            f"{message_id:064x}",
                            "labelled",
                            category != "other",
                            category,
                            relevance,
                            0.8,
                            1,
                            0,
                            "offline",
                            "bench",
                            "v1",
                            now,
                        )
                    )
            conn.execute(f"SELECT setval('messages_id_seq', {total_messages})")
            accounts = _fill_customers(cursor, orgs, now)
            with copy_rows(
                cursor,
                "COPY message_authors (message_id, org_id, customer_id, status, method, resolved_at) FROM STDIN",
            ) as copy:
                for message_id in range(1, total_messages + 1):
                    customer_id = customer_of[message_id]
                    org = (customer_id - 1) // CUSTOMERS_PER_ORG + 1
                    copy.write_row((message_id, org, customer_id, "resolved", "email_domain", now))
            # Feature requests: Zipf-like popularity, so the top request has a few hundred mentions.
            weights = [1.0 / (rank + 1) for rank in range(REQUESTS_PER_ORG)]
            request_rows: dict[tuple[int, int], dict[str, Any]] = {}
            mention_id = 0
            with copy_rows(
                cursor,
                "COPY feature_mentions (id, org_id, message_id, ordinal, source, sent_at, title, description, kind, "
                "urgency, sentiment, theme, sub_theme, customer, evidence_quote, evidence_start, provider, model, "
                "prompt_version, created_at) FROM STDIN",
            ) as copy:
                for message_id, org, source, sent_at, customer, customer_id in mentions:
                    mention_id += 1
                    rank = rng.choices(range(REQUESTS_PER_ORG), weights)[0]
                    request = request_rows.setdefault(
                        (org, rank),
                        {
                            "mentions": [],
                            "customers": set(),
                            "accounts": {},
                            "sources": {},
                            "first": sent_at,
                            "last": sent_at,
                        },
                    )
                    request["mentions"].append(mention_id)
                    request["customers"].add(customer)
                    request["accounts"][customer_id] = request["accounts"].get(customer_id, 0) + 1
                    request["sources"][source] = request["sources"].get(source, 0) + 1
                    request["first"] = min(request["first"], sent_at)
                    request["last"] = max(request["last"], sent_at)
                    title = f"Ask {rank}: {WORDS[rank % len(WORDS)]} {WORDS[(rank * 7) % len(WORDS)]}"
                    copy.write_row(
                        (
                            mention_id,
                            org,
                            message_id,
                            0,
                            source,
                            sent_at,
                            title,
                            f"Customers want {title}.",
                            "feature_request",
                            "medium",
                            "neutral",
                            f"theme-{rank % 8}",
                            f"theme-{rank % 8}/sub-{rank % 4}",
                            customer,
                            texts[message_id % len(texts)][:80],
                            0,
                            "offline",
                            "bench",
                            "v1",
                            now,
                        )
                    )
            request_id = 0
            with copy_rows(
                cursor,
                "COPY feature_requests (id, org_id, key, title, description, kind, theme, sub_theme, mention_count, "
                "customer_count, customers, sources, first_seen, last_seen, mentions_last_7d, mentions_prev_7d, "
                "trend, updated_at, account_count, arr_cents, segments) FROM STDIN",
            ) as copy:
                links: list[tuple[int, int, int]] = []
                asked: list[tuple[int, int, int, int]] = []  # (request, customer, org, mentions)
                for (org, rank), request in sorted(request_rows.items()):
                    request_id += 1
                    title = f"Ask {rank}: {WORDS[rank % len(WORDS)]} {WORDS[(rank * 7) % len(WORDS)]}"
                    customers = sorted(request["customers"])
                    copy.write_row(
                        (
                            request_id,
                            org,
                            f"ask-{rank}",
                            title,
                            f"Customers want {title}.",
                            "feature_request",
                            f"theme-{rank % 8}",
                            f"theme-{rank % 8}/sub-{rank % 4}",
                            len(request["mentions"]),
                            len(customers),
                            json.dumps({"names": customers}),
                            json.dumps(request["sources"]),
                            request["first"],
                            request["last"],
                            rng.randint(0, 9),
                            rng.randint(0, 9),
                            "steady",
                            now,
                            len(request["accounts"]),
                            sum(accounts[c][0] for c in request["accounts"]),
                            json.dumps({"names": sorted({accounts[c][1] for c in request["accounts"]})}),
                        )
                    )
                    links.extend((request_id, mention, org) for mention in request["mentions"])
                    asked.extend((request_id, c, org, n) for c, n in sorted(request["accounts"].items()))
            with copy_rows(
                cursor,
                "COPY feature_request_mentions (feature_request_id, mention_id, org_id, match_method, match_score) "
                "FROM STDIN",
            ) as copy:
                for request_ref, mention_ref, org in links:
                    copy.write_row((request_ref, mention_ref, org, "title_similarity", 0.95))
            with copy_rows(
                cursor,
                "COPY feature_request_customers (feature_request_id, customer_id, org_id, mentions) FROM STDIN",
            ) as copy:
                for row in asked:
                    copy.write_row(row)
            for sequence, value in (
                ("feature_mentions_id_seq", mention_id),
                ("feature_requests_id_seq", request_id),
            ):
                conn.execute(f"SELECT setval('{sequence}', {max(value, 1)})")
        conn.commit()
        print(
            f"  rows copied in {time.perf_counter() - started:.0f} s; rebuilding {len(indexes)} indexes",
            flush=True,
        )
        for _name, definition in indexes:
            conn.execute(definition)
        conn.commit()
    engine = create_warehouse_engine(url, pooled=False)
    with engine.begin() as sa_conn:
        refresh_daily_stats(sa_conn, TimeWindow(YEAR_START, YEAR_START + timedelta(days=366)))
    engine.dispose()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"  filled in {time.perf_counter() - started:.0f} s", flush=True)


def fixture(settings: ApiSettings) -> BenchFixture:
    """The measured organisation, its token, its busiest feature request and the deep-page cursor."""
    with psycopg.connect(database_url()) as conn:
        user_id, slug, org_id = conn.execute(
            "SELECT u.id, o.slug, o.id FROM users u JOIN organizations o ON o.id = u.org_id WHERE o.id = 1"
        ).fetchone()  # type: ignore[misc]
        request_id = conn.execute(
            "SELECT id FROM feature_requests WHERE org_id = %s ORDER BY mention_count DESC, id LIMIT 1",
            (org_id,),
        ).fetchone()[0]  # type: ignore[index]
        triage_ids = tuple(
            row[0]
            for row in conn.execute(
                "SELECT id FROM feature_requests WHERE org_id = %s AND merged_into_id IS NULL ORDER BY id LIMIT %s",
                (org_id, REQUESTS_PER_ORG),
            )
        )
        org_messages = conn.execute("SELECT count(*) FROM messages WHERE org_id = %s", (org_id,)).fetchone()[0]  # type: ignore[index]
        deep_pages = min(DEEP_PAGES, max(1, org_messages // PAGE - 1))
        sent_at, message_id = conn.execute(
            "SELECT sent_at, id FROM messages WHERE org_id = %s ORDER BY sent_at DESC, id DESC OFFSET %s LIMIT 1",
            (org_id, deep_pages * PAGE - 1),
        ).fetchone()  # type: ignore[misc]
    codec = TokenCodec(settings, data_dir=REPO / "data")
    token = codec.issue(subject=f"user:{user_id}", org_slug=slug, lifetime=timedelta(hours=6)).access_token
    write_token = codec.issue(
        subject=f"user:{user_id}", org_slug=slug, lifetime=timedelta(hours=6), scopes=(CATALOGUE_WRITE_SCOPE,)
    ).access_token
    # Cursors are signed: under the key the API derives from the same secret, so the server takes it.
    configure_cursor_key(derive_cursor_key(codec.server_secret))
    cursor = encode_cursor(MESSAGE_SORTS["-sent_at"], (sent_at, message_id))
    return BenchFixture(
        org_id,
        token,
        int(request_id),
        cursor,
        deep_pages + 1,
        date(2025, 12, 2),
        date(2025, 12, 31),
        triage_ids,
        write_token,
    )


TRIAGE_LUA = """
-- Each request a real write: another status for the next request id, whatever its version.
local ids = {%(ids)s}
local statuses = {"under_review", "planned", "in_progress", "shipped", "declined", "new"}
local counter = 0
request = function()
  counter = counter + 1
  local id = ids[(counter %% #ids) + 1]
  local status = statuses[(math.floor(counter / #ids) %% #statuses) + 1]
  local body = '{"status": "' .. status .. '", "owner": "bench-' .. counter .. '@acme.example"}'
  return wrk.format("PATCH", "/v1/feature-requests/" .. id, {
    ["Content-Type"] = "application/json", ["If-Match"] = "*", ["Authorization"] = "Bearer %(token)s"
  }, body)
end
"""


def triage_script(bench: BenchFixture, folder: Path) -> Path:
    """The wrk Lua script of the write scenario (PATCH of the measured organisation's requests)."""
    path = folder / "triage.lua"
    ids = ", ".join(str(request_id) for request_id in bench.triage_ids)
    path.write_text(TRIAGE_LUA % {"ids": ids, "token": bench.write_token})
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Served:
    """A server `serve` started: its base URL and its process id."""

    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes (uvicorn and its workers) have used so far."""
        total = 0.0
        pending = [self.pid]
        while pending:
            pid = pending.pop()
            try:
                # Fields after the command name: utime and stime are the 12th and 13th.
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(child) for child in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue  # a worker that exited
        return total


@contextmanager
def serve(app: str, env: dict[str, str], workers: int, app_dir: Path | None = None) -> Iterator[Served]:
    """Run `app` under uvicorn in a subprocess; yields its base URL and process."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=REPO, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"{app} exited with {process.returncode} before listening") from None
                time.sleep(0.1)
        time.sleep(0.5)
        yield Served(f"http://127.0.0.1:{port}", process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # stuck in a graceful shutdown
                process.wait(timeout=5)


@dataclass(frozen=True)
class Result:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    cpu_us: float = 0.0  # the server's CPU time per request (all processes of it)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no {percentile}% latency:\n{output}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str, token: str | None, connections: int, duration: int, threads: int = 2, script: Path | None = None
) -> Result:
    """Drive `url` with wrk (a separate process) and read its figures; `script` makes the requests."""
    command = [
        "wrk",
        "-t",
        str(min(threads, connections)),
        "-c",
        str(connections),
        "-d",
        f"{duration}s",
        "--latency",
    ]
    if script is not None:
        command += ["-s", str(script)]
    elif token:
        command += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(errors_match.group(1)) if errors_match else 0
    if socket_errors:
        errors += sum(int(group) for group in socket_errors.groups())
    return Result(rps, _latency(output, "50"), _latency(output, "99"), errors, requests)


def measure(
    server: Served, path: str, token: str | None, connections: int, duration: int, script: Path | None = None
) -> Result:
    """`wrk` on one path of `server`, with the server's CPU time per request."""
    before = server.cpu_seconds()
    result = wrk(server.url + path, token, connections, duration, script=script)
    used = server.cpu_seconds() - before
    return dataclasses.replace(result, cpu_us=used / max(result.requests, 1) * 1e6)


def _median(results: list[Result]) -> Result:
    """The median of each figure over the rounds (errors are summed)."""
    return Result(
        rps=statistics.median(result.rps for result in results),
        p50_ms=statistics.median(result.p50_ms for result in results),
        p99_ms=statistics.median(result.p99_ms for result in results),
        errors=sum(result.errors for result in results),
        requests=sum(result.requests for result in results),
        cpu_us=statistics.median(result.cpu_us for result in results),
    )


def main() -> int:
    """Fill (if needed), serve, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--refill", action="store_true", help="Drop and refill the database.")
    parser.add_argument("--fill-only", action="store_true", help="Fill the database, measure nothing.")
    parser.add_argument("--duration", type=int, default=10, help="Seconds per measurement (default 10).")
    parser.add_argument("--warmup", type=int, default=3, help="Seconds of warm-up per endpoint.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating API/floor rounds per figure.")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1).")
    parser.add_argument("--connections", default="8,32", help="Concurrent connections (default 8,32).")
    parser.add_argument("--only", choices=("api", "floor"), default=None, help="Measure one server only.")
    parser.add_argument(
        "--overflow",
        type=int,
        default=0,
        help="DB_MAX_OVERFLOW of the API (default 0: as many connections as the floor).",
    )
    parser.add_argument(
        "--endpoints", default=None, help="Measure only the endpoints whose name contains this text (e.g. messages)."
    )
    args = parser.parse_args()
    if not args.fill_only and shutil.which("wrk") is None:
        # Found out only after the 3-minute fill otherwise.
        print("wrk is not installed; install it first (apt-get install -y wrk) and run again.", file=sys.stderr)
        return 2

    with _admin() as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
    count = 0
    if exists and not args.refill:
        with psycopg.connect(database_url()) as conn:
            count = conn.execute("SELECT count(*) FROM messages").fetchone()[0]  # type: ignore[index]
    if count != args.messages:
        print(f"filling {DATABASE} with {args.messages:,} messages for {args.orgs} organisations", flush=True)
        fill(args.messages, args.orgs)
    else:
        migrate(database_url())
    if args.fill_only:
        return 0
    settings = ApiSettings(jwt_secret_key=SecretStr(JWT_SECRET))
    bench = fixture(settings)
    env = {
        "HEADWAY_DATABASE_URL": database_url(),
        "JWT_SECRET_KEY": JWT_SECRET,
        "BENCH_ORG_ID": str(bench.org_id),
        "BENCH_FEATURE_REQUEST_ID": str(bench.feature_request_id),
        "BENCH_DEEP_CURSOR": bench.deep_cursor,
        "BENCH_STATS_SINCE": bench.stats_since.isoformat(),
        "BENCH_STATS_UNTIL": bench.stats_until.isoformat(),
        "BENCH_LIMIT": str(PAGE),
        # The same number of database connections for both: the floor's fixed pool, and the API's
        # pool without overflow (DB_POOL_SIZE + DB_MAX_OVERFLOW, 10 + 10 by default); `--overflow`
        # measures the API with extra connections allowed.
        "BENCH_POOL_SIZE": str(POOL_SIZE),
        "DB_POOL_SIZE": str(POOL_SIZE),
        "DB_MAX_OVERFLOW": str(args.overflow),
    }
    endpoints = {
        "messages, first page": f"/v1/messages?limit={PAGE}",
        f"messages, page {bench.deep_page:,} (cursor)": f"/v1/messages?limit={PAGE}&cursor={bench.deep_cursor}",
        "feature request + mentions": f"/v1/feature-requests/{bench.feature_request_id}",
        "stats (30 days)": f"/v1/stats?since={bench.stats_since}&until={bench.stats_until}",
        "feature requests by ARR": f"/v1/feature-requests?sort=-arr&limit={PAGE}",
        TRIAGE: "/v1/feature-requests",  # the Lua script picks the request and writes the body
    }
    scripts_dir = Path(tempfile.mkdtemp(prefix="headway-bench-"))
    scripts = {TRIAGE: triage_script(bench, scripts_dir)}
    if args.endpoints:
        endpoints = {name: path for name, path in endpoints.items() if args.endpoints in name}
    levels = [int(level) for level in args.connections.split(",")]
    servers = {
        "api": ("headway_api.main:app", None, bench.token),
        "floor": ("bench_floor:app", REPO / "scripts", None),
    }
    load_before = os.getloadavg()
    chosen = [server for server in servers if args.only in (None, server)]
    runs: dict[tuple[str, str, int], list[Result]] = {}
    with ExitStack() as stack:
        bases = {
            server: stack.enter_context(serve(servers[server][0], env, args.workers, servers[server][1]))
            for server in chosen
        }
        for name, path in endpoints.items():  # warm-up: prepared statements, caches, pools
            for server in chosen:
                if server == "floor" and name in scripts:
                    continue  # writes have no floor
                wrk(bases[server].url + path, servers[server][2], max(levels), args.warmup, script=scripts.get(name))
        for level in levels:
            # Endpoints and servers alternate, round after round, so load from anything else running
            # on the machine weighs on all of them alike; each figure is the median of the rounds.
            for _round in range(args.rounds):
                for name, path in endpoints.items():
                    for server in chosen:
                        if server == "floor" and name in scripts:
                            continue
                        script = scripts.get(name)
                        result = measure(bases[server], path, servers[server][2], level, args.duration, script)
                        runs.setdefault((server, name, level), []).append(result)
            for name in endpoints:
                for server in chosen:
                    if (server, name, level) not in runs:
                        continue
                    result = _median(runs[(server, name, level)])
                    print(
                        f"{server:5} {name:32} c={level:<3} {result.rps:8.0f} req/s  "
                        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                        f"CPU {result.cpu_us:5.0f} us/request  errors {result.errors}",
                        flush=True,
                    )
            print(f"(load average after c={level}: {os.getloadavg()[0]:.2f})", flush=True)
    results = {key: _median(values) for key, values in runs.items()}
    print()
    print(
        f"machine: {os.cpu_count()} cores; uvicorn workers: {args.workers}; wrk, uvicorn and PostgreSQL share them; "
        f"database connections: {POOL_SIZE} each (API overflow {args.overflow}); "
        f"load average before: {load_before[0]:.2f}, after: {os.getloadavg()[0]:.2f}; "
        f"medians of {args.rounds} rounds of {args.duration} s per figure, endpoints and servers alternating"
    )
    header = (
        "| endpoint | conns | API req/s | API p50 | API p99 | API CPU/req "
        "| floor req/s | floor p50 | floor p99 | floor CPU/req | API/floor |"
    )
    print(header)
    print("|" + "---|" * 11)
    for name in endpoints:
        for level in levels:
            api = results.get(("api", name, level))
            floor = results.get(("floor", name, level))
            if api is None or floor is None:
                continue
            print(
                f"| {name} | {level} | {api.rps:.0f} | {api.p50_ms:.2f} ms | {api.p99_ms:.2f} ms | {api.cpu_us:.0f} µs "
                f"| {floor.rps:.0f} | {floor.p50_ms:.2f} ms | {floor.p99_ms:.2f} ms | {floor.cpu_us:.0f} µs "
                f"| {api.rps / floor.rps:.0%} |"
            )
    for level in levels:
        write = results.get(("api", TRIAGE, level))
        if write is not None:
            print(
                f"\n{TRIAGE}, c={level}: {write.rps:.0f} writes/s, p50 {write.p50_ms:.2f} ms, "
                f"p99 {write.p99_ms:.2f} ms, CPU {write.cpu_us:.0f} us/request"
            )
    first = results.get(("api", "messages, first page", levels[0]))
    deep = results.get(("api", f"messages, page {bench.deep_page:,} (cursor)", levels[0]))
    if first and deep:
        print(f"\ndeep page / first page latency (p50, c={levels[0]}): {deep.p50_ms / first.p50_ms:.2f}x")
    errors = sum(result.errors for result in results.values())
    if errors:
        print(f"\n{errors} failed requests: the figures above are not valid", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
