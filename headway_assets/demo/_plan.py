"""Shared machinery of the demo generators: people, the time window, ids, and feedback text.

A `Planner` holds one seeded random stream plus the organisation's vocabulary; each source
generator gets its own planner. It decides *when* something is said (weekday-weighted days,
business hours in the speaker's region) and *what* feedback is said (category, canonical ask
weighted by the ask's trend on that day, wording, language).
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from headway_assets.demo import content
from headway_assets.demo.content import AskSpec, OrgSpec
from headway_assets.demo.corpus import DemoCompany, DemoOrg, DemoPerson

# Share of messages a non-English speaker writes in their own language when a phrasing exists.
NATIVE_SHARE = 0.45
WEEKEND_WEIGHT = 0.2
# Business hours (UTC, start inclusive, end exclusive) by region.
REGION_HOURS: dict[str, tuple[int, int]] = {
    "us-east": (13, 22),
    "us-west": (16, 24),
    "eu": (7, 17),
    "jp": (0, 9),
    "br": (11, 21),
}
LATEST_START_MARGIN = timedelta(hours=4)
ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_GERMAN_FOLDS = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}


def ascii_fold(text: str) -> str:
    """Fold a name to ASCII for e-mail addresses and Slack handles (`Müller` -> `Mueller`)."""
    for char, repl in _GERMAN_FOLDS.items():
        text = text.replace(char, repl)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def email_local(name: str) -> str:
    """`first.last` for a person's name, ASCII only, without a "Dr." prefix."""
    parts = [p for p in ascii_fold(name).lower().replace("'", "").split() if p != "dr."]
    return ".".join(re.sub(r"[^a-z0-9-]", "", p) for p in (parts[0], parts[-1]))


def build_org(spec: OrgSpec) -> DemoOrg:
    """The `DemoOrg` (people, companies, domains) of an organisation spec."""
    staff = tuple(
        DemoPerson(
            name=s.name,
            email=f"{email_local(s.name)}@{spec.internal_domain}",
            title=s.title,
            company=None,
            language=s.language,
            region="us-east",
        )
        for s in spec.staff
    )
    companies = tuple(
        DemoCompany(
            name=c.name,
            slug=c.slug,
            domain=c.domain,
            language=c.language,
            people=tuple(
                DemoPerson(
                    name=name,
                    email=f"{email_local(name)}@{c.domain}",
                    title=title,
                    company=c.name,
                    language=c.language,
                    region=c.region,
                )
                for name, title in c.people
            ),
        )
        for c in spec.companies
    )
    return DemoOrg(
        slug=spec.slug,
        name=spec.name,
        internal_domains=(spec.internal_domain,),
        companies=companies,
        staff=staff,
        workspace_url=spec.workspace_url,
        support_mailbox=spec.support_address,
    )


@dataclass(frozen=True, slots=True)
class Feedback:
    """One piece of generated feedback (or noise): its text and ground truth."""

    text: str
    category: str
    ask: str | None
    language: str


def split_sentences(text: str) -> list[str]:
    """Split text into sentences on `.`, `!`, `?` and the Japanese full stop."""
    parts = re.split(r"(?<=[.!?。！？])\s+|(?<=[。！？])", text.strip())
    return [p.strip() for p in parts if p and p.strip()]


class Planner:
    """A seeded random stream plus the org's vocabulary and the time window."""

    def __init__(self, spec: OrgSpec, org: DemoOrg, *, seed: str, start: date, days: int) -> None:
        self.spec = spec
        self.org = org
        self.rng = random.Random(seed)
        self.days = days
        self.window_start = datetime(start.year, start.month, start.day, tzinfo=UTC)
        self.window_end = self.window_start + timedelta(days=days)
        self._ids: set[str] = set()
        self._staff_roles = {s.name: s.role for s in spec.staff}
        self._companies = {c.name: c for c in spec.companies}
        self._volumes: dict[str, list[float]] = {}

    # ---- scale ---------------------------------------------------------------------------

    def scaled(self, low: int, high: int, minimum: int = 1) -> int:
        """A count drawn from `[low, high]` for 30 days, scaled to the window length."""
        return max(minimum, round(self.rng.randint(low, high) * self.days / 30))

    # ---- people --------------------------------------------------------------------------

    def staff_with(self, *roles: str) -> list[DemoPerson]:
        """Employees with one of these roles."""
        return [p for p in self.org.staff if self._staff_roles[p.name] in roles]

    def customers(self) -> list[DemoPerson]:
        """Every customer person."""
        return [p for c in self.org.companies for p in c.people]

    def customer(self) -> DemoPerson:
        """A random customer person."""
        return self.rng.choice(self.customers())

    def company_of(self, person: DemoPerson) -> DemoCompany:
        """The customer company a person works for."""
        if person.company is None:
            raise ValueError(f"{person.name} is an employee, not a customer")
        return self.org.company(person.company)

    def shared_channel_companies(self) -> list[DemoCompany]:
        """Customers that share a Slack channel with the org."""
        return [c for c in self.org.companies if self._companies[c.name].shared_channel]

    def mail_style(self, person: DemoPerson) -> str:
        """`gmail`, `outlook` or `generic`: how this person's mail client formats mail."""
        if person.company is None:
            return "gmail"
        return self._companies[person.company].mail_style

    # ---- time ----------------------------------------------------------------------------

    def fraction(self, day: int) -> float:
        """Where a day sits in the window, 0..1 (its middle)."""
        return (day + 0.5) / self.days

    def day_start(self, day: int) -> datetime:
        """UTC midnight of day `day` (0-based) of the window."""
        return self.window_start + timedelta(days=day)

    def pick_day(self, low: int = 0, high: int | None = None) -> int:
        """A day index in `[low, high)`, weekdays about five times as likely as weekend days."""
        high = self.days if high is None else high
        days = list(range(low, high))
        weights = [WEEKEND_WEIGHT if self.day_start(d).weekday() >= 5 else 1.0 for d in days]
        return self.rng.choices(days, weights=weights, k=1)[0]

    def moment(self, day: int, region: str = "us-east") -> datetime:
        """A random second during business hours of `region` on `day`."""
        first, last = REGION_HOURS[region]
        seconds = self.rng.randrange(first * 3600, last * 3600)
        # Leave room before the window closes for replies and follow-ups.
        return min(self.day_start(day) + timedelta(seconds=seconds), self.window_end - LATEST_START_MARGIN)

    def clamp(self, moment: datetime) -> datetime:
        """Keep a moment inside the window (at most one second before its end)."""
        return min(moment, self.window_end - timedelta(seconds=1))

    # ---- ids -----------------------------------------------------------------------------

    def slack_id(self, prefix: str, length: int = 10) -> str:
        """A unique Slack-style id (`U0...`, `C0...`)."""
        while True:
            candidate = prefix + "".join(self.rng.choice(ID_ALPHABET) for _ in range(length))
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate

    def digits(self, length: int) -> str:
        """A unique numeric id string of `length` digits, not starting with 0."""
        while True:
            candidate = str(self.rng.randint(1, 9)) + "".join(str(self.rng.randint(0, 9)) for _ in range(length - 1))
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate

    def token(self, length: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
        """A random token (not registered as unique)."""
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    # ---- text ----------------------------------------------------------------------------

    def fill(self, template: str, /, **fixed: str) -> str:
        """Fill a content template with this planner's random stream."""
        return content.fill(template, self.rng, self.spec, **fixed)

    def volume(self, category: str, day: int) -> float:
        """How much feedback of `category` there is on `day`, relative to the busiest day (0..1].

        Each ask comes up at a rate of weight x trend factor. When rising and new asks add to a
        category, the category gets more items on those days instead of taking items away from
        the steady asks, so a steady ask stays steady in absolute numbers.
        """
        if category not in ("feature_request", "bug_report", "pain_point"):
            return 1.0
        cached = self._volumes.get(category)
        if cached is None:
            cached = [self._category_rate(category, d) for d in range(self.days)]
            self._volumes[category] = cached
        peak = max(cached)
        return cached[day] / peak if peak > 0 else 0.0

    def _category_rate(self, category: str, day: int) -> float:
        fraction = self.fraction(day)
        return sum(a.weight * a.trend_factor(fraction) for a in self.spec.asks if a.phrasings(category))

    def pick_day_for(self, category: str, low: int = 0, high: int | None = None) -> int:
        """A day for an item of `category`: weekday-weighted and proportional to the category's volume."""
        high = self.days if high is None else high
        days = list(range(low, high))
        weights = [
            (WEEKEND_WEIGHT if self.day_start(d).weekday() >= 5 else 1.0) * self.volume(category, d) for d in days
        ]
        if sum(weights) <= 0:
            return self.pick_day(low, high)
        return self.rng.choices(days, weights=weights, k=1)[0]

    def keep(self, category: str, day: int) -> bool:
        """Whether an item of `category` planned for `day` (fixed in advance, like a call) goes ahead."""
        return self.rng.random() < self.volume(category, day)

    def pick_category(self, weights: dict[str, float]) -> str:
        """A category drawn from weights."""
        names = list(weights)
        return self.rng.choices(names, weights=[weights[n] for n in names], k=1)[0]

    def pick_ask(self, category: str, day: int, language: str | None = None) -> AskSpec | None:
        """An ask that can be phrased in `category`, weighted by weight x trend on `day`.

        With `language`, only asks that have a phrasing in that language are candidates.
        """
        fraction = self.fraction(day)
        candidates = []
        for ask in self.spec.asks:
            if language is not None:
                if ask.main_category != category or language not in ask.translations:
                    continue
            elif not ask.phrasings(category):
                continue
            weight = ask.weight * ask.trend_factor(fraction)
            if weight > 0:
                candidates.append((ask, weight))
        if not candidates:
            return None
        return self.rng.choices([a for a, _ in candidates], weights=[w for _, w in candidates], k=1)[0]

    def feedback(self, category: str, person: DemoPerson, day: int) -> Feedback:
        """Feedback of `category` as `person` would say it on `day` (in their language sometimes)."""
        language = person.language
        native = language != "en" and self.rng.random() < NATIVE_SHARE
        if native:
            translated = self._native_feedback(category, language, day)
            if translated is not None:
                return translated
        if category == "praise":
            return Feedback(self.fill(self.rng.choice(content.PRAISE)), "praise", None, "en")
        if category == "question":
            return Feedback(self.fill(self.rng.choice(content.QUESTION_TEMPLATES)), "question", None, "en")
        ask = self.pick_ask(category, day)
        if ask is None:
            raise ValueError(f"demo org {self.spec.slug} has no ask phrased as {category} on day {day}")
        return Feedback(self.ask_text(ask, category), category, ask.key, "en")

    def ask_text(self, ask: AskSpec, category: str) -> str:
        """One English phrasing of an ask in a category."""
        template = self.rng.choice(ask.phrasings(category))
        reason = self.rng.choice(ask.reasons) if ask.reasons else ""
        return self.fill(template, reason=reason).strip()

    def _native_feedback(self, category: str, language: str, day: int) -> Feedback | None:
        if category == "praise":
            bank = content.PRAISE_BY_LANGUAGE.get(language)
            if bank:
                return Feedback(self.fill(self.rng.choice(bank)), category, None, language)
            return None
        if category == "question":
            questions = self.spec.questions_by_language.get(language)
            if questions:
                return Feedback(self.rng.choice(questions), category, None, language)
            return None
        if category in ("feature_request", "bug_report"):
            ask = self.pick_ask(category, day, language=language)
            if ask is not None:
                return Feedback(self.fill(self.rng.choice(ask.translations[language])), category, ask.key, language)
        return None

    def noise_language(self, person: DemoPerson) -> str:
        """The language a person uses for small talk this time."""
        if person.language != "en" and self.rng.random() < NATIVE_SHARE:
            return person.language
        return "en"
