"""Connecting sources through the API: the Slack install round trip and the Fathom webhook."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from headway_assets.core.credentials import decrypt_credentials
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.schema import (
    ConnectionKind,
    Message,
    SourceConnection,
    User,
)
from headway_assets.core.warehouse.tenants import store_credentials, upsert_connection
from headway_assets.demo import build_demo_corpus
from headway_assets.testing.fakes.fathom_server import FathomWebhookSender
from headway_assets.testing.fakes.slack_server import FakeSlackServer
from tests.api.support import People, app_client, bearer

REDIRECT_URI = "https://headway.example/v1/integrations/slack/callback"
WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtdGVzdC13ZWJob29rcw=="


@pytest.fixture(scope="module")
def demo() -> object:
    return build_demo_corpus(days=3)


@pytest.fixture
def client(database_url: str, tmp_path: Path, people: People) -> Iterator[TestClient]:
    with app_client(database_url, tmp_path) as api:
        yield api


def _admin(database_url: str, org_id: int) -> int:
    with write_transaction(database_url) as conn:
        return int(
            conn.execute(
                insert(User)
                .values(org_id=org_id, email=f"admin-{org_id}@example.test", role="admin", is_active=True)
                .returning(User.id)
            ).scalar_one()
        )


def test_slack_install_round_trip_stores_an_encrypted_bot_token(
    client: TestClient, database_url: str, people: People, demo: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    org_id = people.orgs["acme"]
    admin = _admin(database_url, org_id)
    with FakeSlackServer(demo.org("acme").slack) as slack:  # type: ignore[attr-defined]
        monkeypatch.setenv("SLACK_CLIENT_ID", slack.client_id)
        monkeypatch.setenv("SLACK_CLIENT_SECRET", slack.client_secret)
        monkeypatch.setenv("SLACK_REDIRECT_URI", REDIRECT_URI)
        monkeypatch.setenv("SLACK_API_BASE_URL", slack.api_url)
        started = client.get(
            "/v1/integrations/slack/install",
            params={"redirect": "true"},
            headers=bearer(client, admin, "acme"),
            follow_redirects=False,
        )
        assert started.status_code == 302
        location = started.headers["location"]
        assert started.json()["authorize_url"] == location
        plain = client.get("/v1/integrations/slack/install", headers=bearer(client, admin, "acme"))
        assert plain.status_code == 200 and plain.json()["authorize_url"].startswith(location.split("state=")[0])
        query = parse_qs(urlsplit(location).query)
        assert query["client_id"] == [slack.client_id] and query["redirect_uri"] == [REDIRECT_URI]
        # The admin approves; Slack sends the browser back with a code and the signed state.
        slack.register_code("code-from-slack", redirect_uri=REDIRECT_URI)
        done = client.get(
            "/v1/integrations/slack/callback", params={"code": "code-from-slack", "state": query["state"][0]}
        )
        assert done.status_code == 200, done.text
        connection_id = done.json()["connection_id"]
        (token,) = slack.issued
    with read_connection(database_url) as conn:
        row = conn.execute(select(SourceConnection).where(SourceConnection.id == connection_id)).one()
    assert (row.org_id, row.source, row.kind) == (org_id, "slack", "api")
    assert token not in (row.credentials_encrypted or "")
    assert decrypt_credentials(row.credentials_encrypted, connection="t")["bot_token"] == token
    assert token not in done.text


def test_slack_install_refusals(
    client: TestClient, database_url: str, people: People, demo: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = client.get(
        "/v1/integrations/slack/install",
        headers=bearer(client, people.users["pm@acme.example"], "acme"),
        follow_redirects=False,
    )
    assert member.status_code == 403
    admin = _admin(database_url, people.orgs["acme"])
    monkeypatch.delenv("SLACK_CLIENT_ID", raising=False)
    unconfigured = client.get(
        "/v1/integrations/slack/install", headers=bearer(client, admin, "acme"), follow_redirects=False
    )
    assert unconfigured.status_code == 503 and "SLACK_CLIENT_ID" in unconfigured.json()["error"]["message"]
    assert client.get("/v1/integrations/slack/install", follow_redirects=False).status_code == 401
    with FakeSlackServer(demo.org("acme").slack) as slack:  # type: ignore[attr-defined]
        monkeypatch.setenv("SLACK_CLIENT_ID", slack.client_id)
        monkeypatch.setenv("SLACK_CLIENT_SECRET", slack.client_secret)
        monkeypatch.setenv("SLACK_REDIRECT_URI", REDIRECT_URI)
        monkeypatch.setenv("SLACK_API_BASE_URL", slack.api_url)
        tampered = client.get("/v1/integrations/slack/callback", params={"code": "x", "state": "forged.state"})
        assert tampered.status_code == 400 and tampered.json()["error"]["code"] == "invalid_state"
        started = client.get(
            "/v1/integrations/slack/install", headers=bearer(client, admin, "acme"), follow_redirects=False
        )
        state = parse_qs(urlsplit(started.json()["authorize_url"]).query)["state"][0]
        denied = client.get("/v1/integrations/slack/callback", params={"error": "access_denied", "state": state})
        assert denied.status_code == 400 and denied.json()["error"]["code"] == "access_denied"
        assert client.get("/v1/integrations/slack/callback", params={"code": "x"}).status_code == 400


def _fathom_connection(database_url: str, org_id: int, *, secret: str | None = WEBHOOK_SECRET) -> int:
    with write_transaction(database_url) as conn:
        connection_id = upsert_connection(
            conn,
            org_id=org_id,
            source="fathom",
            name="Fathom (webhook)",
            kind=ConnectionKind.API,
            config={"internal_domains": ["acme-analytics.example"]},
        )
        values = {"api_key": "fathom-key-for-tests"} | ({"webhook_secret": secret} if secret else {})
        store_credentials(conn, connection_id=connection_id, values=values)
    return connection_id


def test_a_signed_fathom_delivery_lands_once(
    client: TestClient, database_url: str, people: People, demo: object
) -> None:
    connection_id = _fathom_connection(database_url, people.orgs["acme"])
    meeting = demo.org("acme").fathom.meetings[0]  # type: ignore[attr-defined]
    sender = FathomWebhookSender(WEBHOOK_SECRET)
    delivery = sender.delivery(meeting, timestamp=int(time.time()))
    url = f"/v1/webhooks/fathom/{connection_id}"
    first = client.post(url, content=delivery.body, headers=delivery.headers)
    assert first.status_code == 200, first.text
    assert first.json()["external_id"] == str(meeting["recording_id"]) and first.json()["inserted"] is True
    again = client.post(url, content=delivery.body, headers=delivery.headers)
    assert again.status_code == 200 and again.json()["inserted"] is False
    with read_connection(database_url) as conn:
        stored = conn.execute(select(Message.external_id).where(Message.source == "fathom")).scalars().all()
    assert stored == [str(meeting["recording_id"])]


def test_fathom_webhook_refusals(client: TestClient, database_url: str, people: People, demo: object) -> None:
    connection_id = _fathom_connection(database_url, people.orgs["acme"])
    meeting = demo.org("acme").fathom.meetings[1]  # type: ignore[attr-defined]
    url = f"/v1/webhooks/fathom/{connection_id}"
    good = FathomWebhookSender(WEBHOOK_SECRET).delivery(meeting, timestamp=int(time.time()))
    tampered = client.post(url, content=good.body.replace(b"}", b" }", 1), headers=good.headers)
    assert tampered.status_code == 401
    wrong_secret = FathomWebhookSender("whsec_" + "b3RoZXItc2VjcmV0LW5vdC10aGUtcmlnaHQtb25l").delivery(
        meeting, timestamp=int(time.time())
    )
    assert client.post(url, content=wrong_secret.body, headers=wrong_secret.headers).status_code == 401
    stale = FathomWebhookSender(WEBHOOK_SECRET).delivery(meeting, timestamp=int(time.time()) - 3600)
    assert client.post(url, content=stale.body, headers=stale.headers).status_code == 401
    unsigned = client.post(url, content=good.body, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401
    assert client.post("/v1/webhooks/fathom/999999", content=good.body, headers=good.headers).status_code == 404
    no_secret = _fathom_connection(database_url, people.orgs["globex"], secret=None)
    assert client.post(f"/v1/webhooks/fathom/{no_secret}", content=good.body, headers=good.headers).status_code == 404
    junk = FathomWebhookSender(WEBHOOK_SECRET).delivery({"hello": "world"}, timestamp=int(time.time()))
    assert client.post(url, content=junk.body, headers=junk.headers).status_code == 422
    for response in (tampered,):
        assert WEBHOOK_SECRET not in response.text
    with read_connection(database_url) as conn:
        assert conn.execute(select(Message.id)).first() is None
