"""`headway users ...` and `headway tokens ...`: API users and tokens for people and service clients.

    headway users create --org acme --email pm@acme.example --password-stdin < password.txt
    headway users create --org acme --email etl@acme.example --service
    headway users deactivate --email etl@acme.example
    headway tokens mint --email etl@acme.example --days 30     # prints the token, nothing else
    headway tokens mint --email etl@acme.example --scope catalogue:write   # may also triage

`register_commands(subparsers)` adds them to an argparse CLI; each sub-command sets `func`, a
callable taking the parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, TextIO

from headway_api.core.config import ApiSettings, get_api_settings
from headway_api.core.security import KNOWN_SCOPES, USER_SUBJECT_PREFIX, IssuedToken, TokenCodec, hash_password
from headway_assets.core.settings import HeadwaySettings, get_settings

if TYPE_CHECKING:
    from sqlalchemy import Connection

# SQLAlchemy and the warehouse are imported by the commands that use them, not here: the
# `headway` CLI imports this module to register `users` and `tokens` for every command it runs,
# and the warehouse schema took ~0.3 s of CPU of each one's start-up (`headway classify` among them).

ROLES = ("member", "admin", "service")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


class CommandError(Exception):
    """A command cannot do what was asked; the message says why and what to do."""


def normalise_email(email: str) -> str:
    """The stored form of an e-mail address (trimmed, lower case), refused if it is not one."""
    value = email.strip().lower()
    if not EMAIL_PATTERN.match(value):
        raise CommandError(f"{email!r} is not an e-mail address")
    return value


def create_user(
    conn: Connection,
    *,
    org_slug: str,
    email: str,
    password: str | None,
    full_name: str | None = None,
    role: str = "member",
) -> int:
    """Create a user of organisation `org_slug`; no password makes a service client (tokens only)."""
    if role not in ROLES:
        raise CommandError(f"role {role!r} is not one of {', '.join(ROLES)}")
    from sqlalchemy import insert, select

    from headway_assets.core.warehouse.schema import Organization, User

    address = normalise_email(email)
    org_id = conn.execute(select(Organization.id).where(Organization.slug == org_slug)).scalar_one_or_none()
    if org_id is None:
        raise CommandError(f"organisation {org_slug!r} does not exist; create it first (the demo makes one)")
    if conn.execute(select(User.id).where(User.email == address)).first() is not None:
        raise CommandError(f"a user with e-mail {address} already exists")
    try:
        hashed = hash_password(password) if password is not None else None
    except ValueError as error:
        raise CommandError(str(error)) from None
    user_id = conn.execute(
        insert(User)
        .values(org_id=org_id, email=address, full_name=full_name, role=role, is_active=True)
        .values(hashed_password=hashed)
        .returning(User.id)
    ).scalar_one()
    return int(user_id)


def set_user_active(conn: Connection, *, email: str, active: bool) -> None:
    """Activate or deactivate a user (a deactivated user's tokens are refused)."""
    from sqlalchemy import update

    from headway_assets.core.warehouse.schema import User

    address = normalise_email(email)
    result = conn.execute(update(User).where(User.email == address).values(is_active=active))
    if result.rowcount == 0:
        raise CommandError(f"no user with e-mail {address}")


def mint_token(
    conn: Connection, codec: TokenCodec, *, email: str, lifetime: timedelta, scopes: tuple[str, ...] = ()
) -> IssuedToken:
    """An access token for the active user `email` (people and service clients alike), with `scopes`."""
    unknown = sorted(set(scopes) - set(KNOWN_SCOPES))
    if unknown:
        raise CommandError(f"unknown scope {unknown[0]!r}; known scopes: {', '.join(KNOWN_SCOPES)}")
    from sqlalchemy import select

    from headway_assets.core.warehouse.schema import Organization, User

    address = normalise_email(email)
    row = conn.execute(
        select(User.id, User.is_active, Organization.slug, Organization.is_active.label("org_active"))
        .join(Organization, Organization.id == User.org_id)
        .where(User.email == address)
    ).one_or_none()
    if row is None:
        raise CommandError(f"no user with e-mail {address}; create it with `headway users create`")
    if not row.is_active or not row.org_active:
        raise CommandError(f"user {address} (or its organisation) is deactivated")
    return codec.issue(
        subject=f"{USER_SUBJECT_PREFIX}{row.id}", org_slug=row.slug, lifetime=lifetime, scopes=tuple(scopes)
    )


def _read_password(args: argparse.Namespace, stdin: TextIO) -> str | None:
    if args.service:
        return None
    if args.password_stdin:
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("--password-stdin read an empty line; pipe the password in")
        return password
    if not stdin.isatty():
        raise CommandError("give --password-stdin (password on standard input) or --service (tokens only)")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise CommandError("the passwords differ")
    return first


def _database_url(headway: HeadwaySettings) -> str:
    from headway_assets.core.warehouse.database import migrate

    url = headway.warehouse_url
    if url.startswith("sqlite"):
        migrate(url)  # the embedded warehouse is brought up to date on first use, as the API does
    return url


def run_users_create(
    args: argparse.Namespace,
    *,
    headway: HeadwaySettings | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """`users create`: prints the new user's id."""
    password = _read_password(args, stdin or sys.stdin)
    role = "service" if args.service and args.role == "member" else args.role
    from headway_assets.core.warehouse.database import write_transaction

    with write_transaction(_database_url(headway or get_settings().pipeline)) as conn:
        user_id = create_user(
            conn, org_slug=args.org, email=args.email, password=password, full_name=args.name, role=role
        )
    address = normalise_email(args.email)
    print(f"created user {user_id} ({address}, {role}) in {args.org}", file=stdout or sys.stdout)
    return 0


def run_users_set_active(
    args: argparse.Namespace, *, headway: HeadwaySettings | None = None, stdout: TextIO | None = None
) -> int:
    """`users deactivate` / `users activate`."""
    active = args.users_command == "activate"
    from headway_assets.core.warehouse.database import write_transaction

    with write_transaction(_database_url(headway or get_settings().pipeline)) as conn:
        set_user_active(conn, email=args.email, active=active)
    state = "activated" if active else "deactivated"
    print(f"{state} {normalise_email(args.email)}", file=stdout or sys.stdout)
    return 0


def run_tokens_mint(
    args: argparse.Namespace,
    *,
    headway: HeadwaySettings | None = None,
    settings: ApiSettings | None = None,
    stdout: TextIO | None = None,
) -> int:
    """`tokens mint`: prints only the token, so `TOKEN=$(headway tokens mint ...)` works."""
    headway = headway or get_settings().pipeline
    settings = settings or get_api_settings()
    if not 1 <= args.days <= settings.service_token_max_days:
        raise CommandError(f"--days must be between 1 and {settings.service_token_max_days}")
    codec = TokenCodec(settings, data_dir=headway.data_dir)
    from headway_assets.core.warehouse.database import write_transaction

    with write_transaction(_database_url(headway)) as conn:
        scopes = tuple(getattr(args, "scope", None) or ())
        token = mint_token(conn, codec, email=args.email, lifetime=timedelta(days=args.days), scopes=scopes)
    print(token.access_token, file=stdout or sys.stdout)
    return 0


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except CommandError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return run


def register_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `users` and `tokens` to a CLI; each leaf sets `func(args) -> int`."""
    users = subparsers.add_parser("users", help="Read API users: people and service clients.")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    create = users_sub.add_parser("create", help="Create a user of an organisation.")
    create.add_argument("--org", required=True, help="Organisation slug.")
    create.add_argument("--email", required=True, help="E-mail address (the sign-in name).")
    create.add_argument("--name", default=None, help="Full name.")
    create.add_argument("--role", choices=ROLES, default="member", help="Role (default: member).")
    secret = create.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true", help="Read the password from stdin.")
    secret.add_argument("--service", action="store_true", help="A service client: no password, tokens only.")
    create.set_defaults(func=_guarded(run_users_create))
    toggles = (("deactivate", "Refuse the user's tokens and sign-ins."), ("activate", "Allow them again."))
    for name, text in toggles:
        toggle = users_sub.add_parser(name, help=text)
        toggle.add_argument("--email", required=True)
        toggle.set_defaults(func=_guarded(run_users_set_active))

    tokens = subparsers.add_parser("tokens", help="Access tokens for the read API.")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", required=True)
    mint = tokens_sub.add_parser("mint", help="Print an access token for a user or service client.")
    mint.add_argument("--email", required=True)
    mint.add_argument("--days", type=int, default=30, help="Lifetime in days (default: 30).")
    mint.add_argument(
        "--scope",
        action="append",
        choices=KNOWN_SCOPES,
        help="Grant a scope (repeatable): catalogue:write lets a service client triage the catalogue.",
    )
    mint.set_defaults(func=_guarded(run_tokens_mint))
