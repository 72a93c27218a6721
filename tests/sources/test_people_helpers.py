"""Address parsing, internal-vs-customer decisions and company names shared by every reader."""

from __future__ import annotations

import pytest

from headway_assets.sources.people import (
    Person,
    company_from_domain,
    customer_from_email,
    email_domain,
    is_internal_domain,
    is_internal_email,
    most_common,
    normalise_domains,
    normalise_email,
    parse_people,
    parse_person,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"Bob Buyer" <Bob@Globex-Corp.Example>', Person("Bob Buyer", "bob@globex-corp.example")),
        ("Bob Buyer <bob@globex-corp.example>", Person("Bob Buyer", "bob@globex-corp.example")),
        ("BOB@Globex-Corp.example", Person(None, "bob@globex-corp.example")),
        ("bob@globex-corp.example (Bob Buyer)", Person("Bob Buyer", "bob@globex-corp.example")),
        ("Müller, Jürgen <j.mueller@initech.de>", Person("Müller, Jürgen", "j.mueller@initech.de")),
        ("<alice@acme.example>", Person(None, "alice@acme.example")),
        ("Rita Rep", Person("Rita Rep", None)),
        ("", Person(None, None)),
        (None, Person(None, None)),
    ],
)
def test_parse_person_forms(raw: str | None, expected: Person) -> None:
    assert parse_person(raw) == expected


def test_parse_people_splits_address_lists_with_quoted_commas() -> None:
    people = parse_people(['alice@acme.example, "Buyer, Bob" <BOB@globex-corp.example>', None, "D <d@z.example>"])
    assert people == [
        Person(None, "alice@acme.example"),
        Person("Buyer, Bob", "bob@globex-corp.example"),
        Person("D", "d@z.example"),
    ]


def test_normalise_email_and_domain() -> None:
    assert normalise_email("  MAILTO:Bob@Globex.Example ") == "bob@globex.example"
    assert normalise_email("not an email") is None
    assert normalise_email(None) is None
    assert email_domain("Bob@Globex.Example") == "globex.example"
    assert email_domain("nobody") is None
    assert Person("B", "b@initech.example").domain == "initech.example"


def test_internal_domain_matches_subdomains_but_not_lookalikes() -> None:
    domains = normalise_domains(["@Acme.Example", "acme.example", " "])
    assert domains == ("acme.example",)
    assert is_internal_domain("acme.example", domains) is True
    assert is_internal_domain("eu.acme.example", domains) is True
    assert is_internal_domain("notacme.example", domains) is False
    assert is_internal_email("bob@globex.example", domains) is False
    # Undecidable: no domain, or the org declared none.
    assert is_internal_domain(None, domains) is None
    assert is_internal_email("alice@acme.example", ()) is None


@pytest.mark.parametrize(
    ("domain", "company"),
    [
        ("globex-corp.example", "Globex Corp"),
        ("initech.com", "Initech"),
        ("mail.umbrella_health.io", "Umbrella Health"),
        ("sales.eu.hooli.co.uk", "Hooli"),
        ("GLOBEX.EXAMPLE.", "Globex"),
        ("gmail.com", None),
        ("eu.proton.me", None),
        ("", None),
        (None, None),
    ],
)
def test_company_from_domain(domain: str | None, company: str | None) -> None:
    assert company_from_domain(domain) == company


def test_customer_from_email_only_for_external_company_addresses() -> None:
    domains = ("acme.example",)
    assert customer_from_email("bob@globex-corp.example", domains) == "Globex Corp"
    assert customer_from_email("alice@acme.example", domains) is None
    assert customer_from_email("someone@gmail.com", domains) is None
    assert customer_from_email(None, domains) is None


def test_most_common_prefers_first_seen_on_ties() -> None:
    assert most_common(["Initech", None, "Globex", "Globex", "Initech"]) == "Initech"
    assert most_common(["Globex", "Initech", "Globex"]) == "Globex"
    assert most_common([None, ""]) is None
