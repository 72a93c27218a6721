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
    and_,
    bindparam,
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
    company_from_domain,
    email_domain,
    is_free_mail_domain,
    normalise_domains,
)
from headway_assets.core.warehouse.bulk import batches
from headway_assets.core.warehouse.customers import dialect_insert, sorted_rows
from headway_assets.core.warehouse.schema import (
    Contact,
    Customer,
    CustomerDomain,
    CustomerSlackTeam,
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
    STAGE.drop(conn, checkfirst=True)
    STAGE.create(conn)
    try:
        _stage_authors(conn, window, org_ids)
        _mark_internal_domains(conn)
        _mark_free_mail(conn)
        _stage_call_domains(conn)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE author_stage")  # temporary tables get no autovacuum statistics
        stats.customers_auto_created += _create_domain_customers(conn, now)
        mapped, created = _map_slack_teams(conn, now)
        stats.slack_teams_mapped, stats.customers_auto_created = mapped, stats.customers_auto_created + created
        stats.contacts_created = _upsert_contacts(conn, now)
        stats.rows_written = _upsert_message_authors(conn, now)
        _count(conn, stats)
    finally:
        STAGE.drop(conn, checkfirst=True)
    return stats


# -- 1. staging ------------------------------------------------------------------------------


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
    email = func.lower(func.nullif(func.trim(Message.author_email), ""))
    user_id = Message.source_metadata[USER_ID_KEY].as_string()
    team = Message.source_metadata[SLACK_TEAM_KEY].as_string()
    contact_key = case(
        (email.isnot(None), email),
        (user_id.isnot(None), Message.source + ":" + user_id),
        else_=None,
    )
    automated = or_(
        Message.source_metadata[AUTOMATED_KEY].as_string().in_(AUTOMATED_KINDS),
        _local_part_of(conn, email).in_(sorted(AUTOMATED_LOCAL_PARTS)),
    )
    query = select(
        Message.id,
        Message.org_id,
        email,
        _domain_of(conn, email),
        func.substr(Message.author_name, 1, 255),
        team,
        contact_key,
        case((team.isnot(None), func.substr(Message.customer, 1, 255)), else_=None),
        func.coalesce(Message.author_is_internal, false()),
        false(),
        case((automated, true()), else_=false()),
    ).where(Message.sent_at >= window.start, Message.sent_at < window.end)
    if org_ids is not None:
        query = query.where(Message.org_id.in_(sorted(org_ids)))
    columns = ["message_id", "org_id", "email", "domain", "name", "team", "contact_key", "hint", "internal"]
    conn.execute(STAGE.insert().from_select([*columns, "free_mail", "automated"], query))


def _like_suffix(domain: str) -> str:
    escaped = domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%." + escaped


def _mark_internal_domains(conn: Connection) -> None:
    """Authors at one of their organisation's own domains (or a subdomain) are staff, whatever the source said."""
    org_ids = [row[0] for row in conn.execute(select(STAGE.c.org_id).distinct())]
    if not org_ids:
        return
    for org_id, settings in conn.execute(
        select(Organization.id, Organization.settings).where(Organization.id.in_(org_ids))
    ):
        domains = normalise_domains((settings or {}).get("internal_domains") or [])
        if not domains:
            continue
        matches = or_(
            STAGE.c.domain.in_(domains),
            *(STAGE.c.domain.like(_like_suffix(domain), escape="\\") for domain in domains),
        )
        conn.execute(
            update(STAGE).where(STAGE.c.org_id == org_id, not_(STAGE.c.internal), matches).values(internal=True)
        )


def _mark_free_mail(conn: Connection) -> None:
    domains = [row[0] for row in conn.execute(select(STAGE.c.domain).where(STAGE.c.domain.isnot(None)).distinct())]
    free = sorted(domain for domain in domains if is_free_mail_domain(domain))
    for batch in batches(free):
        conn.execute(update(STAGE).where(STAGE.c.domain.in_(batch)).values(free_mail=True))


# -- 3. calls --------------------------------------------------------------------------------


def _participant_domains(raw: str | None, external_flag: str, internal: set[str]) -> Iterable[str]:
    """Business domains of a call's external participants, as stored in its metadata."""
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
        flag = person.get(external_flag)
        if external_flag == "affiliation" and isinstance(flag, str) and flag.lower() == "internal":
            continue
        if external_flag == "is_external" and flag is False:
            continue
        domain = email_domain(person.get("email") if isinstance(person.get("email"), str) else None)
        if domain is None or is_free_mail_domain(domain) or _is_internal(domain, internal):
            continue
        yield domain


def _is_internal(domain: str, internal: set[str]) -> bool:
    return domain in internal or any(domain.endswith("." + own) for own in internal)


def _stage_call_domains(conn: Connection) -> None:
    """A call whose author gives no business domain takes its external participants' most common one."""
    parties = Message.source_metadata[GONG_PARTIES_KEY].as_string()
    invitees = Message.source_metadata[FATHOM_INVITEES_KEY].as_string()
    rows = conn.execute(
        select(STAGE.c.message_id, STAGE.c.org_id, parties, invitees)
        .join(Message, Message.id == STAGE.c.message_id)
        .where(
            not_(STAGE.c.internal),
            STAGE.c.team.is_(None),
            or_(STAGE.c.domain.is_(None), STAGE.c.free_mail),
            or_(parties.isnot(None), invitees.isnot(None)),
        )
    ).all()
    if not rows:
        return
    internal_by_org = _internal_domains(conn, {row[1] for row in rows})
    updates: list[dict[str, Any]] = []
    for message_id, org_id, raw_parties, raw_invitees in rows:
        internal = internal_by_org.get(org_id, set())
        found = [
            *_participant_domains(raw_parties, "affiliation", internal),
            *_participant_domains(raw_invitees, "is_external", internal),
        ]
        if found:
            domain = Counter(found).most_common(1)[0][0]  # ties go to the first seen
            updates.append({"staged_id": message_id, "call_domain": domain})
    for batch in batches(updates):
        conn.execute(
            update(STAGE)
            .where(STAGE.c.message_id == bindparam("staged_id"))
            .values(call_domain=bindparam("call_domain")),
            list(batch),
        )


def _internal_domains(conn: Connection, org_ids: Iterable[int]) -> dict[int, set[str]]:
    return {
        org_id: set(normalise_domains((settings or {}).get("internal_domains") or []))
        for org_id, settings in conn.execute(
            select(Organization.id, Organization.settings).where(Organization.id.in_(sorted(org_ids)))
        )
    }


# -- 4. and 5. customers for unknown domains and Slack Connect teams -----------------------


def _business_domains(column: ColumnElement[Any]) -> Any:
    """(org, domain) of the staged authors' business domains in `column` that no customer owns yet."""
    owned = (
        select(CustomerDomain.domain)
        .where(CustomerDomain.org_id == STAGE.c.org_id, CustomerDomain.domain == column)
        .exists()
    )
    conditions = [not_(STAGE.c.internal), not_(STAGE.c.automated), column.isnot(None), not_(owned)]
    if column is STAGE.c.domain:
        conditions.append(not_(STAGE.c.free_mail))
    return select(STAGE.c.org_id, column).where(*conditions).distinct()


def _create_domain_customers(conn: Connection, now: datetime) -> int:
    """Auto-create a customer for every business domain of the window that no customer owns."""
    pairs = {(int(org), str(domain)) for org, domain in conn.execute(_business_domains(STAGE.c.domain))}
    pairs |= {(int(org), str(domain)) for org, domain in conn.execute(_business_domains(STAGE.c.call_domain))}
    if not pairs:
        return 0
    wanted = [
        {"org_id": org, "auto_key": AUTO_KEY_DOMAIN + domain, "name": company_from_domain(domain) or domain}
        for org, domain in sorted(pairs)
    ]
    created, by_key = _create_customers(conn, wanted, now)
    rows = [
        {"org_id": org, "domain": domain, "customer_id": by_key[(org, AUTO_KEY_DOMAIN + domain)]}
        for org, domain in sorted(pairs)
        if (org, AUTO_KEY_DOMAIN + domain) in by_key
    ]
    for batch in batches(rows):
        conn.execute(dialect_insert(conn, CustomerDomain).values(list(batch)).on_conflict_do_nothing())
    return created - _drop_unclaimed(conn, created_ids=_created_ids(by_key, wanted, now, conn))


def _create_customers(
    conn: Connection, wanted: Sequence[dict[str, Any]], now: datetime
) -> tuple[int, dict[tuple[int, str], int]]:
    """Insert auto-created customers (once per `(org_id, auto_key)`, whoever runs concurrently).

    Returns how many this call created and the id of every wanted key's customer.
    """
    created = 0
    rows = [row | {"auto_created": True, "created_at": now, "updated_at": now} for row in wanted]
    for batch in batches(sorted_rows(rows, "org_id", "auto_key")):
        statement = (
            dialect_insert(conn, Customer)
            .values(list(batch))
            .on_conflict_do_nothing(index_elements=["org_id", "auto_key"])
            .returning(Customer.id)
        )
        created += len(conn.execute(statement).all())
    by_key: dict[tuple[int, str], int] = {}
    keys_by_org: dict[int, list[str]] = defaultdict(list)
    for row in wanted:
        keys_by_org[row["org_id"]].append(row["auto_key"])
    for org_id, keys in keys_by_org.items():
        for batch_keys in batches(keys):
            for customer_id, auto_key in conn.execute(
                select(Customer.id, Customer.auto_key).where(
                    Customer.org_id == org_id, Customer.auto_key.in_(batch_keys)
                )
            ):
                by_key[(org_id, str(auto_key))] = int(customer_id)
    return created, by_key


def _created_ids(
    by_key: dict[tuple[int, str], int], wanted: Sequence[dict[str, Any]], now: datetime, conn: Connection
) -> list[int]:
    """The ids among `by_key` that this run created (their `created_at` is this run's)."""
    ids = sorted(by_key.values())
    found: list[int] = []
    for batch in batches(ids):
        found += [
            int(row[0])
            for row in conn.execute(
                select(Customer.id).where(Customer.id.in_(batch), Customer.created_at == literal(now, UtcDateTime()))
            )
        ]
    return found


def _drop_unclaimed(conn: Connection, *, created_ids: Sequence[int]) -> int:
    """Delete customers this run created whose domain another writer claimed first; how many."""
    dropped = 0
    for batch in batches(list(created_ids)):
        claimed = select(CustomerDomain.customer_id).where(CustomerDomain.customer_id == Customer.id).exists()
        teams = select(CustomerSlackTeam.customer_id).where(CustomerSlackTeam.customer_id == Customer.id).exists()
        result = conn.execute(delete(Customer).where(Customer.id.in_(batch), not_(claimed), not_(teams)))
        dropped += result.rowcount or 0
    return dropped


def _map_slack_teams(conn: Connection, now: datetime) -> tuple[int, int]:
    """Map the window's Slack Connect teams to customers; returns (teams mapped, customers auto-created).

    A team goes to the customer most of its domain-resolved authors belong to; a team with none
    gets an auto-created customer named after what the source called the conversation's company.
    A team already mapped keeps its customer (a person may have set it).
    """
    unmapped = not_(
        select(CustomerSlackTeam.team_id)
        .where(CustomerSlackTeam.org_id == STAGE.c.org_id, CustomerSlackTeam.team_id == STAGE.c.team)
        .exists()
    )
    evidence = conn.execute(
        select(STAGE.c.org_id, STAGE.c.team, CustomerDomain.customer_id, func.count())
        .join(CustomerDomain, and_(CustomerDomain.org_id == STAGE.c.org_id, CustomerDomain.domain == STAGE.c.domain))
        .where(STAGE.c.team.isnot(None), not_(STAGE.c.internal), not_(STAGE.c.free_mail), unmapped)
        .group_by(STAGE.c.org_id, STAGE.c.team, CustomerDomain.customer_id)
    ).all()
    best: dict[tuple[int, str], tuple[int, int]] = {}
    for org_id, team, customer_id, count in evidence:
        key = (int(org_id), str(team))
        if key not in best or (int(count), -int(customer_id)) > (best[key][1], -best[key][0]):
            best[key] = (int(customer_id), int(count))
    rows = [{"org_id": org, "team_id": team, "customer_id": customer} for (org, team), (customer, _) in best.items()]

    orphans = conn.execute(
        select(STAGE.c.org_id, STAGE.c.team, func.max(STAGE.c.hint))
        .where(STAGE.c.team.isnot(None), not_(STAGE.c.internal), unmapped)
        .group_by(STAGE.c.org_id, STAGE.c.team)
    ).all()
    wanted: list[dict[str, Any]] = [
        {
            "org_id": int(org_id),
            "auto_key": AUTO_KEY_SLACK_TEAM + str(team),
            "name": str(hint) if hint else f"Slack Connect team {team}",
        }
        for org_id, team, hint in orphans
        if (int(org_id), str(team)) not in best
    ]
    created = 0
    if wanted:
        created, by_key = _create_customers(conn, wanted, now)
        rows += [
            {"org_id": row["org_id"], "team_id": row["auto_key"][len(AUTO_KEY_SLACK_TEAM) :], "customer_id": customer}
            for row in wanted
            if (customer := by_key.get((row["org_id"], row["auto_key"]))) is not None
        ]
    for batch in batches(sorted_rows(rows, "org_id", "team_id")):
        conn.execute(dialect_insert(conn, CustomerSlackTeam).values(list(batch)).on_conflict_do_nothing())
    if wanted:
        created -= _drop_unclaimed(conn, created_ids=_created_ids(by_key, wanted, now, conn))
    return len(rows), created


# -- 6. and 7. contacts and message_authors --------------------------------------------------


def _evidence_joins() -> tuple[Any, Any, Any, Any]:
    """The staged authors joined to the customers their domain, team and call participants name."""
    by_domain = CustomerDomain.__table__.alias("by_domain")
    by_team = CustomerSlackTeam.__table__.alias("by_team")
    by_call = CustomerDomain.__table__.alias("by_call")
    joined = (
        STAGE.outerjoin(
            by_domain,
            and_(by_domain.c.org_id == STAGE.c.org_id, by_domain.c.domain == STAGE.c.domain, not_(STAGE.c.free_mail)),
        )
        .outerjoin(by_team, and_(by_team.c.org_id == STAGE.c.org_id, by_team.c.team_id == STAGE.c.team))
        .outerjoin(by_call, and_(by_call.c.org_id == STAGE.c.org_id, by_call.c.domain == STAGE.c.call_domain))
    )
    return joined, by_domain, by_team, by_call


def _upsert_contacts(conn: Connection, now: datetime) -> int:
    """One contact per organisation and key, with the customer its evidence names; how many are new."""
    joined, by_domain, by_team, by_call = _evidence_joins()
    evidence = func.coalesce(by_domain.c.customer_id, by_team.c.customer_id, by_call.c.customer_id)
    stamp = literal(now, UtcDateTime())
    query = (
        select(
            STAGE.c.org_id,
            STAGE.c.contact_key,
            func.max(STAGE.c.email),
            func.max(STAGE.c.name),
            func.max(evidence),
            stamp,
            stamp,
        )
        .select_from(joined)
        .where(not_(STAGE.c.internal), not_(STAGE.c.automated), STAGE.c.contact_key.isnot(None))
        .group_by(STAGE.c.org_id, STAGE.c.contact_key)
        .order_by(STAGE.c.org_id, STAGE.c.contact_key)
    )
    insert = dialect_insert(conn, Contact).from_select(
        ["org_id", "key", "email", "name", "customer_id", "created_at", "updated_at"], query
    )
    excluded = insert.excluded
    customer = func.coalesce(excluded.customer_id, Contact.customer_id)
    email = func.coalesce(Contact.email, excluded.email)
    name = func.coalesce(Contact.name, excluded.name)
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
    return int(conn.execute(select(func.count()).select_from(Contact).where(Contact.created_at == stamp)).scalar_one())


def _upsert_message_authors(conn: Connection, now: datetime) -> int:
    """One `message_authors` row per staged message; returns how many were inserted or changed."""
    joined, by_domain, by_team, by_call = _evidence_joins()
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
    query = (
        select(
            STAGE.c.message_id,
            STAGE.c.org_id,
            case((or_(internal, STAGE.c.automated), None), else_=Contact.id),
            case((internal, None), else_=customer),
            status,
            method,
            reason,
            literal(now, UtcDateTime()),
        )
        .select_from(joined)
        .where(true())
        .order_by(STAGE.c.message_id)
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
