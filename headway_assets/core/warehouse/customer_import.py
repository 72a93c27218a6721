"""Import customers from a CRM export (CSV or Excel): validate every row, upsert the good ones.

Columns are matched by name the way CRMs spell them (`Company name`, `Record ID`, `Website`,
`Annual Recurring Revenue`, `Deal Stage`, ...; see `COLUMN_ALIASES`). A row is upserted by its
external id when it has one that is known, else by one of its domains; it is refused, with its
line number and the reason, when its ARR or MRR is not an amount, its stage is unknown, its date
is not a date, it has no name or no key (external id or domain), one of its domains is a free-mail
provider's, a domain belongs to another customer (of the file or of the warehouse), or its external
id is of a customer merged into another (`customer_merges`: the merge stands). The good
rows land in one transaction whatever the bad ones are.

A domain held by a customer the resolution auto-created is taken over, and that customer is merged
into the imported one (its contacts, Slack teams and resolved messages move) once it holds nothing.
Nothing here logs a value of the file: a refusal names the line and the column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Connection, Date, Float, String, insert, literal, select, update

from headway_assets.core.people import is_free_mail_domain
from headway_assets.core.warehouse.conflicts import lock_organisation_customers
from headway_assets.core.warehouse.customer_merge import lock_customers, merge_customer
from headway_assets.core.warehouse.customers import dialect_insert, normalise_deal_stage, rows_source
from headway_assets.core.warehouse.request_customers import refresh_customer_revenue
from headway_assets.core.warehouse.schema import Customer, CustomerDomain, CustomerMerge, UtcDateTime, utc_now

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
PROGRESS_EVERY = 10_000  # rows between two progress reports
INSERT_BATCH = 2_000
IMPORT_ACTOR = "crm-import"  # who `customer_merges` names for the merges an import makes

# Our field -> the header spellings CRM exports use (compared after `_header_key`).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "company", "company_name", "account", "account_name", "customer", "customer_name"),
    "domains": ("domains", "domain", "company_domain_name", "website", "website_url", "email_domain", "web_domain"),
    "external_id": (
        "external_id",
        "crm_id",
        "id",
        "record_id",
        "company_id",
        "account_id",
        "hubspot_id",
        "salesforce_id",
    ),
    "arr": ("arr", "annual_recurring_revenue", "arr_usd"),
    "mrr": ("mrr", "monthly_recurring_revenue", "mrr_usd"),
    "plan": ("plan", "tier", "subscription_plan", "pricing_plan"),
    "segment": ("segment", "customer_segment", "market_segment"),
    "deal_stage": ("deal_stage", "stage", "lifecycle_stage", "opportunity_stage"),
    "renewal_date": ("renewal_date", "renewal", "renewal_at", "contract_end_date", "contract_end"),
    "owner": ("owner", "account_owner", "company_owner", "owner_email", "customer_success_manager"),
}
FIELD_LIMITS = {"name": 255, "plan": 100, "segment": 100, "owner": 320, "external_id": 255}
_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$")
_AMOUNT_RE = re.compile(r"^(-?\d+(?:\.\d+)?)([km]?)$")


class CustomerFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, no name column, no key column)."""


@dataclass(frozen=True)
class RejectedRow:
    """A row of the file that was not imported: its line (the header is line 1) and why."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did: rows read, customers created and updated, rows refused (with reasons)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0  # auto-created customers folded into an imported one
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def imported(self) -> int:
        """Rows that landed."""
        return self.created + self.updated


@dataclass
class _Row:
    line: int
    values: dict[str, Any]
    domains: tuple[str, ...]
    external_id: str | None


ProgressFn = Callable[[str, int, int], None]


def read_customer_file(path: Path) -> pd.DataFrame:
    """The file's rows as text (CSV, or the first sheet of an Excel workbook), headers mapped to our fields.

    Empty cells are empty strings, so nothing is guessed (no "NaN" names, no float ids).
    """
    try:
        if path.suffix.lower() in EXCEL_SUFFIXES:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        else:
            # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark. Blank lines are kept so
            # that a row's index still gives its line number.
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise CustomerFileError(f"{path} does not exist") from None
    except ImportError as error:  # Excel support needs openpyxl
        raise CustomerFileError(f"reading {path.suffix} files needs {error.name or 'openpyxl'}: {error}") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise CustomerFileError(
            f"{path.name} is not a readable CSV or Excel file: {str(error).splitlines()[0]}"
        ) from None
    return map_columns(frame)


def _header_key(header: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(header).strip().lower()).strip("_")


def map_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its known columns renamed to our fields (others dropped); refuses a file
    without a name column or without any key column (external id or domain)."""
    renames: dict[Any, str] = {}
    for column in frame.columns:
        key = _header_key(column)
        for field_name, aliases in COLUMN_ALIASES.items():
            if key in aliases and field_name not in renames.values():
                renames[column] = field_name
                break
    if "name" not in renames.values():
        raise CustomerFileError("the file has no company name column (name, company, account name, ...)")
    if "external_id" not in renames.values() and "domains" not in renames.values():
        raise CustomerFileError("the file has neither an external id column (id, record id, ...) nor a domain column")
    mapped = frame[list(renames)].rename(columns=renames)
    return mapped.fillna("").astype(str)


def parse_amount(text: str) -> float | None:
    """An ARR/MRR cell as a number (`$120,000.00`, `120000`, `120k`, `1.2M`); None for a blank.

    Raises ValueError for anything else, or a negative amount.
    """
    cleaned = re.sub(r"[\s,$€£¥]|usd|eur|gbp", "", text.strip().lower())
    if not cleaned:
        return None
    match = _AMOUNT_RE.match(cleaned)
    if match is None:
        raise ValueError("is not an amount")
    amount = float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2)]
    if amount < 0 or not math.isfinite(amount) or amount >= 1e14:
        raise ValueError("is negative or out of range")
    return round(amount, 2)


def parse_domains(text: str) -> tuple[str, ...]:
    """The domains of a cell (`acme.com; https://www.acme.io/about`); ValueError naming a bad one."""
    found: dict[str, None] = {}
    for part in re.split(r"[,;\s|]+", text.strip().lower()):
        if not part:
            continue
        domain = re.sub(r"^[a-z][a-z0-9+.-]*://", "", part).split("/")[0].split("?")[0].split(":")[0]
        domain = domain.removeprefix("www.").strip(".").lstrip("@")
        if "@" in domain:
            domain = domain.rsplit("@", 1)[1]
        if not _DOMAIN_RE.match(domain):
            raise ValueError(f"{domain[:60]!r} is not a domain")
        if is_free_mail_domain(domain):
            raise ValueError(f"{domain} is a free-mail provider's domain and cannot name a customer")
        found.setdefault(domain, None)
    return tuple(found)


# Date spellings tried in turn on a whole column (vectorised), before a per-cell guess for the rest.
DATE_FORMATS = ("ISO8601", "%m/%d/%Y", "%d.%m.%Y", "%d/%m/%Y", "%Y/%m/%d")


def parse_dates(column: pd.Series) -> pd.Series:
    """A renewal date column as dates: None for a blank, NaT for a cell that is not a date.

    ISO (`2027-03-31`, Excel's `2027-03-31 00:00:00`), US (`03/31/2027`) and European forms are
    read a whole column at a time; what none of them reads gets pandas' per-cell guess.
    """
    text = column.astype(str).str.strip()
    parsed = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
    for date_format in DATE_FORMATS:
        todo = parsed.isna() & (text != "")
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(text[todo], format=date_format, errors="coerce")
    for index in parsed.index[parsed.isna() & (text != "")]:
        parsed[index] = pd.to_datetime(text[index], errors="coerce")
    dates = pd.Series([None if pd.isna(value) else value.date() for value in parsed], index=column.index, dtype=object)
    return dates.where(text != "", None).where((text == "") | parsed.notna(), pd.NaT)


def _validate(frame: pd.DataFrame, report: ImportReport, progress: ProgressFn | None) -> list[_Row]:
    """Every row checked on its own; returns the good ones, records the bad ones."""
    good: list[_Row] = []
    total = len(frame)
    blank = (frame.apply(lambda column: column.astype(str).str.strip()) == "").all(axis=1).tolist()
    frame = frame.copy()
    if "renewal_date" in frame:
        frame["renewal_date"] = parse_dates(frame["renewal_date"])
    # Plain lists, zipped: much faster than DataFrame.to_dict for a hundred thousand rows.
    names = list(frame.columns)
    columns = [frame[name].tolist() for name in names]
    records = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    for index, record in enumerate(records):
        line = index + 2  # the header is line 1
        if progress and index and index % PROGRESS_EVERY == 0:
            progress("validated", index, total)
        if blank[index]:
            continue  # a blank line
        report.rows += 1
        try:
            good.append(_row(line, record))
        except ValueError as error:
            report.rejected.append(RejectedRow(line, str(error)))
    if progress:
        progress("validated", total, total)
    return good


def _row(line: int, record: dict[str, Any]) -> _Row:
    def text(name: str) -> str | None:
        value = str(record.get(name, "")).strip()
        if not value:
            return None
        limit = FIELD_LIMITS.get(name)
        if limit and len(value) > limit:
            raise ValueError(f"{name} is longer than {limit} characters")
        return value

    name = text("name")
    if name is None:
        raise ValueError("name is empty")
    values: dict[str, Any] = {"name": name, "plan": text("plan"), "segment": text("segment"), "owner": text("owner")}
    for money in ("arr", "mrr"):
        try:
            values[money] = parse_amount(str(record.get(money, "")))
        except ValueError as error:
            raise ValueError(f"{money.upper()} {error}") from None
    try:
        values["deal_stage"] = normalise_deal_stage(str(record.get("deal_stage", "")))
    except ValueError as error:
        raise ValueError(str(error)) from None
    renewal = record.get("renewal_date")
    if renewal is pd.NaT:
        raise ValueError("renewal date is not a date")
    values["renewal_date"] = renewal if isinstance(renewal, date) else None
    try:
        domains = parse_domains(str(record.get("domains", "")))
    except ValueError as error:
        raise ValueError(f"domain {error}") from None
    external_id = text("external_id")
    if external_id is None and not domains:
        raise ValueError("has neither an external id nor a domain to match it by")
    return _Row(line, values, domains, external_id)


def import_customers(
    conn: Connection, org_id: int, frame: pd.DataFrame, *, progress: ProgressFn | None = None
) -> ImportReport:
    """Validate every row of `frame` (from `read_customer_file`) and upsert the good ones for `org_id`.

    Runs in the caller's transaction. Each row is matched to an existing customer by external id,
    else by domain; a row whose domain is another customer's (in the file or in the warehouse) is
    refused. Returns what was done, with every refused row's line and reason.
    """
    report = ImportReport()
    rows = _validate(frame, report, progress)
    # Before any row is read or locked: the import may merge auto-created customers, and it writes
    # the domains a resolution run claims; a run of the organisation finishes first, none starts
    # until this transaction ends (no deadlock between them; `customer_merge.lock_customers`).
    lock_organisation_customers(conn, [org_id], shared=False)
    existing = {
        int(row.id): row
        for row in conn.execute(
            select(Customer.id, Customer.external_id, Customer.auto_created).where(Customer.org_id == org_id)
        )
    }
    by_external = {str(row.external_id): customer_id for customer_id, row in existing.items() if row.external_id}
    # CRM ids of customers merged away (by a person or an earlier import): the merge stands.
    merged_away: dict[str, tuple[int, str]] = {
        str(external_id): (int(target), actor)
        for external_id, target, actor in conn.execute(
            select(CustomerMerge.source_external_id, CustomerMerge.target_customer_id, CustomerMerge.actor)
            .where(CustomerMerge.org_id == org_id, CustomerMerge.source_external_id.isnot(None))
            .order_by(CustomerMerge.id)
        ).tuples()
    }
    owner_of: dict[str, int] = dict(
        conn.execute(select(CustomerDomain.domain, CustomerDomain.customer_id).where(CustomerDomain.org_id == org_id))
        .tuples()
        .all()
    )

    planned: list[tuple[_Row, int | None]] = []  # (row, existing customer id or None for a new one)
    file_domains: dict[str, int] = {}  # domain -> line that claimed it
    file_ids: dict[str, int] = {}
    targets: dict[int, int] = {}  # existing customer id -> line that updates it
    for row in rows:
        target = by_external.get(row.external_id) if row.external_id else None
        try:
            if target is None and row.external_id in merged_away:
                into, actor = merged_away[row.external_id]
                who = "this import" if actor == IMPORT_ACTOR else "a person"
                raise ValueError(
                    f"its external id is of a customer {who} merged into customer {into}; the merge is kept "
                    f"(edit customer {into} instead)"
                )
            if row.external_id and row.external_id in file_ids:
                raise ValueError(f"external id is also on line {file_ids[row.external_id]}")
            for domain in row.domains:
                if domain in file_domains:
                    raise ValueError(f"domain {domain} is also on line {file_domains[domain]}")
            for domain in row.domains:
                owner = owner_of.get(domain)
                if owner is None or owner == target or existing[owner].auto_created:
                    continue
                if target is None and (row.external_id is None or existing[owner].external_id is None):
                    target = owner  # upsert by domain
                    continue
                raise ValueError(f"domain {domain} belongs to another customer (id {owner})")
            if target is not None and target in targets:
                raise ValueError(f"matches the same customer as line {targets[target]}")
        except ValueError as error:
            report.rejected.append(RejectedRow(row.line, str(error)))
            continue
        if row.external_id:
            file_ids[row.external_id] = row.line
        for domain in row.domains:
            file_domains[domain] = row.line
        if target is not None:
            targets[target] = row.line
        planned.append((row, target))
    report.rejected.sort(key=lambda rejected: rejected.line)
    _write(conn, org_id, planned, existing, owner_of, report, progress)
    return report


def _write(
    conn: Connection,
    org_id: int,
    planned: list[tuple[_Row, int | None]],
    existing: dict[int, Any],
    owner_of: dict[str, int],
    report: ImportReport,
    progress: ProgressFn | None,
) -> None:
    now = utc_now()
    new_rows = [row for row, target in planned if target is None]
    new_ids: list[int] = []
    if conn.dialect.name == "postgresql":
        new_ids = _insert_postgresql(conn, org_id, new_rows, now)
        new_rows = []  # inserted
    for start in range(0, len(new_rows), INSERT_BATCH):
        batch = new_rows[start : start + INSERT_BATCH]
        values = [
            row.values | {"org_id": org_id, "external_id": row.external_id, "created_at": now, "updated_at": now}
            for row in batch
        ]
        result = conn.execute(insert(Customer).returning(Customer.id, sort_by_parameter_order=True), values)
        new_ids += [int(customer_id) for customer_id in result.scalars()]
        if progress:
            progress("created", len(new_ids), len(new_rows))
    report.created = len(new_ids)
    new_rows = [row for row, target in planned if target is None]

    updates = [
        row.values | {"id": target, "external_id": row.external_id or existing[target].external_id}
        for row, target in planned
        if target is not None
    ]
    _update_customers(conn, updates, now)
    report.updated = len(updates)
    # The requests these customers asked for carry their ARR and segment: re-summed now, not at the next run.
    refresh_customer_revenue(conn, org_id, [row["id"] for row in updates])
    if progress and updates:
        progress("updated", len(updates), len(updates))

    customer_of_row = {id(row): customer_id for row, customer_id in zip(new_rows, new_ids, strict=True)}
    claims: list[dict[str, Any]] = []
    for row, target in planned:
        customer_id = target if target is not None else customer_of_row[id(row)]
        claims += [
            {"org_id": org_id, "domain": domain, "customer_id": customer_id}
            for domain in row.domains
            if owner_of.get(domain) != customer_id
        ]
    taken_over = {owner_of[c["domain"]]: c["customer_id"] for c in claims if c["domain"] in owner_of}
    _claim_domains(conn, claims)
    report.merged = _merge_emptied(conn, org_id, taken_over)


CUSTOMER_COLUMNS: dict[str, Any] = {
    "name": String(), "arr": Float(), "mrr": Float(), "plan": String(), "segment": String(),
    "deal_stage": String(), "renewal_date": Date(), "owner": String(), "external_id": String(),
}  # fmt: skip


def _insert_postgresql(conn: Connection, org_id: int, rows: list[_Row], now: datetime) -> list[int]:
    """Insert new customers in one statement; returns their ids in the rows' order.

    The ids are drawn from the table's sequence first, so each row knows its id without relying
    on the order RETURNING gives rows back in.
    """
    if not rows:
        return []
    ids = [
        int(value)
        for value in conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, %(n)s)",
            {"n": len(rows)},
        ).scalars()
    ]
    values = [row.values | {"id": ids[index], "external_id": row.external_id} for index, row in enumerate(rows)]
    columns = {"id": BigInteger(), **CUSTOMER_COLUMNS}
    stamp = literal(now, UtcDateTime())
    for source, parameters in rows_source(conn, values, columns):
        query = select(*(source.c[name] for name in columns), literal(org_id, BigInteger()), stamp, stamp)
        conn.execute(insert(Customer).from_select([*columns, "org_id", "created_at", "updated_at"], query), parameters)
    return ids


def _update_customers(conn: Connection, updates: list[dict[str, Any]], now: datetime) -> None:
    """Set the imported fields of existing customers (an imported customer is no longer auto-created)."""
    columns = {"id": BigInteger(), **CUSTOMER_COLUMNS}
    for source, parameters in rows_source(conn, updates, columns):
        statement = (
            update(Customer)
            .where(Customer.id == source.c.id)
            .values(
                {name: source.c[name] for name in columns if name != "id"}
                | {"auto_created": False, "auto_key": None, "updated_at": literal(now, UtcDateTime())}
            )
            .execution_options(synchronize_session=False)
        )
        conn.execute(statement, parameters)


def _claim_domains(conn: Connection, claims: list[dict[str, Any]]) -> None:
    """Give each domain to its imported customer: new ones inserted, auto-created owners' moved."""
    columns = {"org_id": BigInteger(), "domain": String(), "customer_id": BigInteger()}
    ordered = sorted(claims, key=lambda claim: claim["domain"])
    for source, parameters in rows_source(conn, ordered, columns):
        insert_statement = dialect_insert(conn, CustomerDomain).from_select(
            ["org_id", "domain", "customer_id"],
            select(source.c.org_id, source.c.domain, source.c.customer_id).where(source.c.domain.isnot(None)),
        )
        # A domain an auto-created customer holds (now, or since this import read) moves over.
        auto_owner = (
            select(Customer.id).where(Customer.id == CustomerDomain.customer_id, Customer.auto_created).exists()
        )
        statement = insert_statement.on_conflict_do_update(
            index_elements=["org_id", "domain"],
            set_={"customer_id": insert_statement.excluded.customer_id},
            where=auto_owner,
        )
        conn.execute(statement, parameters)


def _merge_emptied(conn: Connection, org_id: int, taken_over: dict[int, int]) -> int:
    """Merge each auto-created customer that lost its last domain into the customer that took it.

    Its contacts, Slack teams and resolved messages move to the imported customer and it is
    deleted (`customer_merge.merge_customer`, as `POST /v1/customers/{id}/merge` does).
    """
    merged = 0
    for source_id, target_id in sorted(taken_over.items()):
        remaining = conn.execute(
            select(CustomerDomain.domain).where(CustomerDomain.customer_id == source_id).limit(1)
        ).first()
        if remaining is not None:
            continue
        if not lock_customers(conn, org_id, [source_id]).get(source_id):
            continue  # gone, or no longer auto-created (a person edited it since this import read)
        merge_customer(conn, org_id, source_id, target_id, actor=IMPORT_ACTOR)
        merged += 1
    return merged
