"""Customers through HTTP, on SQLite and PostgreSQL: list, get, create, edit, merge and import
(CSV and Excel), the import's validation on the API, other organisations' ids, and refusals that
change nothing."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text, update

from headway_api.core.security import CATALOGUE_WRITE_SCOPE
from headway_api.schemas.customers import CustomerDetail, CustomerImportReport, CustomerPage
from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.author_resolution import ResolutionStats, resolve_message_authors
from headway_assets.core.warehouse.database import get_engine, write_transaction
from headway_assets.core.warehouse.schema import (
    Contact,
    Customer,
    CustomerDomain,
    CustomerMerge,
    CustomerSlackTeam,
    FeatureRequest,
    Message,
    MessageAuthor,
)
from tests.api.support import Seed, app_client, bearer, seed_warehouse, table_rows, walk_pages
from tests.api.test_triage import _service
from tests.conftest import _truncate_postgres
from tests.warehouse.test_author_resolution import _blocked_by, _blocked_pids, _in_thread, _message

TABLES = (Customer, CustomerDomain, CustomerSlackTeam, Contact, MessageAuthor)


def state(url: str) -> dict[str, Any]:
    """Every row a customer write may touch, to prove a refused one changed nothing."""
    return table_rows(url, TABLES)


@pytest.fixture
def crm(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Seed, str]]:
    """The API over a seeded warehouse of two organisations (acme is the caller)."""
    seed = seed_warehouse(database_url)
    with app_client(database_url, tmp_path) as client:
        yield client, seed, database_url


def _refused(client: TestClient, url: str, method: str, path: str, status: int, code: str, **kwargs: Any) -> str:
    before = state(url)
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    assert state(url) == before, f"{method} {path} changed the warehouse though refused"
    details = error.get("details") or []
    return " ".join([error["message"], *(detail["message"] for detail in details)])


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/customers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return CustomerDetail.model_validate(response.json()).model_dump(mode="json")


def test_create_get_patch_and_list(crm: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = crm
    headers = bearer(client, seed.a.user_id, "acme")
    globex = _create(
        client,
        headers,
        name="Globex",
        arr="$120k",
        mrr=10000,
        plan="Enterprise",
        segment="enterprise",
        deal_stage="Closed Won",
        renewal_date="2027-03-31",
        owner="ana@acme.example",
        external_id="hs-1",
        domains=["https://www.globex.com/about", "globex.io"],
    )
    assert globex["arr"] == 120000.0 and globex["deal_stage"] == "closed_won"
    assert globex["domains"] == ["globex.com", "globex.io"] and globex["auto_created"] is False
    initech = _create(client, headers, name="Initech", segment="smb", domains=["initech.com"])

    # Activity: a contact and one resolved message of acme's.
    message = seed.a.messages[0]
    with get_engine(url).begin() as conn:
        conn.execute(insert(Contact).values(org_id=seed.a.id, key="x@globex.com", customer_id=globex["id"]))
        conn.execute(
            insert(MessageAuthor).values(
                message_id=message["id"], org_id=seed.a.id, customer_id=globex["id"], status="resolved"
            )
        )
        sent_at = conn.execute(select(Message.sent_at).where(Message.id == message["id"])).scalar_one()
    detail = client.get(f"/v1/customers/{globex['id']}", headers=headers)
    assert detail.status_code == 200, detail.text
    body = CustomerDetail.model_validate(detail.json())
    # The route serialises its document itself: it must be exactly what the model makes.
    assert detail.json() == body.model_dump(mode="json")
    assert (body.contact_count, body.message_count) == (1, 1)
    assert body.last_message_at is not None and body.last_message_at.replace(tzinfo=None) == sent_at.replace(
        tzinfo=None
    )

    patched = client.patch(
        f"/v1/customers/{initech['id']}",
        json={"arr": "1.2M", "deal_stage": "Negotiation", "domains": ["initech.com", "initech.io"], "plan": None},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["arr"] == 1_200_000.0 and patched.json()["domains"] == ["initech.com", "initech.io"]
    assert patched.json()["segment"] == "smb"  # omitted: kept

    pages = walk_pages(client, "/v1/customers", headers, limit=1)
    assert all(page == CustomerPage.model_validate(page).model_dump(mode="json") for page in pages)
    assert [item["name"] for page in pages for item in page["items"]] == ["Globex", "Initech"]
    for query, names in (
        ({"segment": "smb"}, ["Initech"]),
        ({"plan": "Enterprise"}, ["Globex"]),
        ({"deal_stage": "closed_won"}, ["Globex"]),
        ({"q": "glob"}, ["Globex"]),
        ({"auto_created": "true"}, []),
    ):
        listed = client.get("/v1/customers", params=query, headers=headers)
        assert listed.status_code == 200, listed.text
        assert [item.name for item in CustomerPage.model_validate(listed.json()).items] == names, query


def test_refusals_change_nothing(crm: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = crm
    headers = bearer(client, seed.a.user_id, "acme")
    globex = _create(client, headers, name="Globex", external_id="hs-1", domains=["globex.com"])
    other = _create(client, headers, name="Other", domains=["other.com"])
    path = f"/v1/customers/{other['id']}"
    assert "belongs to another customer" in _refused(
        client,
        url,
        "POST",
        "/v1/customers",
        409,
        "conflict",
        json={"name": "X", "domains": ["globex.com"]},
        headers=headers,
    )
    _refused(client, url, "PATCH", path, 409, "conflict", json={"external_id": "hs-1"}, headers=headers)
    _refused(client, url, "PATCH", path, 409, "conflict", json={"domains": ["globex.com"]}, headers=headers)
    assert "ARR is not an amount" in _refused(
        client, url, "PATCH", path, 400, "invalid_value", json={"arr": "lots"}, headers=headers
    )
    assert "unknown deal stage" in _refused(
        client, url, "PATCH", path, 400, "invalid_value", json={"deal_stage": "maybe"}, headers=headers
    )
    assert "free-mail" in _refused(
        client, url, "PATCH", path, 400, "invalid_value", json={"domains": ["gmail.com"]}, headers=headers
    )
    _refused(client, url, "PATCH", path, 400, "invalid_value", json={"name": None}, headers=headers)
    _refused(client, url, "PATCH", path, 422, "invalid_request", json={"renewal_date": "soon"}, headers=headers)
    _refused(client, url, "PATCH", path, 422, "invalid_request", json={"renewal_date": 0}, headers=headers)
    _refused(client, url, "PATCH", path, 422, "invalid_request", json={"name": "x" * 256}, headers=headers)
    _refused(client, url, "PATCH", "/v1/customers/999999", 404, "not_found", json={"plan": "x"}, headers=headers)
    assert client.get("/v1/customers/999999", headers=headers).status_code == 404
    assert globex["id"] != other["id"]


def test_other_organisations_ids_are_not_found(crm: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = crm
    theirs = _create(client, bearer(client, seed.b.user_id, seed.b.slug), name="Theirs", domains=["theirs.com"])
    headers = bearer(client, seed.a.user_id, "acme")
    assert client.get(f"/v1/customers/{theirs['id']}", headers=headers).status_code == 404
    _refused(
        client, url, "PATCH", f"/v1/customers/{theirs['id']}", 404, "not_found", json={"plan": "x"}, headers=headers
    )
    assert client.get("/v1/customers", headers=headers).json()["items"] == []
    # A domain of another organisation's customer is free in this one.
    assert _create(client, headers, name="Ours", domains=["theirs.com"])["domains"] == ["theirs.com"]


def test_read_only_service_token_may_not_write(crm: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = crm
    reader = _service(client, seed)
    assert client.get("/v1/customers", headers=reader).status_code == 200
    customer = _create(client, bearer(client, seed.a.user_id, "acme"), name="Globex")
    csv = {"file": ("c.csv", b"name,domain\nNew,new.com\n", "text/csv")}
    _refused(client, url, "POST", "/v1/customers", 403, "forbidden", json={"name": "X"}, headers=reader)
    _refused(client, url, "PATCH", f"/v1/customers/{customer['id']}", 403, "forbidden", json={}, headers=reader)
    _refused(client, url, "POST", "/v1/customers/import", 403, "forbidden", files=csv, headers=reader)
    writer = _service(client, seed, CATALOGUE_WRITE_SCOPE)
    assert client.post("/v1/customers", json={"name": "Y"}, headers=writer).status_code == 201


def _auto_created(url: str, org_id: int, domain: str, team: str, messages: list[int]) -> int:
    """A customer the author resolution would have made for `domain`: a domain, a Slack Connect
    team, a contact and these messages resolved to it."""
    with get_engine(url).begin() as conn:
        customer_id = int(
            conn.execute(
                insert(Customer)
                .values(org_id=org_id, name=domain, auto_created=True, auto_key=f"domain:{domain}")
                .returning(Customer.id)
            ).scalar_one()
        )
        conn.execute(insert(CustomerDomain).values(org_id=org_id, domain=domain, customer_id=customer_id))
        conn.execute(insert(CustomerSlackTeam).values(org_id=org_id, team_id=team, customer_id=customer_id))
        contact_id = conn.execute(
            insert(Contact).values(org_id=org_id, key=f"x@{domain}", customer_id=customer_id).returning(Contact.id)
        ).scalar_one()
        conn.execute(
            insert(MessageAuthor),
            [
                {"message_id": m, "org_id": org_id, "contact_id": contact_id, "customer_id": customer_id,
                 "status": "resolved"}
                for m in messages
            ],
        )  # fmt: skip
    return customer_id


def test_merge_moves_contacts_domains_teams_and_messages(crm: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = crm
    headers = bearer(client, seed.a.user_id, "acme")
    globex = _create(client, headers, name="Globex", arr=120000, external_id="hs-1", domains=["globex.com"])
    auto = _auto_created(url, seed.a.id, "globex.io", "T1", [message["id"] for message in seed.a.messages[:2]])
    kept = _auto_created(url, seed.a.id, "initech.com", "T2", [seed.a.messages[2]["id"]])

    response = client.post(f"/v1/customers/{auto}/merge", json={"into": globex["id"]}, headers=headers)
    assert response.status_code == 200, response.text
    merged = CustomerDetail.model_validate(response.json())
    assert response.json() == merged.model_dump(mode="json")
    # The kept customer keeps its CRM fields and gains the other's domains, contact and messages.
    assert (merged.id, merged.name, merged.arr, merged.external_id) == (globex["id"], "Globex", 120000.0, "hs-1")
    assert merged.domains == ["globex.com", "globex.io"]
    assert (merged.contact_count, merged.message_count) == (1, 2)
    assert client.get(f"/v1/customers/{auto}", headers=headers).status_code == 404
    with get_engine(url).connect() as conn:
        teams = dict(conn.execute(select(CustomerSlackTeam.team_id, CustomerSlackTeam.customer_id)).tuples().all())
        authors = dict(conn.execute(select(MessageAuthor.message_id, MessageAuthor.customer_id)).tuples().all())
        contacts = list(conn.execute(select(Contact.customer_id).where(Contact.key == "x@globex.io")).scalars())
        left = conn.execute(select(Customer.id).where(Customer.id == auto)).first()
    assert left is None and contacts == [globex["id"]] and teams == {"T1": globex["id"], "T2": kept}
    first, second, third = (message["id"] for message in seed.a.messages[:3])
    assert authors == {first: globex["id"], second: globex["id"], third: kept}
    # Any two customers may be merged: an imported one into an auto-created one keeps the latter's fields.
    response = client.post(f"/v1/customers/{globex['id']}/merge", json={"into": kept}, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["arr"], response.json()["auto_created"]) == (
        "initech.com",
        None,
        True,
    )
    assert response.json()["message_count"] == 3 and len(response.json()["domains"]) == 3

    # The next CRM export still lists Globex (hs-1): the person's merge stands, nothing comes back,
    # and both merges are on record against the customer kept (the first one re-pointed to it).
    export = b"Record ID,Company name,ARR\nhs-1,Globex,150000\n"
    response = client.post("/v1/customers/import", files={"file": ("crm.csv", export, "text/csv")}, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["updated"]) == (0, 0)
    [refused] = response.json()["rejected"]
    assert refused["line"] == 2 and f"merged into customer {kept}" in refused["reason"]
    assert [item["id"] for item in client.get("/v1/customers", headers=headers).json()["items"]] == [kept]
    assert client.get(f"/v1/customers/{kept}", headers=headers).json()["arr"] is None
    with get_engine(url).connect() as conn:
        merges = conn.execute(
            select(CustomerMerge.source_customer_id, CustomerMerge.source_external_id, CustomerMerge.target_customer_id)
            .order_by(CustomerMerge.id)
        ).tuples().all()  # fmt: skip
    assert merges == [(auto, None, kept), (globex["id"], "hs-1", kept)]


def test_merge_refusals_change_nothing(crm: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = crm
    headers = bearer(client, seed.a.user_id, "acme")
    globex = _create(client, headers, name="Globex", domains=["globex.com"])["id"]
    auto = _auto_created(url, seed.a.id, "globex.io", "T1", [seed.a.messages[0]["id"]])
    theirs = _create(client, bearer(client, seed.b.user_id, seed.b.slug), name="Theirs", domains=["theirs.com"])["id"]

    assert "into itself" in _refused(
        client, url, "POST", f"/v1/customers/{auto}/merge", 400, "invalid_correction", json={"into": auto},
        headers=headers,
    )  # fmt: skip
    for source, target in ((999_999, globex), (auto, 999_999), (theirs, globex), (auto, theirs)):
        message = _refused(
            client, url, "POST", f"/v1/customers/{source}/merge", 404, "not_found", json={"into": target},
            headers=headers,
        )  # fmt: skip
        assert str(999_999 if 999_999 in (source, target) else theirs) in message
    for body in ({}, {"into": None}, {"into": 0}, {"into": "globex"}, {"into": globex, "keep": "both"}):
        _refused(client, url, "POST", f"/v1/customers/{auto}/merge", 422, "invalid_request", json=body, headers=headers)
    _refused(
        client, url, "POST", f"/v1/customers/{auto}/merge", 403, "forbidden", json={"into": globex},
        headers=_service(client, seed),
    )  # fmt: skip
    # The other organisation cannot merge acme's customers either, nor into them.
    other = bearer(client, seed.b.user_id, seed.b.slug)
    _refused(client, url, "POST", f"/v1/customers/{auto}/merge", 404, "not_found", json={"into": theirs}, headers=other)
    _refused(client, url, "POST", f"/v1/customers/{theirs}/merge", 404, "not_found", json={"into": auto}, headers=other)
    writer = _service(client, seed, CATALOGUE_WRITE_SCOPE)
    merged = client.post(f"/v1/customers/{auto}/merge", json={"into": globex}, headers=writer)
    assert merged.status_code == 200 and merged.json()["domains"] == ["globex.com", "globex.io"], merged.text


CSV = b"""Record ID,Company name,Website,Annual Recurring Revenue,Deal Stage,Renewal Date
1,Globex,globex.com,$120k,Closed Won,2027-03-31
2,Initech,initech.com,lots,Closed Won,
3,Umbrella,gmail.com,5000,Closed Won,
4,Hooli,hooli.com,5000,maybe,
5,Soylent,soylent.com,1M,negotiation,31.12.2027
6,Globex Two,globex.com,1,,
"""


def test_import_csv_and_excel(crm: tuple[TestClient, Seed, str]) -> None:
    client, seed, url = crm
    headers = bearer(client, seed.a.user_id, "acme")
    response = client.post("/v1/customers/import", files={"file": ("crm.csv", CSV, "text/csv")}, headers=headers)
    assert response.status_code == 200, response.text
    report = CustomerImportReport.model_validate(response.json())
    assert (report.rows, report.created, report.updated) == (6, 2, 0)
    reasons = {rejected.line: rejected.reason for rejected in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 7]
    assert "ARR" in reasons[3] and "free-mail" in reasons[4] and "deal stage" in reasons[5]
    assert "also on line 2" in reasons[7]
    listed = client.get("/v1/customers", headers=headers).json()["items"]
    assert [(item["name"], item["arr"]) for item in listed] == [("Globex", 120000.0), ("Soylent", 1_000_000.0)]

    # The same export as Excel updates by external id.
    frame = pd.DataFrame({"Record ID": ["1"], "Company name": ["Globex Inc"], "ARR": ["130000"]})
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    excel = ("crm.xlsx", buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response = client.post("/v1/customers/import", files={"file": excel}, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["updated"], response.json()["rejected"]) == (0, 1, [])
    names = [item["name"] for item in client.get("/v1/customers", headers=headers).json()["items"]]
    assert names == ["Globex Inc", "Soylent"]

    message = _refused(
        client, url, "POST", "/v1/customers/import", 400, "invalid_file",
        files={"file": ("x.csv", b"colour,size\nred,1\n", "text/csv")}, headers=headers,
    )  # fmt: skip
    assert "no company name column" in message and "tmp" not in message
    _refused(client, url, "POST", "/v1/customers/import", 422, "invalid_request", headers=headers)


def test_a_merge_waits_for_a_resolution_run_and_answers_409_past_the_wait(
    postgres_database_url: str, tmp_path: Path
) -> None:
    """A pipeline run resolving acme's message authors is in progress (its transaction open, the
    organisation's customer lock held shared). A merge with a short wait answers 409 `busy` and
    changes nothing; one with the default wait waits for the run to commit and answers 200 (before
    the customer lock, the two could deadlock and the merge answered 500). PostgreSQL only: on
    SQLite write transactions exclude each other."""
    url = postgres_database_url
    _truncate_postgres(url)
    seed = seed_warehouse(url)
    window = TimeWindow(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))  # every message
    with app_client(url, tmp_path) as client, app_client(url, tmp_path, customer_lock_timeout_seconds=0.5) as hasty:
        headers = bearer(client, seed.a.user_id, "acme")
        globex = _create(client, headers, name="Globex", arr=120000, domains=["globex.com"])
        auto = _auto_created(url, seed.a.id, "globex.io", "T1", [seed.a.messages[0]["id"]])
        with write_transaction(url) as running:
            resolve_message_authors(running, window, org_ids=[seed.a.id])
            run_pid = int(running.execute(text("SELECT pg_backend_pid()")).scalar_one())
            before = state(url)
            hurried: list[Any] = []
            asking = threading.Thread(
                target=lambda: hurried.append(
                    hasty.post(
                        f"/v1/customers/{auto}/merge",
                        json={"into": globex["id"]},
                        headers=bearer(hasty, seed.a.user_id, "acme"),
                    )
                )
            )
            asking.start()
            asking.join(timeout=30)  # a merge that never gives up must fail the test, not hang it
            assert not asking.is_alive(), "the merge did not give up waiting for the run"
            [busy] = hurried
            assert busy.status_code == 409, busy.text
            assert busy.json()["error"]["code"] == "busy" and "pipeline run" in busy.json()["error"]["message"]
            assert state(url) == before
            outcome: list[Any] = []
            merging = threading.Thread(
                target=lambda: outcome.append(
                    client.post(f"/v1/customers/{auto}/merge", json={"into": globex["id"]}, headers=headers)
                )
            )
            merging.start()
            assert _blocked_by(url, run_pid, threading.Event()), "the merge did not wait for the run"
        merging.join(timeout=60)
    [response] = outcome
    assert response.status_code == 200, response.text
    assert CustomerDetail.model_validate(response.json()).domains == ["globex.com", "globex.io"]


# --- Creating and editing customers while a resolution run is going (PostgreSQL) ------------------

EDIT_DAY = datetime(2031, 1, 6, tzinfo=UTC)
EDIT_WINDOW = TimeWindow(EDIT_DAY, EDIT_DAY + timedelta(days=1))


def _mail(url: str, org_id: int, external_id: str, email: str) -> int:
    """A message of `EDIT_DAY` written by `email`, not resolved yet."""
    with write_transaction(url) as conn:
        return _message(conn, org_id, external_id, email=email, sent_at=EDIT_DAY + timedelta(hours=9))


def _run(url: str, org_id: int, window: TimeWindow = EDIT_WINDOW) -> ResolutionStats:
    """A resolution run of `org_id` over `window`, committed."""
    with write_transaction(url) as conn:
        return resolve_message_authors(conn, window, org_ids=[org_id])


def _domain_owner(url: str, org_id: int, domain: str) -> tuple[int, bool]:
    """The customer holding `domain`, and whether it is auto-created."""
    with get_engine(url).connect() as conn:
        owner, auto = conn.execute(
            select(Customer.id, Customer.auto_created)
            .join(CustomerDomain, CustomerDomain.customer_id == Customer.id)
            .where(CustomerDomain.org_id == org_id, CustomerDomain.domain == domain)
        ).one()
    return int(owner), bool(auto)


def _resolved_to(url: str, message_id: int) -> int | None:
    with get_engine(url).connect() as conn:
        found = conn.execute(select(MessageAuthor.customer_id).where(MessageAuthor.message_id == message_id)).scalar()
    return None if found is None else int(found)


@pytest.mark.parametrize("write", ["create", "patch"])
def test_giving_a_customer_the_domain_a_run_just_claimed_answers_409_conflict_after_the_run(
    postgres_database_url: str, tmp_path: Path, write: str
) -> None:
    """A resolution run has auto-created a customer for initech.example and claimed the domain, its
    transaction still open, when a person gives that domain to a customer (POST or PATCH). On main
    the write did not see the uncommitted claim, inserted the domain, waited for the run's commit
    and then failed on the primary key of `customer_domains`: a 500. It must wait for the run (the
    organisation's customer lock) and then answer what it answers after it: 409 `conflict`."""
    url = postgres_database_url
    _truncate_postgres(url)
    seed = seed_warehouse(url)
    with app_client(url, tmp_path) as client:
        headers = bearer(client, seed.a.user_id, "acme")
        globex = _create(client, headers, name="Globex", domains=["globex.com"])
        dave = _mail(url, seed.a.id, "dave", "dave@initech.example")

        def edit() -> Any:
            if write == "create":
                body = {"name": "Initech", "domains": ["initech.example"]}
                return client.post("/v1/customers", json=body, headers=headers)
            body = {"domains": ["globex.com", "initech.example"]}
            return client.patch(f"/v1/customers/{globex['id']}", json=body, headers=headers)

        with write_transaction(url) as running:
            stats = resolve_message_authors(running, EDIT_WINDOW, org_ids=[seed.a.id])
            assert stats.customers_auto_created == 1
            run_pid = int(running.execute(text("SELECT pg_backend_pid()")).scalar_one())
            thread, done, outcome = _in_thread(edit)
            assert _blocked_by(url, run_pid, done), f"the {write} did not wait for the run: {outcome}"
        thread.join(timeout=60)
    [response] = outcome
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "conflict" and "initech.example" in error["message"], error
    owner, auto = _domain_owner(url, seed.a.id, "initech.example")
    assert auto and _resolved_to(url, dave) == owner
    assert _domain_owner(url, seed.a.id, "globex.com") == (globex["id"], False)


def test_a_domain_edit_of_an_auto_created_customer_and_a_run_writing_its_contact_do_not_deadlock(
    postgres_database_url: str, tmp_path: Path
) -> None:
    """The run has claimed umbrella.example for a customer it auto-created and is paused before its
    contacts (a third session's lock on `customer_slack_teams` holds its ANALYZE there); a person
    then gives umbrella.example to Initech, a customer the resolution auto-created (the PATCH clears
    its `auto_key`, a column of a unique key, so it locks the row FOR UPDATE). On main the PATCH
    locked Initech and waited for the run's claim, the run's new contact of Initech waited for the
    PATCH (its foreign key): a deadlock PostgreSQL broke by aborting one of them. Both must
    finish, the PATCH after the run, with the answer it gets after it: 409 `conflict`."""
    url = postgres_database_url
    _truncate_postgres(url)
    seed = seed_warehouse(url)
    with app_client(url, tmp_path) as client:
        headers = bearer(client, seed.a.user_id, "acme")
        initech = _auto_created(url, seed.a.id, "initech.example", "T9", [seed.a.messages[0]["id"]])
        carol = _mail(url, seed.a.id, "carol", "carol@initech.example")
        dave = _mail(url, seed.a.id, "dave", "dave@umbrella.example")
        with write_transaction(url) as pausing:
            pausing.exec_driver_sql("LOCK TABLE customer_slack_teams IN SHARE UPDATE EXCLUSIVE MODE")
            pause_pid = int(pausing.execute(text("SELECT pg_backend_pid()")).scalar_one())
            run_thread, run_done, run_outcome = _in_thread(lambda: _run(url, seed.a.id))
            [run_pid] = _blocked_pids(url, pause_pid, run_done)

            def patch() -> Any:
                body = {"domains": ["initech.example", "umbrella.example"]}
                return client.patch(f"/v1/customers/{initech}", json=body, headers=headers)

            patch_thread, patch_done, patch_outcome = _in_thread(patch)
            assert _blocked_pids(url, run_pid, patch_done), f"the PATCH did not wait for the run: {patch_outcome}"
        run_thread.join(timeout=60)
        patch_thread.join(timeout=60)
    [stats] = run_outcome
    assert isinstance(stats, ResolutionStats), f"the run failed: {stats!r}"
    [response] = patch_outcome
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "conflict", response.text
    umbrella, auto = _domain_owner(url, seed.a.id, "umbrella.example")
    assert auto and umbrella != initech
    assert (_resolved_to(url, carol), _resolved_to(url, dave)) == (initech, umbrella)


def test_an_arr_edit_during_a_run_reaches_the_requests_the_run_gave_the_customer(
    postgres_database_url: str, tmp_path: Path
) -> None:
    """The run has resolved the author of a mention of a feature request to Initech and re-summed the
    request's ARR with Initech's (its transaction still open) when a person changes Initech's ARR.
    On main the PATCH neither waited nor saw that request (its `feature_request_customers` row was
    not committed), so it re-summed nothing, and the run then committed the old ARR: the request's
    total stayed wrong until something else touched it. Past the wait the PATCH answers 409 `busy`
    and changes nothing; with the default wait it waits for the run and re-sums the request."""
    url = postgres_database_url
    _truncate_postgres(url)
    seed = seed_warehouse(url)
    message, request = seed.a.messages[0], seed.a.requests[0]
    window = TimeWindow(message["sent_at"], message["sent_at"] + timedelta(seconds=1))
    with app_client(url, tmp_path) as client, app_client(url, tmp_path, customer_lock_timeout_seconds=0.5) as hasty:
        headers = bearer(client, seed.a.user_id, "acme")
        initech = _create(client, headers, name="Initech", arr=100000, domains=["initech.example"])
        with write_transaction(url) as conn:
            carol = update(Message).where(Message.id == message["id"]).values(author_email="carol@initech.example")
            conn.execute(carol)
        with write_transaction(url) as running:
            stats = resolve_message_authors(running, window, org_ids=[seed.a.id])
            assert stats.requests_refreshed == 1
            run_pid = int(running.execute(text("SELECT pg_backend_pid()")).scalar_one())
            thread, done, outcome = _in_thread(
                lambda: client.patch(f"/v1/customers/{initech['id']}", json={"arr": 250000}, headers=headers)
            )
            waited = _blocked_by(url, run_pid, done)
        thread.join(timeout=60)
        [response] = outcome
        assert response.status_code == 200, response.text
        with get_engine(url).connect() as conn:
            totals = conn.execute(
                select(FeatureRequest.account_count, FeatureRequest.arr_cents).where(FeatureRequest.id == request["id"])
            ).one()
        assert tuple(totals) == (1, 25_000_000), f"stale request total (the PATCH waited for the run: {waited})"
        assert waited

        # A run going past the wait: 409 busy, nothing changed.
        with write_transaction(url) as running:
            resolve_message_authors(running, window, org_ids=[seed.a.id])
            before = state(url)
            busy = hasty.patch(
                f"/v1/customers/{initech['id']}", json={"arr": 300000}, headers=bearer(hasty, seed.a.user_id, "acme")
            )
            assert busy.status_code == 409, busy.text
            assert busy.json()["error"]["code"] == "busy", busy.text
            assert state(url) == before
