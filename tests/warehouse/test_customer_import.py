"""`headway customers import`: every bad row reported by line while the good rows land; upserts by
external id or domain; auto-created customers taken over and merged; CSV and Excel; both backends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, select, text

from headway_assets.cli import main
from headway_assets.core.message import TimeWindow
from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse.author_resolution import resolve_message_authors
from headway_assets.core.warehouse.conflicts import CONFLICT_ATTEMPTS, CUSTOMER_LOCK_CLASS, lock_organisation_customers
from headway_assets.core.warehouse.customer_import import (
    CustomerFileError,
    import_customers,
    parse_amount,
    read_customer_file,
)
from headway_assets.core.warehouse.database import get_engine, write_transaction
from headway_assets.core.warehouse.schema import (
    Contact,
    Customer,
    CustomerDomain,
    Message,
    MessageAuthor,
    Organization,
)

HEADER = "Record ID,Company name,Company Domain Name,ARR,MRR,Plan,Segment,Deal Stage,Renewal Date,Company owner\n"
GOOD_AND_BAD = (
    HEADER
    + '101,Globex,globex.example,"$120,000.00",10000,Enterprise,Mid-market,Closed Won,2027-03-31,ana@acme.example\n'
    + "102,Initech,https://www.initech.example/about,45k,,Pro,SMB,negotiation,03/31/2027,\n"
    + "103,Bad Money,badmoney.example,12x,,,,,,\n"
    + "104,Bad Stage,badstage.example,100,,,,Signed in blood,,\n"
    + "105,Copycat,globex.example,100,,,,,,\n"
    + "106,Free Mail Inc,gmail.com,100,,,,,,\n"
    + ",No Key,,100,,,,,,\n"
    + "108,,noname.example,100,,,,,,\n"
    + "109,Bad Date,baddate.example,100,,,,,not a date,\n"
    + "\n"
    + "111,Hooli,hooli.example; hooli.io,-5,,,,,,\n"
    + "112,Umbrella,umbrella.example,1.2M,,,Enterprise,trial,,\n"
)


def _org(conn: Connection, slug: str = "acme") -> int:
    return int(
        conn.execute(
            insert(Organization).values(slug=slug, name=slug, settings={"internal_domains": ["acme.example"]})
            .returning(Organization.id)
        ).scalar_one()
    )  # fmt: skip


def _write(tmp_path: Path, text: str, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _customers(url: str) -> dict[str, tuple[object, ...]]:
    with get_engine(url).connect() as conn:
        rows = conn.execute(
            select(Customer.name, Customer.external_id, Customer.arr, Customer.deal_stage, Customer.auto_created)
        ).all()
        domains = conn.execute(select(CustomerDomain.domain, Customer.name).join(Customer)).all()
    by_name = {str(row.name): tuple(row[1:]) for row in rows}
    for domain, name in domains:
        by_name[str(name)] += (domain,)
    return by_name


def test_bad_rows_are_reported_by_line_and_the_good_ones_land(database_url: str, tmp_path: Path) -> None:
    with write_transaction(database_url) as conn:
        org = _org(conn)
        report = import_customers(conn, org, read_customer_file(_write(tmp_path, GOOD_AND_BAD)))
    reasons = {rejected.line: rejected.reason for rejected in report.rejected}
    assert set(reasons) == {4, 5, 6, 7, 8, 9, 10, 12}
    assert "ARR is not an amount" in reasons[4]
    assert "unknown deal stage" in reasons[5] and "closed_won" in reasons[5]
    assert reasons[6] == "domain globex.example is also on line 2"
    assert "free-mail" in reasons[7]
    assert reasons[8] == "has neither an external id nor a domain to match it by"
    assert reasons[9] == "name is empty"
    assert reasons[10] == "renewal date is not a date"
    assert "ARR is negative" in reasons[12]
    assert (report.rows, report.created, report.updated) == (11, 3, 0)
    customers = _customers(database_url)
    assert customers["Globex"] == ("101", 120_000.0, "closed_won", False, "globex.example")
    assert customers["Initech"] == ("102", 45_000.0, "negotiation", False, "initech.example")
    assert customers["Umbrella"] == ("112", 1_200_000.0, "trial", False, "umbrella.example")
    with get_engine(database_url).connect() as conn:
        globex = conn.execute(select(Customer).where(Customer.name == "Globex")).one()
        assert (globex.mrr, globex.plan, globex.segment, globex.owner) == (
            10_000.0,
            "Enterprise",
            "Mid-market",
            "ana@acme.example",
        )
        assert globex.renewal_date == date(2027, 3, 31)
        initech = conn.execute(select(Customer.renewal_date).where(Customer.name == "Initech")).scalar_one()
        assert initech == date(2027, 3, 31)


def test_a_reimport_updates_by_external_id_or_domain_and_duplicates_nothing(database_url: str, tmp_path: Path) -> None:
    with write_transaction(database_url) as conn:
        org = _org(conn)
        import_customers(conn, org, read_customer_file(_write(tmp_path, GOOD_AND_BAD)))
    again = (
        HEADER
        + "101,Globex Corporation,globex.example,130000,,,,closed_lost,,\n"  # by external id
        + ",Initech,initech.example,50000,,,,,,\n"  # by domain (no id in this row)
        + "999,Umbrella again,umbrella.example,1,,,,,,\n"  # domain held by a customer with another id
    )
    with write_transaction(database_url) as conn:
        report = import_customers(conn, org, read_customer_file(_write(tmp_path, again)))
    assert [(r.line, r.reason) for r in report.rejected] == [
        (4, f"domain umbrella.example belongs to another customer (id {_id(database_url, 'Umbrella')})")
    ]
    assert (report.created, report.updated) == (0, 2)
    customers = _customers(database_url)
    assert customers["Globex Corporation"] == ("101", 130_000.0, "closed_lost", False, "globex.example")
    assert customers["Initech"] == ("102", 50_000.0, None, False, "initech.example")
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(Customer)).scalar_one() == 3


def _id(url: str, name: str) -> int:
    with get_engine(url).connect() as conn:
        return int(conn.execute(select(Customer.id).where(Customer.name == name)).scalar_one())


def test_an_import_takes_over_an_auto_created_customer_and_merges_it(database_url: str, tmp_path: Path) -> None:
    day = datetime(2026, 10, 5, 9, tzinfo=UTC)
    with write_transaction(database_url) as conn:
        org = _org(conn)
        message = conn.execute(
            insert(Message).values(
                org_id=org, source="gmail", external_id="m1", sent_at=day, text="t", text_length=1,
                content_hash="h", record_hash="h", source_metadata={}, author_email="kim@soylent.example",
                author_is_internal=False,
            ).returning(Message.id)
        ).scalar_one()  # fmt: skip
        resolve_message_authors(conn, TimeWindow(day.replace(hour=0), day.replace(hour=23)))
    auto = _id(database_url, "Soylent")
    csv = HEADER + "S-1,Soylent Corp,soylent.example,99000,,,,customer,,\n"
    with write_transaction(database_url) as conn:
        report = import_customers(conn, org, read_customer_file(_write(tmp_path, csv)))
    assert (report.created, report.merged, report.rejected) == (1, 1, [])
    soylent = _id(database_url, "Soylent Corp")
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(Customer.id).where(Customer.id == auto)).first() is None
        assert conn.execute(select(CustomerDomain.customer_id)).scalars().all() == [soylent]
        assert conn.execute(select(Contact.customer_id)).scalars().all() == [soylent]
        assert (
            conn.execute(select(MessageAuthor.customer_id).where(MessageAuthor.message_id == message)).scalar_one()
            == soylent
        )
    # The next resolution agrees with what the import did.
    with write_transaction(database_url) as conn:
        stats = resolve_message_authors(conn, TimeWindow(day.replace(hour=0), day.replace(hour=23)))
    assert (stats.rows_written, stats.customers_auto_created) == (0, 0)


def test_a_file_without_name_or_key_columns_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CustomerFileError, match="no company name column"):
        read_customer_file(_write(tmp_path, "id,domain\n1,a.example\n"))
    with pytest.raises(CustomerFileError, match="neither an external id column"):
        read_customer_file(_write(tmp_path, "name,arr\nA,1\n"))
    with pytest.raises(CustomerFileError, match="does not exist"):
        read_customer_file(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("text", "amount"),
    [("$120,000.00", 120_000.0), ("120k", 120_000.0), ("1.5M", 1_500_000.0), ("", None), ("EUR 900", 900.0)],
)
def test_amounts_as_crms_export_them(text: str, amount: float | None) -> None:
    assert parse_amount(text) == amount


def test_an_excel_export_imports_like_a_csv(database_url: str, tmp_path: Path) -> None:
    pytest.importorskip("openpyxl", reason="Excel files need openpyxl (a declared dependency of the import)")
    import pandas as pd

    frame = pd.DataFrame(
        {
            "Account Name": ["Globex", "Bad"],
            "Account ID": ["0015g00000A", "0015g00000B"],
            "Website": ["www.globex.example", "bad.example"],
            "ARR": [120000, "lots"],
            "Stage": ["Closed Won", "Closed Won"],
        }
    )
    path = tmp_path / "salesforce.xlsx"
    frame.to_excel(path, index=False)
    with write_transaction(database_url) as conn:
        report = import_customers(conn, _org(conn), read_customer_file(path))
    assert [(r.line, r.reason) for r in report.rejected] == [(3, "ARR is not an amount")]
    assert _customers(database_url)["Globex"] == ("0015g00000A", 120_000.0, "closed_won", False, "globex.example")


@contextmanager
def _command_line_on(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The command line pointed at the warehouse `url`, with acme created in it."""
    monkeypatch.setenv("HEADWAY_DATABASE_URL", url)
    monkeypatch.setenv("HEADWAY_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    with write_transaction(url) as conn:
        _org(conn)
    try:
        yield url
    finally:
        get_settings.cache_clear()


@pytest.fixture
def cli_warehouse(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with _command_line_on(database_url, tmp_path, monkeypatch) as url:
        yield url


def test_the_command_prints_each_refused_line_and_imports_the_rest(
    cli_warehouse: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, GOOD_AND_BAD)
    assert main(["customers", "import", "--org", "acme", str(path), "--dry-run"]) == 1
    assert "would import 3 of 11 rows" in capsys.readouterr().out
    assert _customers(cli_warehouse) == {}
    assert main(["customers", "import", "--org", "acme", str(path)]) == 1
    out = capsys.readouterr().out
    assert "line 4: ARR is not an amount" in out and "line 12: ARR is negative" in out
    assert "imported 3 of 11 rows (3 new customers, 0 updated, 0 auto-created merged), refused 8" in out
    assert set(_customers(cli_warehouse)) == {"Globex", "Initech", "Umbrella"}
    assert main(["customers", "import", "--org", "nobody", str(path)]) == 2
    assert main(["customers", "import", "--org", "acme", str(tmp_path / "missing.csv")]) == 2


@pytest.fixture
def cli_postgres(postgres_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The command line on PostgreSQL (where transactions abort one another), with acme."""
    with get_engine(postgres_database_url).begin() as conn:
        conn.execute(text("TRUNCATE customers, customer_domains, organizations RESTART IDENTITY CASCADE"))
    with _command_line_on(postgres_database_url, tmp_path, monkeypatch) as url:
        yield url


def _waiting_for_the_customer_lock(url: str, timeout: float = 30) -> None:
    """Until a session waits for an organisation's customer lock."""
    deadline = time.monotonic() + timeout
    with get_engine(url).connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND NOT granted"),
                {"c": CUSTOMER_LOCK_CLASS},
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the import never waited for the customer lock")


def test_the_command_is_run_again_when_postgresql_aborts_it_for_a_deadlock(
    cli_postgres: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another transaction (as a resolution run) holds acme's customer lock; the import, having read
    `organizations`, waits for it; the other then wants `organizations` exclusively. The import waited
    first, so its backend breaks the cycle by aborting it (40P01); the retry runs it again, and it lands.
    Without the retry the command fails with the deadlock."""
    url, path = cli_postgres, _write(tmp_path, GOOD_AND_BAD)
    codes: list[object] = []

    def run() -> None:
        try:
            codes.append(main(["customers", "import", "--org", "acme", str(path)]))
        except BaseException as error:  # reported below
            codes.append(error)

    command = threading.Thread(target=run)
    with write_transaction(url) as other:
        org_id = other.execute(select(Organization.id).where(Organization.slug == "acme")).scalar_one()
        lock_organisation_customers(other, [org_id], shared=False)
        command.start()
        _waiting_for_the_customer_lock(url)
        other.execute(text("LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE"))  # closes the cycle
    command.join(timeout=60)
    assert codes == [1], codes  # the refused rows of the file, as without a conflict
    out = capsys.readouterr().out
    assert "the import ran 2 times, the last one went through" in out, out
    assert "imported 3 of 11 rows" in out
    assert set(_customers(url)) == {"Globex", "Initech", "Umbrella"}


@pytest.fixture
def aborted_inserts(cli_postgres: str) -> Iterator[str]:
    """Every insert into `customers` aborted by PostgreSQL as a serialization failure (40001), as when
    the import meets a conflicting transaction on every attempt; a sequence counts the attempts (it
    is not rolled back with them)."""
    with get_engine(cli_postgres).begin() as conn:
        conn.execute(text("CREATE SEQUENCE test_import_attempts"))
        conn.execute(
            text(
                "CREATE FUNCTION test_abort_import() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " PERFORM nextval('test_import_attempts');"
                " RAISE EXCEPTION 'forced by the test' USING ERRCODE = 'serialization_failure'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER test_abort_import BEFORE INSERT ON customers"
                " FOR EACH STATEMENT EXECUTE FUNCTION test_abort_import()"
            )
        )
    try:
        yield cli_postgres
    finally:
        with get_engine(cli_postgres).begin() as conn:
            conn.execute(text("DROP TRIGGER test_abort_import ON customers"))
            conn.execute(text("DROP FUNCTION test_abort_import()"))
            conn.execute(text("DROP SEQUENCE test_import_attempts"))


def test_the_command_says_what_to_do_when_postgresql_aborts_it_on_every_attempt(
    aborted_inserts: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = aborted_inserts
    assert main(["customers", "import", "--org", "acme", str(_write(tmp_path, GOOD_AND_BAD))]) == 3
    out = capsys.readouterr().out
    assert f"PostgreSQL aborted the import {CONFLICT_ATTEMPTS} times (SQLSTATE 40001)" in out, out
    assert "Nothing was imported. Run the import again when the pipeline run finishes." in out
    with get_engine(url).connect() as conn:
        attempts = conn.execute(text("SELECT last_value FROM test_import_attempts")).scalar_one()
    assert attempts == CONFLICT_ATTEMPTS, "each attempt a whole transaction, the API import's number of them"
    assert _customers(url) == {}


def test_the_command_gives_up_after_its_wait_when_a_run_keeps_the_customers(
    cli_postgres: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run holding acme's customer lock (shared, as author resolution takes it) past `--wait`: the
    command stops with exit 3 and says why and what to do; nothing is imported."""
    url, path = cli_postgres, _write(tmp_path, GOOD_AND_BAD)
    with write_transaction(url) as run:
        org_id = run.execute(select(Organization.id).where(Organization.slug == "acme")).scalar_one()
        lock_organisation_customers(run, [org_id], shared=True)
        started = time.monotonic()
        assert main(["customers", "import", "--org", "acme", "--wait", "0.3", str(path)]) == 3
        waited = time.monotonic() - started
    out = capsys.readouterr().out
    assert "acme's customers stayed locked for more than 0.3 s" in out, out
    assert "--wait SECONDS" in out and "Nothing was imported" in out
    assert 0.3 <= waited < 20, waited
    assert _customers(url) == {}
    # Once the run is over, the same command lands.
    assert main(["customers", "import", "--org", "acme", "--wait", "0.3", str(path)]) == 1
    assert set(_customers(url)) == {"Globex", "Initech", "Umbrella"}


@pytest.mark.parametrize("wait", ["0", "-1", "soon", "inf"])
def test_the_wait_must_be_seconds_above_zero(wait: str, cli_warehouse: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["customers", "import", "--org", "acme", "--wait", wait, str(_write(tmp_path, GOOD_AND_BAD))])
    assert stopped.value.code == 2
