"""Who wrote a message: address parsing, internal-vs-customer decisions and company names.

Every source reader (export files and live APIs) uses these helpers, so the same person is
described the same way whichever source or reader they came through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr

from headway_assets.core.people import (
    FREE_EMAIL_DOMAINS,
    company_from_domain,
    email_domain,
    is_free_mail_domain,
    is_internal_domain,
    normalise_domains,
    normalise_email,
)

__all__ = [
    "FREE_EMAIL_DOMAINS",
    "Person",
    "company_from_domain",
    "customer_from_email",
    "email_domain",
    "is_free_mail_domain",
    "is_internal_domain",
    "is_internal_email",
    "most_common",
    "normalise_domains",
    "normalise_email",
    "parse_people",
    "parse_person",
]


@dataclass(frozen=True, slots=True)
class Person:
    """A display name and a lower-cased e-mail address; either may be unknown."""

    name: str | None
    email: str | None

    @property
    def domain(self) -> str | None:
        """The e-mail's domain, lower-cased, or None when there is no e-mail."""
        return email_domain(self.email)


def parse_person(value: str | None) -> Person:
    """Parse one `"Name" <email>`, `Name <email>`, `email (Name)` or bare e-mail form.

    A value with no e-mail in it is taken as a bare name, so `"Rita Rep"` gives
    `Person("Rita Rep", None)`.
    """
    if value is None or not value.strip():
        return Person(None, None)
    raw = value.strip()
    name, address = parseaddr(raw)
    email = normalise_email(address)
    if email is None:
        # parseaddr gives up on some odd forms (unquoted commas, stray brackets); look for
        # an address ourselves before treating the whole value as a name.
        match = re.search(r"<([^<>@\s]+@[^<>\s]+)>", raw) or re.search(r"([^\s<>\"',;]+@[^\s<>\"',;]+)", raw)
        if match:
            email = normalise_email(match.group(1))
            name = (raw[: match.start()] + raw[match.end() :]).strip(" \t\"'<>()")
        else:
            return Person(_clean_name(raw), None)
    return Person(_clean_name(name), email)


def parse_people(values: Iterable[str | None]) -> list[Person]:
    """Parse address-list header values (`To`, `Cc`), each possibly holding several people."""
    people: list[Person] = []
    for name, address in getaddresses([value for value in values if value]):
        email = normalise_email(address)
        if email is None and not name.strip():
            continue
        people.append(Person(_clean_name(name), email))
    return people


def is_internal_email(email: str | None, internal_domains: Iterable[str]) -> bool | None:
    """Whether an e-mail belongs to the org (see `is_internal_domain`); None when undecidable."""
    return is_internal_domain(email_domain(email), internal_domains)


def customer_from_email(email: str | None, internal_domains: Iterable[str]) -> str | None:
    """The customer company for an external e-mail address; None for internal or free-mail senders."""
    domain = email_domain(email)
    if domain is None or is_internal_domain(domain, internal_domains):
        return None
    return company_from_domain(domain)


def most_common(values: Iterable[str | None]) -> str | None:
    """The most frequent non-empty value, ties going to the one seen first; None when there is none."""
    counts: dict[str, int] = {}
    for value in values:
        if value:
            counts[value] = counts.get(value, 0) + 1
    if not counts:
        return None
    best = max(counts.values())
    return next(value for value, count in counts.items() if count == best)


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    cleaned = " ".join(name.replace("\\", "").split()).strip(" \"'")
    return cleaned or None
