"""Benchmark of the customer resolution on PostgreSQL (a script that prints figures, not a test).

    .venv/bin/python scripts/bench_customers.py                        # 1,000,000 messages
    .venv/bin/python scripts/bench_customers.py --messages 100000      # a smaller warehouse
    .venv/bin/python scripts/bench_customers.py --refill               # drop and refill first

It fills the PostgreSQL database `headway_bench_customers_<N>` (once; `--refill` redoes it) with
N messages of 10 organisations over 30 days, authored the way real feeds are: staff (internal),
customers' people at business domains, free-mail senders, Slack Connect members without a
visible e-mail, machine senders (no-reply@), Gong calls whose author has no e-mail but whose
external participants do, and messages with no author at all. Then it times
`resolve_message_authors` over the whole window, as the `message_authors` asset's single-run
backfill does:

- **cold**: no customer, contact or message_authors row exists yet: every domain auto-creates a
  customer, every author a contact, every message a row;
- **rerun**: the same again on unchanged data (nothing is written);

each in one transaction, `--repeat` times (the median is printed; cold runs are reset first).
The target is 1,000,000 messages resolved in under 60 s.

The import half (`--import-rows`, default 100,000; `--only import` skips the resolution) writes a
CRM-style CSV of that many rows (1 % of them bad: an ARR that is not an amount, an unknown stage,
a domain already on another line) and times `headway customers import`'s work, file reading
included: into an organisation with no customers (every row a new customer), then the same file
again (every good row an update). The target is 100,000 rows in under 30 s.

    .venv/bin/python scripts/bench_customers.py --messages 100000 --only import
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from headway_assets.core.message import TimeWindow  # noqa: E402
from headway_assets.core.warehouse.author_resolution import _lock_organisations, resolve_message_authors  # noqa: E402
from headway_assets.core.warehouse.customer_import import import_customers, read_customer_file  # noqa: E402
from headway_assets.core.warehouse.database import create_warehouse_engine, migrate  # noqa: E402

SERVER_URL = os.environ.get("HEADWAY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
START = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 30
ORGS = 10
DOMAINS_PER_ORG = 2_000
PEOPLE_PER_DOMAIN = 8
SLACK_TEAMS_PER_ORG = 300
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me")
# Author mix (share of messages): what the fill draws from.
MIX = (
    ("internal", 0.30),
    ("business", 0.47),
    ("free_mail", 0.08),
    ("slack_connect", 0.06),
    ("automated", 0.03),
    ("call", 0.03),
    ("anonymous", 0.03),
)
RESET_TABLES = ("message_authors", "contacts", "customer_slack_teams", "customer_domains", "customers")


def database_name(messages: int) -> str:
    """The benchmark database for a warehouse of `messages` messages (`HEADWAY_BENCH_DATABASE_SUFFIX`
    appended: engineers sharing a server keep their own)."""
    return f"headway_bench_customers_{messages}" + os.environ.get("HEADWAY_BENCH_DATABASE_SUFFIX", "")


def database_url(messages: int) -> str:
    """Its SQLAlchemy URL."""
    return SERVER_URL.rsplit("/", 1)[0] + "/" + database_name(messages)


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(SERVER_URL, autocommit=True)


def _message_row(rng: random.Random, index: int, org_id: int) -> tuple[Any, ...]:
    """One message: (org, source, external id, sent_at, author name, e-mail, internal, customer, metadata)."""
    kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
    domain_no = rng.randrange(DOMAINS_PER_ORG)
    domain = f"account{domain_no}-org{org_id}.example"
    person = rng.randrange(PEOPLE_PER_DOMAIN)
    sent_at = START + timedelta(seconds=rng.randrange(DAYS * 86_400))
    metadata: dict[str, Any] = {}
    source, name, email, internal, customer = "gmail", f"Person {person}", None, False, None
    if kind == "internal":
        source = rng.choice(("slack", "gmail"))
        email = f"staff{rng.randrange(200)}@org{org_id}.example"
        internal = True
    elif kind == "business":
        source = rng.choice(("slack", "gmail", "fathom"))
        email = f"p{person}@{domain}"
    elif kind == "free_mail":
        email = f"user{rng.randrange(50_000)}@{rng.choice(FREE_MAIL)}"
    elif kind == "slack_connect":
        source = "slack"
        team = rng.randrange(SLACK_TEAMS_PER_ORG)
        metadata = {"user_id": f"U{org_id}X{team}X{person}", "slack_connect_team": f"T{org_id}X{team}"}
        customer = f"Account {team}"
    elif kind == "automated":
        email = f"no-reply@vendor{rng.randrange(40)}.example"
        metadata = {"automated": "auto_generated"}
    elif kind == "call":
        source = "gong"
        name, email = f"Buyer {person}", None
        metadata = {
            "parties": [
                {"name": "Rep", "email": f"rep@org{org_id}.example", "affiliation": "Internal"},
                {"name": f"Buyer {person}", "email": f"b{person}@{domain}", "affiliation": "External"},
            ]
        }
    else:  # anonymous
        name = None
    return (org_id, source, f"m{index}", sent_at, name, email, internal, customer, json.dumps(metadata))


def fill(messages: int, seed: int = 11) -> None:
    """Create and fill the benchmark database (the messages only)."""
    name = database_name(messages)
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url(messages)
    migrate(url)
    rng = random.Random(seed)
    started = time.monotonic()
    with psycopg.connect(url, autocommit=False) as conn:
        # The message text's trigram index makes a bulk load crawl; it is rebuilt after the load.
        conn.execute("DROP INDEX IF EXISTS ix_messages_text_trgm")
        for org_id in range(1, ORGS + 1):
            settings = json.dumps({"internal_domains": [f"org{org_id}.example"]})
            conn.execute(
                "INSERT INTO organizations (id, slug, name, is_active, settings, created_at) "
                "VALUES (%s, %s, %s, true, %s, now())",
                (org_id, f"org{org_id}", f"Org {org_id}", settings),
            )
        columns = (
            "org_id, source, external_id, sent_at, author_name, author_email, author_is_internal, customer, "
            "source_metadata, text, text_length, content_hash, record_hash, ingested_at, updated_at"
        )
        now = datetime.now(UTC)
        with conn.cursor() as cursor, cursor.copy(f"COPY messages ({columns}) FROM STDIN") as copy:
            for index in range(messages):
                row = _message_row(rng, index, 1 + index % ORGS)
                copy.write_row((*row, "hello", 5, f"{index:064x}", f"{index:064x}", now, now))
        conn.execute("CREATE INDEX ix_messages_text_trgm ON messages USING gin (text gin_trgm_ops)")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"filled {name}: {messages:,} messages in {time.monotonic() - started:.0f} s", flush=True)


def reset(url: str) -> None:
    """Forget every customer, contact and resolution, as before the first run."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(RESET_TABLES)} RESTART IDENTITY CASCADE")
        conn.execute(f"VACUUM ANALYZE {', '.join(RESET_TABLES)}")


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) PostgreSQL backend `pid` has used: NaN when the server is not
    on this machine. Load-independent, unlike wall time, on a shared machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_resolution(url: str) -> tuple[float, Any]:
    """Seconds to resolve the whole window in one transaction, and the run's counts; prints the
    PostgreSQL backend's CPU seconds."""
    engine = create_warehouse_engine(url, pooled=False)
    window = TimeWindow(START, START + timedelta(days=DAYS))
    try:
        with engine.connect() as conn:
            pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            conn.rollback()
            cpu = backend_cpu(pid)
            started = time.perf_counter()
            with conn.begin():
                stats = resolve_message_authors(conn, window)
            seconds = time.perf_counter() - started
            print(f"  PostgreSQL backend CPU: {backend_cpu(pid) - cpu:.1f} s", flush=True)
        return seconds, stats
    finally:
        engine.dispose()


def time_customer_lock(url: str) -> None:
    """The part of a run that keeps it apart from customer merges (the organisations' customer lock,
    shared, taken first), alone, in a transaction rolled back."""
    engine = create_warehouse_engine(url, pooled=False)
    try:
        with engine.connect() as conn:
            pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            conn.rollback()
            with conn.begin() as transaction:
                cpu, started = backend_cpu(pid), time.perf_counter()
                _lock_organisations(conn, None)
                seconds = time.perf_counter() - started
                locks = int(
                    conn.exec_driver_sql(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                    ).scalar_one()
                )
                transaction.rollback()
            print(
                f"customer lock alone: {seconds:.4f} s, PostgreSQL backend CPU {backend_cpu(pid) - cpu:.2f} s "
                f"({locks} organisations locked)",
                flush=True,
            )
    finally:
        engine.dispose()


IMPORT_ORG = 999


def write_import_file(path: Path, rows: int, seed: int = 5) -> int:
    """A CRM-style CSV of `rows` rows, 1 % of them bad; returns how many are bad."""
    rng = random.Random(seed)
    stages = ("Closed Won", "negotiation", "trial", "Prospecting", "churned")
    bad = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write("Record ID,Company name,Company Domain Name,ARR,MRR,Plan,Segment,Deal Stage,Renewal Date,Owner\n")
        for index in range(rows):
            arr, stage, domain = f"{rng.randrange(1, 500) * 1000}", rng.choice(stages), f"co{index}.example"
            if index % 100 == 99:
                bad += 1
                kind = index // 100 % 3
                arr = "lots" if kind == 0 else arr
                stage = "Signed in blood" if kind == 1 else stage
                domain = f"co{index - 1}.example" if kind == 2 else domain
            handle.write(
                f'{index},"Company {index}, Inc.",{domain},"${arr}",,Pro,SMB,{stage},2027-0{1 + index % 9}-15,'
                f"owner{index % 20}@acme.example\n"
            )
    return bad


def time_import(url: str, path: Path) -> tuple[float, Any]:
    """Seconds to read, validate and upsert the file for the benchmark organisation, and its report."""
    engine = create_warehouse_engine(url, pooled=False)
    try:
        started = time.perf_counter()
        frame = read_customer_file(path)
        with engine.connect() as conn, conn.begin():
            report = import_customers(conn, IMPORT_ORG, frame)
        return time.perf_counter() - started, report
    finally:
        engine.dispose()


def bench_import(url: str, rows: int, repeat: int) -> None:
    """Time a first import and a re-import of a `rows`-row CSV."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO organizations (id, slug, name, is_active, settings, created_at) "
            "VALUES (%s, 'import-bench', 'Import bench', true, '{}', now()) ON CONFLICT DO NOTHING",
            (IMPORT_ORG,),
        )
    path = Path(f"/tmp/headway_bench_customers_{rows}.csv")
    bad = write_import_file(path, rows)
    first: list[float] = []
    again: list[float] = []
    for attempt in range(1, repeat + 1):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM customers WHERE org_id = %s", (IMPORT_ORG,))
        seconds, report = time_import(url, path)
        first.append(seconds)
        print(
            f"import   #{attempt}: {seconds:6.1f} s  {report.rows:,} rows, {report.created:,} created, "
            f"{len(report.rejected):,} refused (the file has {bad:,} bad rows)",
            flush=True,
        )
        seconds, report = time_import(url, path)
        again.append(seconds)
        print(f"reimport #{attempt}: {seconds:6.1f} s  {report.updated:,} updated, {len(report.rejected):,} refused")
    print(
        f"import median over {repeat}: first {statistics.median(first):.1f} s, again {statistics.median(again):.1f} s",
        flush=True,
    )


def main() -> int:
    """Fill (when needed) and time the resolution; prints one line per run and the medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--refill", action="store_true", help="drop and refill the database first")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind (the median is reported)")
    parser.add_argument("--import-rows", type=int, default=100_000, help="rows of the import benchmark's CSV")
    parser.add_argument("--only", choices=("resolve", "import"), help="run one half only")
    args = parser.parse_args()

    name = database_name(args.messages)
    with _admin() as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if args.refill or not exists:
        fill(args.messages)
    url = database_url(args.messages)
    migrate(url)
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    if args.only != "resolve":
        bench_import(url, args.import_rows, args.repeat)
    if args.only == "import":
        print(f"load average at end: {os.getloadavg()[0]:.2f}", flush=True)
        return 0
    cold: list[float] = []
    rerun: list[float] = []
    for attempt in range(1, args.repeat + 1):
        reset(url)
        seconds, stats = time_resolution(url)
        cold.append(seconds)
        print(
            f"cold  #{attempt}: {seconds:6.1f} s  {stats.messages:,} messages, {stats.resolved_total:,} resolved, "
            f"{stats.internal:,} internal, {stats.unresolved_total:,} unresolved "
            f"{dict(sorted(stats.unresolved.items()))}, "
            f"{stats.customers_auto_created:,} customers and {stats.contacts_created:,} contacts created, "
            f"{stats.rows_written:,} rows written",
            flush=True,
        )
        time_customer_lock(url)
        seconds, stats = time_resolution(url)
        rerun.append(seconds)
        print(f"rerun #{attempt}: {seconds:6.1f} s  {stats.rows_written:,} rows written", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}", flush=True)
    print(
        f"median over {args.repeat}: cold {statistics.median(cold):.1f} s "
        f"({args.messages / statistics.median(cold):,.0f} messages/s), rerun {statistics.median(rerun):.1f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
