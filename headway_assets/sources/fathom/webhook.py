"""Receiving Fathom's "new meeting content ready" webhook (vendor-apis.md §4.3).

Fathom POSTs the Meeting object (the `/meetings` item shape, no envelope) to the destination
URL, signed with the Standard Webhooks scheme (the one the svix library implements):

- headers `webhook-id`, `webhook-timestamp` (unix seconds), `webhook-signature`
  (`svix-id` / `svix-timestamp` / `svix-signature` are accepted too);
- key = base64-decode(secret without its `whsec_` prefix);
- signature = base64(HMAC-SHA256(key, f"{id}.{timestamp}.{raw body}")), over the raw bytes;
- `webhook-signature` holds one or more space-separated `v1,<signature>` entries; one match
  (constant-time compare) is enough;
- a timestamp more than `tolerance_seconds` (5 minutes) in the past or the future is refused.

The read API mounts this as `POST /v1/webhooks/fathom/{connection_id}`: `receive_fathom_webhook`
does the whole job (look the connection up, decrypt its `webhook_secret`, verify, ingest).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from headway_assets.core.credentials import CredentialsError, decrypt_credentials
from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.ingestion import (
    ConnectionInfo,
    WriteStats,
    active_connections,
    finish_sync_run,
    latest_resume_state,
    start_sync_run,
    write_window,
)
from headway_assets.core.warehouse.schema import SyncStatus
from headway_assets.sources.fathom import SOURCE
from headway_assets.sources.fathom.meeting import FathomMeetingError, parse_fathom_meeting

DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
# Header names per Standard Webhooks, then the svix aliases.
HEADER_SETS = (
    ("webhook-id", "webhook-timestamp", "webhook-signature"),
    ("svix-id", "svix-timestamp", "svix-signature"),
)
WEBHOOK_SECRET_FIELD = "webhook_secret"


class WebhookVerificationError(Exception):
    """The delivery is not authentic (or cannot be checked); the message says why, with no secret in it."""


class WebhookPayloadError(ValueError):
    """An authentic delivery whose body cannot become a message; the message says why and what to do."""


class WebhookConnectionError(LookupError):
    """The connection of the webhook URL does not exist, is inactive, is not Fathom, or has no secret."""


@dataclass(frozen=True, slots=True)
class VerifiedDelivery:
    """What a verified delivery claims about itself."""

    webhook_id: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """The result of one ingested delivery."""

    webhook_id: str
    external_id: str
    sync_run_id: int
    inserted: bool
    updated: bool


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = {key.lower(): value for key, value in headers.items()}
    value = lowered.get(name)
    return value if value else None


def _signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret (a bad secret is a configuration error, not a forged delivery)."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise WebhookVerificationError(
            "the stored Fathom webhook secret is not valid base64 (expected 'whsec_' followed by base64); "
            "copy the secret again from Fathom's webhook settings into the connection's 'webhook_secret'"
        )
    return key


def verify_standard_webhook(
    secret: str,
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> VerifiedDelivery:
    """Check a Standard Webhooks signature over the raw request body; raise `WebhookVerificationError`.

    `headers` may use any case; `webhook-*` headers win over their `svix-*` aliases. Returns the
    delivery id (stable across Fathom's retries: use it to recognise repeats) and timestamp.
    """
    if now.tzinfo is None:
        raise ValueError("verify_standard_webhook needs a timezone-aware `now`")
    candidates_sets = [(names, [_header(headers, name) for name in names]) for names in HEADER_SETS]
    complete = [(names, values) for names, values in candidates_sets if all(values)]
    if not complete:
        partial = next(((n, v) for n, v in candidates_sets if any(v)), None)
        if partial is None:
            raise WebhookVerificationError(
                "missing webhook-id, webhook-timestamp and webhook-signature headers: this is not a signed "
                "Fathom webhook delivery"
            )
        absent = [name for name, value in zip(*partial, strict=True) if not value]
        raise WebhookVerificationError(f"missing required webhook header(s): {', '.join(absent)}")
    names, values = complete[0]
    msg_id, timestamp_text, signature_header = (str(v) for v in values)
    try:
        timestamp = int(timestamp_text.strip())
    except ValueError:
        raise WebhookVerificationError(
            f"{names[1]} must be an integer number of unix seconds, got {timestamp_text[:40]!r}"
        ) from None
    sent_at = datetime.fromtimestamp(timestamp, UTC)
    skew = (now - sent_at).total_seconds()
    if skew > tolerance_seconds:
        raise WebhookVerificationError(
            f"{names[1]} {timestamp} is {int(skew)} s old, more than the {tolerance_seconds} s replay window; "
            "the delivery is refused (check the server clock if this happens to fresh deliveries)"
        )
    if -skew > tolerance_seconds:
        raise WebhookVerificationError(
            f"{names[1]} {timestamp} is {int(-skew)} s in the future, more than the {tolerance_seconds} s "
            "allowed; the delivery is refused (check the server clock)"
        )

    key = _signing_key(secret)
    # Signed with the timestamp as an integer, as the reference (svix) verifier does.
    signed = f"{msg_id}.{timestamp}.".encode() + raw_body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    candidates = []
    for entry in signature_header.split(" "):
        version, _, signature = entry.partition(",")
        if version == SIGNATURE_VERSION and signature:
            candidates.append(signature.encode())
    if not candidates:
        raise WebhookVerificationError(f"{names[2]} holds no '{SIGNATURE_VERSION},<signature>' entry")
    # Compare against every entry (no early exit) so timing says nothing about which one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate, expected)
    if not matched:
        raise WebhookVerificationError(
            "no webhook signature matches the body: it was altered, or the connection's 'webhook_secret' is not "
            "the secret of this Fathom webhook"
        )
    return VerifiedDelivery(webhook_id=msg_id, timestamp=sent_at)


def _day_window(moment: datetime) -> TimeWindow:
    start = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return TimeWindow(start, start + timedelta(days=1))


def _meeting_from(payload: Mapping[str, Any] | bytes | str) -> Mapping[str, Any]:
    if isinstance(payload, bytes | str):
        try:
            payload = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise WebhookPayloadError(f"the Fathom webhook body is not JSON ({error})") from None
    if not isinstance(payload, Mapping):
        raise WebhookPayloadError(f"the Fathom webhook body is a JSON {type(payload).__name__}, not a Meeting object")
    return payload


def ingest_meeting_webhook(
    conn: Connection,
    *,
    connection: ConnectionInfo,
    payload: Mapping[str, Any] | bytes | str,
) -> str:
    """Upsert the meeting of a (verified) delivery for `connection`; returns the message's external id.

    The message is exactly what the API and export readers produce for the meeting
    (`parse_fathom_meeting`). It is written over its own UTC day with `prune=False`, inside a
    sync-history row, so it shows in sync history and the same delivery twice is one message.
    When a capped API sync of that day is still half-way, the row carries its resume state
    forward (status `incomplete`), so the delivery neither hides that the day is incomplete
    nor makes the next sync start the day over. Raises `WebhookPayloadError` for a body that
    is not a usable Meeting.
    """
    return _ingest(conn, connection=connection, payload=payload, webhook_id=None).external_id


def _ingest(
    conn: Connection,
    *,
    connection: ConnectionInfo,
    payload: Mapping[str, Any] | bytes | str,
    webhook_id: str | None,
) -> WebhookOutcome:
    if connection.source != SOURCE:
        raise WebhookConnectionError(
            f"connection {connection.label} is a {connection.source} connection; Fathom webhooks need a Fathom one"
        )
    meeting = _meeting_from(payload)
    domains = tuple(connection.config.get("internal_domains", ()))
    try:
        message = parse_fathom_meeting(meeting, internal_domains=domains)
    except FathomMeetingError as error:
        raise WebhookPayloadError(
            f"Fathom webhook for {connection.label}: {error}; create the webhook with include_transcript=true"
        ) from None
    window = _day_window(message.sent_at)
    pending = latest_resume_state(conn, connection=connection, window=window)
    sync_run_id = start_sync_run(conn, connection=connection, window=window, dagster_run_id=None)
    stats: WriteStats = write_window(
        conn, connection=connection, window=window, messages=[message], sync_run_id=sync_run_id
    )
    finish_sync_run(
        conn,
        sync_run_id=sync_run_id,
        connection=connection,
        status=SyncStatus.INCOMPLETE if pending else SyncStatus.SUCCESS,
        messages_read=1,
        stats=stats,
        resume_state=pending or None,
    )
    return WebhookOutcome(
        webhook_id=webhook_id or "",
        external_id=message.external_id,
        sync_run_id=sync_run_id,
        inserted=stats.inserted == 1,
        updated=stats.updated == 1,
    )


def find_fathom_connection(conn: Connection, connection_id: int) -> ConnectionInfo:
    """The active Fathom connection `connection_id` (raises `WebhookConnectionError` otherwise)."""
    for connection in active_connections(conn, SOURCE):
        if connection.id == connection_id:
            return connection
    raise WebhookConnectionError(f"there is no active Fathom connection {connection_id}")


def receive_fathom_webhook(
    conn: Connection,
    *,
    connection_id: int,
    headers: Mapping[str, str],
    raw_body: bytes,
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> WebhookOutcome:
    """Everything `POST /v1/webhooks/fathom/{connection_id}` does, in the caller's write transaction.

    Looks up the active Fathom connection, decrypts its credentials' `webhook_secret`, verifies
    the signature over `raw_body`, and ingests the meeting. Raises `WebhookConnectionError`
    (unknown / inactive / no secret), `WebhookVerificationError` (not authentic) or
    `WebhookPayloadError` (authentic but unusable); none of the messages carries a secret.
    """
    connection = find_fathom_connection(conn, connection_id)
    try:
        credentials = decrypt_credentials(connection.credentials_encrypted, connection=connection.label)
    except CredentialsError as error:
        raise WebhookConnectionError(str(error)) from None
    secret = credentials.get(WEBHOOK_SECRET_FIELD)
    if not isinstance(secret, str) or not secret:
        raise WebhookConnectionError(
            f"connection {connection.label} has no '{WEBHOOK_SECRET_FIELD}' in its credentials; store the "
            "signing secret of the Fathom webhook with `headway connections set-credentials`"
        )
    delivery = verify_standard_webhook(secret, headers, raw_body, now=now, tolerance_seconds=tolerance_seconds)
    return _ingest(conn, connection=connection, payload=raw_body, webhook_id=delivery.webhook_id)
