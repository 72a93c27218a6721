"""GET and PATCH /v1/organization/settings and GET .../settings/history through HTTP, on SQLite and
PostgreSQL: each setting with its source, default and what the pipeline applies (`effective`, with
the pipeline's own rule), admin writes (audited in `org_settings_audit` and the log), `null` back to
the default, the roles refused, invalid values refused with nothing changed, and one organisation
never seeing or changing another's."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from headway_api.main import create_app
from headway_api.pagination import encode_cursor
from headway_api.queries.corrections import AUDIT_SORT
from headway_api.schemas.organization import OrganizationSettings, SettingsHistoryPage
from headway_assets.assets.local_model import first_pass_thresholds
from headway_assets.core.llm_catalogue import CALL_CUES_MODEL, OFFLINE_MODEL, call_model_choices, get_provider_spec
from headway_assets.core.settings import HeadwaySettings
from headway_assets.core.warehouse.database import get_engine, write_transaction
from headway_assets.core.warehouse.llm_spend import monthly_budgets
from headway_assets.core.warehouse.org_settings import SettingsActor, change_org_settings, script_actor
from headway_assets.core.warehouse.schema import Organization, OrgSettingsAudit, User
from headway_assets.resources.llm import LlmResource
from tests.api.support import api_settings

PATH = "/v1/organization/settings"
HISTORY = "/v1/organization/settings/history"
BUDGET = "llm_monthly_budget_usd"


@dataclass
class Org:
    """One organisation of the test and its callers' user ids."""

    id: int
    slug: str
    admin: int
    member: int
    service: int


def _plain(value: Any, source: str, default: Any) -> dict[str, Any]:
    """A setting whose value is what the pipeline applies."""
    return {"value": value, "effective": value, "source": source, "default": default, "reason": None}


def _seed_org(url: str, slug: str, settings: dict[str, Any]) -> Org:
    with write_transaction(url) as conn:
        # The organisation as stored before the test (no audit row: the history tests count theirs).
        org_id = conn.execute(
            insert(Organization).values(slug=slug, name=slug.title(), settings=settings).returning(Organization.id)
        ).scalar_one()
        ids = {
            role: conn.execute(
                insert(User)
                .values(org_id=org_id, email=f"{role}@{slug}.example", role=role, is_active=True)
                .returning(User.id)
            ).scalar_one()
            for role in ("admin", "member", "service")
        }
    return Org(org_id, slug, ids["admin"], ids["member"], ids["service"])


def _stored(url: str, org: Org) -> dict[str, Any]:
    with get_engine(url).connect() as conn:
        return dict(conn.execute(select(Organization.settings).where(Organization.id == org.id)).scalar_one() or {})


@pytest.fixture
def deployment(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, str, Org, Org]]:
    """The API with the Anthropic provider and a $25 default budget over two organisations: acme (no
    settings of its own but its domains) and globex (its own budget and call model)."""
    acme = _seed_org(database_url, "acme", {"internal_domains": ["acme.com"]})
    globex = _seed_org(database_url, "globex", {"llm_monthly_budget_usd": 80.0, "call_model": "claude-sonnet-4-5"})
    headway = HeadwaySettings(
        database_url=database_url, data_dir=tmp_path, llm_provider="anthropic", llm_monthly_budget_usd=25
    )
    with TestClient(create_app(api_settings(), headway)) as client:
        yield client, database_url, acme, globex


def _headers(client: TestClient, org: Org, user_id: int) -> dict[str, str]:
    codec = client.app.state.headway.tokens  # type: ignore[attr-defined]
    token = codec.issue(subject=f"user:{user_id}", org_slug=org.slug, lifetime=timedelta(minutes=5))
    return {"Authorization": f"Bearer {token.access_token}"}


def _refused(client: TestClient, url: str, org: Org, body: Any, status: int, code: str, headers: dict[str, str]) -> str:
    before = _stored(url, org)
    response = client.patch(PATH, json=body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert _stored(url, org) == before, f"PATCH {body} changed the settings though refused"
    return " ".join([error["message"], *(detail["message"] for detail in error.get("details") or [])])


def test_any_member_reads_the_settings_in_effect(deployment: tuple[TestClient, str, Org, Org]) -> None:
    client, _, acme, globex = deployment
    allowed = list(call_model_choices("anthropic", get_provider_spec("anthropic").default_models.values()))
    response = client.get(PATH, headers=_headers(client, acme, acme.member))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == OrganizationSettings.model_validate(body).model_dump(mode="json")
    assert body == {
        "pii_redaction": _plain(True, "default", True),
        "llm_monthly_budget_usd": _plain(25.0, "default", 25.0),
        "call_model": {**_plain(CALL_CUES_MODEL, "default", CALL_CUES_MODEL), "allowed": allowed},
        "local_first_pass_threshold": _plain(0.0, "default", 0.0),
        "internal_domains": _plain(["acme.com"], "organization", []),
    }
    assert allowed[0] == CALL_CUES_MODEL and "claude-sonnet-4-5" in allowed and "gpt-4.1" not in allowed
    # One source of truth: what the pipeline (and `headway orgs call-model`) accepts is what the API lists.
    assert allowed == list(LlmResource(provider="anthropic").call_model_choices())
    # A service token reads too; each organisation sees its own settings only.
    assert client.get(PATH, headers=_headers(client, acme, acme.service)).json() == body
    other = client.get(PATH, headers=_headers(client, globex, globex.member)).json()
    assert other["llm_monthly_budget_usd"] == _plain(80.0, "organization", 25.0)
    assert other["call_model"]["value"] == "claude-sonnet-4-5" and other["call_model"]["source"] == "organization"
    assert client.get(PATH).status_code == 401


def test_an_admin_changes_and_clears_settings_and_the_change_is_logged(
    deployment: tuple[TestClient, str, Org, Org], caplog: pytest.LogCaptureFixture
) -> None:
    client, url, acme, globex = deployment
    admin = _headers(client, acme, acme.admin)
    globex_before = _stored(url, globex)
    with caplog.at_level(logging.INFO, logger="headway_api.audit"):
        response = client.patch(
            PATH,
            json={
                "pii_redaction": False,
                "llm_monthly_budget_usd": 50,
                "call_model": "claude-haiku-4-5",
                "local_first_pass_threshold": 0.9,
                "internal_domains": ["@ACME.com", "acme.io", "acme.com"],
            },
            headers=admin,
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pii_redaction"] == _plain(False, "organization", True)
    assert body["llm_monthly_budget_usd"] == _plain(50.0, "organization", 25.0)
    assert body["call_model"]["value"] == "claude-haiku-4-5" and body["call_model"]["source"] == "organization"
    assert body["local_first_pass_threshold"] == _plain(0.9, "organization", 0.0)
    assert body["internal_domains"]["value"] == ["acme.com", "acme.io"]
    assert _stored(url, acme) == {
        "pii_redaction": False,
        "llm_monthly_budget_usd": 50.0,
        "call_model": "claude-haiku-4-5",
        "local_first_pass_threshold": 0.9,
        "internal_domains": ["acme.com", "acme.io"],
    }
    assert client.get(PATH, headers=_headers(client, acme, acme.member)).json() == body
    # Who, when, before and after, and no e-mail address.
    [record] = [record for record in caplog.records if record.name == "headway_api.audit"]
    message = record.getMessage()
    assert f"org=acme by=user:{acme.admin}" in message and "at=" in message
    assert "'pii_redaction': None" in message and "'pii_redaction': False" in message
    assert "@acme.example" not in message

    # Omitted settings stay; null clears one back to the deployment default.
    cleared = client.patch(PATH, json={"call_model": None, "llm_monthly_budget_usd": None}, headers=admin)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["call_model"]["value"] == CALL_CUES_MODEL
    assert cleared.json()["call_model"]["source"] == "default"
    assert cleared.json()["llm_monthly_budget_usd"] == _plain(25.0, "default", 25.0)
    assert cleared.json()["pii_redaction"]["value"] is False
    assert "call_model" not in _stored(url, acme) and "llm_monthly_budget_usd" not in _stored(url, acme)
    # The other organisation is untouched.
    assert _stored(url, globex) == globex_before


def test_members_and_service_tokens_may_not_write(deployment: tuple[TestClient, str, Org, Org]) -> None:
    client, url, acme, _ = deployment
    for user_id in (acme.member, acme.service):
        message = _refused(
            client, url, acme, {"pii_redaction": False}, 403, "forbidden", _headers(client, acme, user_id)
        )
        assert "admin" in message
    assert client.patch(PATH, json={"pii_redaction": False}).status_code == 401


def test_invalid_settings_are_refused_naming_the_field_and_what_is_allowed(
    deployment: tuple[TestClient, str, Org, Org],
) -> None:
    client, url, acme, _ = deployment
    admin = _headers(client, acme, acme.admin)
    message = _refused(client, url, acme, {"call_model": "gpt-4.1"}, 400, "invalid_value", admin)
    assert "call_model" in message and "'gpt-4.1'" in message
    assert CALL_CUES_MODEL in message and "claude-haiku-4-5" in message
    message = _refused(client, url, acme, {"colour": "blue", "pii_redaction": True}, 422, "invalid_request", admin)
    assert "'colour'" in message and "pii_redaction" in message and "internal_domains" in message
    message = _refused(client, url, acme, {"local_first_pass_threshold": 1.5}, 422, "invalid_request", admin)
    assert "1" in message
    _refused(client, url, acme, {"llm_monthly_budget_usd": -1}, 422, "invalid_request", admin)
    _refused(client, url, acme, {"llm_monthly_budget_usd": "50"}, 422, "invalid_request", admin)
    _refused(client, url, acme, {"pii_redaction": "no"}, 422, "invalid_request", admin)
    _refused(client, url, acme, {"internal_domains": "acme.com"}, 422, "invalid_request", admin)
    message = _refused(client, url, acme, {"internal_domains": ["not a domain"]}, 400, "invalid_value", admin)
    assert "internal_domains" in message
    message = _refused(client, url, acme, {"internal_domains": ["gmail.com"]}, 400, "invalid_value", admin)
    assert "internal_domains" in message and "free-mail" in message
    _refused(client, url, acme, [1, 2], 422, "invalid_request", admin)


@contextmanager
def _deployment_of(url: str, data_dir: Path, provider: str) -> Iterator[TestClient]:
    headway = HeadwaySettings(database_url=url, data_dir=data_dir, llm_provider=provider)
    with TestClient(create_app(api_settings(), headway)) as client:
        yield client


def test_the_effective_call_model_is_the_one_call_insights_uses(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Globex chose a model while the deployment ran Anthropic; the deployment now runs OpenAI.
    globex = _seed_org(database_url, "globex", {"call_model": "claude-sonnet-4-5"})
    monkeypatch.setenv("HEADWAY_LLM_PROVIDER", "openai")
    with _deployment_of(database_url, tmp_path, "openai") as client:
        body = client.get(PATH, headers=_headers(client, globex, globex.member)).json()
    call_model = body["call_model"]
    assert call_model["value"] == "claude-sonnet-4-5" and call_model["source"] == "organization"
    assert call_model["effective"] == CALL_CUES_MODEL == call_model["default"]
    assert call_model["reason"]["code"] == "not_offered_by_provider"
    assert "'claude-sonnet-4-5'" in call_model["reason"]["message"] and "gpt-4.1" in call_model["reason"]["message"]
    # The pipeline's rule (call_insights' org_call_models asks the LLM resource, which asks the kernel).
    assert LlmResource(provider="openai").applied_call_model(_stored(database_url, globex)).value == CALL_CUES_MODEL
    # The other settings are applied as set.
    others = [key for key in body if key != "call_model"]
    assert others and all(
        body[key]["effective"] == body[key]["value"] and body[key]["reason"] is None for key in others
    )


def test_the_offline_provider_applies_neither_call_model_nor_first_pass(database_url: str, tmp_path: Path) -> None:
    acme = _seed_org(database_url, "acme", {"call_model": CALL_CUES_MODEL, "local_first_pass_threshold": 0.9})
    with _deployment_of(database_url, tmp_path, "offline") as client:
        body = client.get(PATH, headers=_headers(client, acme, acme.member)).json()
    assert body == OrganizationSettings.model_validate(body).model_dump(mode="json")
    assert body["call_model"]["value"] == CALL_CUES_MODEL and body["call_model"]["effective"] == OFFLINE_MODEL
    assert body["call_model"]["reason"]["code"] == "provider_ignores_setting"
    assert body["local_first_pass_threshold"]["value"] == 0.9
    assert body["local_first_pass_threshold"]["effective"] == 0.0
    assert body["local_first_pass_threshold"]["reason"]["code"] == "provider_ignores_setting"
    # The same rules in the pipeline: the offline provider's model for calls, no first pass.
    assert LlmResource(provider="offline").applied_call_model(_stored(database_url, acme)).value == OFFLINE_MODEL
    with get_engine(database_url).connect() as conn:
        assert first_pass_thresholds(conn, [acme.id], "offline") == {acme.id: 0.0}
        assert first_pass_thresholds(conn, [acme.id], "anthropic") == {acme.id: 0.9}
    # With a hosted provider both apply as set.
    with _deployment_of(database_url, tmp_path, "anthropic") as client:
        hosted = client.get(PATH, headers=_headers(client, acme, acme.member)).json()
    assert hosted["call_model"]["effective"] == CALL_CUES_MODEL and hosted["call_model"]["reason"] is None
    assert hosted["local_first_pass_threshold"] == _plain(0.9, "organization", 0.0)


def _history(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(HISTORY, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = SettingsHistoryPage.model_validate(response.json()).model_dump(mode="json")
    assert body == response.json()
    return body


def test_every_changed_setting_is_in_the_history_newest_first(deployment: tuple[TestClient, str, Org, Org]) -> None:
    client, url, acme, globex = deployment
    codec = client.app.state.headway.tokens  # type: ignore[attr-defined]
    token = codec.issue(subject=f"user:{acme.admin}", org_slug=acme.slug, lifetime=timedelta(minutes=5))
    admin = {"Authorization": f"Bearer {token.access_token}"}
    token_id = jwt.decode(token.access_token, options={"verify_signature": False})["jti"]
    member = _headers(client, acme, acme.member)
    assert _history(client, member) == {"next_cursor": None, "items": []}

    first = {"llm_monthly_budget_usd": 50, "call_model": "claude-haiku-4-5", "pii_redaction": True}
    assert client.patch(PATH, json=first, headers=admin).status_code == 200
    # The same values again, and clearing what is not set: nothing changes, nothing is recorded.
    assert client.patch(PATH, json=first, headers=admin).status_code == 200
    assert client.patch(PATH, json={"local_first_pass_threshold": None}, headers=admin).status_code == 200
    assert len(_history(client, member)["items"]) == 3
    assert client.patch(PATH, json={"call_model": None, "pii_redaction": True}, headers=admin).status_code == 200

    items = _history(client, member)["items"]
    # Newest first (by id; one PATCH writes its settings in name order).
    assert [(item["setting"], item["before"], item["after"]) for item in items] == [
        ("call_model", "claude-haiku-4-5", None),
        ("pii_redaction", None, True),
        ("llm_monthly_budget_usd", None, 50.0),
        ("call_model", None, "claude-haiku-4-5"),
    ]
    assert [item["id"] for item in items] == sorted((item["id"] for item in items), reverse=True)
    for item in items:
        assert item["actor"] == f"user:{acme.admin}" and item["actor_user_id"] == acme.admin
        assert item["token_id"] == token_id and item["via"] == "api"
        assert "@" not in item["actor"]
    assert items[0]["created_at"] >= items[-1]["created_at"]

    # Keyset pages with signed cursors; a cursor altered or from another list is refused.
    pages, cursor = [], None
    while True:
        page = _history(client, member, limit=1, **({"cursor": cursor} if cursor else {}))
        pages += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == items
    second = _history(client, member, limit=2)["next_cursor"]
    forged = client.get(
        HISTORY, params={"cursor": second[:-2] + ("AA" if second[-2:] != "AA" else "BB")}, headers=member
    )
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_cursor"
    # A genuine cursor of the catalogue's audit trail (same key, same sort shape) continues only that list.
    foreign = client.get(HISTORY, params={"cursor": encode_cursor(AUDIT_SORT, [items[0]["id"]])}, headers=member)
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "invalid_cursor"
    assert client.get(HISTORY, params={"limit": 0}, headers=member).status_code == 422

    # Service tokens read it; another organisation sees only its own; no token, no history.
    assert _history(client, _headers(client, acme, acme.service))["items"] == items
    assert _history(client, _headers(client, globex, globex.member))["items"] == []
    assert client.get(HISTORY).status_code == 401
    # A refused PATCH records nothing.
    _refused(client, url, acme, {"call_model": "gpt-4.1"}, 400, "invalid_value", admin)
    _refused(client, url, acme, {"pii_redaction": False}, 403, "forbidden", member)
    assert _history(client, member)["items"] == items


def test_a_command_line_change_is_in_the_history(
    deployment: tuple[TestClient, str, Org, Org], monkeypatch: pytest.MonkeyPatch
) -> None:
    from headway_assets.cli import main

    client, url, acme, _ = deployment
    monkeypatch.setenv("HEADWAY_DATABASE_URL", url)
    monkeypatch.setenv("HEADWAY_LLM_PROVIDER", "anthropic")
    monkeypatch.setenv("LOGNAME", "ops")
    assert main(["orgs", "call-model", "--org", "acme", "--model", "claude-sonnet-4-5"]) == 0
    assert main(["orgs", "call-model", "--org", "acme", "--model", "claude-sonnet-4-5"]) == 0  # no change
    assert main(["orgs", "budget", "--org", "acme", "--monthly-usd", "12.5"]) == 0
    assert main(["orgs", "create", "--slug", "acme", "--name", "Acme", "--no-pii-redaction"]) == 0
    assert main(["orgs", "call-model", "--org", "acme", "--model", "gpt-4.1"]) == 2  # refused: nothing recorded
    items = _history(client, _headers(client, acme, acme.member))["items"]
    assert [(item["setting"], item["before"], item["after"]) for item in items] == [
        ("pii_redaction", None, False),
        ("llm_monthly_budget_usd", None, 12.5),
        ("call_model", None, "claude-sonnet-4-5"),
    ]
    for item in items:
        assert item["via"] == "cli" and item["actor"] == "cli:ops"
        assert item["actor_user_id"] is None and item["token_id"] is None
    with get_engine(url).connect() as conn:
        rows = conn.execute(select(OrgSettingsAudit.org_id, OrgSettingsAudit.via)).all()
    assert {tuple(row) for row in rows} == {(acme.id, "cli")}


def test_a_setting_not_set_is_sql_null_in_the_audit(database_url: str) -> None:
    acme = _seed_org(database_url, "acme", {})
    actor = SettingsActor(actor=f"user:{acme.admin}", via="api", user_id=acme.admin)
    with write_transaction(database_url) as conn:
        change = change_org_settings(conn, acme.id, {"pii_redaction": False, "call_model": None}, actor)
        assert [(c.setting, c.before, c.after) for c in change.changes] == [("pii_redaction", None, False)]
    with write_transaction(database_url) as conn:
        change_org_settings(conn, acme.id, {"pii_redaction": None}, actor)
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(
            select(OrgSettingsAudit.before.is_(None), OrgSettingsAudit.after.is_(None)).order_by(OrgSettingsAudit.id)
        ).all()
    assert [tuple(row) for row in rows] == [(True, False), (False, True)]


def test_a_threshold_stored_by_hand_that_is_no_number_is_shown_as_not_applied(
    database_url: str, tmp_path: Path
) -> None:
    acme = _seed_org(database_url, "acme", {"local_first_pass_threshold": "high"})
    with _deployment_of(database_url, tmp_path, "anthropic") as client:
        response = client.get(PATH, headers=_headers(client, acme, acme.member))
    assert response.status_code == 200, response.text
    threshold = response.json()["local_first_pass_threshold"]
    assert threshold["value"] == threshold["effective"] == 0.0 and threshold["source"] == "organization"
    assert threshold["reason"]["code"] == "invalid_value" and "'high'" in threshold["reason"]["message"]
    with get_engine(database_url).connect() as conn:
        assert first_pass_thresholds(conn, [acme.id], "anthropic") == {acme.id: 0.0}


def test_a_budget_stored_by_hand_that_is_no_budget_is_shown_as_the_pipeline_applies_it(
    deployment: tuple[TestClient, str, Org, Org],
) -> None:
    client, url, acme, globex = deployment
    with write_transaction(url) as conn:
        conn.execute(update(Organization).where(Organization.id == acme.id).values(settings={BUDGET: "50"}))
        conn.execute(update(Organization).where(Organization.id == globex.id).values(settings={BUDGET: -1}))
    # A number setting's value shows a number (text shows the default); what applies is the default.
    for org, stored, value in ((acme, "'50'", 25.0), (globex, "-1", -1.0)):
        budget = client.get(PATH, headers=_headers(client, org, org.member)).json()[BUDGET]
        assert budget["value"] == value and budget["effective"] == 25.0 and budget["source"] == "organization", budget
        assert budget["reason"]["code"] == "invalid_value" and stored in budget["reason"]["message"], budget
        # The pipeline's own reading (`within_budget` asks the same) holds each to the deployment's $25.
        with get_engine(url).connect() as conn:
            assert monthly_budgets(conn, [org.id], 25.0) == {org.id: 25.0}


def test_a_set_up_scripts_change_goes_through_the_audited_path_and_is_in_the_history(
    deployment: tuple[TestClient, str, Org, Org],
) -> None:
    client, url, acme, _ = deployment
    with write_transaction(url) as conn:
        change_org_settings(conn, acme.id, {BUDGET: 0.5}, script_actor("bench_batch"))
    items = _history(client, _headers(client, acme, acme.member))["items"]
    assert [(item["setting"], item["before"], item["after"], item["via"], item["actor"]) for item in items] == [
        (BUDGET, None, 0.5, "script", "script:bench_batch")
    ]
