"""`headway customers import FILE`: a CRM export (CSV or Excel) into an organisation's customers.

    headway customers import --org acme customers.csv
    headway customers import --org acme hubspot-companies.xlsx --dry-run

Every row is validated; the good rows land (in one transaction) and each refused row is printed
with its line number and the reason. Exit 0 when every row landed, 1 when some were refused, 2
when the file or the organisation cannot be used, 3 when PostgreSQL aborted the transaction for a
deadlock or serialization failure on every attempt (another transaction on the organisation's
customers, such as a pipeline run, was in the way): nothing was imported, run it again.

The transaction takes the organisation's customer lock and is retried as the API's import is
(`conflicts.retry_transaction`: the same attempts and wait).
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
        is_transient_conflict,
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
    url = get_settings().pipeline.warehouse_url
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
        if not is_transient_conflict(error):
            raise
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
    importer.set_defaults(handler=cmd_import_customers)
