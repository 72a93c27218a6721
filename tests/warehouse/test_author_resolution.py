"""Author resolution: each rule on both backends, re-run safety, and concurrent runs on one day."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, select, text

from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.author_resolution import ResolutionStats, resolve_message_authors
from headway_assets.core.warehouse.customer_merge import lock_customers, merge_customer
from headway_assets.core.warehouse.database import get_engine, write_transaction
from headway_assets.core.warehouse.removals import archive_and_delete
from headway_assets.core.warehouse.schema import (
    Contact,
    Customer,
    CustomerDomain,
    CustomerSlackTeam,
    Message,
    MessageAuthor,
    Organization,
)
from tests.conftest import _truncate_postgres

DAY = datetime(2026, 10, 5, tzinfo=UTC)
WINDOW = TimeWindow(DAY, DAY + timedelta(days=1))


def _org(conn: Connection, slug: str, internal_domains: list[str]) -> int:
    settings = {"internal_domains": internal_domains}
    return int(
        conn.execute(
            insert(Organization).values(slug=slug, name=slug, settings=settings).returning(Organization.id)
        ).scalar_one()
    )


def _message(
    conn: Connection,
    org_id: int,
    external_id: str,
    *,
    source: str = "gmail",
    email: str | None = None,
    name: str | None = "Someone",
    internal: bool | None = False,
    customer: str | None = None,
    metadata: dict[str, Any] | None = None,
    sent_at: datetime = DAY + timedelta(hours=9),
) -> int:
    values = {
        "org_id": org_id, "source": source, "external_id": external_id, "sent_at": sent_at, "text": "t",
        "text_length": 1, "content_hash": "h", "record_hash": "h", "source_metadata": metadata or {},
        "author_email": email, "author_name": name, "author_is_internal": internal, "customer": customer,
    }  # fmt: skip
    return int(conn.execute(insert(Message).values(**values).returning(Message.id)).scalar_one())


def _imported_customer(conn: Connection, org_id: int, name: str, domain: str) -> int:
    customer_id = int(
        conn.execute(
            insert(Customer).values(org_id=org_id, name=name, arr=120_000.0).returning(Customer.id)
        ).scalar_one()
    )
    conn.execute(insert(CustomerDomain).values(org_id=org_id, domain=domain, customer_id=customer_id))
    return customer_id


def _author(conn: Connection, message_id: int) -> Any:
    return conn.execute(
        select(
            *MessageAuthor.__table__.columns, Customer.name.label("customer_name"), Customer.auto_created, Contact.key
        )
        .outerjoin(Customer, Customer.id == MessageAuthor.customer_id)
        .outerjoin(Contact, Contact.id == MessageAuthor.contact_id)
        .where(MessageAuthor.message_id == message_id)
    ).one()


def _resolve(url: str, window: TimeWindow = WINDOW) -> ResolutionStats:
    with write_transaction(url) as conn:
        return resolve_message_authors(conn, window)


@pytest.fixture
def postgres_url(postgres_database_url: str) -> str:
    """The PostgreSQL warehouse alone, emptied (the concurrency tests need two real sessions)."""
    _truncate_postgres(postgres_database_url)
    return postgres_database_url


@pytest.fixture
def scenario(database_url: str) -> dict[str, int]:
    """One organisation's day with every kind of author, plus a second organisation sharing a domain."""
    with write_transaction(database_url) as conn:
        acme = _org(conn, "acme", ["acme.example"])
        other = _org(conn, "other", [])
        ids = {"acme": acme, "other": other}
        ids["initech"] = _imported_customer(conn, acme, "Initech", "initech.example")
        ids["staff"] = _message(conn, acme, "staff", email="pm@acme.example", internal=True)
        # Not flagged internal by the source, but at a subdomain of the org's own domain.
        ids["staff_subdomain"] = _message(conn, acme, "staff2", email="ops@eu.acme.example", internal=None)
        ids["alice"] = _message(conn, acme, "alice", email="Alice@Globex.example")
        ids["bob"] = _message(conn, acme, "bob", email="bob@globex.example", source="slack")
        ids["carol"] = _message(conn, acme, "carol", email="carol@gmail.com")
        ids["carol_mail"] = _message(conn, acme, "carol2", email="carol@mail.yahoo.com")
        ids["robot"] = _message(conn, acme, "robot", email="no-reply@zoom.example")
        ids["bulk"] = _message(conn, acme, "bulk", email="editors@newsletter.example", metadata={"automated": "bulk"})
        ids["dan"] = _message(
            conn, acme, "dan", source="slack", email="dan@initech.example",
            metadata={"user_id": "U1", "slack_connect_team": "T1"},
        )  # fmt: skip
        ids["erin"] = _message(
            conn, acme, "erin", source="slack", email=None, metadata={"user_id": "U2", "slack_connect_team": "T1"}
        )
        ids["frank"] = _message(
            conn, acme, "frank", source="slack", email=None, customer="Hooli",
            metadata={"user_id": "U3", "slack_connect_team": "T2"},
        )  # fmt: skip
        ids["gong"] = _message(
            conn, acme, "call1", source="gong", email=None, name="Buyer",
            metadata={"parties": [
                {"name": "Rep", "email": "rep@acme.example", "affiliation": "Internal"},
                {"name": "Buyer", "email": "buyer@umbrella.example", "affiliation": "External"},
                {"name": "Her friend", "email": "friend@gmail.com", "affiliation": "External"},
            ]},
        )  # fmt: skip
        ids["fathom"] = _message(
            conn, acme, "call2", source="fathom", email="gina@outlook.com", name="Gina",
            metadata={"calendar_invitees": [
                {"name": "Gina", "email": "gina@outlook.com", "is_external": True},
                {"name": "Hal", "email": "hal@vandelay.example", "is_external": True},
                {"name": "Rep", "email": "rep@acme.example", "is_external": False},
            ]},
        )  # fmt: skip
        ids["nobody"] = _message(conn, acme, "nobody", email=None, name=None)
        ids["slack_no_email"] = _message(conn, acme, "ivan", source="slack", email=None, metadata={"user_id": "U9"})
        ids["other_globex"] = _message(conn, other, "x", email="zed@globex.example")
        ids["tomorrow"] = _message(conn, acme, "late", email="late@late.example", sent_at=DAY + timedelta(days=1))
    return ids


def test_each_author_gets_the_customer_its_evidence_names(database_url: str, scenario: dict[str, int]) -> None:
    stats = _resolve(database_url)
    with get_engine(database_url).connect() as conn:
        staff = _author(conn, scenario["staff"])
        assert (staff.status, staff.customer_id, staff.contact_id) == (
            "internal",
            None,
            None,
        )
        assert _author(conn, scenario["staff_subdomain"]).status == "internal"

        alice, bob = _author(conn, scenario["alice"]), _author(conn, scenario["bob"])
        assert alice.customer_name == "Globex" and alice.auto_created
        assert alice.method == "email_domain" and alice.key == "alice@globex.example"
        assert bob.customer_id == alice.customer_id  # one customer per domain
        assert bob.contact_id != alice.contact_id

        for key in ("carol", "carol_mail"):
            carol = _author(conn, scenario[key])
            assert (carol.status, carol.reason) == ("unresolved", "free_mail_domain")
            assert carol.contact_id is not None and carol.customer_id is None
        for key in ("robot", "bulk"):
            robot = _author(conn, scenario[key])
            assert (robot.reason, robot.contact_id) == ("automated_sender", None)

        dan, erin = _author(conn, scenario["dan"]), _author(conn, scenario["erin"])
        assert dan.customer_name == "Initech" and not dan.auto_created and dan.method == "email_domain"
        assert erin.customer_id == dan.customer_id
        assert erin.method == "slack_team" and erin.key == "slack:U2"

        frank = _author(conn, scenario["frank"])
        assert frank.customer_name == "Hooli" and frank.auto_created and frank.method == "slack_team"

        gong = _author(conn, scenario["gong"])
        assert gong.customer_name == "Umbrella" and gong.method == "call_participants"
        assert gong.contact_id is None  # the author has neither e-mail nor user id
        fathom = _author(conn, scenario["fathom"])
        assert fathom.customer_name == "Vandelay" and fathom.method == "call_participants"
        assert fathom.key == "gina@outlook.com"

        nobody = _author(conn, scenario["nobody"])
        assert (nobody.status, nobody.reason) == ("unresolved", "no_author")
        ivan = _author(conn, scenario["slack_no_email"])
        assert (ivan.reason, ivan.key) == ("no_author_email", "slack:U9")

        other_globex = _author(conn, scenario["other_globex"])
        assert other_globex.customer_name == "Globex"
        assert other_globex.customer_id != alice.customer_id  # customers are per org
        assert other_globex.org_id == scenario["other"]

        # Outside the window: not resolved by this run.
        assert (
            conn.execute(select(MessageAuthor).where(MessageAuthor.message_id == scenario["tomorrow"])).first() is None
        )
        domains = set(conn.execute(select(CustomerDomain.domain)).scalars())
        assert not domains & {"gmail.com", "outlook.com", "mail.yahoo.com", "zoom.example", "newsletter.example"}
        assert not domains & {"acme.example", "eu.acme.example"}
        teams = dict(conn.execute(select(CustomerSlackTeam.team_id, CustomerSlackTeam.customer_id)).all())
        assert teams == {"T1": dan.customer_id, "T2": frank.customer_id}

    assert stats.messages == 16
    assert stats.internal == 2
    assert stats.resolved == {"email_domain": 4, "slack_team": 2, "call_participants": 2}
    assert stats.unresolved == {"free_mail_domain": 2, "automated_sender": 2, "no_author": 1, "no_author_email": 1}
    # Globex twice (two orgs), Hooli, Umbrella, Vandelay; Initech was imported.
    assert stats.customers_auto_created == 5


def test_a_rerun_writes_nothing_and_creates_nothing(database_url: str, scenario: dict[str, int]) -> None:
    first = _resolve(database_url)
    with get_engine(database_url).connect() as conn:
        before = {
            model.__tablename__: conn.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Customer, Contact, CustomerDomain, CustomerSlackTeam, MessageAuthor)
        }
    second = _resolve(database_url)
    with get_engine(database_url).connect() as conn:
        after = {
            model.__tablename__: conn.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Customer, Contact, CustomerDomain, CustomerSlackTeam, MessageAuthor)
        }
    assert first.rows_written == 16 and second.rows_written == 0
    assert (second.customers_auto_created, second.contacts_created) == (0, 0)
    assert after == before
    assert (second.resolved, second.unresolved, second.internal) == (first.resolved, first.unresolved, first.internal)


def test_an_imported_domain_takes_over_from_evidence_on_the_next_run(database_url: str) -> None:
    with write_transaction(database_url) as conn:
        org = _org(conn, "acme", [])
        message = _message(conn, org, "m1", email="kim@soylent.example")
    _resolve(database_url)
    with write_transaction(database_url) as conn:
        auto = conn.execute(select(Customer.id).where(Customer.auto_key == "domain:soylent.example")).scalar_one()
        # A person moves the domain to a customer of their own (what the import does for a CRM row).
        conn.execute(CustomerDomain.__table__.delete().where(CustomerDomain.customer_id == auto))
        mine = _imported_customer(conn, org, "Soylent Corp", "soylent.example")
    stats = _resolve(database_url)
    with get_engine(database_url).connect() as conn:
        row = _author(conn, message)
        assert row.customer_id == mine and row.customer_name == "Soylent Corp"
        contact = conn.execute(select(Contact.customer_id).where(Contact.key == "kim@soylent.example")).scalar_one()
        assert contact == mine
    assert stats.rows_written == 1 and stats.customers_auto_created == 0


def test_concurrent_runs_create_each_customer_and_contact_once(database_url: str) -> None:
    with write_transaction(database_url) as conn:
        org = _org(conn, "acme", ["acme.example"])
        for index in range(300):
            _message(
                conn, org, f"m{index}", email=f"p{index % 40}@company{index % 25}.example",
                sent_at=DAY + timedelta(minutes=index),
            )  # fmt: skip
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run(window: TimeWindow) -> None:
        try:
            barrier.wait(timeout=30)
            _resolve(database_url, window)
        except BaseException as error:  # reported below
            errors.append(error)

    halves = [
        WINDOW,
        TimeWindow(DAY, DAY + timedelta(hours=3)),
        TimeWindow(DAY + timedelta(hours=2), DAY + timedelta(days=1)),
    ]
    threads = [threading.Thread(target=run, args=(window,)) for window in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with get_engine(database_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(Customer)).scalar_one() == 25
        assert conn.execute(select(func.count()).select_from(CustomerDomain)).scalar_one() == 25
        people = {(index % 40, index % 25) for index in range(300)}
        assert conn.execute(select(func.count()).select_from(Contact)).scalar_one() == len(people)
        assert conn.execute(select(func.count()).select_from(MessageAuthor)).scalar_one() == 300
        assert (
            conn.execute(
                select(func.count()).select_from(MessageAuthor).where(MessageAuthor.status == "resolved")
            ).scalar_one()
            == 300
        )


def test_a_removed_message_takes_its_author_row_with_it(database_url: str, scenario: dict[str, int]) -> None:
    _resolve(database_url)
    with write_transaction(database_url) as conn:
        archive_and_delete(conn, [scenario["alice"]], dagster_run_id=None, sync_run_id=None, reason="test")
    with get_engine(database_url).connect() as conn:
        left = conn.execute(select(MessageAuthor).where(MessageAuthor.message_id == scenario["alice"])).first()
        assert left is None
        assert conn.execute(select(func.count()).select_from(MessageAuthor)).scalar_one() == 15


# -- a customer merge concurrent with a resolution run ------------------------------------------


def _merge_setup(url: str) -> dict[str, int]:
    """Customers S (s.example) and T; a resolved message of alice@s.example, and a new one of hers
    that the next run resolves to S by its domain (her contact exists, so the run writes no contact)."""
    with write_transaction(url) as conn:
        org = _org(conn, "acme", ["acme.example"])
        source = _imported_customer(conn, org, "Source", "s.example")
        target = _imported_customer(conn, org, "Target", "t.example")
        first = _message(conn, org, "m0", email="alice@s.example")
    _resolve(url)
    with write_transaction(url) as conn:
        second = _message(conn, org, "m1", email="alice@s.example", sent_at=DAY + timedelta(hours=10))
    return {"org": org, "source": source, "target": target, "first": first, "second": second}


def _merge(conn: Connection, ids: dict[str, int]) -> None:
    """What `POST /v1/customers/{id}/merge` does in its transaction."""
    assert set(lock_customers(conn, ids["org"], [ids["source"], ids["target"]])) == {ids["source"], ids["target"]}
    merge_customer(conn, ids["org"], ids["source"], ids["target"], actor="test")


def _dangling(url: str) -> list[int]:
    """`message_authors` customer ids that name no customer (the column has no foreign key)."""
    with get_engine(url).connect() as conn:
        live = select(Customer.id).where(Customer.id == MessageAuthor.customer_id).exists()
        return list(
            conn.execute(
                select(MessageAuthor.customer_id).where(MessageAuthor.customer_id.isnot(None), ~live)
            ).scalars()
        )


def _blocked_by(url: str, backend_pid: int, done: threading.Event, timeout: float = 60) -> bool:
    """Wait until a session waits for a lock `backend_pid` holds (True), or `done` is set (False)."""
    deadline = time.monotonic() + timeout
    with get_engine(url).connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                {"pid": backend_pid},
            ).scalar_one()
            conn.rollback()
            if waiting:
                return True
            if done.wait(0.05):
                return False
    raise AssertionError("neither blocked nor done")


def _in_thread(work: Any) -> tuple[threading.Thread, threading.Event, list[Any]]:
    done = threading.Event()
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # reported by the test
            outcome.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done, outcome


def test_a_merge_committing_while_a_run_writes_leaves_no_dangling_customer(postgres_url: str) -> None:
    """The merge has moved everything of S and deleted it, uncommitted, when the run starts; the run
    waits for the merge at the organisation's customer lock, before it reads any evidence, and then
    reads S's domain as T's. (Before the lock it read S, wrote S and re-pointed the row afterwards.)"""
    ids = _merge_setup(postgres_url)
    with write_transaction(postgres_url) as merging:
        _merge(merging, ids)
        merge_pid = int(merging.execute(text("SELECT pg_backend_pid()")).scalar_one())
        thread, done, outcome = _in_thread(lambda: _resolve(postgres_url))
        assert _blocked_by(postgres_url, merge_pid, done), f"the run did not wait for the merge: {outcome}"
    thread.join(timeout=60)
    [stats] = outcome
    assert isinstance(stats, ResolutionStats), stats
    assert stats.rows_written == 1
    assert _dangling(postgres_url) == []
    with get_engine(postgres_url).connect() as conn:
        assert _author(conn, ids["second"]).customer_id == ids["target"]
        assert _author(conn, ids["first"]).customer_id == ids["target"]


def test_a_merge_starting_after_a_run_wrote_waits_for_it_and_moves_its_rows(postgres_url: str) -> None:
    """The run has written S for the new message, uncommitted; the merge waits at its lock until the
    run commits, and then moves that row too."""
    ids = _merge_setup(postgres_url)
    with write_transaction(postgres_url) as resolving:
        stats = resolve_message_authors(resolving, WINDOW)
        assert stats.rows_written == 1
        run_pid = int(resolving.execute(text("SELECT pg_backend_pid()")).scalar_one())

        def merge() -> None:
            with write_transaction(postgres_url) as merging:
                _merge(merging, ids)

        thread, done, outcome = _in_thread(merge)
        assert _blocked_by(postgres_url, run_pid, done), f"the merge did not wait for the run: {outcome}"
    thread.join(timeout=60)
    assert outcome == [None]
    assert _dangling(postgres_url) == []
    with get_engine(postgres_url).connect() as conn:
        assert _author(conn, ids["second"]).customer_id == ids["target"]


def test_runs_before_and_after_a_merge_name_the_kept_customer(database_url: str) -> None:
    """Without concurrency, on both backends (SQLite's write transactions exclude each other, so
    this is all that can happen there): the merge moves what a run wrote, a later run writes T."""
    ids = _merge_setup(database_url)
    with write_transaction(database_url) as conn:
        _merge(conn, ids)
    stats = _resolve(database_url)
    assert stats.rows_written == 1
    assert _dangling(database_url) == []
    with get_engine(database_url).connect() as conn:
        assert _author(conn, ids["second"]).customer_id == ids["target"]
        assert conn.execute(select(Customer.id).where(Customer.id == ids["source"])).first() is None


def _blocked_pids(url: str, backend_pid: int, done: threading.Event, timeout: float = 60) -> list[int]:
    """The sessions waiting for a lock `backend_pid` holds, once there is one ([] if `done` is set first)."""
    deadline = time.monotonic() + timeout
    with get_engine(url).connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid)) ORDER BY pid"),
                {"pid": backend_pid},
            ).scalars()
            found = [int(pid) for pid in waiting]
            conn.rollback()
            if found:
                return found
            if done.wait(0.05):
                return []
    raise AssertionError("neither blocked nor done")


def test_a_merge_and_a_run_holding_its_target_do_not_deadlock(postgres_url: str) -> None:
    """The run has written a new contact of T (its foreign key locks T) and is paused before it
    writes the messages' rows; then a merge of S into T starts. Before the fix the merge locked S
    and waited for T, the run then waited for S at its merge guard: a deadlock PostgreSQL broke
    by aborting the merge (the API's 500). Both must finish, the merge after the run."""
    ids = _merge_setup(postgres_url)
    with write_transaction(postgres_url) as conn:
        bob = _message(conn, ids["org"], "m2", email="bob@t.example", sent_at=DAY + timedelta(hours=11))
    with write_transaction(postgres_url) as pausing:
        # The run analyses `contacts` right after its contact upsert; this lock holds it there.
        pausing.exec_driver_sql("LOCK TABLE contacts IN SHARE UPDATE EXCLUSIVE MODE")
        pause_pid = int(pausing.execute(text("SELECT pg_backend_pid()")).scalar_one())
        run_thread, run_done, run_outcome = _in_thread(lambda: _resolve(postgres_url))
        [run_pid] = _blocked_pids(postgres_url, pause_pid, run_done)

        def merge() -> None:
            with write_transaction(postgres_url) as merging:
                _merge(merging, ids)

        merge_thread, merge_done, merge_outcome = _in_thread(merge)
        assert _blocked_pids(postgres_url, run_pid, merge_done), f"the merge did not wait: {merge_outcome}"
    run_thread.join(timeout=60)
    merge_thread.join(timeout=60)
    assert merge_outcome == [None]
    [stats] = run_outcome
    assert isinstance(stats, ResolutionStats), stats
    assert _dangling(postgres_url) == []
    with get_engine(postgres_url).connect() as conn:
        assert {_author(conn, message).customer_id for message in (ids["first"], ids["second"], bob)} == {ids["target"]}


def test_a_contact_new_during_a_merge_is_written_for_the_kept_customer(postgres_url: str) -> None:
    """The merge has moved everything of S and deleted it, uncommitted, when a run meets a new
    person at S's domain. Before the fix the run inserted her contact naming S, whose foreign key
    waited for the merge and then failed (the run failed, the next one succeeded). The run must
    succeed, her contact and message naming T."""
    ids = _merge_setup(postgres_url)
    with write_transaction(postgres_url) as conn:
        carol = _message(conn, ids["org"], "m2", email="carol@s.example", sent_at=DAY + timedelta(hours=11))
    with write_transaction(postgres_url) as merging:
        _merge(merging, ids)
        merge_pid = int(merging.execute(text("SELECT pg_backend_pid()")).scalar_one())
        thread, done, outcome = _in_thread(lambda: _resolve(postgres_url))
        assert _blocked_by(postgres_url, merge_pid, done), f"the run did not wait for the merge: {outcome}"
    thread.join(timeout=60)
    [stats] = outcome
    assert isinstance(stats, ResolutionStats), stats
    assert _dangling(postgres_url) == []
    with get_engine(postgres_url).connect() as conn:
        assert _author(conn, carol).customer_id == ids["target"]
        assert _author(conn, ids["second"]).customer_id == ids["target"]
        contact = conn.execute(select(Contact.customer_id).where(Contact.key == "carol@s.example")).scalar_one()
        assert contact == ids["target"]
