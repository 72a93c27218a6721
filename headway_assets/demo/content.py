"""Phrase banks, org vocabularies and text templates for the demo corpus.

Everything here is data written for Headway's demo: two fictional organisations, their
customers, the canonical asks (features and problems) customers talk about, and the
small-talk, scheduling and bot noise around them. `corpus.py` draws from these banks with a
seeded `random.Random`, so the same seed always produces the same text.

Templates use `str.format` fields filled by `fill()`: `{product}`, `{feature}`, `{screen}`,
`{integration}`, `{task}`, `{n}`, `{weekday}`, `{time}`, `{dept}`, `{plan}`, `{pct}`, `{ver}`,
`{url}`, plus any field the caller passes explicitly (names, companies, quotes).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import Literal

Language = Literal["en", "de", "fr", "es", "pt", "ja"]
Trend = Literal["steady", "rising", "late"]
AskKind = Literal["feature", "problem"]
Region = Literal["us-east", "us-west", "eu", "jp", "br"]


@dataclass(frozen=True, slots=True)
class AskSpec:
    """One canonical ask: a feature customers request or a problem they report.

    `requests` are feature-request phrasings (features only), `bugs` bug-report phrasings
    (problems only), `pains` pain-point phrasings (either). `translations` hold phrasings of
    the ask's main category (feature request or bug report) per language. `trend` shapes how
    often the ask comes up over the window; a `late` ask never appears before `starts_at`
    (a fraction of the window), which is what makes it a "new" ask.
    """

    key: str
    title: str
    short: str
    kind: AskKind
    trend: Trend
    weight: float
    requests: tuple[str, ...] = ()
    bugs: tuple[str, ...] = ()
    pains: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    translations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    starts_at: float = 0.0

    def trend_factor(self, fraction: float) -> float:
        """How much more (or less) often this ask comes up at `fraction` (0..1) of the window."""
        if fraction < self.starts_at:
            return 0.0
        if self.trend == "rising":
            return 0.45 if fraction < 0.5 else 1.9
        if self.trend == "late":
            return 2.2
        return 1.0

    def phrasings(self, category: str) -> tuple[str, ...]:
        """The English phrasings of this ask for one tier-1 category (may be empty)."""
        if category == "feature_request":
            return self.requests
        if category == "bug_report":
            return self.bugs
        if category == "pain_point":
            return self.pains
        return ()

    @property
    def main_category(self) -> str:
        """`feature_request` for features, `bug_report` for problems."""
        return "feature_request" if self.kind == "feature" else "bug_report"


@dataclass(frozen=True, slots=True)
class StaffSpec:
    """An employee of the demo organisation."""

    name: str
    title: str
    team: str
    role: Literal["ae", "csm", "support", "pm", "eng", "exec", "se"]
    language: Language = "en"


@dataclass(frozen=True, slots=True)
class CompanySpec:
    """A customer company of the demo organisation, with the people who talk to it."""

    name: str
    slug: str
    domain: str
    language: Language
    region: Region
    people: tuple[tuple[str, str], ...]
    mail_style: Literal["gmail", "outlook", "generic"]
    shared_channel: bool = False


@dataclass(frozen=True, slots=True)
class OrgSpec:
    """Everything needed to generate one organisation's conversations."""

    slug: str
    name: str
    product: str
    internal_domain: str
    slack_subdomain: str
    app_url: str
    staff: tuple[StaffSpec, ...]
    companies: tuple[CompanySpec, ...]
    asks: tuple[AskSpec, ...]
    features: tuple[str, ...]
    screens: tuple[str, ...]
    integrations: tuple[str, ...]
    tasks: tuple[str, ...]
    depts: tuple[str, ...]
    plans: tuple[str, ...]
    questions_by_language: dict[str, tuple[str, ...]]
    demo_internal: tuple[str, ...]
    demo_external: tuple[str, ...]
    newsletters: tuple[tuple[str, str, str], ...]
    oversized: tuple[str, ...]

    @property
    def support_address(self) -> str:
        """The shared support mailbox."""
        return f"support@{self.internal_domain}"

    @property
    def workspace_url(self) -> str:
        """The Slack workspace URL."""
        return f"https://{self.slack_subdomain}.slack.com"


# --------------------------------------------------------------------------------------------
# Slot filling
# --------------------------------------------------------------------------------------------

WEEKDAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
TIMES: tuple[str, ...] = ("9am", "10:30", "11am", "1pm", "2pm", "3:30pm", "4pm")
_FORMATTER = string.Formatter()


def template_fields(template: str) -> list[str]:
    """The names of the `{fields}` a template uses, in order."""
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name]


def fill(template: str, rng: random.Random, org: OrgSpec, /, **fixed: str) -> str:
    """Fill a template's fields: explicit values first, then random picks from the org's vocabulary.

    Raises `KeyError` naming the field when a template uses a field nobody can fill, so a typo
    in a phrase bank fails loudly instead of leaking braces into the corpus.
    """
    values: dict[str, str] = {}
    for name in template_fields(template):
        if name in values:
            continue
        if name in fixed:
            values[name] = fixed[name]
        elif name == "product":
            values[name] = org.product
        elif name == "feature":
            values[name] = rng.choice(org.features)
        elif name == "screen":
            values[name] = rng.choice(org.screens)
        elif name == "integration":
            values[name] = rng.choice(org.integrations)
        elif name == "task":
            values[name] = rng.choice(org.tasks)
        elif name == "dept":
            values[name] = rng.choice(org.depts)
        elif name == "plan":
            values[name] = rng.choice(org.plans)
        elif name == "n":
            values[name] = str(rng.choice((3, 5, 8, 12, 15, 20, 25, 40, 60, 120)))
        elif name == "pct":
            values[name] = str(rng.choice((5, 8, 10, 12, 15, 20)))
        elif name == "weekday":
            values[name] = rng.choice(WEEKDAYS)
        elif name == "time":
            values[name] = rng.choice(TIMES)
        elif name == "ver":
            values[name] = f"{rng.randint(4, 6)}.{rng.randint(0, 19)}"
        elif name == "url":
            values[name] = f"{org.app_url}/{rng.choice(('docs', 'help', 'changelog', 'status'))}"
        elif name == "ticket":
            values[name] = str(rng.randint(41000, 49999))
        else:
            raise KeyError(f"demo template field {{{name}}} has no value in template {template!r}")
    return template.format(**values)


# --------------------------------------------------------------------------------------------
# Generic English banks (Slack and shared)
# --------------------------------------------------------------------------------------------

SLACK_OPENERS: tuple[str, ...] = (
    "",
    "",
    "",
    "",
    "Hey team! ",
    "Hi all, ",
    "Quick one: ",
    "Hey {csm}, ",
    "Morning! ",
    "Hi folks :wave: ",
    "Question for the product team: ",
    "Random thought: ",
    "Hi {csm} 👋 ",
)
SLACK_CLOSERS: tuple[str, ...] = (
    "",
    "",
    "",
    "",
    " Thanks!",
    " 🙏",
    " :pray:",
    " Happy to hop on a call to explain.",
    " Let me know what you think.",
    " Thanks in advance!",
    " Cheers",
    " :slightly_smiling_face:",
)

PRAISE: tuple[str, ...] = (
    "The new {feature} is fantastic, it saved my team hours this week!",
    "Just wanted to say the {screen} redesign is so much cleaner. Great job 🎉",
    "Loving {feature} so far, our {dept} folks picked it up without any training.",
    "Huge thanks for the quick fix yesterday, you guys are awesome :raised_hands:",
    "Honestly {product} is the best tool we rolled out this year.",
    "The {integration} integration just works. Set it up in 10 minutes, no tickets needed.",
    "Kudos to your support team, they solved our issue in under an hour.",
    "{feature} is exactly what we needed. Our {dept} lead is thrilled.",
    "Everything feels much faster since the last release, nice work!",
    "Our execs loved the {screen} in this morning's review ❤️",
    "Really impressed with how smooth the onboarding was.",
    "Shout-out to your team for {feature}, it's become part of our daily routine.",
)

QUESTION_TEMPLATES: tuple[str, ...] = (
    "How do I {task}?",
    "Is there a way to {task}?",
    "Quick question: can we {task}? I couldn't find it in the docs.",
    "Does anyone know how to {task}?",
    "What's the best way to {task}?",
    "Sorry if this is obvious, but how can I {task}?",
    "Can someone point me to the docs on how to {task}?",
)

PLUS_ONES: tuple[str, ...] = (
    "+1 on {short}, we'd use it every day.",
    "Same here, {short} would be huge for us.",
    "We need {short} as well! 🙌",
    "Seconding this, {short} is on our wishlist too.",
    "+1, {short} keeps coming up in our team meetings too.",
)

BUG_DETAILS: tuple[str, ...] = (
    "It happens in Chrome and Firefox.",
    "Screenshot attached.",
    "Our workspace id is {ticket}.",
    "Started after the last release, I think.",
    "It's happening for several people on our team, not just me.",
    "Refreshing the page doesn't help.",
    "We haven't changed anything on our side.",
)

GREETINGS: tuple[str, ...] = (
    "Good morning everyone! ☀️",
    "Morning all 👋",
    "Happy Friday! 🎉",
    "Hi team, hope everyone had a good weekend!",
    "Hello hello :wave:",
    "Hope you're all doing well!",
    "Happy Monday folks ☕",
    "Hi everyone, back from vacation 🏖️",
)
THANKS: tuple[str, ...] = (
    "Thanks so much!",
    "Thank you, that's super helpful 🙏",
    "Perfect, thanks!",
    "Awesome, thank you!",
    "Got it, thanks {first}.",
    "Appreciate it!",
    ":raised_hands: thanks!",
    "Thanks, that worked 👍",
    "Great, thanks for the quick reply!",
    "Brilliant, thank you 🙌",
)
SCHEDULING: tuple[str, ...] = (
    "Can we move our {weekday} sync to {time}?",
    "Are we still on for tomorrow at {time}?",
    "Sending a calendar invite for next week's QBR now 📅",
    "I'm out {weekday}, can we push our call a day?",
    "Running 5 min late to the call, sorry!",
    "Does {weekday} at {time} work for the training session?",
    "Invite sent for the onboarding session.",
    "Just rescheduled the check-in to {weekday} {time}, hope that's ok.",
    "Could we do 30 minutes instead of an hour this week?",
    "Who from your side should join the kickoff?",
)
SCHEDULING_REPLIES: tuple[str, ...] = (
    "Works for us!",
    "Yes, see you then 👍",
    "That's fine, thanks for the heads up.",
    "Perfect, accepted.",
    "Can we do 30 minutes later?",
    "Sounds good.",
)
CSM_UPDATES: tuple[str, ...] = (
    "Heads up: we're doing scheduled maintenance Saturday 02:00-04:00 UTC.",
    "Release notes for this week are up: <{url}|changelog> :rocket:",
    "Just sent over the QBR deck, let me know if anything looks off.",
    "Thanks for joining the training today! The recording is in your inbox.",
    "Friendly reminder that the admin webinar is on {weekday} at {time}.",
    "We just shipped {ver}, mostly performance fixes this time.",
)
CSM_FILES: tuple[tuple[str, str], ...] = (
    # (message, file name; {slug} and {month} are filled by the generator)
    ("Here's the deck from today 📎", "{slug}-qbr-{month}.pdf"),
    ("Slides from our QBR, as promised.", "{slug}-qbr-{month}.pdf"),
    ("Attaching the rollout plan we discussed.", "{slug}-rollout-plan.pdf"),
    ("Updated onboarding checklist attached ✅", "onboarding-checklist.pdf"),
    ("Usage report for last month 📊", "{slug}-usage-{month}.csv"),
)
CSM_CHECKINS: tuple[str, ...] = (
    "Any feedback on {feature} so far?",
    "How is the rollout going with the {dept} team?",
    "Curious how the new {screen} is working for you all?",
    "Anything we can help with this week?",
    "We're planning next quarter's roadmap, anything on your wishlist?",
)
ACKS: dict[str, tuple[str, ...]] = {
    "feature_request": (
        "Thanks for the feedback! I've added it to our roadmap board :memo:",
        "Great suggestion, I'll pass it on to the product team.",
        "You're not the first to ask for this, it's on our radar for next quarter.",
        "Noted! I'll share this with our PM and get back to you.",
        "Love it, logged as a feature request.",
    ),
    "bug_report": (
        "Sorry about that! Looking into it now 👀",
        "Thanks for reporting, I've opened a ticket with engineering.",
        "Can you send me the dashboard link so I can check the logs?",
        "Ugh, sorry. We're on it and I'll update you here.",
        "Thanks {first}, I can reproduce it. Fix coming shortly.",
    ),
    "pain_point": (
        "Totally hear you, thanks for being candid.",
        "That's really useful context, I'll share it with the team.",
        "Sorry it's been frustrating. Let me see what we can do.",
        "Thanks for flagging, let's dig into this on our next call.",
    ),
    "praise": (
        "This made my day, thank you! ❤️",
        "So glad to hear it, I'll pass it on to the team 🎉",
        "Thank you! Sharing with engineering right now.",
        ":heart: thanks {first}!",
    ),
    "question": (
        "Good question! You can do that from the {screen}, here's the guide: <{url}|docs>",
        "Yes! Go to the {screen} and open the settings menu, it's the second option.",
        "Not today, but I'll check with the team whether there's a workaround.",
        "I'll send you a short video walking through it.",
    ),
}
RELAY_TEMPLATES: tuple[str, ...] = (
    "Feedback from *{company}* ({person}, {title}): “{quote}”",
    "{company} brought this up again today: “{quote}”",
    "Heard on the {company} call: “{quote}”",
    "From a {company} ticket: “{quote}”",
    "Passing this along from {person} at {company}: “{quote}”",
    ":speech_balloon: {company} — “{quote}”",
)
RELAY_REPLIES: tuple[str, ...] = (
    "Thanks, added to the tracker.",
    "Tagged it in the feedback board :white_check_mark:",
    "Good one. Is this the same as the ticket from last week?",
    "Can you add the ARR for context?",
    "Thanks {first}! Will bring it to Thursday's roadmap review.",
    "Noted 📝",
)
RELAY_PLUS_ONES: tuple[str, ...] = (
    "{company} asked for {short} too, last week.",
    "+1, {company} mentioned {short} in their QBR.",
    "Same ask from {company}, they want {short} before renewal.",
)
SUPPORT_RELAYS: tuple[str, ...] = (
    "Ticket from {company}: “{quote}” Anyone seen this before?",
    "{company} reports: “{quote}”",
    "New escalation from {company} — “{quote}”",
    "Heads up, {company} writes: “{quote}”",
)
SUPPORT_REPLIES: tuple[str, ...] = (
    "Looking 👀",
    "Known issue, fix is deploying this afternoon.",
    "Can you grab the request id?",
    "I'll take this one.",
    "Escalated to on-call.",
    "Reproduced on staging, filing a bug.",
    "Linked it to the existing Jira ticket.",
)
SUPPORT_CHATTER: tuple[str, ...] = (
    "Queue is quiet today 🙌",
    "Anyone covering the weekend shift?",
    "Macro for refund requests is updated.",
    "Heads up: {integration} is having an outage on their side.",
    "Shift handover: 3 open tickets, nothing urgent.",
    "CSAT this week is 96%, nice work everyone!",
    "Reminder to tag tickets with the customer name.",
    "Who owns the docs for {screen}?",
)
ANNOUNCEMENTS: tuple[str, ...] = (
    "All-hands moved to Thursday 4pm.",
    "Reminder: please submit expenses by Friday.",
    "We shipped {ver} today! Release notes: <{url}|here> 🚀",
    "Office will be closed on Monday for maintenance.",
    "Q4 kickoff slides are in the shared drive.",
    "Open enrollment for benefits ends next week.",
    "Fire drill at 11am tomorrow, sorry in advance 🔔",
    "New parking rules start next month, details in the handbook.",
)
WELCOMES: tuple[str, ...] = (
    "Welcome {first}, who joins the {team} team today! 🎉",
    "Please give a warm welcome to {first} 👋",
)
SHOUTOUTS: tuple[str, ...] = (
    "Shout-out from {company}: “{quote}” 🎉",
    "Nice note from {person} at {company}: “{quote}”",
)
RANDOM_CHATTER: tuple[str, ...] = (
    "lunch?",
    "Anyone up for tacos? 🌮",
    "Coffee run in 10, who wants something? ☕",
    "Pizza in the kitchen 🍕",
    "Who's watching the game tonight?",
    "My cat just walked across my keyboard during a demo 😹",
    "TIL the office plant has a name",
    "Reminder: team dinner Thursday at 7!",
    "Happy birthday {first}! 🎂🎉",
    "Does anyone have a spare HDMI adapter?",
    "Recommendations for a good podcast?",
    "Weekend plans? 🏕️",
    "Friday playlist thread 🎶",
    "The espresso machine is fixed!! ☕☕☕",
    "Who left a sourdough starter in the fridge 😂",
    "Rain again... 🌧️",
    "lunch at 12:30?",
)
RANDOM_REPLIES: tuple[str, ...] = (
    "in!",
    "🙋",
    "yes please",
    "😂😂",
    "count me in",
    "I'll bring snacks",
    "+1",
    ":100:",
)
FILE_CHATTER: tuple[str, ...] = (
    "Look at this view from the office today 😍",
    "Meet the newest member of my household 🐶",
    "Team lunch photo!",
    "Halloween costume preview 🎃",
    "",
)
NOISE_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "de": (
        "Guten Morgen zusammen! ☀️",
        "Danke für die schnelle Antwort!",
        "Schönes Wochenende euch allen!",
        "Passt Donnerstag um 15 Uhr für den Call?",
        "Vielen Dank, das hat geholfen 👍",
    ),
    "fr": (
        "Bonjour à tous ! 👋",
        "Merci beaucoup pour votre aide !",
        "Bon week-end à tous !",
        "Est-ce que jeudi 15h vous convient pour le point ?",
        "Parfait, merci 🙏",
    ),
    "es": (
        "¡Buenos días a todos! 👋",
        "¡Muchas gracias por la ayuda!",
        "¡Buen fin de semana!",
        "¿Les viene bien el jueves a las 3 para la llamada?",
        "Perfecto, gracias 🙏",
    ),
    "pt": (
        "Bom dia, pessoal! 👋",
        "Muito obrigado pela ajuda!",
        "Bom fim de semana a todos!",
        "Quinta às 15h funciona para a reunião?",
        "Perfeito, obrigada 🙏",
    ),
    "ja": (
        "おはようございます！👋",
        "ご対応ありがとうございます！",
        "良い週末をお過ごしください。",
        "木曜日の15時でミーティングは可能でしょうか？",
        "承知しました、ありがとうございます🙏",
    ),
}
PRAISE_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "de": (
        "Das neue {feature} ist wirklich super, danke an das ganze Team!",
        "Großes Lob – seit dem letzten Update läuft alles viel schneller.",
    ),
    "fr": (
        "Le nouveau {feature} est vraiment top, bravo à l'équipe !",
        "Super travail sur la dernière mise à jour, tout est plus rapide.",
    ),
    "es": (
        "¡El nuevo {feature} es genial, gracias al equipo!",
        "Excelente trabajo con la última actualización.",
    ),
    "pt": (
        "O novo {feature} ficou ótimo, parabéns à equipe!",
        "Muito bom o último update, tudo ficou mais rápido.",
    ),
    "ja": (
        "新しい{feature}、とても使いやすいです！チームの皆さんに感謝です。",
        "前回のアップデートで動作がかなり速くなりました。ありがとうございます！",
    ),
}
THANKS_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "de": ("Danke!", "Super, vielen Dank!"),
    "fr": ("Merci !", "Génial, merci beaucoup !"),
    "es": ("¡Gracias!", "¡Genial, muchas gracias!"),
    "pt": ("Obrigado!", "Ótimo, muito obrigada!"),
    "ja": ("ありがとうございます！", "助かりました、ありがとうございます。"),
}

# --------------------------------------------------------------------------------------------
# Slack bots
# --------------------------------------------------------------------------------------------

BOTS: tuple[tuple[str, str], ...] = (
    ("zendesk", "Zendesk"),
    ("jira", "Jira Cloud"),
    ("pagerduty", "PagerDuty"),
    ("gcal", "Google Calendar"),
    ("donut", "Donut"),
)
BOT_TEXTS: dict[str, tuple[str, ...]] = {
    "zendesk": (
        "New ticket #{ticket} from {company}: “Invoice question”",
        "New ticket #{ticket} from {company}: “Password reset not arriving”",
        "Ticket #{ticket} ({company}) was solved by {first}",
        "New ticket #{ticket} from {company}: “Add two more seats”",
        "Ticket #{ticket} ({company}) breached its first-reply SLA",
    ),
    "jira": (
        "*PROD-{ticket}* “Investigate slow queries” moved to *In Progress*",
        "*PROD-{ticket}* was resolved by {first}",
        "*SUP-{ticket}* created: “Customer escalation follow-up”",
    ),
    "pagerduty": (
        "Triggered: High latency on api-gateway (p95 2,400 ms)",
        "Resolved: High latency on api-gateway",
        "Acknowledged by {first}: Worker queue backlog above 5,000",
    ),
    "gcal": ("Reminder: Support standup in 10 minutes", "Reminder: Roadmap review starts in 15 minutes"),
    "donut": ("Time to meet! <@{user_a}> and <@{user_b}>, you've been paired for coffee ☕",),
}
SLACKBOT_TEXTS: tuple[str, ...] = (
    "Reminder: submit your timesheet.",
    "Reminder: update the renewal tracker.",
    "Reminder: water the office plants 🌱",
)

# --------------------------------------------------------------------------------------------
# E-mail banks
# --------------------------------------------------------------------------------------------

MAIL_GREETINGS: dict[str, tuple[str, ...]] = {
    "en": (
        "Hi {agent},",
        "Hello {org} team,",
        "Hi there,",
        "Dear Support,",
        "Hey {agent},",
        "Hi support team,",
    ),
    "de": ("Hallo zusammen,", "Guten Tag,", "Hallo {agent},"),
    "fr": ("Bonjour,", "Bonjour l'équipe,", "Bonjour {agent},"),
    "es": ("Hola,", "Buenos días,", "Hola {agent},"),
    "pt": ("Olá,", "Bom dia,", "Olá {agent},"),
    "ja": ("{org} サポートご担当者様\n\nいつもお世話になっております。",),
}
MAIL_CLOSINGS: dict[str, tuple[str, ...]] = {
    "en": ("Thanks,", "Best,", "Best regards,", "Cheers,", "Thank you,", "Kind regards,"),
    "de": ("Viele Grüße,", "Beste Grüße,", "Mit freundlichen Grüßen,"),
    "fr": ("Cordialement,", "Merci d'avance,", "Bien à vous,"),
    "es": ("Saludos,", "Un saludo,", "Gracias de antemano,"),
    "pt": ("Abraços,", "Atenciosamente,", "Obrigada,"),
    "ja": ("よろしくお願いいたします。",),
}
MAIL_CONTEXT: tuple[str, ...] = (
    "We're a team of about {n} people using {product} every day.",
    "This came up again in our weekly ops meeting.",
    "I couldn't find anything about this in the docs.",
    "Our contract renewal is coming up, so this matters to us.",
    "For context, we rolled out {product} to the {dept} team last month.",
    "From what I can tell, this affects everyone in our account.",
    "From our side nothing changed recently.",
)
MAIL_AFTER: tuple[str, ...] = (
    "Let me know if you need more details.",
    "Happy to jump on a call if that's easier.",
    "Thanks for looking into it.",
    "Looking forward to hearing from you.",
    "",
)
SUBJECTS: dict[str, tuple[str, ...]] = {
    "feature_request": (
        "Feature request: {short}",
        "Suggestion – {short}",
        "{short}?",
        "Idea for {product}",
        "Request: {short}",
        "Any plans for {short}?",
    ),
    "bug_report": (
        "Problem: {short}",
        "URGENT: {short}",
        "{short}",
        "Bug report – {short}",
        "Issue since yesterday",
    ),
    "pain_point": ("Feedback on {product}", "Frustrated with {short}", "{short}", "Some honest feedback"),
    "praise": ("Thank you!", "Loving {feature}", "🎉 Kudos to your team", "Quick note of thanks"),
    "question": ("Quick question", "How do I {task}?", "Help with the {screen}", "Question about {feature}"),
}
SUBJECTS_BY_LANGUAGE: dict[str, dict[str, tuple[str, ...]]] = {
    "de": {
        "feature_request": ("Anfrage: {short}", "Wunsch: {short}"),
        "bug_report": ("Problem mit {product}", "Fehler: {short}"),
        "pain_point": ("Rückmeldung zu {product}",),
        "praise": ("Danke!", "Lob an das Team"),
        "question": ("Frage zu {product}", "Kurze Frage"),
    },
    "fr": {
        "feature_request": ("Demande : {short}", "Suggestion : {short}"),
        "bug_report": ("Problème avec {product}", "Bug : {short}"),
        "pain_point": ("Retour sur {product}",),
        "praise": ("Merci !", "Bravo à l'équipe"),
        "question": ("Question concernant {product}", "Petite question"),
    },
    "es": {
        "feature_request": ("Solicitud: {short}", "Sugerencia: {short}"),
        "bug_report": ("Problema con {product}", "Error: {short}"),
        "pain_point": ("Comentarios sobre {product}",),
        "praise": ("¡Gracias!", "Felicitaciones al equipo"),
        "question": ("Consulta sobre {product}", "Una pregunta"),
    },
    "pt": {
        "feature_request": ("Solicitação: {short}", "Sugestão: {short}"),
        "bug_report": ("Problema com {product}", "Erro: {short}"),
        "pain_point": ("Feedback sobre {product}",),
        "praise": ("Obrigado!", "Parabéns à equipe"),
        "question": ("Dúvida sobre {product}", "Uma pergunta"),
    },
    "ja": {
        "feature_request": ("{short}についてのご要望",),
        "bug_report": ("{product}の不具合について", "{short}の件"),
        "pain_point": ("{product}についてのご意見",),
        "praise": ("御礼",),
        "question": ("{product}の使い方について",),
    },
}
AGENT_REPLIES: dict[str, tuple[str, ...]] = {
    "feature_request": (
        "Thanks for reaching out! I've passed this on to our product team as a feature request and "
        "linked it to your account, so you'll hear from us when there's news.",
        "Thank you for the suggestion. It's something other customers have asked for too, and I've "
        "added your use case to the request.",
    ),
    "bug_report": (
        "Sorry for the trouble. Our engineers are looking into it and I'll update you as soon as I hear back.",
        "Thanks for the detailed report. Could you send us a screenshot and the approximate time this happened?",
        "We've deployed a fix for this. Could you check whether it works for you now?",
    ),
    "pain_point": (
        "Thank you for the honest feedback, and I'm sorry this has been frustrating. I've shared it with "
        "our product lead and would love to set up a call to understand your workflow better.",
        "I hear you. I've escalated this internally and your CSM will follow up this week.",
    ),
    "praise": (
        "Thanks so much for the kind words! I've shared them with the whole team, it made our day.",
        "That's wonderful to hear, thank you for taking the time to write!",
    ),
    "question": (
        "Great question! You can do this from the {screen}: open the settings menu and pick the option "
        "you need. Here's a step-by-step guide: {url}",
        "Yes, that's possible. I've attached a short guide; let me know if anything is unclear.",
        "Not at the moment, I'm afraid, but there is a workaround: export the data and re-import it. "
        "I've noted your interest with the product team.",
    ),
    "other": (
        "Thanks for the update, much appreciated!",
        "Glad to hear it's sorted. I'll close this ticket for now; just reply if anything comes up.",
    ),
}
FOLLOW_UPS_OTHER: tuple[str, ...] = (
    "Thanks, that worked!",
    "Great, thanks for the quick help.",
    "Perfect, all good now. Thanks!",
    "Thank you, we'll try that and get back to you.",
    "Got it, thanks for the explanation.",
)
FOLLOW_UPS_NUDGE: tuple[str, ...] = (
    "Any update on this? It's still happening for us and it's blocking our month-end work.",
    "Just following up, we're still seeing this every day.",
    "Hi again, this is still an issue. Could someone take a look?",
)
SIGNATURES: tuple[str, ...] = (
    "{name}\n{title} | {company}\n{phone}\nwww.{domain}",
    "-- \n{name}\n{title}\n{company}",
    "{name}\nSent from my iPhone",
    "{name}\n{title}\n{company}\n\nThis email and any attachments are confidential and intended solely for "
    "the addressee. If you received it in error, please notify the sender and delete it.",
    "{name} | {title}\n{company} · {domain}",
)
OUT_OF_OFFICE: dict[str, tuple[str, ...]] = {
    "en": (
        "I'm out of the office until {date} with limited access to email. For urgent matters please "
        "contact {colleague}.",
        "Thanks for your message. I'm currently on vacation and will reply when I'm back on {date}.",
    ),
    "de": (
        "Vielen Dank für Ihre Nachricht. Ich bin bis {date} nicht im Büro und habe keinen Zugriff auf "
        "meine E-Mails. In dringenden Fällen wenden Sie sich bitte an {colleague}.",
    ),
    "fr": (
        "Je suis absent(e) jusqu'au {date} avec un accès limité à mes e-mails. Pour toute urgence, "
        "merci de contacter {colleague}.",
    ),
    "es": ("Estoy fuera de la oficina hasta el {date}. Para asuntos urgentes, contacte con {colleague}.",),
    "pt": ("Estou fora do escritório até {date}. Para assuntos urgentes, fale com {colleague}.",),
    "ja": ("{date}まで不在にしております。お急ぎの場合は{colleague}までご連絡ください。",),
}
NOTIFICATIONS: tuple[tuple[str, str, str, str], ...] = (
    # (display name, local@domain, subject, body)
    (
        "Jira",
        "jira@tracker.example",
        "[JIRA] (PROD-{ticket}) Investigate slow queries",
        "{first} changed the status to In Progress.\n\nView the issue: https://tracker.example/browse/PROD-{ticket}",
    ),
    (
        "Cloud Hosting Co.",
        "billing@cloudhosting.example",
        "Your invoice is ready",
        "Your invoice for this month is available in the billing console. Amount due: ${ticket}.00.",
    ),
    (
        "Google Calendar",
        "calendar-notification@calendar.example",
        "Invitation: Support standup @ {weekday} {time}",
        "You have been invited to the following event.\n\nSupport standup\nJoining info: meet.example/abc-defg-hij",
    ),
    (
        "Zoom",
        "no-reply@zoom.example",
        "Cloud recording is now available",
        "Your cloud recording is now available. Topic: Customer training. Share it with viewers from the portal.",
    ),
    (
        "Status Monitor",
        "alerts@statusmonitor.example",
        "[Resolved] API latency back to normal",
        "The incident affecting API latency has been resolved. Duration: {n} minutes.",
    ),
    (
        "Security",
        "no-reply@idp.example",
        "New sign-in to your account",
        "We noticed a new sign-in to the support mailbox from Chrome on macOS. If this was you, no action is needed.",
    ),
)
NEWSLETTER_ITEMS: tuple[tuple[str, str], ...] = (
    (
        "Five metrics every operations team should watch",
        "A practical list, with templates you can copy today.",
    ),
    ("How top teams run their weekly business review", "We interviewed 40 operators about their rituals."),
    ("Webinar recording: from spreadsheets to self-serve", "Missed it live? The full recording is online."),
    ("Customer story: cutting reporting time in half", "How one team automated its Monday reporting."),
    ("Product update: faster loading and new templates", "Everything we shipped this month, in two minutes."),
    ("The state of SaaS budgets heading into next year", "Our annual survey of 1,200 buyers."),
    ("Ask the expert: building trust in your numbers", "Reader questions answered by our analytics team."),
)
SPAM: tuple[tuple[str, str, str, str], ...] = (
    (
        "Growth Partners",
        "hello@growthpartners.example",
        "Quick question about your pipeline",
        "Hi there,\n\nI noticed your company is growing fast. Would you be open to a 15-minute call about "
        "tripling your outbound pipeline?\n\nBest,\nJordan",
    ),
    (
        "Webinar Team",
        "events@webinars.example",
        "Last chance: register for our free masterclass",
        "Seats are filling up fast for Thursday's masterclass on customer retention. Register today!",
    ),
)

# --------------------------------------------------------------------------------------------
# Call and meeting banks (shared by Gong and Fathom)
# --------------------------------------------------------------------------------------------

BACKCHANNEL: tuple[str, ...] = (
    "Yeah.",
    "Right.",
    "Mm-hmm.",
    "Okay.",
    "Got it.",
    "Makes sense.",
    "Sure.",
    "Yep.",
    "Oh, interesting.",
    "Totally.",
    "Yes, exactly.",
)
CALL_SECTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # section: (internal lines, external lines)
    "small_talk": (
        (
            "Hey, good to see you! How's everyone doing today?",
            "Can you hear me okay?",
            "How was the long weekend?",
            "Did you make it to the conference in the end?",
            "I'm dialing in from the office, so apologies if it's noisy.",
            "The weather here has been wild this week, we had hail yesterday.",
            "How's the new office working out?",
            "Let's give it a minute for the others to join.",
            "I just got back from visiting family, so I'm still catching up on email.",
            "Are you still training for the marathon?",
            "Sorry, my camera is acting up, one second.",
            "Did you catch the game last night?",
            "How are the kids settling into the new school?",
            "I saw your team posted about the charity run, that looked fun.",
            "Happy almost-Friday, by the way.",
            "Is it still raining over there?",
        ),
        (
            "Good, good. Busy week, but can't complain.",
            "Yes, loud and clear.",
            "It was great, we finally got some time off.",
            "We did, it was packed this year.",
            "All good here, just back from a team offsite.",
            "Honestly it's been a crazy month with the audit.",
            "The kids started school so mornings are chaos.",
            "Still running, slowly but surely.",
            "Coffee is kicking in, so I'm good to go.",
            "Same here, it's pouring outside.",
            "I missed it, but I heard it went to overtime.",
            "We're finally moving into the new building next month.",
            "Can't complain, the holidays are coming up soon.",
            "The run was great, we raised more than we expected.",
        ),
    ),
    "agenda": (
        (
            "So for today I wanted to cover three things: how the rollout is going, any feedback from your "
            "team, and next steps.",
            "I'll keep it to thirty minutes. First a quick recap, then questions, then scheduling.",
            "My goal for today is to understand where you are and what's blocking you.",
            "I have a few slides, but I'd rather keep this conversational.",
            "Before we dive in, is there anything you'd like to add to the agenda?",
            "I also brought our solutions engineer in case we get into the technical weeds.",
        ),
        (
            "Sounds good. I'd also like to leave time for a couple of questions from my team.",
            "Perfect. We have a hard stop at the half hour.",
            "Great, I brought {first2} along since they use it every day.",
            "That works. I'd like to spend most of the time on the practical stuff.",
            "Nothing to add, let's go.",
        ),
    ),
    "discovery": (
        (
            "Can you walk me through how your team handles this today?",
            "How many people would be using it?",
            "What does success look like for you six months from now?",
            "Who else is involved in the decision?",
            "What tools are you using at the moment?",
            "What's driving the timing on your side?",
            "What happens today when something goes wrong?",
            "How much time does that take your team each week?",
            "Is this a priority for leadership, or more of a team initiative?",
            "Have you looked at other vendors?",
            "What would make this a no-brainer for you?",
        ),
        (
            "Right now it's mostly spreadsheets and a lot of copy-pasting.",
            "Probably around {n} people to start.",
            "Our leadership wants one source of truth by the end of the year.",
            "Procurement and IT will both want to review it.",
            "We tried another vendor, but adoption was poor.",
            "Budget resets in January, so we'd like to decide before then.",
            "Usually someone notices a day later and we scramble.",
            "I'd say a good day a week, across the team.",
            "It came from our COO, so it's definitely visible.",
            "We talked to two others, but we liked your demo more.",
            "Honestly, if it saves us the Monday morning fire drill, it pays for itself.",
        ),
    ),
    "usage": (
        (
            "Looking at the usage numbers, weekly active users went up about {pct} percent this quarter.",
            "The {dept} team is your heaviest user group by far.",
            "I noticed the {screen} gets opened a lot on Monday mornings.",
            "You have a few licences that haven't been used in a month, which we can reassign.",
            "Adoption in the {dept} team is lower than the rest, is there a reason for that?",
            "I pulled the numbers before the call; about {n} people logged in last week.",
            "The {feature} is getting a lot of use since you turned it on.",
            "Compared to similar customers, you're in the top quarter for engagement.",
        ),
        (
            "That matches what we see, people really rely on it now.",
            "Interesting, I didn't know that.",
            "We onboarded the {dept} team last month, so that explains it.",
            "Yes, some of those people left, we should clean that up.",
            "The {dept} folks haven't had proper training yet, that's on me.",
            "That's good to hear, I'll share those numbers with my boss.",
            "Monday is when we do our weekly review, so that makes sense.",
            "We'd like to get the rest of the {dept} team on board next quarter.",
        ),
    ),
    "roadmap": (
        (
            "On the roadmap side, the team is focused on performance and reliability this quarter.",
            "We're also investing in {integration}, which a lot of customers asked for.",
            "I can't promise dates, but I can share the themes we're working on.",
            "There's a beta program coming up if you'd like early access.",
            "Our product manager would love to talk to your team directly at some point.",
            "We publish the changelog every two weeks, so you'll see things land there first.",
        ),
        (
            "That would be great, we'd happily join a beta.",
            "Performance is definitely welcome.",
            "Can you send the roadmap deck after the call?",
            "Happy to talk to your product team anytime.",
            "We'd want to test anything new in a sandbox first.",
            "Good to know, I'll keep an eye on the changelog.",
        ),
    ),
    "setup": (
        (
            "Let's start by connecting {integration}. It should take about ten minutes.",
            "Once that's done, you'll see the data in the {screen}.",
            "I'd recommend setting up roles before inviting everyone.",
            "We'll do a second session for admins next week.",
            "Can you click on settings in the top right corner?",
            "Now paste the key into that field and hit save.",
            "Perfect, you should see a green check mark now.",
            "The first sync can take a little while, that's normal.",
        ),
        (
            "Our IT person already created the service account.",
            "Okay, I'm sharing my screen now.",
            "Where do I find the API key again?",
            "Got it, that's connected.",
            "Hang on, it's asking me to log in again.",
            "Okay, I see the green check mark.",
            "Do we need admin rights for this step?",
            "That was easier than I expected.",
        ),
    ),
    "issue": (
        (
            "First of all, sorry for the trouble over the last few days.",
            "Our engineers found the root cause and the fix is rolling out.",
            "I'd like to understand exactly what your team saw.",
            "We'll send a written incident report by Friday.",
            "We've also added monitoring so we catch this earlier next time.",
            "If anything like this happens again, page us directly through the support portal.",
        ),
        (
            "It's been painful, people started to lose trust in the numbers.",
            "Mostly on Monday and Tuesday, during our busiest hours.",
            "We appreciate the transparency, to be fair.",
            "A written report would help me explain it internally.",
            "We had to fall back to our old process for two days.",
        ),
    ),
    "pricing": (
        (
            "On pricing, the proposal I sent is based on {n} seats on the {plan} plan.",
            "If you commit to two years, we can do about {pct} percent off.",
            "The price includes onboarding and premium support.",
            "I can check with my manager about flexibility on the annual commitment.",
            "We're also introducing a cheaper viewer tier next year.",
            "Renewal is at the end of next month, so we have some time.",
            "Most customers your size land on the {plan} plan.",
        ),
        (
            "Finance will want to see it broken out by department.",
            "Is there flexibility on the annual commitment?",
            "The number is a bit higher than we budgeted.",
            "Could we start smaller and expand mid-year?",
            "We'd need the quote in euros as well.",
            "Does that include the onboarding sessions?",
            "Our CFO will ask about the price increase, so I need something to point to.",
            "If we go for two years, can we lock the price?",
        ),
    ),
    "next_steps": (
        (
            "Let's book a follow-up for next {weekday}.",
            "I'll send a recap email right after this call.",
            "Does {weekday} at {time} work for your team?",
            "Let me loop in our solutions engineer for the technical deep dive.",
            "I'll share the security questionnaire today.",
            "I'll put the action items in the shared doc.",
        ),
        (
            "{weekday} works. Send the invite to the whole team.",
            "Please include the pricing in the recap.",
            "I'll get you the contact in procurement.",
            "We'll review internally and get back to you.",
            "Can we make it {time} instead?",
            "I'll forward the questionnaire to our security team.",
        ),
    ),
    "closing": (
        (
            "Thanks everyone, this was really helpful.",
            "Have a great rest of your day!",
            "Talk soon, bye!",
            "Thanks for the candid feedback, it really helps.",
            "Enjoy the weekend, everyone.",
        ),
        (
            "Thanks, you too!",
            "Bye everyone.",
            "Thanks for your time.",
            "Cheers, talk soon.",
            "Thanks, bye bye.",
        ),
    ),
}
CALL_CHATTER: tuple[str, ...] = (
    "Let me pull that up.",
    "Sorry, you cut out for a second, could you repeat that?",
    "Good point.",
    "Give me one second, I'm writing this down.",
    "Let me share my screen.",
    "Can everyone see my screen?",
    "That's a fair question.",
    "Let me check and get back to you on that.",
    "Okay, moving on.",
    "Sorry, I was on mute.",
    "I think that covers it for this part.",
)
SECTION_TOPICS: dict[str, str | None] = {
    "small_talk": "Small Talk",
    "agenda": "Call Setup",
    "discovery": "Discovery",
    "usage": "Usage Review",
    "roadmap": "Roadmap",
    "setup": "Integrations",
    "issue": "Support Issue",
    "pricing": "Pricing",
    "next_steps": "Next Steps",
    "closing": None,
    "demo": "Product Demo",
    "feedback": "Product Feedback",
}
FEEDBACK_LEADINS: tuple[str, ...] = (
    "One thing I did want to bring up.",
    "Oh, and before I forget.",
    "The other thing my team keeps mentioning.",
    "Honestly, the biggest thing for us right now.",
    "Can I give you some feedback while we're here?",
    "So, related to that.",
    "My team asked me to pass something along.",
)
FEEDBACK_RESPONSES: dict[str, tuple[str, ...]] = {
    "feature_request": (
        "That's really helpful, I'm writing it down.",
        "You're not the first to ask for that, it's on our radar.",
        "Can you tell me a bit more about how you'd use it?",
        "I'll take that to our product team this week.",
    ),
    "bug_report": (
        "Sorry about that, I'll open a ticket with support today.",
        "That shouldn't happen. Can you send me an example?",
        "Thanks, I'll check with engineering whether that's the known issue.",
    ),
    "pain_point": (
        "I hear you, and I appreciate you being direct.",
        "That's fair. Let me see what we can do there.",
        "Thanks for the context, that helps us prioritise.",
    ),
    "praise": (
        "That's great to hear!",
        "Love that, I'll share it with the team.",
        "Thank you, that means a lot.",
    ),
    "question": (
        "Good question. You can do that from the {screen}, I'll send you the link.",
        "Let me show you, it's a bit hidden.",
        "Not yet, but there's a workaround I can walk you through.",
    ),
}
INTERNAL_SYNC_LINES: tuple[str, ...] = (
    "Okay, let's go through the customer feedback from this week.",
    "Next one on the list.",
    "Let's park that and come back to it in planning.",
    "Do we have a ticket for that already?",
    "I think engineering estimated that at about two sprints.",
    "Let's see how many accounts asked for it.",
    "I'll update the feedback board after this meeting.",
    "That lines up with what support is seeing.",
    "Ticket volume was flat this week.",
    "The release went out on Tuesday without issues.",
    "Let's make sure the CSMs know what's shipping this month.",
    "Can someone own the follow-up on that?",
    "I'll add it to the agenda for the roadmap review.",
    "We should write a help article for that.",
    "Churn risk list is unchanged from last week.",
    "Two renewals close this month, both look healthy.",
)
INTERNAL_RELAY_LEADINS: tuple[str, ...] = (
    "On the {company} call, {person} said",
    "{company} brought this up again, quote",
    "From {company}:",
    "Support got this from {company}:",
)
NON_ENGLISH_CALL_GREETINGS: dict[str, tuple[str, ...]] = {
    "de": ("Guten Morgen! Sorry, good morning everyone.", "Hallo zusammen, hi!"),
    "fr": ("Bonjour à tous! Sorry, hello everyone.", "Salut! Okay, in English."),
    "es": ("¡Hola a todos! Sorry, hello everyone.", "Buenos días, good morning."),
    "pt": ("Oi, pessoal! Hello everyone.", "Bom dia! Good morning."),
    "ja": ("おはようございます。Good morning, everyone.", "よろしくお願いします。Thanks for having us."),
}


# --------------------------------------------------------------------------------------------
# Organisation 1: Acme Analytics
# --------------------------------------------------------------------------------------------

ACME_ASKS: tuple[AskSpec, ...] = (
    AskSpec(
        key="sso-okta",
        title="SSO with Okta (SAML)",
        short="Okta SSO",
        kind="feature",
        trend="steady",
        weight=3.0,
        requests=(
            "Any plans to support SSO with Okta? {reason}",
            "We really need Okta SSO. {reason}",
            "Could you add SAML single sign-on through Okta?",
            "Is Okta SSO on the roadmap? Our IT team keeps asking.",
            "Our security review flagged that {product} doesn't support Okta login. Can you add SAML SSO?",
            "Would love to log in with our Okta account instead of yet another password.",
            "Single sign-on with Okta would make rolling {product} out to the rest of the company so much easier.",
            "Feature request: SAML SSO (we use Okta). {reason}",
        ),
        pains=(
            "Onboarding new analysts is painful because every one of them needs a separate {product} "
            "password, "
            "and our IT team hates it.",
            "We keep getting locked-out users because people forget their {product} password; "
            "everything else "
            "we use is behind Okta.",
        ),
        reasons=(
            "Our IT team won't approve more tools without it.",
            "Security wants every vendor behind Okta by Q1.",
            "It's a blocker for rolling out to the other 200 people.",
        ),
        translations={
            "de": (
                "Gibt es Pläne für SSO mit Okta? Unsere IT besteht darauf.",
                "Wir bräuchten dringend Single Sign-on über Okta.",
            ),
            "fr": ("Est-ce que le SSO via Okta est prévu ? Notre DSI l'exige pour tous les outils.",),
            "ja": ("Okta での SSO（SAML）に対応する予定はありますか？社内のセキュリティ要件で必須になっています。",),
        },
    ),
    AskSpec(
        key="export-dashboard-pdf",
        title="Export dashboards to PDF",
        short="PDF export",
        kind="feature",
        trend="steady",
        weight=3.0,
        requests=(
            "Can we export a whole dashboard to PDF? We paste screenshots into our board deck every month.",
            "It would be great to download dashboards as PDF files.",
            "Please add a 'Download as PDF' button on dashboards.",
            "Our execs want the weekly dashboard as a PDF attachment, not a link. Could you add that?",
            "Feature request: PDF export for dashboards, ideally keeping the filters that are applied.",
            "We need a printable version of dashboards, PDF would be perfect.",
            "Any chance of exporting dashboards to PDF? Screenshots look terrible in our reports.",
        ),
        pains=(
            "Every month someone spends half a day screenshotting dashboards into slides because there's no "
            "PDF export.",
        ),
        translations={
            "de": (
                "Könnt ihr einen PDF-Export für Dashboards einbauen? Wir brauchen das für unsere Vorstandsberichte.",
            ),
            "fr": ("Ce serait génial de pouvoir exporter un tableau de bord en PDF.",),
            "ja": ("ダッシュボードをPDFで書き出せるようにしてほしいです。役員会の資料に使いたいので。",),
        },
    ),
    AskSpec(
        key="dark-mode",
        title="Dark mode",
        short="dark mode",
        kind="feature",
        trend="steady",
        weight=1.4,
        requests=(
            "Any chance of a dark mode? Our analysts stare at {product} all day.",
            "Dark theme please! 🙏",
            "Would love a dark mode for the dashboard builder.",
            "Is dark mode planned? The white background is brutal on the night shift.",
            "Feature wish: a dark UI theme 🌙",
        ),
        translations={
            "de": ("Gibt es bald einen Dark Mode? 🌙",),
            "ja": ("ダークモードがあると嬉しいです🌙",),
        },
    ),
    AskSpec(
        key="scheduled-reports-slack",
        title="Deliver scheduled reports to Slack",
        short="reports in Slack",
        kind="feature",
        trend="rising",
        weight=2.0,
        requests=(
            "Could scheduled reports post straight into a Slack channel instead of email?",
            "We'd love to get the daily KPI report delivered to Slack.",
            "Is there a way to send report snapshots to Slack automatically? If not, please consider it.",
            "Feature request: Slack as a delivery target for scheduled reports.",
            "Our team lives in Slack; email digests just get ignored. Can reports go to a Slack channel?",
        ),
        pains=("Nobody reads the scheduled report emails, they get buried. Our team only looks at Slack.",),
        translations={"fr": ("Est-ce que les rapports planifiés pourraient être envoyés directement sur Slack ?",)},
    ),
    AskSpec(
        key="scim-provisioning",
        title="SCIM user provisioning",
        short="SCIM provisioning",
        kind="feature",
        trend="rising",
        weight=1.5,
        requests=(
            "Do you support SCIM? We need users created and deactivated automatically from our IdP.",
            "Please add SCIM provisioning, deprovisioning leavers by hand is a compliance risk.",
            "Automatic user provisioning (SCIM) would save our IT team a lot of work.",
            "We need SCIM so that when someone leaves, their {product} access is revoked automatically.",
        ),
        pains=("Every time someone leaves we have to remember to remove them from {product} by hand.",),
    ),
    AskSpec(
        key="row-level-security",
        title="Row-level security for dashboards",
        short="row-level security",
        kind="feature",
        trend="steady",
        weight=1.5,
        requests=(
            "We need row-level permissions so regional managers only see their own region's data.",
            "Can you restrict dashboard data by user, e.g. each sales rep only sees their accounts?",
            "Row-level security is a must for us before we can share dashboards with franchisees.",
            "Is there a way to filter data per viewer automatically? Something like row-level access rules.",
        ),
        translations={"de": ("Wir brauchen Berechtigungen auf Zeilenebene, damit jede Region nur ihre Daten sieht.",)},
    ),
    AskSpec(
        key="fiscal-calendar",
        title="Custom fiscal calendar in date filters",
        short="fiscal calendar support",
        kind="feature",
        trend="steady",
        weight=1.0,
        requests=(
            "Our fiscal year starts in February. Can date filters support a custom fiscal calendar?",
            "Please add fiscal quarters to the date picker; calendar quarters don't match how we report.",
            "We need 4-4-5 retail calendar support in reports.",
        ),
    ),
    AskSpec(
        key="csv-export-limit",
        title="Raise the CSV export row limit",
        short="bigger CSV exports",
        kind="feature",
        trend="steady",
        weight=1.2,
        requests=(
            "The CSV export stops at 100k rows, we need full exports.",
            "Can you raise the export limit? Our tables have millions of rows.",
            "Please allow exporting more than 100,000 rows to CSV.",
        ),
        pains=("We have to split every export into chunks because of the 100k row cap. It's tedious.",),
    ),
    AskSpec(
        key="white-label-embed",
        title="White-label embedded dashboards",
        short="white-label embeds",
        kind="feature",
        trend="steady",
        weight=1.0,
        requests=(
            "For embedded dashboards, can we remove the {product} logo and use our own branding?",
            "We'd like fully white-labelled embeds for our customer portal.",
            "Custom fonts and colours for embedded charts would be great, so they match our app.",
        ),
    ),
    AskSpec(
        key="anomaly-alerts",
        title="Anomaly alerts on metrics",
        short="anomaly alerts",
        kind="feature",
        trend="rising",
        weight=1.5,
        requests=(
            "It would be amazing if {product} alerted us when a metric suddenly drops.",
            "Could you add anomaly detection alerts? Fixed thresholds are too noisy.",
            "We want a notification when daily signups deviate from the usual pattern.",
            "Smart alerts that learn what normal looks like would be a game changer for us.",
        ),
    ),
    AskSpec(
        key="ai-query-assistant",
        title="Ask questions in plain English (AI assistant)",
        short="an AI assistant",
        kind="feature",
        trend="late",
        weight=2.0,
        starts_at=0.55,
        requests=(
            "Are you adding an AI assistant where we can ask questions in plain English?",
            "Our business users would love to type a question like 'revenue by region last quarter' and get a chart.",
            "Any plans for natural-language querying? Competitors are demoing it to us.",
            "Feature request: ask questions about our data in plain language, ChatGPT-style.",
        ),
        translations={"ja": ("自然言語でデータに質問できるAIアシスタント機能の予定はありますか？",)},
    ),
    AskSpec(
        key="audit-log-export",
        title="Audit log export",
        short="audit log export",
        kind="feature",
        trend="late",
        weight=1.8,
        starts_at=0.6,
        requests=(
            "Our auditors asked for an export of who viewed and changed which dashboards. Can you add an "
            "audit log export?",
            "We need audit logs we can ship to our SIEM.",
            "Please provide an audit trail export (CSV or API) for compliance.",
        ),
    ),
    AskSpec(
        key="dashboard-version-history",
        title="Version history for dashboards",
        short="version history",
        kind="feature",
        trend="steady",
        weight=0.8,
        requests=(
            "Someone overwrote our main dashboard yesterday. Is there version history? If not, please add it.",
            "Could dashboards have an undo history, or a way to restore previous versions?",
        ),
    ),
    AskSpec(
        key="snowflake-sync-timeout",
        title="Snowflake sync times out",
        short="Snowflake sync timeouts",
        kind="problem",
        trend="steady",
        weight=1.5,
        bugs=(
            "Our Snowflake sync has been failing with a timeout since {weekday}.",
            "The Snowflake connector times out after 30 minutes and the dashboards show stale data.",
            "Snowflake refresh keeps erroring with 'Query exceeded timeout'. Nothing changed on our side.",
            "From what I can see the Snowflake sync never finishes anymore, it just times out.",
        ),
        pains=("We can't trust the morning numbers because the Snowflake sync fails half the time.",),
        translations={
            "de": ("Seit Dienstag bricht die Snowflake-Synchronisierung mit einem Timeout ab.",),
            "fr": ("La synchronisation Snowflake échoue avec un timeout depuis mardi.",),
            "ja": ("Snowflakeの同期が昨日からタイムアウトで失敗しています。",),
        },
    ),
    AskSpec(
        key="filters-reset-on-share",
        title="Shared dashboard links lose their filters",
        short="filters resetting",
        kind="problem",
        trend="steady",
        weight=1.2,
        bugs=(
            "When I share a dashboard link, the filters reset to the defaults.",
            "Shared links don't keep the applied filters, so recipients see the whole dataset.",
            "Bug: copying the dashboard URL drops the region filter every time.",
        ),
    ),
    AskSpec(
        key="report-timezone",
        title="Scheduled reports use the wrong timezone",
        short="report timezone bug",
        kind="problem",
        trend="late",
        weight=1.2,
        starts_at=0.6,
        bugs=(
            "Our scheduled report arrived an hour late after the clock change.",
            "Since the weekend the daily report shows yesterday's data; looks like a timezone bug.",
            "Scheduled reports are now sent at 7am UTC instead of 7am Berlin time.",
        ),
        translations={"de": ("Seit der Zeitumstellung kommt unser täglicher Bericht eine Stunde zu spät.",)},
    ),
    AskSpec(
        key="csv-encoding",
        title="CSV export garbles accented characters",
        short="CSV encoding",
        kind="problem",
        trend="steady",
        weight=0.8,
        bugs=(
            "Exported CSVs show umlauts as Ã¼, looks like an encoding issue.",
            "Accented customer names come out garbled in the CSV export (é becomes Ã©).",
        ),
        translations={
            "de": ("Im CSV-Export werden Umlaute kaputt dargestellt (Ã¼ statt ü).",),
            "fr": ("Dans l'export CSV, les accents sont mal affichés (Ã© au lieu de é).",),
        },
    ),
    AskSpec(
        key="slow-dashboards",
        title="Dashboards load slowly",
        short="slow dashboards",
        kind="problem",
        trend="steady",
        weight=1.5,
        bugs=(
            "The sales dashboard takes over a minute to load now.",
            "Dashboards time out when we pick 'last 12 months'.",
        ),
        pains=(
            "Dashboards are so slow that people gave up and went back to spreadsheets.",
            "Every morning the team waits for the overview dashboard to load, it's killing adoption.",
            "Honestly the speed is our biggest frustration with {product} right now.",
        ),
    ),
    AskSpec(
        key="viewer-seat-pricing",
        title="Viewer seats cost as much as editors",
        short="seat pricing",
        kind="problem",
        trend="steady",
        weight=1.0,
        pains=(
            "Paying a full seat for people who only view a dashboard once a month is hard to justify.",
            "Our finance team pushes back on the renewal because viewer seats cost the same as editors.",
            "The per-seat pricing makes it impossible to roll out to the whole company.",
        ),
    ),
)

ACME = OrgSpec(
    slug="acme",
    name="Acme Analytics",
    product="Acme",
    internal_domain="acme-analytics.example",
    slack_subdomain="acme-analytics",
    app_url="https://app.acme-analytics.example",
    staff=(
        StaffSpec("Priya Raman", "Customer Success Manager", "Customer Success", "csm"),
        StaffSpec("Marcus Webb", "Customer Success Manager", "Customer Success", "csm"),
        StaffSpec("Lena Hoffmann", "Customer Success Manager (EMEA)", "Customer Success", "csm", "de"),
        StaffSpec("Diego Alvarez", "Account Executive", "Sales", "ae", "es"),
        StaffSpec("Hannah Cole", "Account Executive", "Sales", "ae"),
        StaffSpec("Tom Okafor", "Support Engineer", "Support", "support"),
        StaffSpec("Yuki Tanaka", "Support Engineer", "Support", "support", "ja"),
        StaffSpec("Sam Patel", "Senior Product Manager", "Product", "pm"),
        StaffSpec("Alex Kim", "Staff Engineer", "Engineering", "eng"),
        StaffSpec("Rachel Stone", "Solutions Engineer", "Sales", "se"),
        StaffSpec("Jordan Blake", "CEO", "Leadership", "exec"),
    ),
    companies=(
        CompanySpec(
            "Globex",
            "globex",
            "globex.example",
            "en",
            "us-east",
            (
                ("Dana Whitfield", "Head of BI"),
                ("Carlos Mendes", "Data Analyst"),
                ("Erin Walsh", "VP Finance"),
            ),
            "gmail",
            shared_channel=True,
        ),
        CompanySpec(
            "Initech",
            "initech",
            "initech.example",
            "en",
            "us-west",
            (
                ("Bill Lumbergh", "Director of Operations"),
                ("Nina Park", "Analytics Lead"),
                ("Peter Gibbons", "Data Engineer"),
            ),
            "outlook",
            shared_channel=True,
        ),
        CompanySpec(
            "Hooli",
            "hooli",
            "hooli.example",
            "en",
            "us-west",
            (
                ("Gavin Bell", "Chief Data Officer"),
                ("Monica Hall", "BI Manager"),
                ("Jared Dunn", "Ops Analyst"),
            ),
            "gmail",
            shared_channel=True,
        ),
        CompanySpec(
            "Müller Logistik",
            "mueller-logistik",
            "mueller-logistik.example",
            "de",
            "eu",
            (
                ("Katrin Müller", "Leiterin Controlling"),
                ("Jonas Becker", "Data Analyst"),
                ("Stefan Wagner", "IT-Leiter"),
            ),
            "outlook",
            shared_channel=True,
        ),
        CompanySpec(
            "Umbrella Retail",
            "umbrella-retail",
            "umbrella-retail.example",
            "en",
            "us-east",
            (("Alice Abernathy", "Merchandising Analyst"), ("Chris Redfield", "Head of Data")),
            "generic",
        ),
        CompanySpec(
            "Sakura Foods",
            "sakura-foods",
            "sakura-foods.example",
            "ja",
            "jp",
            (("Haruka Sato", "データ分析マネージャー"), ("Kenji Watanabe", "IT Manager")),
            "generic",
        ),
        CompanySpec(
            "Lumière Retail",
            "lumiere-retail",
            "lumiere-retail.example",
            "fr",
            "eu",
            (("Camille Laurent", "Responsable BI"), ("Julien Moreau", "Contrôleur de gestion")),
            "outlook",
        ),
        CompanySpec(
            "Vandelay Industries",
            "vandelay",
            "vandelay.example",
            "en",
            "us-east",
            (("Art Vandelay", "COO"), ("Elaine Benes", "Analyst")),
            "gmail",
        ),
        CompanySpec(
            "Pied Piper",
            "pied-piper",
            "pied-piper.example",
            "en",
            "us-west",
            (("Richard Hendricks", "CEO"), ("Dinesh Chugtai", "Platform Lead")),
            "gmail",
        ),
        CompanySpec(
            "Soylent Corp",
            "soylent",
            "soylent.example",
            "en",
            "us-east",
            (("Ruth Tate", "Finance Manager"), ("Omar Haddad", "Revenue Analyst")),
            "outlook",
        ),
    ),
    asks=ACME_ASKS,
    features=(
        "funnel view",
        "cohort analysis",
        "dashboard builder",
        "SQL editor",
        "scheduled reports",
        "embedded analytics",
        "metric alerts",
        "data catalog",
        "chart annotations",
        "drill-downs",
    ),
    screens=("dashboard builder", "Explore view", "Admin console", "report editor", "data sources page"),
    integrations=("Snowflake", "BigQuery", "Salesforce", "HubSpot", "Postgres", "dbt", "Segment"),
    tasks=(
        "share a dashboard with someone outside our org",
        "add a calculated field",
        "change the default date range",
        "duplicate a dashboard into another workspace",
        "connect a second Snowflake warehouse",
        "set a dashboard as the homepage",
        "schedule a report for Monday mornings",
        "rename a metric everywhere",
        "give a viewer access to just one folder",
    ),
    depts=("finance", "sales ops", "marketing", "operations", "merchandising"),
    plans=("Growth", "Business", "Enterprise"),
    questions_by_language={
        "de": (
            "Wie kann ich ein Dashboard mit externen Personen teilen?",
            "Gibt es irgendwo eine Anleitung, wie man Benutzerrollen einrichtet?",
        ),
        "fr": (
            "Comment est-ce qu'on ajoute un champ calculé ?",
            "Comment partager un tableau de bord avec quelqu'un hors de notre organisation ?",
        ),
        "ja": (
            "ダッシュボードを社外の人と共有するにはどうすればいいですか？",
            "ユーザーの権限設定はどこから変更できますか？",
        ),
    },
    demo_internal=(
        "So this is the {screen}, and from here you can {task}.",
        "Let me share my screen real quick.",
        "Here you can see the {feature}; it refreshes every fifteen minutes.",
        "This chart is pulling straight from {integration}.",
        "You can drill down by clicking any bar.",
        "Most teams start with a template and customise it from there.",
    ),
    demo_external=(
        "Can it handle a few hundred million rows?",
        "How does that work with {integration}?",
        "Our analysts would mostly live in the SQL editor.",
        "That's a lot nicer than what we have today.",
        "Can we control who sees which dashboards?",
        "How long does the refresh take?",
    ),
    newsletters=(
        (
            "The Analytics Digest",
            "news@analyticsdigest.example",
            "The Analytics Digest — Issue #{n}: metrics that matter",
        ),
        ("Data Stack Weekly", "hello@datastackweekly.example", "This week in the modern data stack"),
        ("SaaS Growth Report", "team@saasgrowth.example", "Webinar: building a metrics culture"),
    ),
    oversized=("slack_log", "email_csv", "gong_workshop"),
)


# --------------------------------------------------------------------------------------------
# Organisation 2: Northwind Health
# --------------------------------------------------------------------------------------------

NORTHWIND_ASKS: tuple[AskSpec, ...] = (
    AskSpec(
        key="bulk-reschedule",
        title="Bulk reschedule appointments",
        short="bulk rescheduling",
        kind="feature",
        trend="steady",
        weight=3.0,
        requests=(
            "When a provider calls in sick we have to move 20 appointments one by one. Can we reschedule them in bulk?",
            "Please add a way to select several appointments and move them to another day at once.",
            "Bulk rescheduling would save our front desk hours every week.",
            "Is there a way to reschedule all of a provider's appointments at once? If not, that's our top request.",
            "We need mass-reschedule for when a doctor's schedule changes.",
            "Feature request: multi-select appointments and move them to another provider or date.",
        ),
        pains=(
            "Moving appointments one at a time when a clinician is out takes our front desk the whole morning.",
            "Every time Dr. Patel's clinic day changes we spend hours calling patients and rebooking them one by one.",
        ),
        translations={
            "es": (
                "¿Podrían añadir una opción para reprogramar varias citas a la vez?",
                "Necesitamos mover todas las citas de un médico de una sola vez.",
            ),
            "pt": ("Seria ótimo poder remarcar várias consultas de uma vez só.",),
            "fr": ("Pourriez-vous ajouter la possibilité de reprogrammer plusieurs rendez-vous en une fois ?",),
        },
    ),
    AskSpec(
        key="custom-sms-templates",
        title="Customisable SMS reminder text",
        short="custom SMS templates",
        kind="feature",
        trend="steady",
        weight=1.5,
        requests=(
            "Can we edit the wording of the SMS reminders? We'd like to add parking instructions.",
            "Please let us customise the reminder text per location.",
            "We need our own SMS template, the default message is too generic for our patients.",
        ),
        translations={"es": ("¿Se puede personalizar el texto de los recordatorios por SMS?",)},
    ),
    AskSpec(
        key="waitlist-autofill",
        title="Fill cancellations from the waitlist automatically",
        short="waitlist auto-fill",
        kind="feature",
        trend="rising",
        weight=2.0,
        requests=(
            "When someone cancels, could {product} automatically offer the slot to the next patient on the waitlist?",
            "Automatic waitlist backfill would cut our empty slots a lot.",
            "We'd love the waitlist to text patients when an earlier slot opens up.",
            "Feature request: auto-fill cancellations from the waitlist.",
        ),
        pains=("We lose a dozen slots a week because nobody has time to call the waitlist when patients cancel.",),
        translations={
            "pt": (
                "Quando um paciente cancela, o sistema poderia oferecer a vaga automaticamente para a lista de espera?",
            )
        },
    ),
    AskSpec(
        key="epic-integration",
        title="Epic EHR integration",
        short="Epic integration",
        kind="feature",
        trend="steady",
        weight=1.5,
        requests=(
            "Do you integrate with Epic? We need appointments to show up in the patient chart.",
            "An Epic integration is the one thing stopping our hospital group from switching.",
            "Please prioritise a two-way sync with Epic.",
        ),
        pains=("Our staff double-enter every appointment into Epic and {product}, it's a huge waste of time.",),
    ),
    AskSpec(
        key="sso-azure-ad",
        title="SSO with Azure AD",
        short="Azure AD SSO",
        kind="feature",
        trend="steady",
        weight=1.2,
        requests=(
            "Can staff sign in with our Microsoft / Azure AD accounts?",
            "We need SSO with Azure AD for HIPAA compliance reviews.",
            "Is single sign-on with Entra ID (Azure AD) on the roadmap?",
        ),
    ),
    AskSpec(
        key="recurring-appointments",
        title="Recurring appointment series",
        short="recurring appointments",
        kind="feature",
        trend="steady",
        weight=1.5,
        requests=(
            "Physical therapy patients come twice a week for two months. Can we book a recurring series?",
            "Please add recurring appointments, booking 16 visits by hand is painful.",
            "We need a 'repeat weekly' option when booking.",
        ),
        translations={"fr": ("Est-ce qu'on pourrait créer des rendez-vous récurrents (chaque semaine) ?",)},
    ),
    AskSpec(
        key="patient-self-reschedule",
        title="Patients reschedule from the reminder link",
        short="self-service rescheduling",
        kind="feature",
        trend="rising",
        weight=2.0,
        requests=(
            "Could patients reschedule themselves from the reminder text instead of calling us?",
            "Please add a 'reschedule' link to the reminders, our phones ring nonstop.",
            "Patients keep asking to change their appointment online. Can the portal support that?",
            "Self-service rescheduling for patients would free up our front desk.",
        ),
        pains=("Half of our phone calls are patients who just want to move their appointment.",),
        translations={
            "es": ("¿Los pacientes podrían cambiar la cita ellos mismos desde el recordatorio?",),
            "pt": ("Os pacientes poderiam remarcar sozinhos pelo link do lembrete?",),
        },
    ),
    AskSpec(
        key="multi-location-view",
        title="Multi-location calendar view",
        short="multi-location view",
        kind="feature",
        trend="steady",
        weight=1.0,
        requests=(
            "We have four clinics. Can we see all locations' calendars side by side?",
            "A combined view across locations would really help our central scheduling team.",
        ),
    ),
    AskSpec(
        key="insurance-eligibility",
        title="Real-time insurance eligibility check",
        short="eligibility checks",
        kind="feature",
        trend="late",
        weight=1.6,
        starts_at=0.55,
        requests=(
            "Could {product} check insurance eligibility when the appointment is booked?",
            "Real-time eligibility verification would save our billing team a lot of rework.",
            "Feature request: verify the patient's insurance automatically before the visit.",
        ),
    ),
    AskSpec(
        key="telehealth-zoom",
        title="Zoom links for telehealth visits",
        short="Zoom telehealth links",
        kind="feature",
        trend="steady",
        weight=1.0,
        requests=(
            "Can telehealth appointments automatically get a Zoom link?",
            "We'd like the video visit link to be created and sent with the confirmation.",
        ),
    ),
    AskSpec(
        key="reminders-patient-language",
        title="Reminders in the patient's language",
        short="multilingual reminders",
        kind="feature",
        trend="rising",
        weight=1.2,
        requests=(
            "Many of our patients speak Spanish. Can reminders go out in the patient's preferred language?",
            "Please support reminder templates in multiple languages.",
        ),
        translations={"es": ("Muchos pacientes no hablan inglés. ¿Pueden enviarse los recordatorios en español?",)},
    ),
    AskSpec(
        key="no-show-prediction",
        title="No-show risk prediction",
        short="no-show prediction",
        kind="feature",
        trend="late",
        weight=1.8,
        starts_at=0.65,
        requests=(
            "Could {product} flag appointments that are likely to be no-shows so we can double-book smartly?",
            "A no-show risk score would help us decide who to call the day before.",
        ),
    ),
    AskSpec(
        key="dark-mode",
        title="Dark mode for the front desk",
        short="dark mode",
        kind="feature",
        trend="steady",
        weight=0.7,
        requests=("Our evening front desk would love a dark mode 🌙", "Any plans for a dark theme?"),
    ),
    AskSpec(
        key="double-booking",
        title="Two staff can book the same slot",
        short="double bookings",
        kind="problem",
        trend="steady",
        weight=1.5,
        bugs=(
            "Two receptionists booked the same 10:30 slot for different patients this morning.",
            "We're seeing double bookings when two people book at the same time.",
            "Bug: the calendar let us book two patients into one exam room.",
        ),
        translations={
            "es": ("Hoy se reservaron dos pacientes en el mismo horario con la misma doctora.",),
            "pt": ("O sistema deixou marcar dois pacientes no mesmo horário.",),
        },
    ),
    AskSpec(
        key="sms-reminders-not-sent",
        title="SMS reminders not delivered",
        short="missing SMS reminders",
        kind="problem",
        trend="steady",
        weight=1.5,
        bugs=(
            "Patients tell us they didn't get yesterday's SMS reminders.",
            "SMS reminders stopped going out for our downtown location.",
            "None of the reminders for tomorrow were sent, the log says 'queued'.",
        ),
        pains=("When reminders fail our no-show rate doubles, it really hurts.",),
        translations={
            "fr": ("Les rappels SMS ne sont plus envoyés depuis lundi.",),
            "es": ("Los recordatorios por SMS no llegaron ayer a los pacientes.",),
        },
    ),
    AskSpec(
        key="outlook-sync-duplicates",
        title="Outlook calendar sync creates duplicates",
        short="Outlook duplicates",
        kind="problem",
        trend="steady",
        weight=1.0,
        bugs=(
            "Since the Outlook sync update every appointment appears twice in our providers' calendars.",
            "The Outlook integration is creating duplicate events.",
        ),
    ),
    AskSpec(
        key="dst-shift",
        title="Appointments shifted after the clock change",
        short="clock change shift",
        kind="problem",
        trend="late",
        weight=1.0,
        starts_at=0.8,
        bugs=(
            "After the clock change some appointments moved by an hour in the patient portal.",
            "Reminders went out with the wrong time since Sunday's time change.",
        ),
        translations={"fr": ("Depuis le changement d'heure, certains rendez-vous sont décalés d'une heure.",)},
    ),
    AskSpec(
        key="portal-login-codes",
        title="Patient portal login codes arrive late",
        short="slow login codes",
        kind="problem",
        trend="steady",
        weight=0.9,
        bugs=(
            "Patients say the portal login code takes ten minutes to arrive.",
            "Verification codes for the patient portal are expiring before they arrive.",
        ),
    ),
    AskSpec(
        key="slow-week-view",
        title="Week view is slow with many providers",
        short="slow week view",
        kind="problem",
        trend="steady",
        weight=1.0,
        bugs=("The week view takes 20 seconds to load when all providers are selected.",),
        pains=(
            "The week view is so slow that our schedulers keep a paper copy.",
            "Waiting for the calendar to load with every click is exhausting at the front desk.",
        ),
    ),
    AskSpec(
        key="per-provider-pricing",
        title="Per-provider pricing is too expensive",
        short="per-provider pricing",
        kind="problem",
        trend="steady",
        weight=0.8,
        pains=(
            "Paying per provider is tough for us, half our clinicians are part-time.",
            "The per-provider price makes adding our new location hard to justify.",
        ),
    ),
)

NORTHWIND = OrgSpec(
    slug="northwind",
    name="Northwind Health",
    product="Northwind",
    internal_domain="northwind.example",
    slack_subdomain="northwind-health",
    app_url="https://app.northwind.example",
    staff=(
        StaffSpec("Olivia Grant", "Customer Success Manager", "Customer Success", "csm"),
        StaffSpec("Ben Carter", "Customer Success Manager", "Customer Success", "csm"),
        StaffSpec("Lucía Romero", "Customer Success Manager (LATAM)", "Customer Success", "csm", "es"),
        StaffSpec("Kevin Zhou", "Account Executive", "Sales", "ae"),
        StaffSpec("Aisha Bello", "Account Executive", "Sales", "ae"),
        StaffSpec("Mateus Costa", "Support Specialist", "Support", "support", "pt"),
        StaffSpec("Grace Liu", "Support Specialist", "Support", "support"),
        StaffSpec("Noah Fischer", "Product Manager", "Product", "pm"),
        StaffSpec("Emma Dubois", "Engineering Manager", "Engineering", "eng", "fr"),
        StaffSpec("Ryan Murphy", "Solutions Consultant", "Sales", "se"),
        StaffSpec("Sofia Marin", "CEO", "Leadership", "exec"),
    ),
    companies=(
        CompanySpec(
            "Riverside Family Medicine",
            "riverside",
            "riverside-fm.example",
            "en",
            "us-east",
            (
                ("Karen Holt", "Practice Manager"),
                ("Luis Ortega", "Front Desk Lead"),
                ("Dr. Amy Chen", "Medical Director"),
            ),
            "outlook",
            shared_channel=True,
        ),
        CompanySpec(
            "Lakeshore Dental",
            "lakeshore-dental",
            "lakeshore-dental.example",
            "en",
            "us-east",
            (("Megan Price", "Office Manager"), ("Tyler Brooks", "Scheduling Coordinator")),
            "gmail",
            shared_channel=True,
        ),
        CompanySpec(
            "Clínica del Sol",
            "clinicadelsol",
            "clinicadelsol.example",
            "es",
            "eu",
            (
                ("María García", "Coordinadora de agenda"),
                ("Javier López", "Director médico"),
                ("Ana Torres", "Recepción"),
            ),
            "gmail",
            shared_channel=True,
        ),
        CompanySpec(
            "Summit Physical Therapy",
            "summit-pt",
            "summit-pt.example",
            "en",
            "us-west",
            (("Jake Morrison", "Clinic Director"), ("Priya Shah", "Front Office Manager")),
            "gmail",
            shared_channel=True,
        ),
        CompanySpec(
            "Saúde Mais Clínicas",
            "saudemais",
            "saudemais.example",
            "pt",
            "br",
            (("Fernanda Souza", "Gerente de operações"), ("Rafael Lima", "Coordenador de TI")),
            "outlook",
        ),
        CompanySpec(
            "Clinique Beaulieu",
            "clinique-beaulieu",
            "clinique-beaulieu.example",
            "fr",
            "eu",
            (("Isabelle Martin", "Responsable accueil"), ("Dr. Paul Girard", "Médecin chef")),
            "generic",
        ),
        CompanySpec(
            "Bayview Pediatrics",
            "bayview-peds",
            "bayview-peds.example",
            "en",
            "us-west",
            (("Rachel Nguyen", "Practice Administrator"), ("Dr. Sam Ortiz", "Pediatrician")),
            "outlook",
        ),
        CompanySpec(
            "Maple Grove Dermatology",
            "maplegrove-derm",
            "maplegrove-derm.example",
            "en",
            "us-east",
            (("Heather Lane", "Office Manager"), ("Connor Walsh", "IT Contractor")),
            "generic",
        ),
        CompanySpec(
            "Harborview Orthopedics",
            "harborview-ortho",
            "harborview-ortho.example",
            "en",
            "us-west",
            (("Denise Fowler", "Director of Operations"), ("Marco Ruiz", "Scheduling Lead")),
            "gmail",
        ),
        CompanySpec(
            "Cedar Valley Eye Care",
            "cedarvalley-eye",
            "cedarvalley-eye.example",
            "en",
            "us-east",
            (("Linda Park", "Practice Manager"), ("Owen Hughes", "Optometrist")),
            "generic",
        ),
    ),
    asks=NORTHWIND_ASKS,
    features=(
        "waitlist",
        "online booking page",
        "SMS reminders",
        "provider calendar",
        "intake forms",
        "patient portal",
        "no-show report",
        "front-desk console",
        "resource booking",
        "check-in kiosk",
    ),
    screens=(
        "day view",
        "week view",
        "front-desk console",
        "patient portal",
        "reports page",
        "settings page",
    ),
    integrations=("Epic", "athenahealth", "Google Calendar", "Outlook", "Twilio", "Zoom", "Stripe"),
    tasks=(
        "block out a provider's lunch break",
        "add a new appointment type",
        "change the reminder send time",
        "export tomorrow's schedule",
        "move a patient to a different provider",
        "set up a new location",
        "see who cancelled this week",
        "give a part-time receptionist limited access",
        "print the day's schedule for a provider",
    ),
    depts=("front desk", "billing", "scheduling", "nursing", "operations"),
    plans=("Starter", "Practice", "Enterprise"),
    questions_by_language={
        "es": ("¿Cómo puedo bloquear la hora de comida de un médico?", "¿Cómo agrego un nuevo tipo de cita?"),
        "pt": (
            "Como faço para adicionar um novo usuário com permissões limitadas?",
            "Como exporto a agenda de amanhã?",
        ),
        "fr": (
            "Comment bloquer la pause déjeuner d'un praticien ?",
            "Comment ajouter un nouveau type de rendez-vous ?",
        ),
    },
    demo_internal=(
        "So this is the {screen}, and from here you can {task}.",
        "Let me share my screen real quick.",
        "Here's the {feature}; patients get a text as soon as a slot is confirmed.",
        "This syncs with {integration} every few minutes.",
        "You can colour-code appointment types here.",
        "Most clinics start with our template and tweak the reminder times.",
    ),
    demo_external=(
        "Can patients book online without creating an account?",
        "How does that work with {integration}?",
        "Our front desk would mostly live in the day view.",
        "That's a lot faster than our current system.",
        "Can we limit what part-time staff can see?",
        "Is it HIPAA compliant?",
    ),
    newsletters=(
        (
            "Practice Management Weekly",
            "news@practiceweekly.example",
            "Practice Management Weekly #{n}: cutting no-shows",
        ),
        (
            "HealthIT Brief",
            "editors@healthitbrief.example",
            "HealthIT Brief: interoperability deadlines ahead",
        ),
        ("Clinic Growth Summit", "events@clinicgrowth.example", "Webinar invite: patient engagement in 2027"),
    ),
    oversized=("email_csv", "fathom_workshop"),
)

ORG_SPECS: tuple[OrgSpec, ...] = (ACME, NORTHWIND)


@dataclass(frozen=True, slots=True)
class CompetitorSpec:
    """A competitor of a demo organisation: its name, the aliases the seed lists, and how customers
    bring it up, by context (`switching_from`, `switching_to`, `comparison`, `pricing`, `other`).

    Each line names the competitor as `{competitor}` (filled with the name or an alias) and carries
    no ask of its own, so the message it is added to keeps its category and ask.
    """

    name: str
    aliases: tuple[str, ...]
    lines: dict[str, tuple[str, ...]]


_COMPETITOR_LINES: dict[str, tuple[str, ...]] = {
    "switching_from": (
        "We moved over from {competitor} last spring, and it handled this part well.",
        "Before we switched from {competitor}, the team relied on this every week.",
    ),
    "switching_to": (
        "Leadership asked me to start evaluating {competitor} if this stays as it is.",
        "Honestly, a few of us are looking at {competitor} because of this.",
    ),
    "comparison": (
        "{competitor} already does this out of the box.",
        "This works much better in {competitor}, to be honest.",
    ),
    "pricing": (
        "{competitor} quoted us 30% less per seat for the same plan.",
        "For what we pay, {competitor} is cheaper and includes this.",
    ),
    "other": ("We also use {competitor} in the marketing team.",),
}

# Fictional competitors; the demo seeds them as each organisation's competitor list.
DEMO_COMPETITORS: dict[str, tuple[CompetitorSpec, ...]] = {
    "acme": (
        CompetitorSpec("Metricly", ("Metricly Cloud",), _COMPETITOR_LINES),
        CompetitorSpec("DashHub", ("Dash Hub",), _COMPETITOR_LINES),
        CompetitorSpec("Querybase", ("QBase",), _COMPETITOR_LINES),
    ),
    "northwind": (
        CompetitorSpec("CarePoint", ("CarePoint EHR",), _COMPETITOR_LINES),
        CompetitorSpec("MedFlow", (), _COMPETITOR_LINES),
        CompetitorSpec("Clinicly", ("Clinicly Scheduling",), _COMPETITOR_LINES),
    ),
}
