"""E-mail addresses and domains: what the source readers and the customer resolution share.

The one maintained list of free-mail providers lives here, in the kernel, so the readers (which name
a message's company) and the warehouse's customer resolution (which never creates a customer for
gmail.com) cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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

# Mailbox names of machine senders: their domain (zoom.us, atlassian.net) is a vendor's, not a customer's.
AUTOMATED_LOCAL_PARTS: frozenset[str] = frozenset(
    {
        "alerts",
        "bounce",
        "bounces",
        "do-not-reply",
        "do_not_reply",
        "donotreply",
        "mailer-daemon",
        "newsletter",
        "no-reply",
        "no_reply",
        "noreply",
        "notification",
        "notifications",
        "notify",
        "postmaster",
    }
)

# Second-level labels used under country-code TLDs (globex.co.uk -> globex).
_SECOND_LEVEL_LABELS: frozenset[str] = frozenset(
    {"ac", "co", "com", "edu", "gov", "ltd", "net", "org", "plc", "ne", "or", "gv"}
)

_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


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


def company_from_domain(domain: str | None) -> str | None:
    """A readable company name from an e-mail domain: `globex-corp.example` -> `Globex Corp`.

    The top-level domain, country second levels (`.co.uk`) and host parts (`mail.`) are dropped
    and the organisation's label is title-cased, splitting on hyphens and underscores. Free mail
    providers give None, because a gmail.com address says nothing about the customer.
    """
    if not domain:
        return None
    domain = domain.strip().lower().strip(".")
    if not domain or is_free_mail_domain(domain):
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


def is_free_mail_domain(domain: str) -> bool:
    """True for a free-mail provider's domain (gmail.com) or a subdomain of one (mail.yahoo.com)."""
    labels = domain.split(".")
    # The domain itself and each parent (mail.yahoo.com, yahoo.com): a few set lookups.
    return any(".".join(labels[start:]) in FREE_EMAIL_DOMAINS for start in range(len(labels) - 1))
