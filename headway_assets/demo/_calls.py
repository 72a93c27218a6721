"""Gong and Fathom generators: long, speaker-attributed call transcripts with feedback moments.

One script writer serves both vendors. A script is a list of turns (speaker, sentences,
topic): small talk, agenda, demo/usage/pricing/scheduling blocks, and a few feedback
moments in between. Timing comes from the text length at a steady speaking rate, so a
transcript's timestamps, the call's duration and the talk times agree with each other.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from headway_assets.core.limits import OVERSIZED_CHARS
from headway_assets.demo import content
from headway_assets.demo._plan import Planner, split_sentences
from headway_assets.demo.corpus import (
    DemoCompany,
    DemoPerson,
    ExpectedItem,
    FathomData,
    GongData,
)

MOMENT_MIX = {
    "feature_request": 0.42,
    "pain_point": 0.2,
    "bug_report": 0.14,
    "question": 0.14,
    "praise": 0.10,
}
RELAY_MIX = {"feature_request": 0.55, "pain_point": 0.2, "bug_report": 0.15, "praise": 0.10}
# When several feedback kinds tie in one call, the call is labelled with the earliest of these.
CATEGORY_PRIORITY = ("feature_request", "bug_report", "pain_point", "question", "praise")
# (head sections, body sections, tail sections, title template) per kind of call.
CALL_PLANS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]] = {
    "discovery": (
        ("small_talk", "agenda"),
        ("discovery", "demo"),
        ("pricing", "next_steps", "closing"),
        "Discovery call – {company}",
    ),
    "demo": (
        ("small_talk", "agenda"),
        ("demo", "discovery"),
        ("pricing", "next_steps", "closing"),
        "{product} demo for {company}",
    ),
    "qbr": (
        ("small_talk", "agenda"),
        ("usage", "roadmap"),
        ("pricing", "next_steps", "closing"),
        "{company} <> {org} | Quarterly business review",
    ),
    "onboarding": (
        ("small_talk", "agenda"),
        ("setup", "demo"),
        ("next_steps", "closing"),
        "Onboarding: {company} – session {session}",
    ),
    "renewal": (
        ("small_talk", "agenda"),
        ("usage",),
        ("pricing", "next_steps", "closing"),
        "{company} renewal discussion",
    ),
    "escalation": (
        ("small_talk",),
        ("issue", "roadmap"),
        ("next_steps", "closing"),
        "{company} escalation review",
    ),
    "checkin": (
        ("small_talk", "agenda"),
        ("usage", "demo"),
        ("next_steps", "closing"),
        "{org} / {company} – weekly check-in",
    ),
    "workshop": (
        ("small_talk", "agenda"),
        ("setup", "demo", "usage", "roadmap", "discovery"),
        ("pricing", "next_steps", "closing"),
        "{company} × {org} | Hands-on workshop (3h)",
    ),
    "internal": (("small_talk",), ("sync",), ("next_steps", "closing"), "{title}"),
}
GONG_KINDS = {
    "discovery": 0.2,
    "demo": 0.2,
    "qbr": 0.2,
    "onboarding": 0.15,
    "renewal": 0.15,
    "escalation": 0.1,
}
FATHOM_KINDS = {
    "checkin": 0.3,
    "onboarding": 0.2,
    "qbr": 0.15,
    "escalation": 0.1,
    "demo": 0.1,
    "internal": 0.15,
}
INTERNAL_TITLES = (
    "Weekly product feedback review",
    "Support / Product sync",
    "Roadmap review",
    "CS team standup",
)
WORKSHOP_SECONDS = 3 * 3600
CHARS_PER_SECOND = 15.0
SHARE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
SYSTEMS = ("Zoom", "Google Meet", "Microsoft Teams")
FR_FOLLOW_UPS = (
    "We've been asking for it for a while now.",
    "It would make a real difference for the whole team.",
    "If you had that, we'd roll it out much more widely.",
    "Honestly it's the number one thing on our list.",
)


@dataclass(slots=True)
class _Participant:
    person: DemoPerson
    speaks: bool = True
    attended: bool = True


@dataclass(slots=True)
class _Turn:
    speaker: int
    sentences: list[str]
    topic: str | None
    pause: float = 0.0
    timings: list[tuple[float, float]] = field(default_factory=list)

    @property
    def chars(self) -> int:
        return sum(len(s) + 1 for s in self.sentences)


@dataclass(slots=True)
class _Moment:
    category: str
    ask: str | None


@dataclass(slots=True)
class _Script:
    participants: list[_Participant]
    turns: list[_Turn]
    moments: list[_Moment]
    duration: float

    @property
    def text_length(self) -> int:
        return sum(len(" ".join(t.sentences)) + 1 for t in self.turns)


class _ScriptWriter:
    """Writes one call: blocks of turns per section until the target length, with feedback moments."""

    def __init__(
        self,
        planner: Planner,
        participants: list[_Participant],
        company: DemoCompany | None,
        kind: str,
        day: int,
    ) -> None:
        self.p = planner
        self.rng = planner.rng
        self.participants = participants
        self.company = company
        self.kind = kind
        self.day = day
        speakers = [i for i, part in enumerate(participants) if part.speaks]
        self.internal = [i for i in speakers if participants[i].person.is_internal]
        self.external = [i for i in speakers if not participants[i].person.is_internal] or self.internal
        self._decks: dict[tuple[str, int], list[str]] = {}

    def _fill(self, line: str, speaker: int) -> str:
        others = [
            self.participants[i].person.first_name
            for i, part in enumerate(self.participants)
            if i != speaker and not part.person.is_internal
        ]
        return self.p.fill(line, first2=self.rng.choice(others) if others else "a colleague")

    def _draw(self, key: tuple[str, int], lines: tuple[str, ...]) -> str:
        """The next line of a shuffled deck, so a long call cycles through a bank before repeating."""
        deck = self._decks.get(key)
        if not deck:
            deck = list(lines)
            self.rng.shuffle(deck)
            self._decks[key] = deck
        return deck.pop()

    def block(self, section: str) -> list[_Turn]:
        rng = self.rng
        topic = content.SECTION_TOPICS.get(section, "Product Feedback")
        if section == "demo":
            lines = (self.p.spec.demo_internal, self.p.spec.demo_external)
        elif section == "sync":
            lines = (content.INTERNAL_SYNC_LINES, content.INTERNAL_SYNC_LINES)
            topic = "Product Feedback"
        else:
            lines = content.CALL_SECTIONS[section]
        turns: list[_Turn] = []
        side = 0
        for _ in range(rng.randint(2, 5)):
            pool = self.internal if side == 0 else self.external
            speaker = rng.choice(pool)
            sentences: list[str] = []
            for _ in range(rng.randint(1, 3)):
                sentences.extend(split_sentences(self._fill(self._draw((section, side), lines[side]), speaker)))
            turns.append(_Turn(speaker, sentences, topic))
            roll = rng.random()
            if roll < 0.3:
                other = rng.choice(self.external if side == 0 else self.internal)
                bank = content.BACKCHANNEL if roll < 0.22 else content.CALL_CHATTER
                turns.append(_Turn(other, [rng.choice(bank)], topic))
            side = 1 - side
        return turns

    def moment(self, category: str) -> tuple[list[_Turn], _Moment]:
        rng, p = self.rng, self.p
        topic = "Product Feedback"
        if self.kind == "internal":
            speaker = rng.choice(self.internal)
            customer = p.customer()
            english = dataclasses.replace(customer, language="en")
            fb = p.feedback(category, english, self.day)
            leadin = p.fill(
                rng.choice(content.INTERNAL_RELAY_LEADINS),
                company=customer.company or "",
                person=customer.first_name,
            )
            turns = [
                _Turn(
                    speaker,
                    [leadin + ": " + split_sentences(fb.text)[0], *split_sentences(fb.text)[1:]],
                    topic,
                )
            ]
            responder = rng.choice([i for i in self.internal if i != speaker] or self.internal)
            line = self._draw(("sync", 0), content.INTERNAL_SYNC_LINES)
            turns.append(_Turn(responder, split_sentences(self._fill(line, responder)), topic))
            return turns, _Moment(fb.category, fb.ask)
        speaker = rng.choice(self.external)
        person = dataclasses.replace(self.participants[speaker].person, language="en")
        fb = p.feedback(category, person, self.day)
        sentences = split_sentences(fb.text)
        if rng.random() < 0.7:
            sentences.insert(0, rng.choice(content.FEEDBACK_LEADINS))
        turns = [_Turn(speaker, sentences, topic)]
        responder = rng.choice(self.internal)
        response = self._fill(rng.choice(content.FEEDBACK_RESPONSES[fb.category]), responder)
        turns.append(_Turn(responder, split_sentences(response), topic))
        if fb.category == "feature_request" and rng.random() < 0.5:
            turns.append(_Turn(speaker, [rng.choice(FR_FOLLOW_UPS)], topic))
        return turns, _Moment(fb.category, fb.ask)

    def write(self, target_chars: int, moment_count: int) -> _Script:
        rng = self.rng
        head, body_sections, tail, _ = CALL_PLANS[self.kind]
        head_blocks = [self.block(s) for s in head]
        company = self.company
        if company is not None and company.language in content.NON_ENGLISH_CALL_GREETINGS:
            speaker = rng.choice(self.external)
            greeting = rng.choice(content.NON_ENGLISH_CALL_GREETINGS[company.language])
            head_blocks[0].insert(0, _Turn(speaker, split_sentences(greeting), "Small Talk"))
        tail_blocks = [self.block(s) for s in tail]
        mix = RELAY_MIX if self.kind == "internal" else MOMENT_MIX
        moments = []
        for _ in range(moment_count):
            category = self.p.pick_category(mix)
            # Fewer moments of a kind on days when less of it is said (see Planner.volume).
            if self.p.keep(category, self.day):
                moments.append(self.moment(category))
        moment_count = len(moments)
        used = sum(t.chars for b in head_blocks + tail_blocks for t in b) + sum(t.chars for m in moments for t in m[0])
        body_blocks: list[list[_Turn]] = []
        while used < target_chars or not body_blocks:
            block = self.block(rng.choice(body_sections))
            body_blocks.append(block)
            used += sum(t.chars for t in block)
        positions = sorted(rng.sample(range(len(body_blocks) + 1), k=min(moment_count, len(body_blocks) + 1)))
        for offset, position in enumerate(positions):
            body_blocks.insert(position + offset, moments[offset][0])
        turns = [t for b in head_blocks + body_blocks + tail_blocks for t in b]
        duration = self._time(turns, 0.0)
        return _Script(self.participants, turns, [m for _, m in moments], duration)

    def stretch(self, script: _Script, seconds: float) -> None:
        """Re-time a script to last about `seconds`, with long hands-on silences in between."""
        script.duration = self._time(script.turns, max(0.0, seconds - script.duration))

    def _time(self, turns: list[_Turn], extra_pause: float) -> float:
        rng = self.rng
        # Long silences (hands-on exercises, screen shares) spread over a few gaps.
        breaks: dict[int, float] = {}
        if extra_pause > 0 and len(turns) > 10:
            gaps = rng.sample(range(1, len(turns)), k=min(12, len(turns) - 1))
            for gap in gaps:
                breaks[gap] = extra_pause / len(gaps)
        clock = rng.uniform(2.0, 20.0)
        for index, turn in enumerate(turns):
            clock += rng.uniform(0.3, 1.8) + breaks.get(index, 0.0)
            turn.timings = []
            rate = rng.uniform(0.85, 1.15) * CHARS_PER_SECOND
            for sentence in turn.sentences:
                length = max(0.6, len(sentence) / rate)
                turn.timings.append((clock, clock + length))
                clock += length + rng.uniform(0.1, 0.5)
        return clock + rng.uniform(5.0, 40.0)


def _category_of(moments: list[_Moment]) -> str:
    if not moments:
        return "other"
    counts = Counter(m.category for m in moments)
    best = max(counts.values())
    return next(c for c in CATEGORY_PRIORITY if counts.get(c) == best)


def _asks_of(moments: list[_Moment]) -> tuple[str, ...]:
    asks: list[str] = []
    for moment in moments:
        if moment.ask and moment.ask not in asks:
            asks.append(moment.ask)
    return tuple(asks)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hms(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class _CallPlanner:
    """Picks who is on a call, when, and how long it runs; shared by both vendors."""

    def __init__(self, planner: Planner) -> None:
        self.p = planner
        self.rng = planner.rng

    def participants(self, company: DemoCompany | None, kind: str) -> list[_Participant]:
        rng, p = self.rng, self.p
        if kind == "internal":
            people = rng.sample(p.staff_with("pm", "csm", "support", "eng", "ae"), rng.randint(3, 5))
            return [_Participant(person) for person in people]
        assert company is not None
        roles = {
            "discovery": ("ae", "se"),
            "demo": ("ae", "se"),
            "qbr": ("csm", "ae"),
            "onboarding": ("csm", "se"),
            "renewal": ("ae", "csm"),
            "escalation": ("csm", "support", "eng"),
            "checkin": ("csm",),
            "workshop": ("se", "csm", "pm"),
        }[kind]
        internal = [rng.choice(p.staff_with(role)) for role in roles]
        internal = list(dict.fromkeys(internal))[: rng.randint(1, len(roles))] or internal[:1]
        external = rng.sample(list(company.people), rng.randint(1, len(company.people)))
        result = [_Participant(person) for person in internal + external]
        if len(external) > 1 and rng.random() < 0.3:
            result[-1].speaks = False
            result[-1].attended = rng.random() < 0.5
        return result

    def start(self, day: int, company: DemoCompany | None, workshop: bool = False) -> datetime:
        rng, p = self.rng, self.p
        if workshop:
            hour = 13
        elif company is not None and company.people[0].region == "jp":
            hour = rng.choice((0, 1, 2))
        elif company is not None and company.people[0].region == "eu":
            hour = rng.choice((13, 14, 15))
        else:
            hour = rng.choice((14, 15, 16, 17, 18, 19, 20))
        return p.day_start(day) + timedelta(hours=hour, minutes=rng.choice((0, 0, 30)))

    def target_chars(self) -> int:
        # Log-uniform between 3,500 and 28,000 characters: many short calls, some long ones.
        return int(3500 * (8 ** self.rng.random()))

    def moment_count(self, target: int) -> int:
        if self.rng.random() < 0.08:
            return 0
        return self.rng.randint(2, 4) if target < 9000 else self.rng.randint(3, 6)


# ---- Gong ------------------------------------------------------------------------------------


def build_gong(planner: Planner) -> tuple[GongData, list[ExpectedItem]]:
    """Generate one organisation's Gong calls (extensive items and transcripts) and their ground truth."""
    p, rng = planner, planner.rng
    cp = _CallPlanner(planner)
    workspace_id = p.digits(18)
    user_ids: dict[str, str] = {}
    users = []
    for person in p.org.staff:
        user_ids[person.email] = p.digits(15)
        first, _, last = person.name.partition(" ")
        users.append(
            {
                "id": user_ids[person.email],
                "emailAddress": person.email,
                "created": _iso(p.window_start - timedelta(days=rng.randint(60, 700))),
                "active": True,
                "emailAliases": [],
                "trustedEmailAddress": person.email,
                "firstName": first,
                "lastName": last,
                "title": person.title,
                "phoneNumber": None,
                "extension": None,
                "personalMeetingUrls": [],
                "settings": {
                    "webConferencesRecorded": True,
                    "preventWebConferenceRecording": False,
                    "telephonyCallsImported": False,
                    "emailsImported": True,
                    "preventEmailImport": False,
                    "nonRecordedMeetingsImported": False,
                    "gongConnectEnabled": True,
                },
                "managerId": None,
                "meetingConsentPageUrl": None,
                "spokenLanguages": [{"language": "en-US", "primary": True}],
            }
        )
    count = p.scaled(40, 44)
    plans: list[tuple[str, int]] = []
    if "gong_workshop" in p.spec.oversized:
        plans.append(("workshop", p.pick_day(p.days // 3, max(p.days // 3 + 1, p.days * 2 // 3))))
    kinds = list(GONG_KINDS)
    while len(plans) < count:
        plans.append((rng.choices(kinds, weights=[GONG_KINDS[k] for k in kinds], k=1)[0], p.pick_day()))
    calls: list[tuple[datetime, dict[str, Any], dict[str, Any], ExpectedItem]] = []
    for kind, day in plans:
        company = rng.choice(p.org.companies)
        participants = cp.participants(company, kind)
        writer = _ScriptWriter(p, participants, company, kind, day)
        if kind == "workshop":
            script = writer.write(OVERSIZED_CHARS + 22_000, 8)
            writer.stretch(script, WORKSHOP_SECONDS)
        else:
            target = cp.target_chars()
            script = writer.write(target, cp.moment_count(target))
        scheduled = cp.start(day, company, workshop=kind == "workshop")
        started = scheduled + timedelta(seconds=rng.randint(0, 240))
        call_id = p.digits(19)
        parties, speaker_ids = [], {}
        for index, part in enumerate(participants):
            person = part.person
            party: dict[str, Any] = {
                "id": p.digits(14),
                "emailAddress": person.email,
                "name": person.name,
                "title": person.title,
            }
            if person.is_internal:
                party["userId"] = user_ids[person.email]
            if part.speaks:
                speaker_ids[index] = p.digits(19)
                party["speakerId"] = speaker_ids[index]
            party["affiliation"] = "Internal" if person.is_internal else "External"
            party["methods"] = ["Invitee", "Attendee"] if part.attended else ["Invitee"]
            party["phoneNumber"] = None
            party["context"] = []
            parties.append(party)
        primary = next(part.person for part in participants if part.person.is_internal)
        title = p.fill(CALL_PLANS[kind][3], company=company.name, org=p.org.name, session=str(rng.randint(1, 4)))
        system = rng.choice(SYSTEMS)
        topics: dict[str, float] = {}
        talk: dict[int, float] = {}
        monologues = []
        for turn in script.turns:
            spoken = sum(end - start for start, end in turn.timings)
            talk[turn.speaker] = talk.get(turn.speaker, 0.0) + spoken
            if turn.topic:
                topics[turn.topic] = topics.get(turn.topic, 0.0) + spoken
            monologues.append(
                {
                    "speakerId": speaker_ids[turn.speaker],
                    "topic": turn.topic,
                    "sentences": [
                        {"start": int(start * 1000), "end": int(end * 1000), "text": text}
                        for text, (start, end) in zip(turn.sentences, turn.timings, strict=True)
                    ],
                }
            )
        call = {
            "metaData": {
                "id": call_id,
                "url": f"https://app.gong.io/call?id={call_id}",
                "title": title,
                "scheduled": _iso(scheduled),
                "started": _iso(started),
                "duration": int(script.duration),
                "primaryUserId": user_ids[primary.email],
                "direction": "Conference",
                "system": system,
                "scope": "External",
                "media": "Video",
                "language": "eng",
                "workspaceId": workspace_id,
                "isPrivate": False,
                "meetingUrl": f"https://zoom.example/j/{p.digits(11)}"
                if system == "Zoom"
                else f"https://meet.example/{p.token(3)}-{p.token(4)}-{p.token(3)}",
                "calendarEventId": p.token(26),
                "clientUniqueId": None,
                "customData": None,
                "purpose": None,
                "sdrDisposition": None,
            },
            "parties": parties,
            "content": {
                "topics": [{"name": name, "duration": int(seconds)} for name, seconds in sorted(topics.items())]
            },
            "interaction": {
                "speakers": [
                    {
                        "id": parties[i]["id"],
                        **({"userId": parties[i]["userId"]} if "userId" in parties[i] else {}),
                        "talkTime": round(talk[i], 1),
                    }
                    for i in sorted(talk)
                ]
            },
        }
        transcript = {"callId": call_id, "transcript": monologues}
        asks = _asks_of(script.moments)
        expected = ExpectedItem(
            source="gong",
            external_id=call_id,
            sent_at=started,
            category=_category_of(script.moments),
            ask=asks[0] if asks else None,
            asks=asks,
            kind="workshop" if kind == "workshop" else "call",
            language="en",
            oversized=script.text_length > OVERSIZED_CHARS,
            customer=company.name,
            author_is_internal=None,
        )
        calls.append((started, call, transcript, expected))
    calls.sort(key=lambda c: (c[0], c[1]["metaData"]["id"]))
    data = GongData(
        workspace_id=workspace_id, users=users, calls=[c[1] for c in calls], transcripts=[c[2] for c in calls]
    )
    return data, [c[3] for c in calls]


# ---- Fathom ----------------------------------------------------------------------------------


def build_fathom(planner: Planner) -> tuple[FathomData, list[ExpectedItem]]:
    """Generate one organisation's Fathom meetings (Meeting objects with transcripts) and the ground truth."""
    p, rng = planner, planner.rng
    cp = _CallPlanner(planner)
    teams = {s.name: s.team for s in p.spec.staff}
    count = p.scaled(40, 44)
    plans: list[tuple[str, int]] = []
    if "fathom_workshop" in p.spec.oversized:
        plans.append(("workshop", p.pick_day(p.days // 3, max(p.days // 3 + 1, p.days * 2 // 3))))
    kinds = list(FATHOM_KINDS)
    while len(plans) < count:
        plans.append((rng.choices(kinds, weights=[FATHOM_KINDS[k] for k in kinds], k=1)[0], p.pick_day()))
    meetings: list[tuple[datetime, dict[str, Any], ExpectedItem]] = []
    for kind, day in plans:
        company = None if kind == "internal" else rng.choice(p.org.companies)
        participants = cp.participants(company, kind)
        writer = _ScriptWriter(p, participants, company, kind, day)
        if kind == "workshop":
            script = writer.write(OVERSIZED_CHARS + 20_000, 8)
            writer.stretch(script, WORKSHOP_SECONDS)
        else:
            target = cp.target_chars()
            script = writer.write(target, cp.moment_count(target))
        scheduled_start = cp.start(day, company, workshop=kind == "workshop")
        slot = 30 * 60
        while slot < script.duration:
            slot += 15 * 60
        recording_start = scheduled_start + timedelta(seconds=rng.randint(0, 180))
        recording_end = recording_start + timedelta(seconds=int(script.duration))
        created = recording_end + timedelta(seconds=rng.randint(60, 540))
        recorder = next(part.person for part in participants if part.person.is_internal)
        recording_id = int(p.digits(9))
        unmatched = {
            i
            for i, part in enumerate(participants)
            if not part.person.is_internal and part.speaks and rng.random() < 0.15
        }
        spoke = {turn.speaker for turn in script.turns}
        invitees = []
        for index, part in enumerate(participants):
            person = part.person
            invitee: dict[str, Any] = {
                "name": person.name,
                "email": person.email,
                "email_domain": person.domain,
                "is_external": not person.is_internal,
            }
            if index in spoke and index not in unmatched:
                invitee["matched_speaker_display_name"] = person.name
            invitees.append(invitee)
        transcript = []
        for turn in script.turns:
            person = participants[turn.speaker].person
            speaker: dict[str, Any] = {"display_name": person.name}
            if turn.speaker not in unmatched:
                speaker["matched_calendar_invitee_email"] = person.email
            elif rng.random() < 0.5:
                speaker["matched_calendar_invitee_email"] = None
            transcript.append(
                {"speaker": speaker, "text": " ".join(turn.sentences), "timestamp": _hms(turn.timings[0][0])}
            )
        if kind == "internal":
            title = rng.choice(INTERNAL_TITLES)
        else:
            title = p.fill(
                CALL_PLANS[kind][3],
                company=company.name if company else "",
                org=p.org.name,
                session=str(rng.randint(1, 4)),
                product=p.spec.product,
            )
        meeting_url = (
            f"https://meet.google.com/{p.token(3, 'abcdefghijklmnopqrstuvwxyz')}-"
            f"{p.token(4, 'abcdefghijklmnopqrstuvwxyz')}-{p.token(3, 'abcdefghijklmnopqrstuvwxyz')}"
        )
        meeting = {
            "title": title if rng.random() < 0.8 else f"Meeting with {company.name}" if company else title,
            "meeting_title": title,
            "recording_id": recording_id,
            "url": f"https://fathom.video/calls/{recording_id}",
            "share_url": f"https://fathom.video/share/{p.token(22, SHARE_ALPHABET)}",
            "created_at": _iso(created),
            "scheduled_start_time": _iso(scheduled_start),
            "scheduled_end_time": _iso(scheduled_start + timedelta(seconds=slot)),
            "recording_start_time": _iso(recording_start),
            "recording_end_time": _iso(recording_end),
            "calendar_invitees_domains_type": "only_internal" if kind == "internal" else "one_or_more_external",
            "shared_with": rng.choice(("single_team", "single_team", "multiple_teams", "no_teams", "all_teams")),
            "meeting_type": None,
            "meeting_url": meeting_url,
            "transcript_language": "en",
            "calendar_invitees": invitees,
            "recorded_by": {
                "name": recorder.name,
                "email": recorder.email,
                "email_domain": recorder.domain,
                "team": teams[recorder.name],
            },
            "transcript": transcript,
            "default_summary": None,
            "action_items": None,
            "crm_matches": None,
        }
        asks = _asks_of(script.moments)
        expected = ExpectedItem(
            source="fathom",
            external_id=str(recording_id),
            sent_at=recording_start,
            category=_category_of(script.moments),
            ask=asks[0] if asks else None,
            asks=asks,
            kind={"workshop": "workshop", "internal": "internal_meeting"}.get(kind, "meeting"),
            language="en",
            oversized=script.text_length > OVERSIZED_CHARS,
            customer=company.name if company else None,
            author_is_internal=None,
        )
        meetings.append((created, meeting, expected))
    meetings.sort(key=lambda m: (m[0], m[1]["recording_id"]))
    return FathomData(meetings=[m[1] for m in meetings]), [m[2] for m in meetings]
