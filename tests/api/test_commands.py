"""`headway users ...` and `headway tokens mint`, through an argparse CLI built with `register_commands`."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from headway_api.commands import (
    CommandError,
    register_commands,
    run_tokens_mint,
    run_users_create,
    run_users_set_active,
)
from headway_assets.core.settings import HeadwaySettings
from headway_assets.core.warehouse.database import read_connection
from headway_assets.core.warehouse.schema import User
from tests.api.support import People, api_settings, app_client


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headway")
    register_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(argv: list[str], database_url: str, tmp_path: Path, stdin: str = "") -> str:
    args = _parser().parse_args(argv)
    out = io.StringIO()
    headway = HeadwaySettings(database_url=database_url, data_dir=tmp_path)
    if args.command == "tokens":
        assert run_tokens_mint(args, headway=headway, settings=api_settings(), stdout=out) == 0
    elif args.users_command == "create":
        assert run_users_create(args, headway=headway, stdin=io.StringIO(stdin), stdout=out) == 0
    else:
        assert run_users_set_active(args, headway=headway, stdout=out) == 0
    return out.getvalue()


def test_create_a_user_and_sign_in(database_url: str, tmp_path: Path, people: People) -> None:
    argv = [
        "users",
        "create",
        "--org",
        "acme",
        "--email",
        "New.PM@Acme.Example",
        "--name",
        "New PM",
        "--password-stdin",
    ]
    output = _run(argv, database_url, tmp_path, stdin="a long enough password\n")
    assert "new.pm@acme.example" in output
    with read_connection(database_url) as conn:
        row = conn.execute(select(User.hashed_password, User.role).where(User.email == "new.pm@acme.example")).one()
    assert row.hashed_password.startswith("$argon2id$") and row.role == "member"
    with app_client(database_url, tmp_path) as client:
        data = {"username": "new.pm@acme.example", "password": "a long enough password"}
        assert client.post("/v1/auth/token", data=data).status_code == 200


def test_service_client_token_works_until_deactivated(database_url: str, tmp_path: Path, people: People) -> None:
    _run(
        ["users", "create", "--org", "globex", "--email", "etl@globex.example", "--service"],
        database_url,
        tmp_path,
    )
    token = _run(["tokens", "mint", "--email", "etl@globex.example", "--days", "7"], database_url, tmp_path).strip()
    assert token.count(".") == 2 and "\n" not in token  # only the token is printed
    with app_client(database_url, tmp_path) as client:
        headers = {"Authorization": f"Bearer {token}"}
        me = client.get("/v1/me", headers=headers).json()
        assert me["role"] == "service" and me["organization"]["slug"] == "globex"
        # A service client has no password to sign in with.
        assert (
            client.post("/v1/auth/token", data={"username": "etl@globex.example", "password": "x" * 12}).status_code
            == 401
        )
        assert client.get("/v1/messages", headers=headers).status_code == 200
        # Revoking the service client from the CLI (another process) refuses its token on the next request.
        _run(["users", "deactivate", "--email", "etl@globex.example"], database_url, tmp_path)
        assert client.get("/v1/me", headers=headers).status_code == 401
        assert client.get("/v1/messages", headers=headers).status_code == 401
        _run(["users", "activate", "--email", "etl@globex.example"], database_url, tmp_path)
        assert client.get("/v1/me", headers=headers).status_code == 200


def test_a_service_token_writes_only_with_the_write_scope(database_url: str, tmp_path: Path, people: People) -> None:
    _run(["users", "create", "--org", "globex", "--email", "etl@globex.example", "--service"], database_url, tmp_path)
    reader = _run(["tokens", "mint", "--email", "etl@globex.example"], database_url, tmp_path).strip()
    argv = ["tokens", "mint", "--email", "etl@globex.example", "--scope", "catalogue:write"]
    writer = _run(argv, database_url, tmp_path).strip()
    theme = {"path": "billing", "name": "Billing"}
    with app_client(database_url, tmp_path) as client:
        refused = client.post("/v1/themes", json=theme, headers={"Authorization": f"Bearer {reader}"})
        assert refused.status_code == 403 and "--scope catalogue:write" in refused.json()["error"]["message"]
        created = client.post("/v1/themes", json=theme, headers={"Authorization": f"Bearer {writer}"})
        assert created.status_code == 201, created.text
    with pytest.raises(SystemExit):  # argparse refuses a scope it does not know
        _parser().parse_args(["tokens", "mint", "--email", "etl@globex.example", "--scope", "admin"])


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (
            ["users", "create", "--org", "initech", "--email", "a@b.example", "--service"],
            "",
            "does not exist",
        ),
        (
            ["users", "create", "--org", "acme", "--email", "pm@acme.example", "--service"],
            "",
            "already exists",
        ),
        (["users", "create", "--org", "acme", "--email", "not-an-email", "--service"], "", "not an e-mail"),
        (
            ["users", "create", "--org", "acme", "--email", "x@acme.example", "--password-stdin"],
            "short\n",
            "too short",
        ),
        (
            ["users", "create", "--org", "acme", "--email", "x@acme.example", "--password-stdin"],
            "\n",
            "empty",
        ),
        (["users", "create", "--org", "acme", "--email", "x@acme.example"], "", "--password-stdin"),
        (["tokens", "mint", "--email", "nobody@acme.example"], "", "no user"),
        (["tokens", "mint", "--email", "gone@acme.example"], "", "deactivated"),
        (["tokens", "mint", "--email", "pm@acme.example", "--days", "0"], "", "--days"),
        (["tokens", "mint", "--email", "pm@acme.example", "--days", "9999"], "", "--days"),
        (["users", "deactivate", "--email", "nobody@acme.example"], "", "no user"),
    ],
)
def test_command_errors_say_what_to_do(
    database_url: str, tmp_path: Path, people: People, argv: list[str], stdin: str, message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        _run(argv, database_url, tmp_path, stdin=stdin)


def test_cli_reports_errors_with_exit_code_2(
    database_url: str,
    tmp_path: Path,
    people: People,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEADWAY_DATABASE_URL", database_url)
    monkeypatch.setenv("HEADWAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JWT_SECRET_KEY", "cli-secret-" + "c" * 40)
    from headway_api.core.config import get_api_settings
    from headway_assets.core.settings import get_settings

    get_settings.cache_clear()
    get_api_settings.cache_clear()
    try:
        args = _parser().parse_args(["tokens", "mint", "--email", "nobody@acme.example"])
        assert args.func(args) == 2
    finally:
        get_settings.cache_clear()
        get_api_settings.cache_clear()
    assert "no user with e-mail nobody@acme.example" in capsys.readouterr().err


def test_password_and_service_are_exclusive() -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["users", "create", "--org", "a", "--email", "a@b.c", "--service", "--password-stdin"])
