"""The app around the endpoints: health, OpenAPI and its examples, CORS, errors, the generated secret.

Tests that read the shared seeded warehouse live in test_read_endpoints.py: this module also
empties the PostgreSQL test database (through `database_url`), which would pull it from under them.
"""

from __future__ import annotations

import re
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from headway_api.core.config import JWT_SECRET_FILE_NAME, ApiSettings
from headway_api.main import create_app
from headway_assets.core.settings import HeadwaySettings
from headway_assets.core.warehouse.database import migrate, write_transaction
from tests.api.support import JWT_SECRET, People, api_settings, app_client, bearer

# The newest migration, read from alembic/versions, so a new migration needs no edit here.
HEAD_REVISION = ScriptDirectory.from_config(
    Config(str(Path(__file__).resolve().parents[2] / "alembic.ini"))
).get_current_head()


def test_health_checks_the_database_and_its_schema(database_url: str, tmp_path: Path) -> None:
    with app_client(database_url, tmp_path) as client:
        response = client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok", "migrations": "current", "revision": HEAD_REVISION}
        with write_transaction(database_url) as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
        outdated = client.get("/health")
        assert outdated.status_code == 503 and outdated.json()["migrations"] == "outdated"
        with write_transaction(database_url) as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": HEAD_REVISION})


def test_health_reports_an_unreachable_database(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens on port 1
    app = create_app(
        ApiSettings(jwt_secret_key=SecretStr(JWT_SECRET)), HeadwaySettings(database_url=url, data_dir=tmp_path)
    )
    with TestClient(app) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable", "migrations": "unknown", "revision": None}
    assert "nobody" not in response.text and "127.0.0.1" not in response.text


def test_embedded_default_starts_out_of_the_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No database URL, no JWT secret: an SQLite warehouse is migrated and a secret generated, 0600.
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    headway = HeadwaySettings(database_url=None, data_dir=tmp_path)
    with TestClient(create_app(ApiSettings(), headway)) as client:
        assert client.get("/health").json()["migrations"] == "current"
    secret_file = tmp_path / JWT_SECRET_FILE_NAME
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) >= 32
    # A second start (another worker, a restart) uses the same secret: tokens stay valid.
    first = create_app(ApiSettings(), headway).state.headway.tokens
    second = create_app(ApiSettings(), headway).state.headway.tokens
    token = first.issue(subject="user:1", org_slug="acme", lifetime=timedelta(minutes=1))
    assert second.verify(token.access_token).org_slug == "acme"
    # And the secret never appears in the OpenAPI document.
    with TestClient(create_app(ApiSettings(), headway)) as client:
        assert secret not in client.get("/openapi.json").text


def test_a_readable_secret_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / JWT_SECRET_FILE_NAME
    path.write_text("s" * 48)
    path.chmod(0o644)
    create_app(ApiSettings(), HeadwaySettings(database_url=f"sqlite:///{tmp_path / 'w.db'}", data_dir=tmp_path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_short_or_missing_keys_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes") as error:
        ApiSettings(jwt_secret_key=SecretStr("too-short-secret"))
    assert "too-short-secret" not in str(error.value)
    with pytest.raises(ValueError, match="JWT_PUBLIC_KEY"):
        ApiSettings(jwt_algorithm="RS256")


def _schema(document: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    name = reference["$ref"].rsplit("/", 1)[-1]
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def test_openapi_documents_every_operation_with_examples(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 15
    for path, method, operation in operations:
        assert operation.get("summary") and operation.get("description"), (path, method)
        success = next(code for code in operation["responses"] if code.startswith("2"))
        content = operation["responses"][success]["content"]["application/json"]["schema"]
        assert "$ref" in content, (path, method)
        assert _schema(document, content).get("examples"), f"{method} {path}: response model has no example"
        # Authenticated otherwise: Slack's callback by its signed state, webhooks by their signature.
        unauthenticated = ("/health", "/v1/auth/token", "/v1/integrations/slack/callback")
        if path not in unauthenticated and not path.startswith("/v1/webhooks/"):
            assert operation["security"] == [{"OAuth2PasswordBearer": []}], path
            assert "401" in operation["responses"], path
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in operation["responses"], path
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert _schema(document, error).get("examples")
    listing = document["paths"]["/v1/messages"]["get"]
    names = {parameter["name"] for parameter in listing["parameters"]}
    assert {
        "source",
        "since",
        "until",
        "category",
        "min_relevance",
        "customer",
        "q",
        "sort",
        "cursor",
        "limit",
    } <= names
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 200 and limit["schema"]["minimum"] == 1
    assert document["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"]
    assert "SyncRequestCreate" in document["components"]["schemas"]
    assert JWT_SECRET not in api.get("/openapi.json").text


def test_docs_and_redoc_are_served(api: TestClient) -> None:
    assert "swagger-ui" in api.get("/docs").text.lower()
    assert "redoc" in api.get("/redoc").text.lower()


ASSET_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_docs_pages_load_everything_from_the_api_itself(api: TestClient, page: str, assets: set[str]) -> None:
    # Offline (where many companies run a tool that reads their customers' words), a page that
    # loads a CDN script or a web font renders blank: every reference must be to this server.
    response = api.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    # The browser holds the page's scripts to this server too (ReDoc's badge logo would not be).
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy and "connect-src 'self'" in policy
    html = response.text
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", ""), html
    references = ASSET_REFERENCE.findall(html)
    assert {reference.rsplit("/", 1)[-1] for reference in references} == assets
    for reference in references:
        assert reference.startswith("/"), reference
        served = api.get(reference)
        assert served.status_code == 200, reference
        assert ASSET_TYPES[Path(reference).suffix] in served.headers["content-type"], reference
        assert len(served.content) > (100_000 if reference.endswith(".js") else 1_000), reference
    redirect = api.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "oauth2" in redirect.text.lower() and "https://" not in redirect.text


def test_cors_origins_come_from_configuration(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path, cors_origins=["https://app.example"]) as client:
        headers = {**bearer(client, people.users["pm@acme.example"], "acme"), "Origin": "https://app.example"}
        allowed = client.get("/v1/me", headers=headers)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        preflight = client.options(
            "/v1/messages",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "authorization"},
        )  # fmt: skip
        assert preflight.status_code == 200
        other = client.get("/v1/me", headers={**headers, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_unexpected_errors_are_a_bare_500(tmp_path: Path) -> None:
    # A warehouse whose tables are gone: the query fails inside the database driver.
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    migrate(url)
    with write_transaction(url) as conn:
        conn.execute(text("DROP TABLE message_labels"))
    settings = ApiSettings(jwt_secret_key=SecretStr(JWT_SECRET))
    app = create_app(settings, HeadwaySettings(database_url=url, data_dir=tmp_path))
    with TestClient(app, raise_server_exceptions=False) as client:
        from headway_assets.core.warehouse.tenants import upsert_organization

        with write_transaction(url) as conn:
            upsert_organization(conn, slug="acme", name="Acme")
        codec = app.state.headway.tokens
        token = codec.issue(subject="idp|x", org_slug="acme", lifetime=timedelta(minutes=1))
        response = client.get("/v1/messages", headers={"Authorization": f"Bearer {token.access_token}"})
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "Internal server error."}}
    assert "message_labels" not in response.text and "sqlite" not in response.text.lower()


def test_runaway_reads_are_cancelled_with_a_503(postgres_database_url: str, tmp_path: Path) -> None:
    # PostgreSQL only: statement_timeout is PostgreSQL's (SQLite has no per-statement limit).
    settings = api_settings(db_statement_timeout_ms=50)
    app = create_app(settings, HeadwaySettings(database_url=postgres_database_url, data_dir=tmp_path))
    reader = app.state.headway.db.reader

    @app.get("/test-only/timeout")
    async def timeout() -> dict[str, str]:  # the setting, as the API's own read connections have it
        rows = await reader.rows(text("SHOW statement_timeout"), {})
        return {"statement_timeout": rows[0][0]}

    @app.get("/test-only/slow")
    async def slow() -> dict[str, str]:  # a read that outlives the timeout, on the API's own read pool
        await reader.rows(text("SELECT pg_sleep(1)"), {})
        return {"done": "yes"}

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/test-only/timeout").json() == {"statement_timeout": "50ms"}
        response = client.get("/test-only/slow")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "query_timeout"
        # The cancelled statement left its connection usable: the next read on the pool succeeds.
        assert client.get("/test-only/timeout").status_code == 200
