"""GET and PATCH /v1/organization/settings through HTTP, on SQLite and PostgreSQL: each setting in
effect with its source and default, admin writes (audited in the log), `null` back to the default,
the roles refused, invalid values refused with nothing changed, and one organisation never seeing
or changing another's."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from headway_api.main import create_app
from headway_api.schemas.organization import OrganizationSettings
from headway_assets.core.llm_catalogue import CALL_CUES_MODEL, call_model_choices, get_provider_spec
from headway_assets.core.settings import HeadwaySettings
from headway_assets.core.warehouse.database import get_engine, write_transaction
from headway_assets.core.warehouse.schema import Organization, User
from headway_assets.core.warehouse.tenants import upsert_organization
from headway_assets.resources.llm import LlmResource
from tests.api.support import api_settings

PATH = "/v1/organization/settings"


@dataclass
class Org:
    """One organisation of the test and its callers' user ids."""

    id: int
    slug: str
    admin: int
    member: int
    service: int


def _seed_org(url: str, slug: str, settings: dict[str, Any]) -> Org:
    with write_transaction(url) as conn:
        org_id = upsert_organization(conn, slug=slug, name=slug.title(), settings=settings)
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
        "pii_redaction": {"value": True, "source": "default", "default": True},
        "llm_monthly_budget_usd": {"value": 25.0, "source": "default", "default": 25.0},
        "call_model": {
            "value": CALL_CUES_MODEL,
            "source": "default",
            "default": CALL_CUES_MODEL,
            "allowed": allowed,
        },
        "local_first_pass_threshold": {"value": 0.0, "source": "default", "default": 0.0},
        "internal_domains": {"value": ["acme.com"], "source": "organization", "default": []},
    }
    assert allowed[0] == CALL_CUES_MODEL and "claude-sonnet-4-5" in allowed and "gpt-4.1" not in allowed
    # One source of truth: what the pipeline (and `headway orgs call-model`) accepts is what the API lists.
    assert allowed == list(LlmResource(provider="anthropic").call_model_choices())
    # A service token reads too; each organisation sees its own settings only.
    assert client.get(PATH, headers=_headers(client, acme, acme.service)).json() == body
    other = client.get(PATH, headers=_headers(client, globex, globex.member)).json()
    assert other["llm_monthly_budget_usd"] == {"value": 80.0, "source": "organization", "default": 25.0}
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
    assert body["pii_redaction"] == {"value": False, "source": "organization", "default": True}
    assert body["llm_monthly_budget_usd"] == {"value": 50.0, "source": "organization", "default": 25.0}
    assert body["call_model"]["value"] == "claude-haiku-4-5" and body["call_model"]["source"] == "organization"
    assert body["local_first_pass_threshold"] == {"value": 0.9, "source": "organization", "default": 0.0}
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
    assert cleared.json()["llm_monthly_budget_usd"] == {"value": 25.0, "source": "default", "default": 25.0}
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
