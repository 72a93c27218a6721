"""`headway customers import FILE`: a CRM export (CSV or Excel) into an organisation's customers.

    headway customers import --org acme customers.csv
    headway customers import --org acme hubspot-companies.xlsx --dry-run

Every row is validated; the good rows land (in one transaction) and each refused row is printed
with its line number and the reason. Exit 0 when every row landed, 1 when some were refused, 2
when the file or the organisation cannot be used.
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

    from headway_assets.core.warehouse.customer_import import CustomerFileError, import_customers, read_customer_file
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
    with write_transaction(url) as conn:
        org_id = conn.execute(select(Organization.id).where(Organization.slug == args.org)).scalar_one_or_none()
        if org_id is None:
            say(f"error: no organisation with slug {args.org!r}; create it with `headway orgs create` first")
            return 2
        report = import_customers(conn, int(org_id), frame, progress=progress)
        if args.dry_run:
            conn.rollback()
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
