"""Sign-in, tokens and every refusal: through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from sqlalchemy import update

from headway_assets.core.warehouse.database import write_transaction
from headway_assets.core.warehouse.schema import Organization, User
from tests.api.support import JWT_SECRET, PASSWORD, People, app_client

UNAUTHENTICATED = {"error": {"code": "not_authenticated", "message": "Not authenticated."}}


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "headway",
        "aud": "headway-api",
        "sub": "user:1",
        "org": "acme",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _hs256(claims: dict[str, Any], secret: str = JWT_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def _unsigned(claims: dict[str, Any]) -> str:
    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _login(client: Any, username: str, password: str) -> Any:
    return client.post("/v1/auth/token", data={"username": username, "password": password})


def test_sign_in_returns_a_working_token(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path) as client:
        response = _login(client, "  PM@Acme.Example ", PASSWORD)  # e-mail compared case-insensitively
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 3600
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200
        assert me.json()["email"] == "pm@acme.example"
        assert me.json()["organization"]["slug"] == "acme"
        decoded = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"], audience="headway-api")
        assert decoded["org"] == "acme" and decoded["sub"] == f"user:{people.users['pm@acme.example']}"
        assert decoded["exp"] - decoded["iat"] == 3600


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("pm@acme.example", "wrong password!!"),
        ("nobody@acme.example", PASSWORD),
        ("svc@acme.example", ""),  # a service client has no password
        ("svc@acme.example", PASSWORD),
        ("gone@acme.example", PASSWORD),  # deactivated
    ],
)
def test_failed_sign_in_is_one_uniform_401(
    database_url: str, tmp_path: Path, people: People, username: str, password: str
) -> None:
    with app_client(database_url, tmp_path) as client:
        response = _login(client, username, password)
        assert response.status_code in (401, 422)
        if password:
            assert response.status_code == 401
            assert response.json() == {"error": {"code": "invalid_credentials", "message": "Wrong e-mail or password."}}
            assert response.headers["www-authenticate"] == "Bearer"


def test_sign_in_of_an_inactive_organisation_is_refused(database_url: str, tmp_path: Path, people: People) -> None:
    with write_transaction(database_url) as conn:
        conn.execute(update(Organization).where(Organization.slug == "acme").values(is_active=False))
    with app_client(database_url, tmp_path) as client:
        assert _login(client, "pm@acme.example", PASSWORD).status_code == 401


def test_failed_sign_ins_are_rate_limited_per_account(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path, login_max_failures=3, login_window_seconds=600) as client:
        for _ in range(3):
            assert _login(client, "pm@acme.example", "guess guess guess").status_code == 401
        limited = _login(client, "pm@acme.example", PASSWORD)  # even the right password waits now
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "too_many_attempts"
        assert 1 <= int(limited.headers["retry-after"]) <= 600
        # Another account from the same client is not locked by this one's failures.
        assert _login(client, "pm@globex.example", PASSWORD).status_code == 200


def test_rate_limit_window_expires(tmp_path: Path, sqlite_people: tuple[str, People]) -> None:
    database_url, _people = sqlite_people
    with app_client(database_url, tmp_path, login_max_failures=2, login_window_seconds=1) as client:
        for _ in range(2):
            assert _login(client, "pm@acme.example", "guess guess guess").status_code == 401
        assert _login(client, "pm@acme.example", PASSWORD).status_code == 429
        time.sleep(1.2)
        assert _login(client, "pm@acme.example", PASSWORD).status_code == 200


def test_a_success_resets_the_account_count(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path, login_max_failures=3) as client:
        for _ in range(2):
            assert _login(client, "pm@acme.example", "guess guess guess").status_code == 401
        assert _login(client, "pm@acme.example", PASSWORD).status_code == 200
        for _ in range(2):
            assert _login(client, "pm@acme.example", "guess guess guess").status_code == 401
        assert _login(client, "pm@acme.example", PASSWORD).status_code == 200


def test_failed_sign_ins_are_rate_limited_per_client(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path, login_max_failures=10, login_max_failures_per_client=4) as client:
        for index in range(4):
            assert _login(client, f"someone{index}@acme.example", "guess guess guess").status_code == 401
        assert _login(client, "pm@acme.example", PASSWORD).status_code == 429


def test_oversized_credentials_are_422(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path) as client:
        assert _login(client, "a" * 400 + "@acme.example", PASSWORD).status_code == 422
        assert _login(client, "pm@acme.example", "p" * 2000).status_code == 422
        assert client.post("/v1/auth/token", data={"username": "pm@acme.example"}).status_code == 422


# --- bearer token refusals -------------------------------------------------------------------


def _refusals(people: People) -> dict[str, dict[str, str]]:
    pm = people.users["pm@acme.example"]
    valid = _claims(sub=f"user:{pm}")
    now = int(time.time())
    tokens = {
        "malformed": "not-a-jwt",
        "three garbage parts": "abc.def.ghi",
        "expired": _hs256({**valid, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}),
        "not yet valid (nbf)": _hs256({**valid, "nbf": now + 3600, "exp": now + 7200}),
        "issued in the future (iat)": _hs256({**valid, "iat": now + 3600, "exp": now + 7200}),
        "wrong signature": _hs256(valid, secret="another-secret-" + "z" * 40),
        "wrong issuer": _hs256({**valid, "iss": "someone-else"}),
        "wrong audience": _hs256({**valid, "aud": "another-api"}),
        "audience list": _hs256({**valid, "aud": ["headway-api", "other"]}),
        "alg none": _unsigned(valid),
        "alg HS512 (not the pinned one)": _hs256(valid, algorithm="HS512"),
        # RFC 7519 NumericDate: a JSON number; PyJWT alone would take these strings.
        "exp as a string": _hs256({**valid, "exp": str(now + 600)}),
        "nbf as a string": _hs256({**valid, "nbf": str(now)}),
        "iat as a string": _hs256({**valid, "iat": str(now)}),
        "exp as a boolean": _hs256({**valid, "exp": True}),
        "exp as an object": _hs256({**valid, "exp": {"seconds": now + 600}}),
        "no exp": _hs256(_claims(sub=f"user:{pm}", exp=None)),
        "no iat": _hs256(_claims(sub=f"user:{pm}", iat=None)),
        "no org": _hs256(_claims(sub=f"user:{pm}", org=None)),
        "unknown organisation": _hs256({**valid, "org": "initech"}),
        "user of another organisation": _hs256({**valid, "org": "globex"}),
        "deactivated user": _hs256({**valid, "sub": f"user:{people.users['gone@acme.example']}"}),
        "unknown user": _hs256({**valid, "sub": "user:987654"}),
    }
    headers = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    headers["missing header"] = {}
    headers["empty bearer"] = {"Authorization": "Bearer "}
    headers["basic scheme"] = {"Authorization": "Basic cG06cGFzcw=="}
    headers["oversized"] = {"Authorization": "Bearer " + "a" * 9000}
    return headers


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS512 forgery
def test_every_bad_token_is_the_same_401(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path) as client:
        pm = people.users["pm@acme.example"]
        good = {"Authorization": f"Bearer {_hs256(_claims(sub=f'user:{pm}'))}"}
        assert client.get("/v1/messages", headers=good).status_code == 200  # the baseline is accepted
        for name, headers in _refusals(people).items():
            for path in ("/v1/messages", "/v1/me", "/v1/stats"):
                response = client.get(path, headers=headers)
                assert response.status_code == 401, (name, path, response.text)
                assert response.json() == UNAUTHENTICATED, name
                assert response.headers["www-authenticate"] == "Bearer"


def test_deactivating_a_user_revokes_its_tokens(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path) as client:
        token = _login(client, "pm@acme.example", PASSWORD).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/me", headers=headers).status_code == 200
        with write_transaction(database_url) as conn:
            conn.execute(update(User).where(User.email == "pm@acme.example").values(is_active=False))
        assert client.get("/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "data",
    [
        {"username": "\x00", "password": PASSWORD},  # PostgreSQL refuses NUL in text: it was a 500
        {"username": "pm@acme.example\n", "password": PASSWORD},
        {"username": "pm@acme.example", "password": PASSWORD, "grant_type": "client_credentials"},
    ],
)
def test_sign_in_forms_outside_the_schema_are_422(
    database_url: str, tmp_path: Path, people: People, data: dict[str, str]
) -> None:
    with app_client(database_url, tmp_path) as client:
        response = client.post("/v1/auth/token", data=data)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_request"


def test_numeric_dates_may_have_fractions(database_url: str, tmp_path: Path, people: People) -> None:
    # A NumericDate is any JSON number (RFC 7519, section 2), so fractional seconds are fine.
    now = time.time()
    claims = _claims(sub=f"user:{people.users['pm@acme.example']}", iat=now - 0.5, nbf=now - 0.5, exp=now + 600.25)
    with app_client(database_url, tmp_path) as client:
        response = client.get("/v1/me", headers={"Authorization": f"Bearer {_hs256(claims)}"})
        assert response.status_code == 200, response.text


def test_deactivation_takes_effect_on_the_next_request(database_url: str, tmp_path: Path, people: People) -> None:
    # The production settings (on PostgreSQL, the LISTEN-backed caller cache): warm every path first, then
    # deactivate from outside the API, as `headway users deactivate` does, and call once more.
    with app_client(database_url, tmp_path) as client:
        token = _login(client, "pm@acme.example", PASSWORD).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(3):
            assert client.get("/v1/messages", headers=headers).status_code == 200
        with write_transaction(database_url) as conn:
            conn.execute(update(User).where(User.email == "pm@acme.example").values(is_active=False))
        assert client.get("/v1/messages", headers=headers).json() == UNAUTHENTICATED
        with write_transaction(database_url) as conn:
            conn.execute(update(User).where(User.email == "pm@acme.example").values(is_active=True))
        assert client.get("/v1/messages", headers=headers).status_code == 200
        # An organisation switched off refuses its members' tokens on the next request too.
        with write_transaction(database_url) as conn:
            conn.execute(update(Organization).where(Organization.slug == "acme").values(is_active=False))
        assert client.get("/v1/messages", headers=headers).status_code == 401


def test_an_identity_provider_subject_is_refused_once_its_organisation_is_off(
    database_url: str, tmp_path: Path, people: People
) -> None:
    with app_client(database_url, tmp_path) as client:
        headers = {"Authorization": f"Bearer {_hs256(_claims(sub='idp|abc'))}"}
        assert client.get("/v1/me", headers=headers).json()["organization"]["slug"] == "acme"
        with write_transaction(database_url) as conn:
            conn.execute(update(Organization).where(Organization.slug == "acme").values(is_active=False))
        assert client.get("/v1/me", headers=headers).status_code == 401


def test_writes_refuse_bad_tokens_too(database_url: str, tmp_path: Path, people: People) -> None:
    with app_client(database_url, tmp_path) as client:
        response = client.post("/v1/sync-requests", json={"source": "slack"}, headers={"Authorization": "Bearer x"})
        assert response.status_code == 401 and response.json() == UNAUTHENTICATED


# --- RS256 (an external identity provider) ---------------------------------------------------


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_rs256_identity_provider_tokens(database_url: str, tmp_path: Path, people: People) -> None:
    private, public = _rsa_pair()
    other_private, _ = _rsa_pair()
    settings = {"jwt_algorithm": "RS256", "jwt_public_key": SecretStr(public), "jwt_secret_key": None}
    with app_client(database_url, tmp_path, **settings) as client:
        subject = _claims(sub="idp|a1b2c3", org="acme")
        token = jwt.encode(subject, private, algorithm="RS256")
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["subject"] == "idp|a1b2c3" and me.json()["user_id"] is None
        assert me.json()["organization"]["slug"] == "acme"
        refused = {
            "signed by another key": jwt.encode(subject, other_private, algorithm="RS256"),
            # Algorithm confusion: the public key used as an HMAC secret.
            "HS256 with the public key": base64_hs256(subject, public),
            "HS256 with the old secret": _hs256(subject),
            "alg none": _unsigned(subject),
        }
        for name, bad in refused.items():
            response = client.get("/v1/me", headers={"Authorization": f"Bearer {bad}"})
            assert response.status_code == 401 and response.json() == UNAUTHENTICATED, name
        # Without a private key this API issues no tokens: the identity provider does.
        response = _login(client, "pm@acme.example", PASSWORD)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "token_issuance_disabled"


def base64_hs256(claims: dict[str, Any], secret: str) -> str:
    """An HS256 token signed with `secret` as raw bytes (PyJWT refuses PEM keys as HMAC secrets)."""
    import hashlib
    import hmac

    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_rs256_with_a_private_key_issues_tokens(database_url: str, tmp_path: Path, people: People) -> None:
    private, public = _rsa_pair()
    settings = {
        "jwt_algorithm": "RS256",
        "jwt_public_key": SecretStr(public),
        "jwt_private_key": SecretStr(private),
        "jwt_secret_key": None,
    }
    with app_client(database_url, tmp_path, **settings) as client:
        token = _login(client, "pm@acme.example", PASSWORD).json()["access_token"]
        assert jwt.get_unverified_header(token)["alg"] == "RS256"
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_tokens_expire(tmp_path: Path, sqlite_people: tuple[str, People]) -> None:
    database_url, people = sqlite_people
    with app_client(database_url, tmp_path, jwt_leeway_seconds=0) as client:
        codec = client.app.state.headway.tokens  # type: ignore[attr-defined]
        pm = people.users["pm@acme.example"]
        issued = codec.issue(subject=f"user:{pm}", org_slug="acme", lifetime=timedelta(seconds=2))
        headers = {"Authorization": f"Bearer {issued.access_token}"}
        assert client.get("/v1/me", headers=headers).status_code == 200  # verified, and remembered
        time.sleep(max(0.0, (issued.expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
        assert client.get("/v1/me", headers=headers).status_code == 401  # the remembered one expires too
