"""Helpers of the read API tests: seeding two organisations, apps, tokens, walking pages."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import insert, select

from headway_api.core.config import ApiSettings
from headway_api.core.security import hash_password
from headway_api.main import create_app
from headway_assets.core.message import TimeWindow
from headway_assets.core.settings import HeadwaySettings
from headway_assets.core.warehouse.database import get_engine, write_transaction
from headway_assets.core.warehouse.schema import (
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Message,
    MessageInsight,
    MessageLabel,
    Organization,
    PeriodInsight,
    SkippedItem,
    SourceConnection,
    SyncRequest,
    SyncRun,
    Theme,
    User,
)
from headway_assets.core.warehouse.stats import refresh_daily_stats

JWT_SECRET = "test-secret-" + "k" * 40


PASSWORD = "correct horse battery staple"


MARCH = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # a Monday


POSTGRES_SERVER_URL = os.environ.get("HEADWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def api_settings(**overrides: Any) -> ApiSettings:
    """Settings for a test app: a fixed secret, otherwise the defaults."""
    values: dict[str, Any] = {"jwt_secret_key": SecretStr(JWT_SECRET)}
    values.update(overrides)
    return ApiSettings(**values)


@dataclass
class OrgSeed:
    """What was written for one organisation, with the ids the database gave it."""

    id: int
    slug: str
    user_id: int = 0
    service_user_id: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[int, dict[str, Any]] = field(default_factory=dict)
    themes: list[dict[str, Any]] = field(default_factory=list)
    mentions: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    insights: list[dict[str, Any]] = field(default_factory=list)
    message_insights: dict[int, dict[str, Any]] = field(default_factory=dict)
    sync_runs: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    sync_requests: list[dict[str, Any]] = field(default_factory=list)
    connections: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Seed:
    """The two organisations: A (acme, the caller in most tests) and B (globex, the other tenant)."""

    a: OrgSeed
    b: OrgSeed


def _insert(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    # One INSERT ... RETURNING id per row, so each seed row learns its id.
    for row in rows:
        row["id"] = conn.execute(insert(table).values(**row).returning(table.id)).scalar_one()


def _message(org: int, index: int, **values: Any) -> dict[str, Any]:
    text = values.pop("text", f"Message {index} about the product.")
    return {
        "org_id": org,
        "source": "slack",
        "external_id": f"ext-{org}-{index}",
        "thread_id": f"thread-{index // 3}",
        "channel": "#general",
        "author_name": f"Author {index}",
        "author_email": f"author{index}@customer.example",
        "author_is_internal": False,
        "customer": "Acme Corp",
        "sent_at": MARCH + timedelta(hours=7 * index),
        "title": None,
        "text": text,
        "text_length": len(text),
        "url": f"https://chat.example/{org}/{index}",
        "content_hash": f"{index:064x}",
        "record_hash": f"{index:064x}",
        "source_metadata": {},
        **values,
    }


def _seed_org(conn: Any, slug: str, size: int) -> OrgSeed:
    org_id = conn.execute(
        insert(Organization)
        .values(slug=slug, name=slug.title(), is_active=True, settings={})
        .returning(Organization.id)
    ).scalar_one()
    org = OrgSeed(id=org_id, slug=slug)
    org.user_id = conn.execute(
        insert(User)
        .values(org_id=org_id, email=f"pm@{slug}.example", full_name="Pat Manager", role="member", is_active=True)
        .values(hashed_password=hash_password(PASSWORD))
        .returning(User.id)
    ).scalar_one()
    org.service_user_id = conn.execute(
        insert(User)
        .values(org_id=org_id, email=f"svc@{slug}.example", hashed_password=None, role="service", is_active=True)
        .returning(User.id)
    ).scalar_one()
    org.connections = [
        {"org_id": org_id, "source": "slack", "kind": "export", "name": f"{slug}-slack", "is_active": True,
         "config": {"path": "/secret/path"}, "credentials_encrypted": "gAAAA-very-secret"},
        {"org_id": org_id, "source": "gmail", "kind": "api", "name": f"{slug}-gmail", "is_active": False,
         "config": {}, "credentials_encrypted": None, "last_error": "token revoked"},
    ]  # fmt: skip
    _insert(conn, SourceConnection, org.connections)

    sources = ("slack", "gmail", "gong", "slack")
    customers = ("Acme Corp", "Initech", None)
    special = {
        3: "We need a 50% off coupon field",
        4: "Rename under_score columns please",
        5: "O'Brien asked about PDF export of the weekly report",
        6: "PDF EXPORT would save us hours",
    }
    org.messages = [
        _message(
            org_id,
            index,
            source=sources[index % 4],
            customer=customers[index % 3],
            channel="#feedback" if index % 2 else "#general",
            text=special.get(index, f"Message {index} about the product, {slug}."),
        )
        for index in range(size)
    ]
    _insert(conn, Message, org.messages)

    categories = ("feature_request", "bug_report", "praise", "question", "other")
    for index, message in enumerate(org.messages):
        if index == size - 1:
            continue  # the newest message is not labelled yet
        failed = index == size - 2
        label = {
            "message_id": message["id"],
            "org_id": org_id,
            "content_hash": message["content_hash"],
            "status": "failed" if failed else "labelled",
            "is_feedback": None if failed else categories[index % 5] != "other",
            "category": None if failed else categories[index % 5],
            "relevance": None if failed else index % 11,
            "confidence": None if failed else 0.9,
            "chunk_count": 1,
            "provider": "offline",
            "model": "test",
            "prompt_version": "v1",
            "error": "provider timed out" if failed else None,
        }
        conn.execute(insert(MessageLabel).values(**label))
        org.labels[message["id"]] = label

    org.themes = [{"org_id": org_id, "parent_id": None, "path": path, "name": path.title(), "keywords": {}}
                  for path in ("integrations", "reporting")]  # fmt: skip
    _insert(conn, Theme, org.themes)
    parents = {theme["path"]: theme["id"] for theme in org.themes}
    subs = [
        {"org_id": org_id, "parent_id": parents[parent], "path": f"{parent}/{child}", "name": child.title(),
         "description": f"{child} within {parent}", "keywords": {}}
        for parent, child in (("reporting", "pdf-export"), ("reporting", "scheduling"), ("integrations", "salesforce"))
    ]  # fmt: skip
    _insert(conn, Theme, subs)
    org.themes += subs

    asks = (
        ("PDF export of reports", "reporting", "reporting/pdf-export"),
        ("Salesforce sync", "integrations", "integrations/salesforce"),
        ("Dark mode", None, None),
    )
    mention_messages = [message for index, message in enumerate(org.messages) if index % 3 == 0 and index < size - 2]
    for position, message in enumerate(mention_messages):
        title, theme, sub_theme = asks[position % 3]
        quote = message["text"][:20]
        org.mentions.append(
            {
                "org_id": org_id,
                "message_id": message["id"],
                "ordinal": 0,
                "source": message["source"],
                "sent_at": message["sent_at"],
                "title": title,
                "description": f"Customers want {title.lower()}.",
                "problem_statement": None,
                "desired_outcome": None,
                "kind": "feature_request",
                "urgency": "medium",
                "sentiment": "neutral",
                "theme": theme,
                "sub_theme": sub_theme,
                "customer": message["customer"],
                "evidence_quote": quote,
                "evidence_start": 0,
                "provider": "offline",
                "model": "test",
                "prompt_version": "v1",
            }
        )
    _insert(conn, FeatureMention, org.mentions)
    for position, (title, theme, sub_theme) in enumerate(asks):
        members = [m for i, m in enumerate(org.mentions) if i % 3 == position]
        names = sorted({m["customer"] for m in members if m["customer"]})
        counts: dict[str, int] = {}
        for member in members:
            counts[member["source"]] = counts.get(member["source"], 0) + 1
        org.requests.append(
            {
                "org_id": org_id,
                "key": f"ask-{position}",
                "title": title,
                "description": f"Customers want {title.lower()}.",
                "kind": "feature_request",
                "theme": theme,
                "sub_theme": sub_theme,
                "mention_count": len(members),
                "customer_count": len(names),
                "customers": {"names": names},
                "sources": counts,
                "first_seen": min(m["sent_at"] for m in members),
                "last_seen": max(m["sent_at"] for m in members),
                "mentions_last_7d": len(members) - 1,
                "mentions_prev_7d": 1,
                "trend": ("rising", "steady", "new")[position],
            }
        )
    _insert(conn, FeatureRequest, org.requests)
    for index, mention in enumerate(org.mentions):
        link = {
            "feature_request_id": org.requests[index % 3]["id"],
            "mention_id": mention["id"],
            "org_id": org_id,
            "match_method": "new" if index < 3 else "title_similarity",
            "match_score": 1.0 if index < 3 else 0.93,
        }
        conn.execute(insert(FeatureRequestMention).values(**link))
        org.links.append(link)

    for message in mention_messages[:3]:
        insight = {
            "message_id": message["id"],
            "org_id": org_id,
            "content_hash": message["content_hash"],
            "summary": f"Summary of {message['external_id']}",
            "sentiment": "neutral",
            "key_topics": {"topics": ["reporting", "export"]},
            "provider": "offline",
            "model": "test",
            "prompt_version": "v1",
        }
        conn.execute(insert(MessageInsight).values(**insight))
        org.message_insights[message["id"]] = insight

    ask = {
        "feature_request_id": org.requests[0]["id"],
        "title": org.requests[0]["title"],
        "mentions": 2,
        "customers": 1,
        "quotes": [{"message_id": org.mentions[0]["message_id"], "quote": org.mentions[0]["evidence_quote"],
                    "customer": "Acme Corp", "source": "slack"}],
    }  # fmt: skip
    for week in range(3):
        start = MARCH + timedelta(days=7 * week) - timedelta(hours=8)
        org.insights.append(
            {
                "org_id": org_id,
                "period": "week",
                "period_start": start,
                "period_end": start + timedelta(days=7),
                "headline": f"Week {week} of {slug}",
                "content": {
                    "top_asks": [ask],
                    "new_asks": [],
                    "rising_asks": [ask] if week else [],
                    "by_source": {"slack": {"mentions": 2}},
                    "by_customer": [{"customer": "Acme Corp", "mentions": 2}],
                },
            }
        )
    org.insights.append(
        {
            "org_id": org_id,
            "period": "month",
            "period_start": datetime(2025, 3, 1, tzinfo=UTC),
            "period_end": datetime(2025, 4, 1, tzinfo=UTC),
            "headline": f"March of {slug}",
            "content": {"top_asks": [ask]},
        }
    )
    _insert(conn, PeriodInsight, org.insights)

    slack, gmail = org.connections
    org.sync_runs = [
        {"org_id": org_id, "connection_id": slack["id"], "source": "slack", "window_start": MARCH,
         "window_end": MARCH + timedelta(days=1), "status": status, "started_at": MARCH + timedelta(hours=hour),
         "finished_at": MARCH + timedelta(hours=hour, minutes=2), "messages_read": 10, "messages_written": 9,
         "messages_removed": 0, "items_skipped": skipped, "error": error, "resume_state": {}}
        for status, hour, skipped, error in (("success", 1, 0, None), ("partial", 2, 2, None), ("failed", 3, 0, "boom"))
    ]  # fmt: skip
    org.sync_runs.append({**org.sync_runs[0], "connection_id": gmail["id"], "source": "gmail",
                          "started_at": MARCH + timedelta(hours=4), "status": "success"})  # fmt: skip
    _insert(conn, SyncRun, org.sync_runs)
    org.skipped = [
        {"sync_run_id": org.sync_runs[1]["id"], "org_id": org_id, "source": "slack",
         "location": f"channels/C1/2025-03-03.json#{n}", "reason": "no timestamp"}
        for n in range(2)
    ]  # fmt: skip
    _insert(conn, SkippedItem, org.skipped)
    org.sync_requests = [
        {"org_id": org_id, "source": source, "first_day": date(2025, 3, 3), "last_day": date(2025, 3, day),
         "status": status, "requested_by": org.user_id}
        for source, day, status in (("slack", 3, "succeeded"), ("gmail", 4, "failed"), ("slack", 5, "pending"))
    ]  # fmt: skip
    _insert(conn, SyncRequest, org.sync_requests)
    return org


def seed_warehouse(url: str) -> Seed:
    """Write both organisations and refresh their daily stats."""
    with write_transaction(url) as conn:
        seed = Seed(a=_seed_org(conn, "acme", 40), b=_seed_org(conn, "globex", 12))
        refresh_daily_stats(conn, TimeWindow(MARCH - timedelta(days=3), MARCH + timedelta(days=30)))
    return seed


def truncate_postgres(url: str) -> None:
    """Empty every table of the test database (its schema stays)."""
    from sqlalchemy import text

    from headway_assets.core.warehouse.database import get_engine
    from headway_assets.core.warehouse.schema import Base

    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with get_engine(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@dataclass
class Warehouse:
    """A seeded warehouse."""

    url: str
    seed: Seed
    data_dir: Path


def bearer(client: TestClient, user_id: int, org_slug: str, **claims: Any) -> dict[str, str]:
    """Authorization headers with a token the app itself issued for `user:<user_id>` of `org_slug`."""
    codec = client.app.state.headway.tokens  # type: ignore[attr-defined]
    token = codec.issue(subject=f"user:{user_id}", org_slug=org_slug, lifetime=timedelta(minutes=10))
    return {"Authorization": f"Bearer {token.access_token}"}


def app_client(database_url: str, data_dir: Path, **overrides: Any) -> TestClient:
    """A TestClient over `database_url` with `api_settings(**overrides)` (enter it with `with`)."""
    settings = api_settings(**overrides)
    return TestClient(create_app(settings, HeadwaySettings(database_url=database_url, data_dir=data_dir)))


def walk_pages(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following `next_cursor` to the last page; returns the pages."""
    pages = []
    cursor: str | None = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError(f"{path} did not reach its last page in 1000 pages")


def items_of(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All items of a walk."""
    return [item for page in pages for item in page["items"]]


@dataclass
class People:
    """Two organisations with a member (with a password), a service client and an inactive user each."""

    orgs: dict[str, int]
    users: dict[str, int]


def seed_people(url: str) -> People:
    """Organisations acme and globex, their users, and one active slack connection each."""
    people = People(orgs={}, users={})
    hashed = hash_password(PASSWORD)
    with write_transaction(url) as conn:
        for slug in ("acme", "globex"):
            org_id = conn.execute(
                insert(Organization)
                .values(slug=slug, name=slug.title(), is_active=True, settings={})
                .returning(Organization.id)
            ).scalar_one()
            people.orgs[slug] = org_id
            for local, password, active in (
                ("pm", hashed, True),
                ("svc", None, True),
                ("gone", hashed, False),
            ):
                email = f"{local}@{slug}.example"
                people.users[email] = conn.execute(
                    insert(User)
                    .values(org_id=org_id, email=email, hashed_password=password, role="member", is_active=active)
                    .returning(User.id)
                ).scalar_one()
            conn.execute(
                insert(SourceConnection).values(
                    org_id=org_id,
                    source="slack",
                    kind="export",
                    name=f"{slug}-slack",
                    config={},
                    is_active=True,
                )
            )
    return people


def table_rows(url: str, models: Sequence[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of these tables, sorted: to prove that a refused write changed nothing."""
    with get_engine(url).connect() as conn:
        return {
            model.__tablename__: sorted(tuple(row) for row in conn.execute(select(model.__table__)).all())
            for model in models
        }
