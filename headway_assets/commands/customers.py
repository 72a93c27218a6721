"""`headway customers import FILE`: a CRM export (CSV or Excel) into an organisation's customers.

    headway customers import --org acme customers.csv
    headway customers import --org acme hubspot-companies.xlsx --dry-run

Every row is validated; the good rows land (in one transaction) and each refused row is printed
with its line number and the reason. Exit 0 when every row landed, 1 when some were refused, 2
when the file or the organisation cannot be used, 3 when another transaction on the organisation's
customers (a pipeline run resolving message authors, another import or a merge) was in the way:
PostgreSQL aborted the import for a deadlock or serialization failure on every attempt, or the
organisation's customer lock stayed taken longer than `--wait` seconds. Nothing was imported then;
run it again.

The transaction takes the organisation's customer lock and is retried as the API's import is
(`conflicts.retry_transaction`: the same attempts and wait). On PostgreSQL it waits for the lock at
most `--wait` seconds (default: `CUSTOMER_LOCK_TIMEOUT_SECONDS`, 30, as for the API's writes), so a
long run never leaves the command hanging without a word.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from headway_assets.core.settings import get_settings

MAX_REJECTIONS_SHOWN = 200


def cmd_import_customers(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Validate and upsert the customers of one file for one organisation."""
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    from headway_assets.core.warehouse.conflicts import (
        CONFLICT_ATTEMPTS,
        LOCK_NOT_AVAILABLE,
        is_concurrency_conflict,
        limit_lock_waits,
        retry_transaction,
        sqlstate,
    )
    from headway_assets.core.warehouse.customer_import import (
        CustomerFileError,
        ImportReport,
        import_customers,
        read_customer_file,
    )
    from headway_assets.core.warehouse.database import migrate, write_transaction
    from headway_assets.core.warehouse.schema import Organization

    stream = out or sys.stdout

    def say(text: str) -> None:
        print(text, file=stream, flush=True)

    def progress(stage: str, done: int, total: int) -> None:
        say(f"  {stage} {done:,}/{total:,}")

    started = time.monotonic()
    settings = get_settings()
    url = settings.pipeline.warehouse_url
    wait_seconds = args.wait if args.wait is not None else settings.api.customer_lock_timeout_seconds
    if url.startswith("sqlite"):
        migrate(url)  # the embedded warehouse is brought up to date on first use
    try:
        frame = read_customer_file(args.file)
    except CustomerFileError as error:
        say(f"error: {error}")
        return 2
    say(f"{args.file.name}: {len(frame):,} rows")

    def attempt() -> ImportReport | None:
        # One whole transaction per attempt (None: no such organisation), run again from the start
        # when PostgreSQL aborts it.
        with write_transaction(url) as conn:
            limit_lock_waits(conn, wait_seconds)  # the customer lock's wait first of all
            org_id = conn.execute(select(Organization.id).where(Organization.slug == args.org)).scalar_one_or_none()
            if org_id is None:
                return None
            report = import_customers(conn, int(org_id), frame, progress=progress)
            if args.dry_run:
                conn.rollback()
            return report

    try:
        found, retries = retry_transaction(attempt, what="customer import")
    except DBAPIError as error:
        if not is_concurrency_conflict(error):
            raise
        if sqlstate(error) == LOCK_NOT_AVAILABLE:
            say(
                f"error: {args.org}'s customers stayed locked for more than {wait_seconds:g} s, most likely by a"
                " pipeline run resolving message authors (or another import or merge). Nothing was imported. Run"
                " the import again when that run finishes, or wait longer with --wait SECONDS."
            )
            return 3
        say(
            f"error: PostgreSQL aborted the import {CONFLICT_ATTEMPTS} times (SQLSTATE {sqlstate(error)}): another"
            f" transaction on {args.org}'s customers was in the way, most likely a pipeline run resolving message"
            " authors (or another import or merge). Nothing was imported. Run the import again when the"
            " pipeline run finishes."
        )
        return 3
    if found is None:
        say(f"error: no organisation with slug {args.org!r}; create it with `headway orgs create` first")
        return 2
    report = found
    if retries:
        say(f"another transaction was in the way: the import ran {retries + 1} times, the last one went through")
    for rejected in report.rejected[:MAX_REJECTIONS_SHOWN]:
        say(f"line {rejected.line}: {rejected.reason}")
    if len(report.rejected) > MAX_REJECTIONS_SHOWN:
        say(f"...and {len(report.rejected) - MAX_REJECTIONS_SHOWN:,} more refused rows")
    verb = "would import" if args.dry_run else "imported"
    say(
        f"{verb} {report.imported:,} of {report.rows:,} rows ({report.created:,} new customers, "
        f"{report.updated:,} updated, {report.merged:,} auto-created merged), refused {len(report.rejected):,} "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 1 if report.rejected else 0


def _positive_seconds(value: str) -> float:
    """`--wait`'s value: a number of seconds above zero."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r}: the wait must be a finite number of seconds above zero")
    return seconds


def register_commands(commands: Any) -> None:
    """Add `customers` to the `headway` command line."""
    customers = commands.add_parser("customers", help="an organisation's customers (accounts)").add_subparsers(
        dest="customers_command", required=True
    )
    importer = customers.add_parser(
        "import",
        help="import a CRM export (CSV or Excel): rows upserted by external id or domain, bad rows reported by line",
    )
    importer.add_argument("file", type=Path, help="the export: .csv, .xlsx or .xls")
    importer.add_argument("--org", required=True, help="the organisation's slug")
    importer.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    importer.add_argument(
        "--wait",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="PostgreSQL: how long to wait for a pipeline run (or another import or merge) holding the"
        " organisation's customers before giving up with exit 3 (default: CUSTOMER_LOCK_TIMEOUT_SECONDS, 30)",
    )
    importer.set_defaults(handler=cmd_import_customers)
