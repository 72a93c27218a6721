"""The demo organisations' CRM: their customer companies with ARR, plan, segment and deal stage.

Written by the demo build as `<org>/customers.csv`, in the shape a HubSpot company export has
(its column names, money as text, stages as the CRM spells them), for `headway customers import`.
Each company's domain is the one its people write from (`DemoCompany.domain`), so the author
resolution maps their e-mail, Slack and call messages onto these customers. One company of each
organisation is left out of the file on purpose: the resolution auto-creates it for review.

Sits beside `content` in the demo's import order: `build` and `writers` read it, it reads
`corpus` only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from headway_assets.demo.corpus import DemoOrg

CUSTOMERS_FILE = "customers.csv"
CSV_HEADER = (
    "Record ID",
    "Company name",
    "Company Domain Name",
    "Annual Recurring Revenue",
    "MRR",
    "Plan",
    "Segment",
    "Deal Stage",
    "Renewal Date",
    "Company owner",
)


@dataclass(frozen=True, slots=True)
class AccountTerms:
    """What the CRM knows of one company besides its name and domain."""

    arr: int  # USD a year
    plan: str
    segment: str
    stage: str  # as the CRM spells it (the import folds it to the warehouse's stage)
    renewal: date


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One row of a demo organisation's CRM export."""

    external_id: str
    name: str
    domain: str
    terms: AccountTerms
    owner: str

    @property
    def mrr(self) -> int:
        """The ARR spread over twelve months, rounded down."""
        return self.terms.arr // 12


# Company slug -> terms, per organisation. Absent companies are not in the CRM (auto-created).
_TERMS: dict[str, dict[str, AccountTerms]] = {
    "acme": {
        "globex": AccountTerms(420_000, "Enterprise", "enterprise", "Closed Won", date(2027, 3, 31)),
        "initech": AccountTerms(96_000, "Business", "mid-market", "Closed Won", date(2027, 1, 15)),
        "hooli": AccountTerms(310_000, "Enterprise", "enterprise", "Negotiation", date(2026, 12, 31)),
        "mueller-logistik": AccountTerms(128_000, "Business", "mid-market", "Closed Won", date(2027, 6, 30)),
        "umbrella-retail": AccountTerms(54_000, "Business", "mid-market", "Closed Won", date(2027, 2, 28)),
        "sakura-foods": AccountTerms(72_000, "Business", "mid-market", "Proposal", date(2027, 4, 30)),
        "lumiere-retail": AccountTerms(36_000, "Growth", "smb", "Closed Won", date(2027, 5, 31)),
        "vandelay": AccountTerms(18_000, "Growth", "smb", "Trial", date(2026, 11, 30)),
        "pied-piper": AccountTerms(24_000, "Growth", "smb", "Closed Won", date(2027, 8, 31)),
    },
    "northwind": {
        "riverside": AccountTerms(84_000, "Enterprise", "enterprise", "Closed Won", date(2027, 3, 1)),
        "lakeshore-dental": AccountTerms(12_000, "Practice", "smb", "Closed Won", date(2027, 1, 31)),
        "clinicadelsol": AccountTerms(48_000, "Practice", "mid-market", "Closed Won", date(2027, 9, 30)),
        "summit-pt": AccountTerms(9_600, "Starter", "smb", "Trial", date(2026, 12, 15)),
        "saudemais": AccountTerms(66_000, "Enterprise", "mid-market", "Negotiation", date(2027, 2, 28)),
        "clinique-beaulieu": AccountTerms(21_000, "Practice", "smb", "Closed Won", date(2027, 7, 31)),
        "bayview-peds": AccountTerms(15_600, "Practice", "smb", "Closed Won", date(2027, 4, 30)),
        "maplegrove-derm": AccountTerms(7_200, "Starter", "smb", "Churned", date(2026, 10, 31)),
        "harborview-ortho": AccountTerms(132_000, "Enterprise", "enterprise", "Closed Won", date(2027, 6, 30)),
    },
}


def demo_accounts(org: DemoOrg) -> tuple[DemoAccount, ...]:
    """The CRM rows of `org`'s customer companies that the CRM knows, in the companies' order."""
    terms = _TERMS.get(org.slug, {})
    unknown = sorted(set(terms) - {company.slug for company in org.companies})
    if unknown:
        raise ValueError(f"demo CRM of {org.slug} names companies the corpus does not have: {unknown}")
    # Account executives own the accounts, in turn.
    owners = [person.email for person in org.staff if "Account Executive" in person.title] or [org.staff[0].email]
    return tuple(
        DemoAccount(
            external_id=f"hs-{org.slug}-{index + 1:03d}",
            name=company.name,
            domain=company.domain,
            terms=terms[company.slug],
            owner=owners[index % len(owners)],
        )
        for index, company in enumerate(org.companies)
        if company.slug in terms
    )


def customers_csv(accounts: tuple[DemoAccount, ...]) -> bytes:
    """The accounts as a CRM export: UTF-8 CSV, money as `$420,000`, dates as the CRM writes them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for account in accounts:
        terms = account.terms
        writer.writerow(
            (
                account.external_id,
                account.name,
                account.domain,
                f"${terms.arr:,}",
                f"${account.mrr:,}",
                terms.plan,
                terms.segment,
                terms.stage,
                terms.renewal.isoformat(),
                account.owner,
            )
        )
    return out.getvalue().encode("utf-8")
