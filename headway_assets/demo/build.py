"""Generating the demo corpus: one planner per organisation and source drives the generators.

This module sits above the generators (`_slack`, `_gmail`, `_calls`), which sit above the
planner (`_plan`), the scripted content (`content`) and the model (`corpus`): imports inside
the demo point one way, from here down.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from headway_assets.demo._calls import build_fathom, build_gong
from headway_assets.demo._competitors import add_competitor_lines
from headway_assets.demo._gmail import build_gmail
from headway_assets.demo._plan import Planner, build_org
from headway_assets.demo._slack import build_slack
from headway_assets.demo.content import ORG_SPECS
from headway_assets.demo.corpus import (
    DEFAULT_DAYS,
    DEFAULT_SEED,
    DEFAULT_START,
    MAX_DAYS,
    DemoAsk,
    DemoCorpus,
    DemoOrg,
    DemoOrgCorpus,
)


def build_demo_corpus(seed: int = DEFAULT_SEED, start: date = DEFAULT_START, days: int = DEFAULT_DAYS) -> DemoCorpus:
    """Generate the demo corpus for the window `[start, start + days)` (UTC).

    The same `seed`, `start` and `days` always give an identical corpus. Item counts are sized
    for 30 days and scale with `days`.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"demo seed must be an int, got {seed!r}")
    if isinstance(start, datetime) or not isinstance(start, date):
        raise TypeError(f"demo start must be a datetime.date, got {start!r}")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"demo days must be between 1 and {MAX_DAYS}, got {days}")

    orgs = []
    for spec in ORG_SPECS:
        org = build_org(spec)

        def planner(part: str, spec_: Any = spec, org_: DemoOrg = org) -> Planner:
            # One independent stream per org and source, so a change in one source's generator
            # does not reshuffle the others.
            return Planner(spec_, org_, seed=f"{seed}:{spec_.slug}:{part}", start=start, days=days)

        slack, slack_expected = build_slack(planner("slack"))
        slack_expected = add_competitor_lines(spec.slug, slack, slack_expected, seed=seed, days=days)
        gmail, gmail_expected = build_gmail(planner("gmail"))
        gong, gong_expected = build_gong(planner("gong"))
        fathom, fathom_expected = build_fathom(planner("fathom"))
        asks = tuple(DemoAsk(a.key, a.title, a.kind, a.trend, a.starts_at) for a in spec.asks)
        # Readers name customers after their e-mail domain, so the truth carries the domain too.
        domains = {c.name: c.domain for c in org.companies}
        expected = [
            replace(item, customer_domain=domains.get(item.customer or ""))
            for item in (*slack_expected, *gmail_expected, *gong_expected, *fathom_expected)
        ]
        orgs.append(
            DemoOrgCorpus(
                org=org,
                asks=asks,
                slack=slack,
                gmail=gmail,
                gong=gong,
                fathom=fathom,
                expected=expected,
            )
        )
    return DemoCorpus(seed=seed, start=start, days=days, orgs=tuple(orgs))
