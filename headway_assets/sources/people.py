"""Who wrote a message: address parsing, internal-vs-customer decisions and company names.

Every source reader (export files and live APIs) uses these helpers, so the same person is
described the same way whichever source or reader they came through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr

# Mailbox providers whose domain says nothing about the sender's employer.
FREE_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "aol.com",
        "fastmail.com",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "googlemail.com",
        "hey.com",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "me.com",
        "msn.com",
        "outlook.com",
        "pm.me",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "tutanota.com",
        "web.de",
        "yahoo.co.uk",
        "yahoo.com",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
    }
)

# Second-level labels used under country-code TLDs (globex.co.uk -> globex).
_SECOND_LEVEL_LABELS: frozenset[str] = frozenset(
    {"ac", "co", "com", "edu", "gov", "ltd", "net", "org", "plc", "ne", "or", "gv"}
)

_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True, slots=True)
class Person:
    """A display name and a lower-cased e-mail address; either may be unknown."""

    name: str | None
    email: str | None

    @property
    def domain(self) -> str | None:
        """The e-mail's domain, lower-cased, or None when there is no e-mail."""
        return email_domain(self.email)


def normalise_email(value: str | None) -> str | None:
    """Trim, drop a `mailto:` prefix and angle brackets, lower-case; None unless it looks like an e-mail."""
    if not value:
        return None
    cleaned = value.strip().strip("<>").strip()
    if cleaned.lower().startswith("mailto:"):
        cleaned = cleaned[len("mailto:") :]
    cleaned = cleaned.strip().lower()
    return cleaned if _EMAIL_RE.match(cleaned) else None


def email_domain(email: str | None) -> str | None:
    """The domain part of an e-mail address, lower-cased, or None."""
    normalised = normalise_email(email)
    if normalised is None:
        return None
    return normalised.rsplit("@", 1)[1].rstrip(".")


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


def normalise_domains(domains: Iterable[str]) -> tuple[str, ...]:
    """Lower-case domains and drop leading `@`/dots and blanks, keeping order without duplicates."""
    seen: dict[str, None] = {}
    for domain in domains:
        cleaned = domain.strip().lower().lstrip("@").strip(".")
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def is_internal_domain(domain: str | None, internal_domains: Iterable[str]) -> bool | None:
    """True when `domain` is one of the org's domains or a subdomain of one.

    None when it cannot be decided: no domain, or the org has declared no internal domains.
    """
    internal = normalise_domains(internal_domains)
    if not domain or not internal:
        return None
    domain = domain.strip().lower().strip(".")
    return any(domain == own or domain.endswith("." + own) for own in internal)


def is_internal_email(email: str | None, internal_domains: Iterable[str]) -> bool | None:
    """Whether an e-mail belongs to the org (see `is_internal_domain`); None when undecidable."""
    return is_internal_domain(email_domain(email), internal_domains)


def company_from_domain(domain: str | None) -> str | None:
    """A readable company name from an e-mail domain: `globex-corp.example` -> `Globex Corp`.

    The top-level domain, country second levels (`.co.uk`) and host parts (`mail.`) are dropped
    and the organisation's label is title-cased, splitting on hyphens and underscores. Free mail
    providers give None, because a gmail.com address says nothing about the customer.
    """
    if not domain:
        return None
    domain = domain.strip().lower().strip(".")
    if not domain or _is_free_mail(domain):
        return None
    labels = [label for label in domain.split(".") if label]
    if len(labels) >= 2:
        labels = labels[:-1]  # the top-level domain
        if len(labels) >= 2 and labels[-1] in _SECOND_LEVEL_LABELS and len(domain.rsplit(".", 1)[-1]) == 2:
            labels = labels[:-1]
    core = labels[-1] if labels else ""  # the organisation's own label; host parts come before it
    words = [word for word in re.split(r"[-_]+", core) if word]
    if not words:
        return None
    return " ".join(word if word.isdigit() else word[:1].upper() + word[1:] for word in words)


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


def _is_free_mail(domain: str) -> bool:
    return domain in FREE_EMAIL_DOMAINS or any(domain.endswith("." + free) for free in FREE_EMAIL_DOMAINS)


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    cleaned = " ".join(name.replace("\\", "").split()).strip(" \"'")
    return cleaned or None
