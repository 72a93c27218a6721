"""Posting Headway's signals to a Slack channel: Block Kit messages and what Slack's answer means.

The bot token is the organisation's Slack connection's (the one `slack/oauth.py` stored,
encrypted, at install), so a post comes from the same Headway app that reads the channels.

A post is one `chat.postMessage` call and is never retried inside the call: a tick of the
notifier must not sleep out a `Retry-After`. The answer is classified instead (`PostOutcome`):

- HTTP 429 (or `ratelimited`): try again after `Retry-After` (rounded up: slack-sdk's own
  handler raises on a fractional value), on a later tick; the channel waits until then;
- `channel_not_found`, `not_in_channel`, `is_archived`, ...: this channel cannot be posted to;
- `invalid_auth`, `token_revoked`, `account_inactive`, ...: the organisation's token is unusable
  (reinstall the app); its other channels wait;
- 5xx, an unreadable body, a connection error: try again later;
- any other refusal (`invalid_blocks`, `msg_too_long`): this message cannot be posted.

Nothing here logs a message's text; errors carry Slack's code and a short meaning, never a token.
"""

from __future__ import annotations

import enum
import http.client
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.error import URLError
from urllib.parse import quote, urlencode

from slack_sdk.errors import SlackApiError

from headway_assets.core.credentials import CredentialsError, decrypt_credentials, redact
from headway_assets.core.retry import RetryBudget
from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse.ingestion import ConnectionInfo
from headway_assets.core.warehouse.notifications import Signal, SignalKind
from headway_assets.sources.slack.live import (
    AUTH_ERROR_MEANING,
    AUTH_ERRORS,
    NON_JSON_PREFIX,
    TRANSIENT_ERRORS,
    build_web_client,
    retry_after_seconds,
    slack_error_code,
)

DEFAULT_RATE_LIMIT_WAIT_S = 60.0  # a 429 without a usable Retry-After
POST_TIMEOUT_S = 15
# The channel cannot take posts; the organisation's other channels can.
POST_CHANNEL_ERRORS: frozenset[str] = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action", "channel_is_limited_access"}
)
# Slack's limits of Block Kit (https://api.slack.com/reference/block-kit/blocks).
MAX_HEADER_CHARS = 150
MAX_SECTION_CHARS = 3000
MAX_FALLBACK_CHARS = 3000


class FailureScope(enum.StrEnum):
    """What a failed post says about the posts after it."""

    NONE = "none"  # posted
    MESSAGE = "message"  # only this message is refused
    CHANNEL = "channel"  # the channel takes no posts now (rate-limited, gone, or the app is not in it)
    WORKSPACE = "workspace"  # the organisation's token is unusable


@dataclass(frozen=True)
class PostOutcome:
    """Slack's answer to one post, classified."""

    ok: bool
    scope: FailureScope = FailureScope.NONE
    ts: str | None = None
    channel: str | None = None
    code: str | None = None  # Slack's error code (`channel_not_found`), or what went wrong (`connection_error`)
    error: str | None = None  # the code and what it means, never a secret
    retry_after: float | None = None  # seconds: set when a later tick should try again
    rate_limited: bool = False  # a 429: waits what Slack said, and never counts towards giving up


class SlackPoster:
    """Posts messages with one organisation's bot token (slack-sdk `WebClient.chat_postMessage`)."""

    def __init__(self, *, token: str, base_url: str | None, secrets: Sequence[str] = ()) -> None:
        self._secrets = [token, *secrets]
        # No retries inside a call (budget 0): the notifier retries on a later tick instead.
        self.client = build_web_client(
            token=token,
            base_url=base_url,
            budget=RetryBudget(0),
            max_retry_count=0,
            timeout_seconds=POST_TIMEOUT_S,
            secrets=lambda: self._secrets,
        )

    def post(self, channel: str, *, text: str, blocks: list[dict[str, Any]]) -> PostOutcome:
        """Post one message; its outcome (never raises for what Slack or the network answers)."""
        try:
            response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
        except SlackApiError as error:
            return self._refused(error)
        except json.JSONDecodeError:
            return PostOutcome(
                False, FailureScope.CHANNEL, error="Slack answered with a malformed body", retry_after=60
            )
        except (URLError, OSError, http.client.HTTPException) as error:
            reason = redact(f"cannot reach Slack: {type(error).__name__}", self._secrets)
            return PostOutcome(False, FailureScope.WORKSPACE, code="connection_error", error=reason, retry_after=60)
        return PostOutcome(True, ts=str(response.get("ts")), channel=str(response.get("channel") or channel))

    def _refused(self, error: SlackApiError) -> PostOutcome:
        code = slack_error_code(error)
        status = error.response.status_code if error.response is not None else 0
        if status == 429 or code == "ratelimited":
            wait = retry_after_seconds(error.response.headers if error.response is not None else None)
            return PostOutcome(
                False,
                FailureScope.CHANNEL,
                code="ratelimited",
                error="ratelimited: Slack asked to wait" + (f" {wait:.0f} s" if wait is not None else ""),
                retry_after=DEFAULT_RATE_LIMIT_WAIT_S if wait is None else wait,
                rate_limited=True,
            )
        if code.startswith(NON_JSON_PREFIX) or status >= 500 or code in TRANSIENT_ERRORS:
            detail = "an unreadable body" if code.startswith(NON_JSON_PREFIX) else code
            return PostOutcome(
                False, FailureScope.CHANNEL, code=f"http_{status}", error=f"HTTP {status}: {detail}", retry_after=60
            )
        if code == "token_expired":
            # A rotating token: the next sync of the connection refreshes and stores it.
            return PostOutcome(
                False,
                FailureScope.WORKSPACE,
                code=code,
                error="token_expired: waiting for the next sync to refresh the token",
                retry_after=900,
            )
        if code in AUTH_ERRORS:
            meaning = AUTH_ERROR_MEANING.get(code, "the token is not accepted")
            return PostOutcome(
                False,
                FailureScope.WORKSPACE,
                code=code,
                error=f"{code}: {meaning}; reinstall the Slack app for the organisation",
            )
        if code in POST_CHANNEL_ERRORS:
            advice = {
                "channel_not_found": "the channel does not exist or the app cannot see it",
                "not_in_channel": "invite the Headway app to the channel (/invite @Headway)",
                "is_archived": "the channel is archived",
            }.get(code, "the channel takes no posts from the app")
            return PostOutcome(False, FailureScope.CHANNEL, code=code, error=f"{code}: {advice}")
        cleaned = redact(code[:120], self._secrets)
        return PostOutcome(False, FailureScope.MESSAGE, code=cleaned, error=cleaned)


class NoSlackConnectionError(Exception):
    """The organisation has no usable Slack connection to post with."""


def poster_for(connection: ConnectionInfo) -> SlackPoster:
    """A poster with the connection's bot token, at its `base_url` (or SLACK_API_BASE_URL, or slack.com)."""
    try:
        credentials = decrypt_credentials(connection.credentials_encrypted, connection=connection.label)
        token = credentials.require("bot_token", connection=connection.label)
    except CredentialsError as error:
        raise NoSlackConnectionError(str(error)) from None
    app = get_settings().slack
    base_url = connection.config.get("base_url") or app.api_base_url or None
    return SlackPoster(token=token, base_url=base_url, secrets=credentials.secret_values())


# --- Block Kit ----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text made safe for Slack's mrkdwn: `&`, `<` and `>` escaped (so no link or mention is forged)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(api_url: str, path: str, **query: str) -> str:
    base = api_url.rstrip("/") + path
    return f"{base}?{urlencode(query)}" if query else base


def _day(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d") if isinstance(moment, datetime) else "-"


def _button(url: str, label: str = "Open in Headway") -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [{"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}],
    }


def _context(*parts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(" · ".join(parts), MAX_SECTION_CHARS)}]}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(text, MAX_HEADER_CHARS), "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION_CHARS)}}


def render(signal: Signal, *, api_url: str) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and Block Kit blocks of `signal`, with links back to the API at `api_url`."""
    facts = signal.facts
    theme = f"theme `{escape(signal.theme)}`" if signal.theme else "no theme"
    title = escape(signal.title)
    if signal.kind is SignalKind.WEEKLY_DIGEST:
        scope = escape(signal.theme) if signal.theme else "every theme"
        query = {"sort": "-mention_count"}
        if signal.theme:
            query["sub_theme" if "/" in signal.theme else "theme"] = signal.theme
        lines = [
            f"*{facts['new']}* new request(s) and *{facts['rising']}* rising this week ({scope})."
            + ("" if facts.get("high_risk_calls") is None else f" *{facts['high_risk_calls']}* high-risk call(s).")
        ]
        for item in facts.get("top", []):
            url = _link(api_url, f"/v1/feature-requests/{item['id']}")
            lines.append(
                f"• <{url}|{escape(_clip(item['title'], 200))}>: {item['last_7d']} mention(s) in 7 days,"
                f" {item['customers']} customer(s)"
            )
        if not facts.get("top"):
            lines.append("No request was mentioned this week.")
        text = f"Headway weekly digest {signal.key} ({scope}): {facts['new']} new, {facts['rising']} rising"
        blocks = [
            _header(f"Weekly digest · {signal.key}"),
            _section("\n".join(lines)),
            _button(_link(api_url, "/v1/feature-requests", **query), "All requests in Headway"),
        ]
        return _clip(text, MAX_FALLBACK_CHARS), blocks
    if signal.kind is SignalKind.HIGH_RISK_CALL:
        url = _link(api_url, f"/v1/messages/{signal.message_id}")
        risks = [f"{name} risk *{facts[key]}*" for name, key in (("deal", "deal_risk"), ("churn", "churn_risk"))]
        customer = escape(str(facts.get("customer") or "unknown customer"))
        text = f"High-risk call: {signal.title}"
        blocks = [
            _header(":rotating_light: High-risk call"),
            _section(f"*<{url}|{title}>*\n{', '.join(risks)} · {customer}"),
            _context(f"{facts.get('source', 'call')} call of {_day(facts.get('sent_at'))}"),
            _button(url),
        ]
        return _clip(text, MAX_FALLBACK_CHARS), blocks
    url = _link(api_url, f"/v1/feature-requests/{signal.request_id}")
    if signal.kind is SignalKind.NEW_REQUEST:
        heading, text = ":new: New feature request", f"New feature request: {signal.title}"
        detail = f"first asked {_day(facts.get('first_seen'))}"
    else:
        heading, text = ":chart_with_upwards_trend: Rising feature request", f"Rising feature request: {signal.title}"
        detail = f"{facts['last_7d']} mention(s) in the last 7 days, {facts['prev_7d']} in the 7 before"
    blocks = [
        _header(heading),
        _section(f"*<{url}|{title}>*\n{facts['mentions']} mention(s) from {facts['customers']} customer(s) · {detail}"),
        _context(theme, f"key `{escape(quote(signal.key, safe='@:-_'))}`"),
        _button(url),
    ]
    return _clip(text, MAX_FALLBACK_CHARS), blocks
