"""Fathom's "new meeting content ready" webhook: Standard Webhooks verification and ingestion."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Connection, select

from headway_assets.core.credentials import KEY_ENV
from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.database import migrate, read_connection, write_transaction
from headway_assets.core.warehouse.ingestion import (
    ConnectionInfo,
    active_connections,
    finish_sync_run,
    latest_resume_state,
    start_sync_run,
)
from headway_assets.core.warehouse.schema import ConnectionKind, Message, SyncRun, SyncStatus
from headway_assets.core.warehouse.tenants import store_credentials, upsert_connection, upsert_organization
from headway_assets.demo import build_demo_corpus
from headway_assets.sources.fathom.export import parse_fathom_meeting
from headway_assets.sources.fathom.webhook import (
    WebhookConnectionError,
    WebhookPayloadError,
    WebhookVerificationError,
    ingest_meeting_webhook,
    receive_fathom_webhook,
    verify_standard_webhook,
)
from headway_assets.testing.fakes.fathom_server import FathomWebhookSender, new_webhook_secret, sign_webhook

# The Standard Webhooks / svix published test vector: an independent check of the scheme.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
NOW = datetime(2026, 10, 16, 12, 0, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())


@pytest.fixture(scope="module")
def meetings() -> list[dict[str, Any]]:
    """Northwind's demo meetings."""
    return build_demo_corpus().org("northwind").fathom.meetings


@pytest.fixture
def secret() -> str:
    return new_webhook_secret()


def vector_headers(**overrides: str) -> dict[str, str]:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    headers.update(overrides)
    return headers


VECTOR_NOW = datetime.fromtimestamp(VECTOR_TIMESTAMP + 10, UTC)


# -- verification --------------------------------------------------------------------------------------------


def test_the_published_test_vector_verifies_and_the_sender_reproduces_it() -> None:
    delivery = verify_standard_webhook(VECTOR_SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_NOW)
    assert delivery.webhook_id == VECTOR_ID and delivery.timestamp == datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)
    assert sign_webhook(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_a_signed_meeting_delivery_verifies_with_either_header_style(
    meetings: list[dict[str, Any]], secret: str
) -> None:
    for prefix in ("webhook", "svix"):
        sender = FathomWebhookSender(secret, header_prefix=prefix)
        delivery = sender.delivery(meetings[0], timestamp=NOW_TS)
        # Header names are case-insensitive over HTTP.
        shouted = {k.upper(): v for k, v in delivery.headers.items()}
        assert verify_standard_webhook(secret, shouted, delivery.body, now=NOW).webhook_id == delivery.msg_id


def test_a_secret_without_the_whsec_prefix_is_the_same_key(meetings: list[dict[str, Any]], secret: str) -> None:
    delivery = FathomWebhookSender(secret).delivery(meetings[0], timestamp=NOW_TS)
    verify_standard_webhook(secret.removeprefix("whsec_"), delivery.headers, delivery.body, now=NOW)


def test_a_tampered_body_is_refused(meetings: list[dict[str, Any]], secret: str) -> None:
    delivery = FathomWebhookSender(secret).delivery(meetings[0], timestamp=NOW_TS)
    tampered = delivery.body.replace(b'"title": "', b'"title": "X', 1)
    assert tampered != delivery.body
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify_standard_webhook(secret, delivery.headers, tampered, now=NOW)


def test_the_raw_body_is_what_is_signed_not_its_json(meetings: list[dict[str, Any]], secret: str) -> None:
    """Re-serialising the JSON (same content, other spacing) breaks the signature."""
    import json

    delivery = FathomWebhookSender(secret).delivery(meetings[0], timestamp=NOW_TS)
    reserialised = json.dumps(json.loads(delivery.body)).encode()
    with pytest.raises(WebhookVerificationError):
        verify_standard_webhook(secret, delivery.headers, reserialised, now=NOW)


def test_the_wrong_secret_is_refused(meetings: list[dict[str, Any]], secret: str) -> None:
    delivery = FathomWebhookSender(new_webhook_secret()).delivery(meetings[0], timestamp=NOW_TS)
    with pytest.raises(WebhookVerificationError, match="webhook_secret"):
        verify_standard_webhook(secret, delivery.headers, delivery.body, now=NOW)


@pytest.mark.parametrize(("offset", "words"), [(-301, "old"), (301, "in the future")])
def test_timestamps_outside_the_replay_window_are_refused(
    meetings: list[dict[str, Any]], secret: str, offset: int, words: str
) -> None:
    delivery = FathomWebhookSender(secret).delivery(meetings[0], timestamp=NOW_TS + offset)
    with pytest.raises(WebhookVerificationError, match=words):
        verify_standard_webhook(secret, delivery.headers, delivery.body, now=NOW)
    # Just inside the window, both ways, passes.
    for inside in (-300, 300):
        ok = FathomWebhookSender(secret).delivery(meetings[0], timestamp=NOW_TS + inside)
        verify_standard_webhook(secret, ok.headers, ok.body, now=NOW)


def test_one_matching_signature_among_several_is_enough() -> None:
    other = "v1," + base64.b64encode(b"x" * 32).decode()
    for header in (f"{other} {VECTOR_SIGNATURE}", f"v2,abc {VECTOR_SIGNATURE} {other}"):
        verify_standard_webhook(
            VECTOR_SECRET, vector_headers(**{"webhook-signature": header}), VECTOR_BODY, now=VECTOR_NOW
        )
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify_standard_webhook(
            VECTOR_SECRET, vector_headers(**{"webhook-signature": other}), VECTOR_BODY, now=VECTOR_NOW
        )
    # A signature of another scheme version does not count.
    with pytest.raises(WebhookVerificationError, match="no 'v1,<signature>' entry"):
        verify_standard_webhook(
            VECTOR_SECRET,
            vector_headers(**{"webhook-signature": VECTOR_SIGNATURE.replace("v1,", "v2,")}),
            VECTOR_BODY,
            now=VECTOR_NOW,
        )


@pytest.mark.parametrize("dropped", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_named(dropped: str) -> None:
    headers = {k: v for k, v in vector_headers().items() if k != dropped}
    with pytest.raises(WebhookVerificationError, match=f"missing required webhook header\\(s\\): {dropped}"):
        verify_standard_webhook(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_NOW)


def test_no_signature_headers_at_all_and_bad_values_are_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="not a signed Fathom webhook"):
        verify_standard_webhook(VECTOR_SECRET, {"content-type": "application/json"}, VECTOR_BODY, now=VECTOR_NOW)
    with pytest.raises(WebhookVerificationError, match="integer number of unix seconds"):
        verify_standard_webhook(
            VECTOR_SECRET, vector_headers(**{"webhook-timestamp": "yesterday"}), VECTOR_BODY, now=VECTOR_NOW
        )
    with pytest.raises(WebhookVerificationError, match="not valid base64") as caught:
        verify_standard_webhook("whsec_not*base64!", vector_headers(), VECTOR_BODY, now=VECTOR_NOW)
    assert "not*base64!" not in str(caught.value)


# -- ingestion -----------------------------------------------------------------------------------------------


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    migrate(url)
    yield url


def fathom_connection(conn: Connection, *, secret: str | None, domains: tuple[str, ...] = ()) -> ConnectionInfo:
    org_id = upsert_organization(conn, slug="northwind", name="Northwind")
    connection_id = upsert_connection(
        conn,
        org_id=org_id,
        source="fathom",
        name="fathom",
        kind=ConnectionKind.API,
        config={"internal_domains": list(domains)},
    )
    values: dict[str, Any] = {"api_key": "k-123456"}
    if secret is not None:
        values["webhook_secret"] = secret
    store_credentials(conn, connection_id=connection_id, values=values)
    [connection] = active_connections(conn, "fathom")
    return connection


def test_ingesting_the_same_delivery_twice_gives_one_message(warehouse: str, meetings: list[dict[str, Any]]) -> None:
    domains = ("northwind.example",)
    meeting = meetings[3]
    with write_transaction(warehouse) as conn:
        connection = fathom_connection(conn, secret=None, domains=domains)
        first = ingest_meeting_webhook(conn, connection=connection, payload=meeting)
    with write_transaction(warehouse) as conn:
        second = ingest_meeting_webhook(conn, connection=connection, payload=meeting)
    expected = parse_fathom_meeting(meeting, internal_domains=domains)
    assert first == second == expected.external_id
    with read_connection(warehouse) as conn:
        rows = list(conn.execute(select(Message.external_id, Message.text, Message.sent_at, Message.customer)))
        runs = list(conn.execute(select(SyncRun).order_by(SyncRun.id)))
    assert [(r.external_id, r.text, r.customer) for r in rows] == [
        (expected.external_id, expected.text, expected.customer)
    ]
    day = expected.sent_at.replace(hour=0, minute=0, second=0, microsecond=0)
    assert [(r.status, r.messages_read, r.messages_written) for r in runs] == [("success", 1, 1), ("success", 1, 0)]
    assert all(r.window_start.replace(tzinfo=UTC) == day for r in runs)
    assert all(r.window_end.replace(tzinfo=UTC) == day + timedelta(days=1) for r in runs)


def test_a_meeting_without_transcript_is_a_payload_error(warehouse: str, meetings: list[dict[str, Any]]) -> None:
    with write_transaction(warehouse) as conn:
        connection = fathom_connection(conn, secret=None)
        with pytest.raises(WebhookPayloadError, match="include_transcript=true"):
            ingest_meeting_webhook(conn, connection=connection, payload={**meetings[0], "transcript": None})
        with pytest.raises(WebhookPayloadError, match="not JSON"):
            ingest_meeting_webhook(conn, connection=connection, payload=b"{not json")
        with pytest.raises(WebhookPayloadError, match="not a Meeting object"):
            ingest_meeting_webhook(conn, connection=connection, payload=b"[1, 2]")


def test_receive_verifies_with_the_connection_secret_and_ingests(
    warehouse: str, meetings: list[dict[str, Any]], secret: str
) -> None:
    """The whole route: look-up, decrypted `webhook_secret`, verification over the raw body, ingestion."""
    sender = FathomWebhookSender(secret)
    delivery = sender.delivery(meetings[7], timestamp=NOW_TS)
    with write_transaction(warehouse) as conn:
        connection = fathom_connection(conn, secret=secret)
    with write_transaction(warehouse) as conn:
        outcome = receive_fathom_webhook(
            conn, connection_id=connection.id, headers=delivery.headers, raw_body=delivery.body, now=NOW
        )
    assert outcome.external_id == str(meetings[7]["recording_id"]) and outcome.inserted
    assert outcome.webhook_id == delivery.msg_id

    forged = FathomWebhookSender(new_webhook_secret()).delivery(meetings[8], timestamp=NOW_TS)
    with write_transaction(warehouse) as conn, pytest.raises(WebhookVerificationError):
        receive_fathom_webhook(conn, connection_id=connection.id, headers=forged.headers, raw_body=forged.body, now=NOW)
    with (
        write_transaction(warehouse) as conn,
        pytest.raises(WebhookConnectionError, match="no active Fathom connection"),
    ):
        receive_fathom_webhook(
            conn, connection_id=connection.id + 99, headers=delivery.headers, raw_body=delivery.body, now=NOW
        )
    with read_connection(warehouse) as conn:
        assert [r.external_id for r in conn.execute(select(Message.external_id))] == [outcome.external_id]


def test_receive_without_a_stored_secret_says_what_to_set(warehouse: str, meetings: list[dict[str, Any]]) -> None:
    delivery = FathomWebhookSender(new_webhook_secret()).delivery(meetings[0], timestamp=NOW_TS)
    with write_transaction(warehouse) as conn:
        connection = fathom_connection(conn, secret=None)
        with pytest.raises(WebhookConnectionError, match="no 'webhook_secret'") as caught:
            receive_fathom_webhook(
                conn, connection_id=connection.id, headers=delivery.headers, raw_body=delivery.body, now=NOW
            )
    assert "k-123456" not in str(caught.value)


def test_a_delivery_during_a_capped_sync_keeps_the_day_incomplete_and_resumable(
    warehouse: str, meetings: list[dict[str, Any]]
) -> None:
    """A capped API sync of the day stopped half-way; a webhook for that day must not make the next
    sync start over (nor report the day complete)."""
    meeting = meetings[4]
    sent_at = parse_fathom_meeting(meeting).sent_at
    window = TimeWindow(
        sent_at.replace(hour=0, minute=0, second=0, microsecond=0),
        sent_at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1),
    )
    state = {"version": 1, "cursor": "abc", "index": 1}
    with write_transaction(warehouse) as conn:
        connection = fathom_connection(conn, secret=None)
        run_id = start_sync_run(conn, connection=connection, window=window, dagster_run_id="r1")
        finish_sync_run(
            conn, sync_run_id=run_id, connection=connection, status=SyncStatus.INCOMPLETE, resume_state=state
        )
    with write_transaction(warehouse) as conn:
        ingest_meeting_webhook(conn, connection=connection, payload=meeting)
    with read_connection(warehouse) as conn:
        assert latest_resume_state(conn, connection=connection, window=window) == state
        statuses = [r.status for r in conn.execute(select(SyncRun.status).order_by(SyncRun.id))]
    assert statuses == ["incomplete", "incomplete"]
    # Once the day is whole, deliveries are plain successes.
    with write_transaction(warehouse) as conn:
        run_id = start_sync_run(conn, connection=connection, window=window, dagster_run_id="r2")
        finish_sync_run(conn, sync_run_id=run_id, connection=connection, status=SyncStatus.SUCCESS)
        ingest_meeting_webhook(conn, connection=connection, payload=meeting)
        assert latest_resume_state(conn, connection=connection, window=window) == {}
