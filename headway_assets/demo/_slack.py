"""Slack generator: a workspace with shared customer channels, internal channels, threads and noise."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from headway_assets.core.limits import OVERSIZED_CHARS
from headway_assets.demo import content
from headway_assets.demo._plan import Feedback, Planner, ascii_fold
from headway_assets.demo.corpus import DemoCompany, DemoPerson, ExpectedItem, SlackWorkspace

CUSTOMER_MIX = {
    "feature_request": 0.36,
    "bug_report": 0.22,
    "pain_point": 0.14,
    "praise": 0.10,
    "question": 0.18,
}
RELAY_MIX = {"feature_request": 0.5, "pain_point": 0.2, "bug_report": 0.15, "praise": 0.15}
SUPPORT_MIX = {"bug_report": 0.6, "question": 0.25, "pain_point": 0.15}
REACTIONS = ("+1", "eyes", "pray", "tada", "heart", "white_check_mark", "raised_hands", "joy", "rocket")
FEEDBACK_CHANNEL_NOISE = (
    "Reminder: please include the customer name and ARR when posting here 🙏",
    "Roadmap review moved to Thursday.",
    "I'll summarise this channel for the monthly product review.",
    "Lots of good feedback this week, thanks everyone!",
)
# Share of the workspace's messages each channel kind gets.
CHANNEL_SHARES = {"ext": 0.44, "customer-feedback": 0.16, "support": 0.18, "general": 0.12, "random": 0.10}


@dataclass(slots=True)
class _Meta:
    category: str = "other"
    ask: str | None = None
    kind: str = "message"
    language: str = "en"
    customer: str | None = None
    internal: bool | None = None
    oversized: bool = False


@dataclass(slots=True)
class _Message:
    channel_id: str
    ts: str
    sent_at: datetime
    body: dict[str, Any]
    meta: _Meta
    replies: list[_Message] = field(default_factory=list)


class _SlackBuilder:
    def __init__(self, planner: Planner) -> None:
        self.p = planner
        self.rng = planner.rng
        self.team_id = planner.slack_id("T0", 9)
        self.used_ts: dict[str, set[str]] = {}
        self.user_ids: dict[str, str] = {}
        self.users: list[dict[str, Any]] = []
        self.bot_ids: dict[str, str] = {}
        self.company_teams: dict[str, str] = {}
        self.channels: list[dict[str, Any]] = []
        self.members: dict[str, list[str]] = {}
        self.top: dict[str, list[_Message]] = {}
        self.csm_of: dict[str, DemoPerson] = {}

    # ---- setup ---------------------------------------------------------------------------

    def setup(self) -> None:
        for person in self.p.org.staff:
            self._add_user(person, self.team_id)
        for company in self.p.shared_channel_companies():
            team = self.p.slack_id("T0", 9)
            self.company_teams[company.name] = team
            for person in company.people:
                self._add_user(person, team)
        for key, name in content.BOTS:
            self._add_bot(key, name)
        staff = list(self.p.org.staff)
        staff_ids = [self.user_ids[s.email] for s in staff]
        ops_ids = [self.user_ids[s.email] for s in self.p.staff_with("support", "eng", "csm", "pm")]
        self._add_channel("general", "Company-wide announcements and work-based matters", staff_ids, general=True)
        self._add_channel("random", "Non-work banter and water cooler conversation", staff_ids)
        self._add_channel("support", "Support escalations and ticket chatter", ops_ids)
        self._add_channel("customer-feedback", "Post what customers tell us: quotes, asks, complaints", staff_ids)
        csms = self.p.staff_with("csm")
        for index, company in enumerate(self.p.shared_channel_companies()):
            csm = csms[index % len(csms)]
            self.csm_of[company.name] = csm
            ae = self.p.staff_with("ae")[index % len(self.p.staff_with("ae"))]
            ids = [self.user_ids[csm.email], self.user_ids[ae.email]] + [self.user_ids[p.email] for p in company.people]
            self._add_channel(
                f"ext-{company.slug}",
                f"Shared channel between {self.p.org.name} and {company.name}",
                ids,
                shared=True,
            )

    def _add_user(self, person: DemoPerson, team: str) -> None:
        uid = self.p.slack_id("U0", 9)
        self.user_ids[person.email] = uid
        handle = ascii_fold(person.name).lower().replace("dr. ", "").replace(" ", ".")
        tz, label, offset = {
            "us-east": ("America/New_York", "Eastern Standard Time", -18000),
            "us-west": ("America/Los_Angeles", "Pacific Standard Time", -28800),
            "eu": ("Europe/Berlin", "Central European Time", 3600),
            "jp": ("Asia/Tokyo", "Japan Standard Time", 32400),
            "br": ("America/Sao_Paulo", "Brasilia Standard Time", -10800),
        }[person.region]
        first, _, last = person.name.partition(" ")
        self.users.append(
            {
                "id": uid,
                "team_id": team,
                "name": handle,
                "deleted": False,
                "color": self.p.token(6, "0123456789abcdef"),
                "real_name": person.name,
                "tz": tz,
                "tz_label": label,
                "tz_offset": offset,
                "profile": {
                    "title": person.title,
                    "phone": "",
                    "real_name": person.name,
                    "real_name_normalized": ascii_fold(person.name),
                    "display_name": person.first_name,
                    "display_name_normalized": ascii_fold(person.first_name),
                    "email": person.email,
                    "first_name": first,
                    "last_name": last,
                    "image_72": f"https://avatars.slack-edge.example/{uid}_72.png",
                    "team": team,
                },
                "is_admin": person.is_internal and person.title == "CEO",
                "is_owner": person.is_internal and person.title == "CEO",
                "is_bot": False,
                "is_app_user": False,
                "updated": int(self.p.window_start.timestamp()) - 86400 * self.rng.randint(5, 400),
            }
        )

    def _add_bot(self, key: str, name: str) -> None:
        uid = self.p.slack_id("U0", 9)
        bot_id = self.p.slack_id("B0", 9)
        self.bot_ids[key] = bot_id
        self.users.append(
            {
                "id": uid,
                "team_id": self.team_id,
                "name": key,
                "deleted": False,
                "real_name": name,
                "profile": {
                    "real_name": name,
                    "display_name": "",
                    "bot_id": bot_id,
                    "image_72": f"https://avatars.slack-edge.example/{bot_id}_72.png",
                    "team": self.team_id,
                },
                "is_admin": False,
                "is_owner": False,
                "is_bot": True,
                "is_app_user": False,
                "updated": int(self.p.window_start.timestamp()) - 86400 * 30,
            }
        )

    def _add_channel(
        self, name: str, purpose: str, members: list[str], *, general: bool = False, shared: bool = False
    ) -> None:
        cid = self.p.slack_id("C0", 9)
        creator = members[0]
        created = int(self.p.window_start.timestamp()) - 86400 * self.rng.randint(40, 900)
        self.channels.append(
            {
                "id": cid,
                "name": name,
                "is_channel": True,
                "is_group": False,
                "is_im": False,
                "is_mpim": False,
                "is_private": False,
                "is_archived": False,
                "is_general": general,
                "is_shared": shared,
                "is_ext_shared": shared,
                "is_org_shared": False,
                "is_member": True,
                "created": created,
                "creator": creator,
                "name_normalized": name,
                "num_members": len(members),
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": purpose, "creator": creator, "last_set": created},
                "previous_names": [],
                "updated": created * 1000,
            }
        )
        self.members[cid] = list(members)
        self.top[cid] = []
        self.used_ts[cid] = set()

    def channel_id(self, name: str) -> str:
        return next(c["id"] for c in self.channels if c["name"] == name)

    # ---- message primitives --------------------------------------------------------------

    def _ts(self, channel_id: str, moment: datetime) -> tuple[str, datetime]:
        """A `ts` unique in the channel for a moment, and the exact instant it stands for."""
        seconds = int(moment.timestamp())
        micros = self.rng.randint(0, 999_899)
        while f"{seconds}.{micros:06d}" in self.used_ts[channel_id]:
            micros = (micros + 1) % 1_000_000
        ts = f"{seconds}.{micros:06d}"
        self.used_ts[channel_id].add(ts)
        return ts, datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=micros)

    def uid(self, person: DemoPerson) -> str:
        return self.user_ids[person.email]

    def _team_of(self, person: DemoPerson) -> str:
        return self.team_id if person.company is None else self.company_teams.get(person.company, self.team_id)

    def user_message(self, channel_id: str, moment: datetime, person: DemoPerson, text: str, meta: _Meta) -> _Message:
        ts, moment = self._ts(channel_id, moment)
        body: dict[str, Any] = {
            "client_msg_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "type": "message",
            "text": text,
            "user": self.uid(person),
            "ts": ts,
            "team": self._team_of(person),
        }
        meta.internal = person.is_internal
        if meta.customer is None and person.company is not None:
            meta.customer = person.company
        if self.rng.random() < 0.06:
            edit_at = self.p.clamp(moment + timedelta(seconds=self.rng.randint(20, 900)))
            body["edited"] = {"user": body["user"], "ts": f"{int(edit_at.timestamp())}.000000"}
        if self.rng.random() < 0.16:
            members = [m for m in self.members[channel_id] if m != body["user"]]
            picks = self.rng.sample(members, k=min(len(members), self.rng.randint(1, 3)))
            name = self.rng.choice(REACTIONS)
            body["reactions"] = [{"name": name, "users": picks, "count": len(picks)}]
        return _Message(channel_id, ts, moment, body, meta)

    def file_message(
        self, channel_id: str, moment: datetime, person: DemoPerson, text: str, meta: _Meta, filename: str
    ) -> _Message:
        message = self.user_message(channel_id, moment, person, text, meta)
        uid = self.uid(person)
        file_id = self.p.slack_id("F0", 9)
        ext = filename.rsplit(".", 1)[1]
        mimetype = {"png": "image/png", "jpg": "image/jpeg", "pdf": "application/pdf", "csv": "text/csv"}[ext]
        created = int(moment.timestamp())
        message.body.pop("client_msg_id", None)
        message.body["subtype"] = "file_share"
        message.body["upload"] = True
        message.body["display_as_bot"] = False
        message.body["files"] = [
            {
                "id": file_id,
                "created": created,
                "timestamp": created,
                "name": filename,
                "title": filename,
                "mimetype": mimetype,
                "filetype": ext,
                "pretty_type": ext.upper(),
                "user": uid,
                "mode": "hosted",
                "is_external": False,
                "size": self.rng.randint(20_000, 900_000),
                "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{file_id}/{filename}",
                "url_private_download": (
                    f"https://files.slack.com/files-pri/{self.team_id}-{file_id}/download/{filename}"
                ),
                "permalink": f"{self.p.org.workspace_url}/files/{uid}/{file_id}/{filename}",
            }
        ]
        message.meta.kind = "file_share"
        return message

    def bot_message(self, channel_id: str, moment: datetime, bot: str, text: str) -> _Message:
        ts, moment = self._ts(channel_id, moment)
        name = dict(content.BOTS)[bot]
        body = {
            "type": "message",
            "subtype": "bot_message",
            "text": text,
            "ts": ts,
            "bot_id": self.bot_ids[bot],
            "username": name,
            "icons": {"image_48": f"https://avatars.slack-edge.example/{self.bot_ids[bot]}_48.png"},
        }
        return _Message(channel_id, ts, moment, body, _Meta(kind="bot_message", internal=True))

    def slackbot_message(self, channel_id: str, moment: datetime) -> _Message:
        ts, moment = self._ts(channel_id, moment)
        body = {
            "type": "message",
            "user": "USLACKBOT",
            "text": self.rng.choice(content.SLACKBOT_TEXTS),
            "ts": ts,
        }
        return _Message(channel_id, ts, moment, body, _Meta(kind="slackbot", internal=True))

    def housekeeping(
        self, channel_id: str, moment: datetime, person: DemoPerson, subtype: str, value: str = ""
    ) -> _Message:
        ts, moment = self._ts(channel_id, moment)
        uid = self.uid(person)
        text = {
            "channel_join": f"<@{uid}> has joined the channel",
            "channel_leave": f"<@{uid}> has left the channel",
            "channel_topic": f"<@{uid}> set the channel topic: {value}",
            "channel_purpose": f"<@{uid}> set the channel purpose: {value}",
        }[subtype]
        body: dict[str, Any] = {"type": "message", "subtype": subtype, "user": uid, "text": text, "ts": ts}
        if subtype == "channel_topic":
            body["topic"] = value
        if subtype == "channel_purpose":
            body["purpose"] = value
        return _Message(
            channel_id,
            ts,
            moment,
            body,
            _Meta(kind=subtype, internal=person.is_internal, customer=person.company),
        )

    def post(self, message: _Message) -> _Message:
        self.top[message.channel_id].append(message)
        return message

    def reply(self, parent: _Message, person: DemoPerson, text: str, meta: _Meta) -> _Message:
        """Add a thread reply a little after the previous message in the thread."""
        last = parent.replies[-1].sent_at if parent.replies else parent.sent_at
        room = (self.p.window_end - timedelta(seconds=1) - last).total_seconds()
        delay = min(self.rng.randint(40, 5400), max(1, int(room * 0.5)))
        moment = last + timedelta(seconds=delay)
        meta.kind = "reply"
        message = self.user_message(parent.channel_id, moment, person, text, meta)
        parent.replies.append(message)
        return message

    # ---- text helpers --------------------------------------------------------------------

    def customer_text(self, fb: Feedback, csm: DemoPerson | None, detail: str = "") -> str:
        text = f"{fb.text} {detail}".strip()
        if fb.language != "en":
            return text
        opener = self.rng.choice(content.SLACK_OPENERS)
        closer = self.rng.choice(content.SLACK_CLOSERS)
        csm_ref = f"<@{self.uid(csm)}>" if csm is not None else "team"
        return (join_opener(self.p.fill(opener, csm=csm_ref), text) + closer).strip()

    def noise(self, person: DemoPerson, bank: tuple[str, ...], **fixed: str) -> tuple[str, str]:
        language = self.p.noise_language(person)
        if language != "en":
            return self.rng.choice(content.NOISE_BY_LANGUAGE[language]), language
        return self.p.fill(self.rng.choice(bank), **fixed), "en"

    def count(self, channel_id: str) -> int:
        return sum(1 + len(m.replies) for m in self.top[channel_id])

    # ---- channel units -------------------------------------------------------------------

    def ext_unit(self, channel_id: str, company: DemoCompany) -> None:
        p, rng = self.p, self.rng
        csm = self.csm_of[company.name]
        person = rng.choice(company.people)
        day = p.pick_day()
        when = p.moment(day, person.region)
        roll = rng.random()
        if roll < 0.42:
            category = p.pick_category(CUSTOMER_MIX)
            day = p.pick_day_for(category)
            when = p.moment(day, person.region)
            fb = p.feedback(category, person, day)
            meta = _Meta(fb.category, fb.ask, language=fb.language)
            if category == "bug_report" and rng.random() < 0.3:
                shot = f"Screenshot {when:%Y-%m-%d} at {when:%H.%M.%S}.png"
                text = self.customer_text(fb, csm)
                parent = self.post(self.file_message(channel_id, when, person, text, meta, shot))
            else:
                detail = ""
                if category == "bug_report" and fb.language == "en" and rng.random() < 0.4:
                    detail = p.fill(rng.choice(content.BUG_DETAILS))
                text = self.customer_text(fb, csm, detail)
                parent = self.post(self.user_message(channel_id, when, person, text, meta))
            self.feedback_thread(parent, fb, person, company, csm)
        elif roll < 0.55:
            category = p.pick_category(CUSTOMER_MIX)
            day = p.pick_day_for(category)
            parent = self.post(
                self.user_message(
                    channel_id,
                    p.moment(day, "us-east"),
                    csm,
                    p.fill(rng.choice(content.CSM_CHECKINS)),
                    _Meta(customer=company.name),
                )
            )
            fb = p.feedback(category, person, day)
            self.reply(parent, person, fb.text, _Meta(fb.category, fb.ask, language=fb.language))
            ack = p.fill(rng.choice(content.ACKS[fb.category]), first=person.first_name)
            self.reply(parent, csm, ack, _Meta(customer=company.name))
        elif roll < 0.70:
            author = person if rng.random() < 0.6 else csm
            text, language = self.noise(author, content.GREETINGS + content.THANKS, first=csm.first_name)
            self.post(
                self.user_message(
                    channel_id,
                    p.moment(day, author.region),
                    author,
                    text,
                    _Meta(language=language, customer=company.name),
                )
            )
        elif roll < 0.82:
            author, other = (person, csm) if rng.random() < 0.5 else (csm, person)
            parent = self.post(
                self.user_message(
                    channel_id,
                    p.moment(day, author.region),
                    author,
                    p.fill(rng.choice(content.SCHEDULING)),
                    _Meta(customer=company.name),
                )
            )
            text, language = self.noise(other, content.SCHEDULING_REPLIES)
            self.reply(parent, other, text, _Meta(language=language, customer=company.name))
        elif roll < 0.90:
            self.post(
                self.user_message(
                    channel_id,
                    p.moment(day, "us-east"),
                    csm,
                    p.fill(rng.choice(content.CSM_UPDATES)),
                    _Meta(customer=company.name),
                )
            )
        elif roll < 0.95:
            text, name = rng.choice(content.CSM_FILES)
            filename = name.format(slug=company.slug, month=f"{p.day_start(day):%Y-%m}")
            when = p.moment(day, "us-east")
            self.post(self.file_message(channel_id, when, csm, text, _Meta(customer=company.name), filename))
        else:
            text, language = self.noise(person, content.GREETINGS)
            self.post(self.user_message(channel_id, when, person, text, _Meta(language=language)))

    def feedback_thread(
        self, parent: _Message, fb: Feedback, person: DemoPerson, company: DemoCompany, csm: DemoPerson
    ) -> None:
        rng = self.rng
        if rng.random() < 0.75:
            ack = self.p.fill(rng.choice(content.ACKS[fb.category]), first=person.first_name)
            self.reply(parent, csm, ack, _Meta(customer=company.name))
        others = [q for q in company.people if q != person]
        if fb.category == "feature_request" and fb.ask and others and rng.random() < 0.35:
            short = next(a.short for a in self.p.spec.asks if a.key == fb.ask)
            text = self.p.fill(rng.choice(content.PLUS_ONES), short=short)
            self.reply(parent, rng.choice(others), text, _Meta("feature_request", fb.ask))
        if fb.category == "bug_report" and fb.language == "en" and rng.random() < 0.3:
            self.reply(parent, person, self.p.fill(rng.choice(content.BUG_DETAILS)), _Meta("bug_report", fb.ask))
        if rng.random() < 0.35:
            text, language = self.noise(person, content.THANKS, first=csm.first_name)
            self.reply(parent, person, text, _Meta(language=language))

    def feedback_channel_unit(self, channel_id: str) -> None:
        p, rng = self.p, self.rng
        day = p.pick_day()
        roll = rng.random()
        relayers = p.staff_with("csm", "ae", "se", "support")
        if roll < 0.75:
            staff = rng.choice(relayers)
            customer = p.customer()
            category = p.pick_category(RELAY_MIX)
            day = p.pick_day_for(category)
            fb = p.feedback(category, customer, day)
            template = rng.choice(content.RELAY_TEMPLATES)
            text = p.fill(
                template,
                company=customer.company or "",
                person=customer.first_name,
                title=customer.title,
                quote=fb.text,
            )
            parent = self.post(
                self.user_message(
                    channel_id,
                    p.moment(day),
                    staff,
                    text,
                    _Meta(fb.category, fb.ask, language=fb.language, customer=customer.company),
                )
            )
            pm = rng.choice(p.staff_with("pm", "exec"))
            if rng.random() < 0.6:
                self.reply(parent, pm, p.fill(rng.choice(content.RELAY_REPLIES), first=staff.first_name), _Meta())
            if fb.category == "feature_request" and fb.ask and rng.random() < 0.4:
                other_company = rng.choice([c for c in self.p.org.companies if c.name != customer.company])
                short = next(a.short for a in p.spec.asks if a.key == fb.ask)
                text = p.fill(rng.choice(content.RELAY_PLUS_ONES), company=other_company.name, short=short)
                self.reply(
                    parent,
                    rng.choice(relayers),
                    text,
                    _Meta("feature_request", fb.ask, customer=other_company.name),
                )
        elif roll < 0.9:
            self.post(
                self.user_message(
                    channel_id,
                    p.moment(day),
                    rng.choice(p.staff_with("pm")),
                    rng.choice(FEEDBACK_CHANNEL_NOISE),
                    _Meta(),
                )
            )
        else:
            self.post(self.housekeeping(channel_id, p.moment(day), rng.choice(relayers), "channel_join"))

    def support_unit(self, channel_id: str) -> None:
        p, rng = self.p, self.rng
        day = p.pick_day()
        roll = rng.random()
        support = p.staff_with("support")
        if roll < 0.45:
            customer = p.customer()
            category = p.pick_category(SUPPORT_MIX)
            day = p.pick_day_for(category)
            fb = p.feedback(category, customer, day)
            text = p.fill(rng.choice(content.SUPPORT_RELAYS), company=customer.company or "", quote=fb.text)
            parent = self.post(
                self.user_message(
                    channel_id,
                    p.moment(day),
                    rng.choice(support),
                    text,
                    _Meta(fb.category, fb.ask, language=fb.language, customer=customer.company),
                )
            )
            for _ in range(rng.randint(0, 2)):
                responder = rng.choice(p.staff_with("eng", "support"))
                self.reply(parent, responder, rng.choice(content.SUPPORT_REPLIES), _Meta())
        elif roll < 0.70:
            bot = rng.choice(("zendesk", "zendesk", "jira", "pagerduty", "gcal"))
            text = p.fill(
                rng.choice(content.BOT_TEXTS[bot]),
                company=p.customer().company or "",
                first=rng.choice(support).first_name,
            )
            self.post(self.bot_message(channel_id, p.moment(day), bot, text))
        elif roll < 0.95:
            author = rng.choice(support + p.staff_with("eng"))
            parent = self.post(
                self.user_message(
                    channel_id, p.moment(day), author, p.fill(rng.choice(content.SUPPORT_CHATTER)), _Meta()
                )
            )
            if rng.random() < 0.4:
                self.reply(parent, rng.choice(support), rng.choice(content.RANDOM_REPLIES), _Meta())
        else:
            self.post(self.slackbot_message(channel_id, p.moment(day)))

    def general_unit(self, channel_id: str) -> None:
        p, rng = self.p, self.rng
        day = p.pick_day()
        roll = rng.random()
        staff = list(p.org.staff)
        if roll < 0.32:
            author = rng.choice(p.staff_with("exec", "pm", "eng"))
            self.post(
                self.user_message(channel_id, p.moment(day), author, p.fill(rng.choice(content.ANNOUNCEMENTS)), _Meta())
            )
        elif roll < 0.42:
            newcomer = rng.choice(staff)
            when = p.moment(day)
            self.post(self.housekeeping(channel_id, when, newcomer, "channel_join"))
            team = next(s.team for s in p.spec.staff if s.name == newcomer.name)
            text = p.fill(rng.choice(content.WELCOMES), first=newcomer.first_name, team=team)
            welcome = self.user_message(
                channel_id,
                p.clamp(when + timedelta(minutes=3)),
                rng.choice(p.staff_with("exec")),
                text,
                _Meta(),
            )
            self.post(welcome)
        elif roll < 0.58:
            customer = p.customer()
            fb = p.feedback("praise", customer, day)
            text = p.fill(
                rng.choice(content.SHOUTOUTS),
                company=customer.company or "",
                person=customer.first_name,
                quote=fb.text,
            )
            self.post(
                self.user_message(
                    channel_id,
                    p.moment(day),
                    rng.choice(p.staff_with("csm", "ae")),
                    text,
                    _Meta("praise", None, language=fb.language, customer=customer.company),
                )
            )
        elif roll < 0.78:
            author = rng.choice(staff)
            text, language = self.noise(author, content.GREETINGS)
            self.post(self.user_message(channel_id, p.moment(day), author, text, _Meta(language=language)))
        elif roll < 0.88:
            self.post(self.slackbot_message(channel_id, p.moment(day)))
        elif roll < 0.95:
            self.post(self.bot_message(channel_id, p.moment(day), "gcal", rng.choice(content.BOT_TEXTS["gcal"])))
        else:
            author = rng.choice(p.staff_with("pm", "exec"))
            topic = rng.choice(
                (
                    "Q4 priorities: reliability, onboarding, SSO 🔐",
                    "All-hands Thursday 4pm",
                    "Be kind, ship often 🚀",
                )
            )
            self.post(self.housekeeping(channel_id, p.moment(day), author, "channel_topic", topic))

    def random_unit(self, channel_id: str) -> None:
        p, rng = self.p, self.rng
        day = p.pick_day()
        roll = rng.random()
        staff = list(p.org.staff)
        author = rng.choice(staff)
        if roll < 0.55:
            first = rng.choice(staff).first_name
            parent = self.post(
                self.user_message(
                    channel_id,
                    p.moment(day),
                    author,
                    p.fill(rng.choice(content.RANDOM_CHATTER), first=first),
                    _Meta(),
                )
            )
            for _ in range(rng.randint(0, 3)):
                self.reply(parent, rng.choice(staff), rng.choice(content.RANDOM_REPLIES), _Meta())
        elif roll < 0.72:
            name = rng.choice(("IMG_2043.jpg", "photo.jpg", "lunch.jpg", "IMG_8812.png"))
            self.post(
                self.file_message(channel_id, p.moment(day), author, rng.choice(content.FILE_CHATTER), _Meta(), name)
            )
        elif roll < 0.82:
            a, b = rng.sample(staff, 2)
            text = p.fill(content.BOT_TEXTS["donut"][0], user_a=self.uid(a), user_b=self.uid(b))
            self.post(self.bot_message(channel_id, p.moment(day), "donut", text))
        else:
            speakers = [s for s in staff if s.language != "en"] if roll < 0.95 else staff
            author = rng.choice(speakers)
            text, language = self.noise(author, content.GREETINGS)
            self.post(self.user_message(channel_id, p.moment(day), author, text, _Meta(language=language)))

    def oversized_log(self, channel_id: str, company: DemoCompany) -> None:
        """One customer pastes a giant sync log: a bug report far over the 50,000-character limit."""
        p, rng = self.p, self.rng
        day = p.pick_day(p.days // 3, max(p.days // 3 + 1, p.days * 2 // 3))
        when = p.moment(day, "us-east")
        person = company.people[-1]
        lines: list[str] = []
        stamp = p.day_start(day) + timedelta(hours=3)
        levels = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
        size = 0
        while size < OVERSIZED_CHARS + 6000:
            stamp += timedelta(milliseconds=rng.randint(40, 4000))
            level = rng.choice(levels)
            worker = rng.randint(1, 8)
            if level == "ERROR":
                msg = (
                    f"snowflake.connector: Query execution exceeded timeout (1800s) warehouse=ANALYTICS_WH "
                    f"query_id=01b{p.token(12)} attempt={rng.randint(1, 5)}"
                )
            elif level == "WARN":
                batch, backoff = rng.randint(1, 400), rng.randint(1, 60)
                msg = f"sync.scheduler: retrying batch {batch} after backoff {backoff}s"
            else:
                table = rng.choice(("ORDERS", "CUSTOMERS", "EVENTS", "SESSIONS"))
                rows, millis = rng.randint(1000, 99999), rng.randint(10, 9000)
                msg = f"sync.extract: fetched {rows} rows from {table} in {millis}ms"
            millis = stamp.microsecond // 1000
            lines.append(f"{stamp:%Y-%m-%dT%H:%M:%S}.{millis:03d}Z {level:<5} [sync-worker-{worker}] {msg}")
            size += len(lines[-1]) + 1
        text = (
            "Here's the full sync log from last night, the Snowflake sync timed out again 👇\n```\n"
            + "\n".join(lines)
            + "\n```"
        )
        meta = _Meta("bug_report", "snowflake-sync-timeout", oversized=True)
        parent = self.post(self.user_message(channel_id, when, person, text, meta))
        self.reply(parent, self.csm_of[company.name], "Thanks, forwarding this to engineering right away.", _Meta())

    # ---- assembly ------------------------------------------------------------------------

    def generate(self) -> None:
        p = self.p
        total = p.scaled(530, 538, minimum=12)
        shared = p.shared_channel_companies()
        ext_budget = max(1, round(total * CHANNEL_SHARES["ext"] / len(shared)))
        budgets = {name: max(1, round(total * share)) for name, share in CHANNEL_SHARES.items() if name != "ext"}
        if "slack_log" in p.spec.oversized:
            self.oversized_log(self.channel_id(f"ext-{shared[0].slug}"), shared[0])
        for company in shared:
            cid = self.channel_id(f"ext-{company.slug}")
            for person in company.people[: self.rng.randint(1, 2)]:
                when = p.moment(p.pick_day(0, max(1, p.days // 2)), person.region)
                self.post(self.housekeeping(cid, when, person, "channel_join"))
            while self.count(cid) < ext_budget:
                self.ext_unit(cid, company)
        units = {
            "customer-feedback": self.feedback_channel_unit,
            "support": self.support_unit,
            "general": self.general_unit,
            "random": self.random_unit,
        }
        for name, unit in units.items():
            cid = self.channel_id(name)
            while self.count(cid) < budgets[name]:
                unit(cid)

    def workspace(self) -> tuple[SlackWorkspace, list[ExpectedItem]]:
        history: dict[str, list[dict[str, Any]]] = {}
        replies: dict[str, dict[str, list[dict[str, Any]]]] = {}
        expected: list[ExpectedItem] = []
        for channel in self.channels:
            cid = channel["id"]
            tops = sorted(self.top[cid], key=lambda m: (m.sent_at, m.ts))
            history[cid] = []
            replies[cid] = {}
            for message in tops:
                if message.replies:
                    self._finish_thread(message)
                    replies[cid][message.ts] = [r.body for r in message.replies]
                history[cid].append(message.body)
                for item in (message, *message.replies):
                    expected.append(self._expected(item))
        expected.sort(key=lambda e: (e.sent_at, e.external_id))
        workspace = SlackWorkspace(
            team_id=self.team_id,
            team_name=self.p.org.name,
            url=self.p.org.workspace_url,
            channels=self.channels,
            users=self.users,
            members=self.members,
            history=history,
            replies=replies,
        )
        return workspace, expected

    def _finish_thread(self, parent: _Message) -> None:
        parent.replies.sort(key=lambda m: (m.sent_at, m.ts))
        parent_user = parent.body.get("user", "")
        reply_users: list[str] = []
        for reply in parent.replies:
            reply.body["thread_ts"] = parent.ts
            reply.body["parent_user_id"] = parent_user
            if reply.body["user"] not in reply_users:
                reply_users.append(reply.body["user"])
        parent.body["thread_ts"] = parent.ts
        parent.body["reply_count"] = len(parent.replies)
        parent.body["reply_users_count"] = len(reply_users)
        parent.body["reply_users"] = reply_users
        parent.body["latest_reply"] = parent.replies[-1].ts

    def _expected(self, message: _Message) -> ExpectedItem:
        meta = message.meta
        return ExpectedItem(
            source="slack",
            external_id=f"{message.channel_id}:{message.ts}",
            sent_at=message.sent_at,
            category=meta.category,
            ask=meta.ask,
            asks=(meta.ask,) if meta.ask else (),
            kind=meta.kind,
            language=meta.language,
            oversized=meta.oversized or len(message.body.get("text", "")) > OVERSIZED_CHARS,
            customer=meta.customer,
            author_is_internal=meta.internal,
        )


# Words that keep their capital after "Hey Priya, ": names, acronyms, "I".
_KEEP_CAPITAL = {
    "I",
    "I'm",
    "I've",
    "I'd",
    "Okta",
    "SSO",
    "SAML",
    "SCIM",
    "PDF",
    "CSV",
    "Snowflake",
    "Epic",
    "Zoom",
    "Outlook",
    "Dr.",
    "Acme",
    "Northwind",
    "Slack",
    "Azure",
}


def join_opener(opener: str, text: str) -> str:
    """Join a greeting and a sentence: after "Hey Priya, " the sentence continues in lower case."""
    if not opener.rstrip().endswith(",") or not text:
        return opener + text
    first = text.split(" ", 1)[0]
    if first in _KEEP_CAPITAL or first.rstrip(",.?!") in _KEEP_CAPITAL or not first[:1].isupper():
        return opener + text
    if len(first) > 1 and first[1:2].isupper():
        return opener + text
    return opener + text[0].lower() + text[1:]


def build_slack(planner: Planner) -> tuple[SlackWorkspace, list[ExpectedItem]]:
    """Generate one organisation's Slack workspace and its ground truth."""
    builder = _SlackBuilder(planner)
    builder.setup()
    builder.generate()
    return builder.workspace()
