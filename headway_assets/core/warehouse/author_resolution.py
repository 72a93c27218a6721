"""Who wrote each message: its contact and customer, decided in set-based SQL.

For the messages of a window (every organisation, or the ones named):

1. The authors are staged in a temporary table: e-mail, domain, Slack Connect team, the contact
   key (the e-mail, else `source:user_id`), internal or not (the message's `author_is_internal`,
   or a domain of the organisation's `internal_domains`).
2. Free-mail domains (gmail.com, outlook.com: `headway_assets.core.people.FREE_EMAIL_DOMAINS`)
   are marked: they never name a customer. Machine senders (no-reply@ and the like, or mail the
   Gmail reader flagged `automated` bulk or auto-generated) get no contact and create no customer.
3. A call (Gong `parties`, Fathom `calendar_invitees` in `source_metadata`) whose author has no
   business e-mail takes the most common business domain of its external participants.
4. A business domain no customer owns gets an auto-created customer (`auto_created`, for a
   person to review); concurrent runs create it once (`ON CONFLICT` on `(org_id, auto_key)`).
5. A Slack Connect team is mapped to the customer most of its domain-resolved authors belong
   to; a team with no such author gets an auto-created customer of its own.
6. Contacts are upserted (one per organisation and key) with the customer the evidence names.
7. `message_authors` gets one row a message: contact, customer, status (resolved, internal,
   unresolved), the method that resolved it or the reason it is unresolved. Rows that would not
   change are not rewritten, so a re-run writes nothing.

On PostgreSQL, before anything else is read or written, the run takes its organisations' customer
lock in shared mode (`conflicts.lock_organisation_customers`), which a customer merge, a CRM
import and the API's create or edit of a customer take exclusively before any row lock. A merge
in progress is waited for and then seen whole by every statement that follows (READ COMMITTED:
each statement reads what has committed); none starts until the run commits, and then moves what the run wrote.
So the run never names a customer a merge deleted (`message_authors.customer_id` has no foreign
key; a contact's customer has one, which a merge committing mid-run used to fail), and a run and a
merge never wait for each other's row locks both ways (the deadlock PostgreSQL used to break by
aborting one). Concurrent runs share the lock.

Evidence order: the author's e-mail domain, then the Slack Connect team, then the call's
participants, then the customer the contact already had. Internal authors get no contact and
no customer. Nothing here logs or returns an address, a name or a text: only counts.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    delete,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from headway_assets.core.message import TimeWindow
from headway_assets.core.people import (
    AUTOMATED_LOCAL_PARTS,
    FREE_EMAIL_DOMAINS,
    company_from_domain,
    email_domain,
    is_free_mail_domain,
    normalise_domains,
)
from headway_assets.core.warehouse.bulk import batches
from headway_assets.core.warehouse.conflicts import lock_organisation_customers
from headway_assets.core.warehouse.customers import dialect_insert, rows_source, sorted_rows
from headway_assets.core.warehouse.request_customers import refresh_request_customers
from headway_assets.core.warehouse.schema import (
    Contact,
    Customer,
    CustomerDomain,
    CustomerSlackTeam,
    FeatureMention,
    FeatureRequestMention,
    Message,
    MessageAuthor,
    Organization,
    ResolutionMethod,
    ResolutionStatus,
    UnresolvedReason,
    UtcDateTime,
    utc_now,
)

# The metadata keys the source readers write (headway_assets/sources): the author's Slack Connect
# team, the source's user id, and a call's participants.
SLACK_TEAM_KEY = "slack_connect_team"
USER_ID_KEY = "user_id"
GONG_PARTIES_KEY = "parties"
# Gmail's machine-sent mail (`automated`: bulk lists, auto-generated notifications); an auto-reply
# (out of office) still comes from a person.
AUTOMATED_KEY = "automated"
AUTOMATED_KINDS = ("bulk", "auto_generated")
FATHOM_INVITEES_KEY = "calendar_invitees"

WORK_MEM = "64MB"
TEMP_BUFFERS = "256MB"
CLAIM_BATCH = 5_000  # rows per executemany of customers, domains and teams (SQLite)

AUTO_KEY_DOMAIN = "domain:"
AUTO_KEY_SLACK_TEAM = "slack_team:"

_STAGE_METADATA = MetaData()
# One temporary table a run (per connection, so concurrent runs never see each other's).
STAGE = Table(
    "author_stage",
    _STAGE_METADATA,
    Column("message_id", BigInteger, primary_key=True),
    Column("org_id", BigInteger, nullable=False),
    Column("email", String(320)),
    Column("domain", String(255)),
    Column("name", String(255)),
    Column("team", String(64)),
    Column("contact_key", String(340)),
    Column("hint", String(255)),  # the message's free-text customer, to name an auto-created team customer
    Column("internal", Boolean, nullable=False),
    Column("free_mail", Boolean, nullable=False),
    Column("automated", Boolean, nullable=False),  # a machine sender: never a contact nor a new customer
    Column("participants", Text),  # a call's participants (JSON), when the author gives no business domain
    Column("call_domain", String(255)),
    prefixes=["TEMPORARY"],
)


@dataclass
class ResolutionStats:
    """What one resolution run found: counts only (no address, name or text)."""

    messages: int = 0
    resolved: dict[str, int] = field(default_factory=dict)  # by method
    internal: int = 0
    unresolved: dict[str, int] = field(default_factory=dict)  # by reason
    customers_auto_created: int = 0
    contacts_created: int = 0
    slack_teams_mapped: int = 0
    rows_written: int = 0  # message_authors rows inserted or changed
    requests_refreshed: int = 0  # feature requests whose customers were recomputed (their messages' authors changed)

    @property
    def resolved_total(self) -> int:
        """Messages with a customer."""
        return sum(self.resolved.values())

    @property
    def unresolved_total(self) -> int:
        """Messages from outside the organisation without a customer."""
        return sum(self.unresolved.values())


def resolve_message_authors(
    conn: Connection, window: TimeWindow, *, org_ids: Collection[int] | None = None
) -> ResolutionStats:
    """Resolve the authors of the window's messages to contacts and customers (see the module doc).

    Runs inside the caller's transaction; re-running it changes nothing when nothing changed.
    """
    now = utc_now()
    stats = ResolutionStats()
    if conn.dialect.name == "postgresql":
        # Room to hash and sort a window's authors in memory, and to keep the stage in memory (takes
        # effect when the session has not used a temporary table yet); reset when the transaction ends.
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
        conn.exec_driver_sql(f"SET LOCAL temp_buffers = '{TEMP_BUFFERS}'")
    org_ids = _lock_organisations(conn, org_ids)
    STAGE.drop(conn, checkfirst=True)
    STAGE.create(conn)
    _stage_authors(conn, window, org_ids)
    business = _business_domains(conn)
    business |= _stage_call_domains(conn)
    _analyze(conn, STAGE.name)  # temporary tables get no autovacuum statistics
    _create_domain_customers(conn, business, now)
    stats.slack_teams_mapped = _map_slack_teams(conn, now)
    stats.customers_auto_created = _created_since(conn, Customer, now)
    _analyze(conn, Customer.__tablename__, CustomerDomain.__tablename__, CustomerSlackTeam.__tablename__)
    stats.contacts_created = _upsert_contacts(conn, now)
    _analyze(conn, Contact.__tablename__)
    stats.rows_written = _upsert_message_authors(conn, now)
    if stats.rows_written:
        stats.requests_refreshed = _refresh_asks(conn, now)
    _count(conn, stats)
    # Not in a `finally`: after an error the transaction is rolled back, which drops the stage
    # created in it, and a DROP in PostgreSQL's aborted transaction would replace the error with
    # "current transaction is aborted".
    STAGE.drop(conn, checkfirst=True)
    return stats


# -- 1. staging ------------------------------------------------------------------------------


def _lock_organisations(conn: Connection, org_ids: Collection[int] | None) -> Collection[int] | None:
    """Take the customer lock, shared, of the organisations named or, for all, of every organisation
    (PostgreSQL), before any other statement of the run (see the module doc); returns the
    organisations the run resolves.

    For all organisations the run then resolves those listed here: one created meanwhile is not
    locked, so its messages wait for the next run, as do messages ingested after this run staged.
    """
    if conn.dialect.name != "postgresql":
        return org_ids
    if org_ids is None:
        org_ids = conn.execute(select(Organization.id).order_by(Organization.id)).scalars().all()
    lock_organisation_customers(conn, org_ids, shared=True)
    return org_ids


def _domain_of(conn: Connection, email: ColumnElement[Any]) -> ColumnElement[Any]:
    """The domain part of a lower-cased e-mail column, NULL without an `@`."""
    if conn.dialect.name == "postgresql":
        part = func.split_part(email, "@", 2)
    else:
        part = func.substr(email, func.instr(email, "@") + 1)
    return case((email.like("%@%"), func.nullif(part, "")), else_=None)


def _local_part_of(conn: Connection, email: ColumnElement[Any]) -> ColumnElement[Any]:
    """The mailbox name of a lower-cased e-mail column (before the `@`)."""
    if conn.dialect.name == "postgresql":
        return func.split_part(email, "@", 1)
    return func.substr(email, 1, func.instr(email, "@") - 1)


def _stage_authors(conn: Connection, window: TimeWindow, org_ids: Collection[int] | None) -> None:
    """Copy the window's authors into the stage in one pass, each marked internal, free-mail or machine."""
    email = func.lower(func.nullif(func.trim(Message.author_email), ""))
    user_id = Message.source_metadata[USER_ID_KEY].as_string()
    # The inner query reads each message once and computes the e-mail's parts once; OFFSET 0 keeps
    # PostgreSQL from folding it into the outer one, which would recompute them for every flag.
    authors = select(
        Message.id.label("message_id"),
        Message.org_id.label("org_id"),
        email.label("email"),
        _domain_of(conn, email).label("domain"),
        _local_part_of(conn, email).label("local_part"),
        func.substr(Message.author_name, 1, 255).label("name"),
        Message.source_metadata[SLACK_TEAM_KEY].as_string().label("team"),
        case((user_id.isnot(None), Message.source + ":" + user_id), else_=None).label("user_key"),
        Message.customer.label("customer"),
        Message.author_is_internal.label("is_internal"),
        Message.source_metadata[AUTOMATED_KEY].as_string().label("automated_kind"),
        Message.source_metadata[GONG_PARTIES_KEY].as_string().label("parties"),
        Message.source_metadata[FATHOM_INVITEES_KEY].as_string().label("invitees"),
    ).where(Message.sent_at >= window.start, Message.sent_at < window.end)
    if org_ids is not None:
        authors = authors.where(Message.org_id.in_(sorted(org_ids)))
    a = authors.offset(0).subquery("a")

    # Staff by the source's say, or by a domain the organisation declared its own (or a subdomain).
    own_domains = [
        and_(
            a.c.org_id == org_id,
            or_(a.c.domain.in_(domains), *(a.c.domain.like(_like_suffix(own), escape="\\") for own in domains)),
        )
        for org_id, domains in sorted((org, sorted(found)) for org, found in _internal_domains(conn, org_ids).items())
        if domains
    ]
    internal = or_(func.coalesce(a.c.is_internal, false()), *own_domains)
    free_mail = a.c.domain.in_(sorted(FREE_EMAIL_DOMAINS))  # subdomains of them: `_mark_free_mail_subdomains`
    automated = or_(a.c.automated_kind.in_(AUTOMATED_KINDS), a.c.local_part.in_(sorted(AUTOMATED_LOCAL_PARTS)))
    # A call's participants, kept only where the author gives no business domain (the only use).
    needs_participants = and_(or_(a.c.domain.is_(None), free_mail), a.c.team.is_(None))
    query = select(
        a.c.message_id,
        a.c.org_id,
        a.c.email,
        a.c.domain,
        a.c.name,
        a.c.team,
        func.coalesce(a.c.email, a.c.user_key),
        case((a.c.team.isnot(None), func.substr(a.c.customer, 1, 255)), else_=None),
        case((internal, true()), else_=false()),
        case((free_mail, true()), else_=false()),
        case((automated, true()), else_=false()),
        case((needs_participants, func.coalesce(a.c.parties, a.c.invitees)), else_=None),
    )
    columns = ["message_id", "org_id", "email", "domain", "name", "team", "contact_key", "hint", "internal"]
    conn.execute(STAGE.insert().from_select([*columns, "free_mail", "automated", "participants"], query))


def _like_suffix(domain: str) -> str:
    escaped = domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%." + escaped


def _internal_domains(conn: Connection, org_ids: Collection[int] | None) -> dict[int, set[str]]:
    """Each organisation's declared `internal_domains` (all organisations, or those named)."""
    query = select(Organization.id, Organization.settings)
    if org_ids is not None:
        query = query.where(Organization.id.in_(sorted(org_ids)))
    return {
        int(org_id): set(normalise_domains((settings or {}).get("internal_domains") or []))
        for org_id, settings in conn.execute(query)
    }


def _business_domains(conn: Connection) -> set[tuple[int, str]]:
    """The (org, domain) pairs of the stage's business authors, in one grouped pass over the stage.

    Also marks the rare subdomain of a free-mail provider (mail.yahoo.com) that staging, which
    compares exact domains, left unmarked.
    """
    candidate = case((or_(STAGE.c.internal, STAGE.c.automated, STAGE.c.free_mail), 0), else_=1)
    rows = conn.execute(
        select(STAGE.c.org_id, STAGE.c.domain, func.max(candidate))
        .where(STAGE.c.domain.isnot(None))
        .group_by(STAGE.c.org_id, STAGE.c.domain)
    ).all()
    business: set[tuple[int, str]] = set()
    free: set[str] = set()
    for org_id, domain, is_candidate in rows:
        if not is_candidate:
            continue
        if is_free_mail_domain(str(domain)):
            free.add(str(domain))
        else:
            business.add((int(org_id), str(domain)))
    for batch in batches(sorted(free)):
        conn.execute(update(STAGE).where(STAGE.c.domain.in_(batch)).values(free_mail=True))
    return business


# -- 3. calls --------------------------------------------------------------------------------


def _participant_domains(raw: str | None, internal: set[str]) -> Iterable[str]:
    """Business domains of a call's external participants, as its metadata stores them.

    Gong parties say `affiliation` (Internal, External, Unknown), Fathom invitees `is_external`.
    """
    if not raw:
        return
    try:
        people = json.loads(raw)
    except ValueError:
        return
    if not isinstance(people, list):
        return
    for person in people:
        if not isinstance(person, dict):
            continue
        affiliation = person.get("affiliation")
        if (isinstance(affiliation, str) and affiliation.lower() == "internal") or person.get("is_external") is False:
            continue
        address = person.get("email")
        domain = email_domain(address if isinstance(address, str) else None)
        if domain is None or is_free_mail_domain(domain) or _is_internal(domain, internal):
            continue
        yield domain


def _is_internal(domain: str, internal: set[str]) -> bool:
    return domain in internal or any(domain.endswith("." + own) for own in internal)


def _stage_call_domains(conn: Connection) -> set[tuple[int, str]]:
    """A call whose author gives no business domain takes its external participants' most common one.

    Returns the (org, domain) pairs it staged.
    """
    rows = conn.execute(
        select(STAGE.c.message_id, STAGE.c.org_id, STAGE.c.participants).where(
            not_(STAGE.c.internal), STAGE.c.participants.isnot(None)
        )
    ).all()
    if not rows:
        return set()
    internal_by_org = _internal_domains(conn, {int(row[1]) for row in rows})
    updates: list[dict[str, Any]] = []
    for message_id, org_id, raw in rows:
        found = list(_participant_domains(raw, internal_by_org.get(int(org_id), set())))
        if found:
            domain = Counter(found).most_common(1)[0][0]  # ties go to the first seen
            updates.append({"message_id": int(message_id), "org_id": int(org_id), "domain": domain})
    for source, parameters in rows_source(conn, updates, {"message_id": BigInteger(), "domain": String()}):
        conn.execute(
            update(STAGE)
            .where(STAGE.c.message_id == source.c.message_id)
            .values(call_domain=source.c.domain)
            .execution_options(synchronize_session=False),
            parameters,
        )
    return {(row["org_id"], row["domain"]) for row in updates}


# -- 4. and 5. customers for unknown domains and Slack Connect teams -----------------------


def _create_domain_customers(conn: Connection, business: set[tuple[int, str]], now: datetime) -> None:
    """Auto-create a customer for every business domain of the window that no customer owns."""
    if not business:
        return
    orgs = sorted({org for org, _ in business})
    owned = set(
        conn.execute(select(CustomerDomain.org_id, CustomerDomain.domain).where(CustomerDomain.org_id.in_(orgs)))
        .tuples()
        .all()
    )
    pairs = sorted(pair for pair in business if pair not in owned)
    if not pairs:
        return
    _create_customers(
        conn,
        [
            {"org_id": org, "auto_key": AUTO_KEY_DOMAIN + domain, "name": company_from_domain(domain) or domain}
            for org, domain in pairs
        ],
        now,
    )
    # Each domain goes to its auto-created customer, unless another writer claimed it first.
    claims = [{"org_id": org, "value": domain, "auto_key": AUTO_KEY_DOMAIN + domain} for org, domain in pairs]
    _claim(conn, CustomerDomain, "domain", claims)
    _drop_unclaimed(conn, now)


def _create_customers(conn: Connection, wanted: Sequence[dict[str, Any]], now: datetime) -> None:
    """Insert auto-created customers, once per `(org_id, auto_key)` whoever runs concurrently.

    Sorted, so concurrent runs take the unique index's locks in one order and never deadlock.
    """
    rows = sorted_rows(wanted, "org_id", "auto_key")
    stamp = literal(now, UtcDateTime())
    for source, parameters in rows_source(conn, rows, {"org_id": BigInteger(), "auto_key": String(), "name": String()}):
        query = select(source.c.org_id, source.c.auto_key, source.c.name, true(), stamp, stamp).where(true())
        statement = (
            dialect_insert(conn, Customer)
            .from_select(["org_id", "auto_key", "name", "auto_created", "created_at", "updated_at"], query)
            .on_conflict_do_nothing(index_elements=["org_id", "auto_key"])
        )
        conn.execute(statement, parameters)


def _claim(
    conn: Connection, model: type[CustomerDomain] | type[CustomerSlackTeam], column: str, rows: list[dict[str, Any]]
) -> None:
    """Give each `(org_id, value)` to the customer auto-created under `auto_key`, unless already owned."""
    table = model.__table__
    ordered = sorted_rows(rows, "org_id", "value")
    for source, parameters in rows_source(
        conn, ordered, {"org_id": BigInteger(), "value": String(), "auto_key": String()}
    ):
        query = (
            select(source.c.org_id, source.c.value, Customer.id)
            .join(Customer, and_(Customer.org_id == source.c.org_id, Customer.auto_key == source.c.auto_key))
            .where(true())
        )
        statement = (
            dialect_insert(conn, model)
            .from_select(["org_id", column, "customer_id"], query)
            .on_conflict_do_nothing(index_elements=[table.c.org_id, table.c[column]])
        )
        conn.execute(statement, parameters)


def _map(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Map Slack teams to the customers named (a team already mapped keeps its customer)."""
    ordered = sorted_rows(rows, "org_id", "value")
    for source, parameters in rows_source(
        conn, ordered, {"org_id": BigInteger(), "value": String(), "customer_id": BigInteger()}
    ):
        query = select(source.c.org_id, source.c.value, source.c.customer_id).where(true())
        statement = (
            dialect_insert(conn, CustomerSlackTeam)
            .from_select(["org_id", "team_id", "customer_id"], query)
            .on_conflict_do_nothing()
        )
        conn.execute(statement, parameters)


def _drop_unclaimed(conn: Connection, now: datetime) -> None:
    """Delete the customers this run created that hold no domain and no team (another writer claimed
    theirs first)."""
    claimed = select(CustomerDomain.customer_id).where(CustomerDomain.customer_id == Customer.id).exists()
    teams = select(CustomerSlackTeam.customer_id).where(CustomerSlackTeam.customer_id == Customer.id).exists()
    conn.execute(
        delete(Customer).where(
            Customer.auto_created,
            Customer.created_at == literal(now, UtcDateTime()),
            not_(claimed),
            not_(teams),
        )
    )


def _map_slack_teams(conn: Connection, now: datetime) -> int:
    """Map the window's unmapped Slack Connect teams to customers; returns how many were mapped.

    A team goes to the customer most of its domain-resolved authors belong to (a tie to the older
    customer); a team with none gets an auto-created customer named after what the source called
    the conversation's company. A team already mapped keeps its customer (a person may have set it).
    """
    unmapped = not_(
        select(CustomerSlackTeam.team_id)
        .where(CustomerSlackTeam.org_id == STAGE.c.org_id, CustomerSlackTeam.team_id == STAGE.c.team)
        .exists()
    )
    business = and_(
        CustomerDomain.org_id == STAGE.c.org_id,
        CustomerDomain.domain == STAGE.c.domain,
        not_(STAGE.c.free_mail),
        not_(STAGE.c.automated),
    )
    evidence = conn.execute(
        select(STAGE.c.org_id, STAGE.c.team, CustomerDomain.customer_id, func.count(), func.max(STAGE.c.hint))
        .outerjoin(CustomerDomain, business)
        .where(STAGE.c.team.isnot(None), not_(STAGE.c.internal), unmapped)
        .group_by(STAGE.c.org_id, STAGE.c.team, CustomerDomain.customer_id)
    ).all()
    best: dict[tuple[int, str], tuple[int, int]] = {}
    hints: dict[tuple[int, str], str | None] = {}
    for org_id, team, customer_id, count, hint in evidence:
        key = (int(org_id), str(team))
        hints[key] = hints.get(key) or (str(hint) if hint else None)
        if customer_id is None:
            continue
        if key not in best or (int(count), -int(customer_id)) > (best[key][1], -best[key][0]):
            best[key] = (int(customer_id), int(count))
    learned = [{"org_id": org, "value": team, "customer_id": customer} for (org, team), (customer, _) in best.items()]
    _map(conn, learned)
    orphans = sorted(key for key in hints if key not in best)
    if orphans:
        _create_customers(
            conn,
            [
                {
                    "org_id": org,
                    "auto_key": AUTO_KEY_SLACK_TEAM + team,
                    "name": hints[(org, team)] or f"Slack Connect team {team}",
                }
                for org, team in orphans
            ],
            now,
        )
        claims = [{"org_id": org, "value": team, "auto_key": AUTO_KEY_SLACK_TEAM + team} for org, team in orphans]
        _claim(conn, CustomerSlackTeam, "team_id", claims)
        _drop_unclaimed(conn, now)
    return len(learned) + len(orphans)


def _created_since(conn: Connection, model: type[Customer] | type[Contact], now: datetime) -> int:
    """How many rows of `model` this run created (theirs carry the run's timestamp)."""
    query = select(func.count()).select_from(model).where(model.created_at == literal(now, UtcDateTime()))
    return int(conn.execute(query).scalar_one())


def _analyze(conn: Connection, *tables: str) -> None:
    """Fresh planner statistics for tables this run just filled (PostgreSQL plans joins by them)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE " + ", ".join(tables))


# -- 6. and 7. contacts and message_authors --------------------------------------------------


def _evidence_joins(source: Any) -> tuple[Any, Any, Any, Any]:
    """Staged authors (`source`: the stage or a grouping of it) joined to the customers their domain,
    Slack team and call participants name."""
    by_domain = CustomerDomain.__table__.alias("by_domain")
    by_team = CustomerSlackTeam.__table__.alias("by_team")
    by_call = CustomerDomain.__table__.alias("by_call")
    c = source.c
    joined = (
        source.outerjoin(
            by_domain,
            and_(by_domain.c.org_id == c.org_id, by_domain.c.domain == c.domain, not_(c.free_mail)),
        )
        .outerjoin(by_team, and_(by_team.c.org_id == c.org_id, by_team.c.team_id == c.team))
        .outerjoin(by_call, and_(by_call.c.org_id == c.org_id, by_call.c.domain == c.call_domain))
    )
    return joined, by_domain, by_team, by_call


def _upsert_contacts(conn: Connection, now: datetime) -> int:
    """One contact per organisation and key, with the customer its evidence names; how many are new.

    Only new contacts and those whose customer, e-mail or name would change are written.
    """
    s = STAGE.c
    # Group first (a million messages -> their authors), then join the evidence to the authors.
    authors = (
        select(
            s.org_id,
            s.contact_key,
            func.max(s.email).label("email"),
            func.max(s.name).label("name"),
            s.domain,
            s.free_mail,
            s.team,
            s.call_domain,
        )
        .where(not_(s.internal), not_(s.automated), s.contact_key.isnot(None))
        .group_by(s.org_id, s.contact_key, s.domain, s.free_mail, s.team, s.call_domain)
        .subquery("authors")
    )
    joined, by_domain, by_team, by_call = _evidence_joins(authors)
    evidence = func.coalesce(by_domain.c.customer_id, by_team.c.customer_id, by_call.c.customer_id)
    people = (
        select(
            authors.c.org_id,
            authors.c.contact_key,
            func.max(authors.c.email).label("email"),
            func.max(authors.c.name).label("name"),
            func.max(evidence).label("customer_id"),
        )
        .select_from(joined)
        .group_by(authors.c.org_id, authors.c.contact_key)
        .subquery("people")
    )
    customer = func.coalesce(people.c.customer_id, Contact.customer_id)
    stamp = literal(now, UtcDateTime())
    query = (
        select(people.c.org_id, people.c.contact_key, people.c.email, people.c.name, people.c.customer_id, stamp, stamp)
        .outerjoin(Contact, and_(Contact.org_id == people.c.org_id, Contact.key == people.c.contact_key))
        .where(
            or_(
                Contact.id.is_(None),
                Contact.customer_id.is_distinct_from(customer),
                and_(Contact.email.is_(None), people.c.email.isnot(None)),
                and_(Contact.name.is_(None), people.c.name.isnot(None)),
            )
        )
        .order_by(people.c.org_id, people.c.contact_key)
    )
    insert = dialect_insert(conn, Contact).from_select(
        ["org_id", "key", "email", "name", "customer_id", "created_at", "updated_at"], query
    )
    excluded = insert.excluded
    customer = func.coalesce(excluded.customer_id, Contact.customer_id)
    email = func.coalesce(Contact.email, excluded.email)
    name = func.coalesce(Contact.name, excluded.name)
    # ON CONFLICT for a concurrent run that inserted the same contact since this one read.
    statement = insert.on_conflict_do_update(
        index_elements=["org_id", "key"],
        set_={"customer_id": customer, "email": email, "name": name, "updated_at": excluded.updated_at},
        where=or_(
            Contact.customer_id.is_distinct_from(customer),
            Contact.email.is_distinct_from(email),
            Contact.name.is_distinct_from(name),
        ),
    )
    conn.execute(statement)
    return _created_since(conn, Contact, now)


def _upsert_message_authors(conn: Connection, now: datetime) -> int:
    """One `message_authors` row per staged message; returns how many were inserted or changed.

    The outcome of every staged message is computed in one join, compared with the stored row,
    and only new or changed rows are written (an upsert locks every row it meets, changed or not).
    """
    joined, by_domain, by_team, by_call = _evidence_joins(STAGE)
    joined = joined.outerjoin(Contact, and_(Contact.org_id == STAGE.c.org_id, Contact.key == STAGE.c.contact_key))
    internal = STAGE.c.internal
    customer = func.coalesce(by_domain.c.customer_id, by_team.c.customer_id, by_call.c.customer_id, Contact.customer_id)
    status = case(
        (internal, ResolutionStatus.INTERNAL.value),
        (customer.isnot(None), ResolutionStatus.RESOLVED.value),
        else_=ResolutionStatus.UNRESOLVED.value,
    )
    method = case(
        (internal, None),
        (by_domain.c.customer_id.isnot(None), ResolutionMethod.EMAIL_DOMAIN.value),
        (by_team.c.customer_id.isnot(None), ResolutionMethod.SLACK_TEAM.value),
        (by_call.c.customer_id.isnot(None), ResolutionMethod.CALL_PARTICIPANTS.value),
        (Contact.customer_id.isnot(None), ResolutionMethod.CONTACT.value),
        else_=None,
    )
    reason = case(
        (or_(internal, customer.isnot(None)), None),
        (STAGE.c.automated, UnresolvedReason.AUTOMATED_SENDER.value),
        (STAGE.c.free_mail, UnresolvedReason.FREE_MAIL_DOMAIN.value),
        (
            and_(STAGE.c.email.is_(None), STAGE.c.contact_key.is_(None), STAGE.c.name.is_(None)),
            UnresolvedReason.NO_AUTHOR.value,
        ),
        (STAGE.c.domain.is_(None), UnresolvedReason.NO_AUTHOR_EMAIL.value),
        else_=UnresolvedReason.UNMATCHED_DOMAIN.value,
    )
    outcome = (
        select(
            STAGE.c.message_id,
            STAGE.c.org_id,
            case((or_(internal, STAGE.c.automated), None), else_=Contact.id).label("contact_id"),
            case((internal, None), else_=customer).label("customer_id"),
            status.label("status"),
            method.label("method"),
            reason.label("reason"),
        )
        .select_from(joined)
        .subquery("outcome")
    )
    stored = MessageAuthor.__table__.alias("stored")
    query = (
        select(*outcome.c, literal(now, UtcDateTime()))
        .outerjoin(stored, stored.c.message_id == outcome.c.message_id)
        .where(
            or_(
                stored.c.message_id.is_(None),
                stored.c.contact_id.is_distinct_from(outcome.c.contact_id),
                stored.c.customer_id.is_distinct_from(outcome.c.customer_id),
                stored.c.status.is_distinct_from(outcome.c.status),
                stored.c.method.is_distinct_from(outcome.c.method),
                stored.c.reason.is_distinct_from(outcome.c.reason),
            )
        )
        .order_by(outcome.c.message_id)
    )
    insert = dialect_insert(conn, MessageAuthor).from_select(
        ["message_id", "org_id", "contact_id", "customer_id", "status", "method", "reason", "resolved_at"], query
    )
    excluded = insert.excluded
    changed = [
        MessageAuthor.contact_id.is_distinct_from(excluded.contact_id),
        MessageAuthor.customer_id.is_distinct_from(excluded.customer_id),
        MessageAuthor.status.is_distinct_from(excluded.status),
        MessageAuthor.method.is_distinct_from(excluded.method),
        MessageAuthor.reason.is_distinct_from(excluded.reason),
    ]
    # ON CONFLICT for a concurrent run that wrote the same message since this one read.
    statement = insert.on_conflict_do_update(
        index_elements=["message_id"],
        set_={
            "contact_id": excluded.contact_id,
            "customer_id": excluded.customer_id,
            "status": excluded.status,
            "method": excluded.method,
            "reason": excluded.reason,
            "resolved_at": excluded.resolved_at,
        },
        where=or_(*changed),
    )
    # INSERT keeps its rowcount only when asked to (SQLAlchemy closes the cursor early otherwise).
    result = conn.execute(statement, execution_options={"preserve_rowcount": True})
    return max(int(result.rowcount or 0), 0)


def _refresh_asks(conn: Connection, now: datetime) -> int:
    """Recompute the customers and ARR of the feature requests whose messages this run rewrote.

    A rewritten row carries this run's `resolved_at`; rows left unchanged touch no request. Driven
    by the feature mentions of the staged messages (a few percent of them), not by the messages.
    """
    touched: dict[int, set[int]] = defaultdict(set)
    for org_id, request_id in conn.execute(
        select(FeatureRequestMention.org_id, FeatureRequestMention.feature_request_id)
        .select_from(FeatureMention)
        .join(STAGE, STAGE.c.message_id == FeatureMention.message_id)
        .join(MessageAuthor, MessageAuthor.message_id == FeatureMention.message_id)
        .join(FeatureRequestMention, FeatureRequestMention.mention_id == FeatureMention.id)
        .where(MessageAuthor.resolved_at == literal(now, UtcDateTime()))
        .distinct()
    ).tuples():
        touched[int(org_id)].add(int(request_id))
    for org_id, request_ids in sorted(touched.items()):
        refresh_request_customers(conn, org_id, request_ids)
    return sum(len(request_ids) for request_ids in touched.values())


def _count(conn: Connection, stats: ResolutionStats) -> None:
    rows = conn.execute(
        select(MessageAuthor.status, MessageAuthor.method, MessageAuthor.reason, func.count())
        .join(STAGE, STAGE.c.message_id == MessageAuthor.message_id)
        .group_by(MessageAuthor.status, MessageAuthor.method, MessageAuthor.reason)
    ).all()
    for status, method, reason, count in rows:
        stats.messages += int(count)
        if status == ResolutionStatus.RESOLVED.value:
            stats.resolved[str(method)] = stats.resolved.get(str(method), 0) + int(count)
        elif status == ResolutionStatus.INTERNAL.value:
            stats.internal += int(count)
        else:
            stats.unresolved[str(reason)] = stats.unresolved.get(str(reason), 0) + int(count)
