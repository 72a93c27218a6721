"""Writes `messages.jsonl`, the labelled PII test set (run it again only to change the set).

Each line is one message as Headway stores it: `text`, the message's `people` (author and
participants, as the sources record them), its `customer`, and the labelled `spans` of personal
data in the text (`start`, `end`, `kind`: EMAIL, PHONE, CARD, IBAN, SECRET, PERSON). The
`group` says which template made it; `near_miss` messages hold look-alikes that must stay:
order numbers, versions, dates, timestamps, ids, amounts, IP addresses, hashes, and words that
are also names.

The templates and value pools below are written by hand for Headway's sources (Slack threads,
support mail, call transcripts). Values are real-shaped and valid: card numbers carry a valid
Luhn digit, IBANs valid check digits, phone numbers are in the formats people write them
(national and international, with spaces, dashes, dots, brackets). Deterministic (seed 15).

    python tests/data/pii/generate.py
"""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path

OUT = Path(__file__).with_name("messages.jsonl")
HOLDOUT_SOURCE = Path(__file__).with_name("holdout.txt")
HOLDOUT = Path(__file__).with_name("holdout.jsonl")
SEED = 15

PEOPLE = [
    ("Jane Doe", "Acme"),
    ("Priya Raman", "Northwind"),
    ("José Álvarez", "Globex"),
    ("Zoë Müller", "Initech"),
    ("Liam O'Connor", "Umbrella Health"),
    ("Chen Wei", "Stark Logistics"),
    ("Aisha Bello", "Wayne Retail"),
    ("Mark Lee", "Hooli"),
    ("Sofia Rossi", "Vandelay"),
    ("Kwame Mensah", "Soylent"),
    ("Hannah Schmidt", "Cyberdyne"),
    ("Mateo García", "Tyrell"),
    ("Olivia Brown", "Massive Dynamic"),
    ("Yuki Tanaka", "Wonka Foods"),
    ("Ahmed Hassan", "Oscorp"),
    ("Emma Dubois", "Pied Piper"),
]
STAFF = ["Rita Rep", "Sam Success", "Dana Support", "Noah Sales", "Ines Engineer", "Tariq Product"]

PHONES = [
    "+44 20 7946 0958",
    "+1 415-555-2671",
    "(415) 555-2671",
    "415.555.2671",
    "+49 30 901820",
    "+49 (0)30 901820",
    "+33 1 42 68 53 00",
    "01 42 68 53 00",
    "020 7946 0958",
    "+91 98765 43210",
    "+81 3-1234-5678",
    "+61 2 9374 4000",
    "+55 11 91234-5678",
    "+34 912 345 678",
    "+39 06 6982 1234",
    "+31 20 794 6095",
    "+1 (212) 555-0143",
    "212-555-0143",
    "+353 1 234 5678",
    "+46 8 123 456 78",
    "+41 44 668 18 00",
    "+27 21 480 3911",
    "+65 6123 4567",
    "+971 2 234 5678",
    "0044 20 7946 0958",
    "+12125550143",
    "+442079460958",
]
EMAIL_DOMAINS = ["acme.com", "northwind.io", "globex.co.uk", "initech.de", "mail.example.org", "gmail.com"]
CARD_PREFIXES = [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16), ("35", 16)]
IBAN_FORMATS = [("GB", "WEST", 14), ("DE", "", 18), ("FR", "", 23), ("NL", "ABNA", 10), ("ES", "", 20), ("IT", "X", 22)]


def luhn_digit(body: str) -> str:
    """The check digit that makes `body` + digit pass Luhn."""
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    prefix, length = rng.choice(CARD_PREFIXES)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    number = body + luhn_digit(body)
    style = rng.choice(["space", "dash", "plain"])
    groups = (
        [number[:4], number[4:10], number[10:]] if length == 15 else [number[i : i + 4] for i in range(0, length, 4)]
    )
    return {"space": " ".join(groups), "dash": "-".join(groups), "plain": number}[style]


def iban(rng: random.Random) -> str:
    country, bank, digits = rng.choice(IBAN_FORMATS)
    bban = bank + "".join(rng.choice(string.digits) for _ in range(digits))
    rearranged = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


def token(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def secret(rng: random.Random) -> str:
    alnum = string.ascii_letters + string.digits
    kind = rng.randrange(9)
    if kind == 0:
        return "sk-proj-" + token(rng, alnum, 40)
    if kind == 1:
        return "sk-ant-api03-" + token(rng, alnum + "-_", 60)
    if kind == 2:
        return f"xoxb-{token(rng, string.digits, 12)}-{token(rng, string.digits, 13)}-{token(rng, alnum, 24)}"
    if kind == 3:
        return "ghp_" + token(rng, alnum, 36)
    if kind == 4:
        return "AKIA" + token(rng, string.ascii_uppercase + string.digits, 16)
    if kind == 5:
        return "AIza" + token(rng, alnum + "-_", 35)
    if kind == 6:
        return "sk_live_" + token(rng, alnum, 24)
    if kind == 7:
        head = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        return f"{head}.eyJ{token(rng, alnum, 40)}.{token(rng, alnum + '-_', 43)}"
    return "xoxp-" + token(rng, string.digits, 11) + "-" + token(rng, alnum, 30)


def email(rng: random.Random, full_name: str) -> str:
    first, *rest = full_name.split()
    last = rest[-1] if rest else "user"
    ascii_first = re.sub(r"[^a-z]", "", first.lower().replace("é", "e").replace("ö", "o").replace("ë", "e"))
    ascii_last = re.sub(r"[^a-z]", "", last.lower().replace("á", "a").replace("ü", "u").replace("í", "i"))
    local = rng.choice([f"{ascii_first}.{ascii_last}", f"{ascii_first[0]}{ascii_last}", ascii_first, "support+billing"])
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


# Templates: {FULL} {FIRST} {LAST} (the author), {STAFF}/{STAFF_FIRST} (a participant),
# {EMAIL} {PHONE} {CARD} {IBAN} {SECRET}. Every slot is labelled.
PII_TEMPLATES = [
    ("slack", "Hi team, {FIRST} here from {CUSTOMER}. Can you add SSO with Okta? Reach me at {EMAIL}."),
    ("slack", "Export to PDF keeps timing out for us. Call me on {PHONE} if you need a repro. - {FIRST}"),
    ("slack", "@{STAFF_FIRST} the dashboard filters reset every time I switch tabs, super annoying"),
    ("slack", "We pasted our key {SECRET} into the integration settings and now the sync fails with 401"),
    ("slack", "FYI {FULL} from {CUSTOMER} asked whether the API supports webhooks for new invoices"),
    ("slack", "my number changed, it's {PHONE} now. also +1 for the bulk edit request"),
    ("slack", "{FIRST}: can we get the CSV export to include custom fields? {STAFF_FIRST} said it's on the roadmap"),
    ("slack", "the token {SECRET} shows up in the audit log in plain text, please mask it"),
    ("slack", "thanks {STAFF_FIRST}! and please send the invoice to {EMAIL} instead of me"),
    ("slack", "Could {LAST}'s team get read-only access to the reports? They keep asking me for screenshots."),
    (
        "gmail",
        "Hello,\n\nPlease charge the renewal to card {CARD} and send the receipt to {EMAIL}.\n\nBest,\n{FULL}",
    ),
    ("gmail", "Our bank details changed: IBAN {IBAN}. Please update them before the next payout. Regards, {FULL}"),
    ("gmail", "Hi {STAFF_FIRST},\nthe mobile app crashes on login since 4.2. My phone: {PHONE}.\nThanks, {FIRST}"),
    ("gmail", "We were double charged on {CARD}. Refund to IBAN {IBAN} please. Contact {EMAIL} or {PHONE}."),
    ("gmail", "Dear support, I am {FULL}, admin at {CUSTOMER}. We need SAML for our 400 seats. Tel. {PHONE}"),
    ("gmail", "Forwarding {FULL}'s request: they want audit logs exported daily. Their email is {EMAIL}."),
    ("gmail", "Our API key {SECRET} was rotated but your docs still say to use the old header. Please fix."),
    ("gmail", "Hi, it's {FIRST} again. Card ending in the number {CARD} was declined, can you retry?"),
    ("gmail", "Please wire the credit to {IBAN} (account holder {FULL})."),
    ("gmail", "Authorization: Bearer {SECRET} returns 403 on /v2/reports although the scope is right."),
    ("gmail", "Reply-To: {EMAIL}\n\nThe weekly digest email is empty since Monday. {FULL}"),
    ("gmail", "Hi {STAFF},\n\ncan you call me back at {PHONE}? The import wizard lost our mappings.\n\n{FIRST}"),
    ("gong", "{STAFF}: Thanks for joining. {FULL}: Sure. Our main ask is a Salesforce sync, honestly."),
    ("gong", "{FULL}: We need role-based permissions before rollout. {STAFF}: Noted, {FIRST}, I'll share it."),
    ("gong", "{STAFF}: What's the best number to reach you? {FIRST}: {PHONE}, any time after ten."),
    ("gong", "{FULL}: The reporting is too slow, we wait minutes. Send the notes to {EMAIL}, please."),
    ("fathom", "{STAFF}: Let's recap. {FIRST} wants scheduled exports and {LAST} mentioned the price."),
    ("fathom", "{FULL}: If you fix the calendar sync we'll expand. My assistant is on {PHONE}."),
    ("fathom", "{STAFF}: {FIRST}, could you send the config? {FULL}: Yes, the key is {SECRET}, I'll rotate it after."),
    ("slack", "password: {PASSWORD} is what the onboarding doc tells everyone to use, that seems risky"),
    ("slack", "ping {EMAIL} and {EMAIL2} about the Jira integration, they both asked for it"),
    ("gmail", "Kontakt: {FULL}, Telefon {PHONE}, E-Mail {EMAIL}. Bitte Export als Excel ergänzen."),
    ("gmail", "Bonjour, je suis {FULL}. Mon numéro est le {PHONE}. Il manque l'export PDF."),
    ("slack", "<{EMAIL}> wrote: the search doesn't find archived projects"),
    ("slack", "{FULL} (from {CUSTOMER}) wants dark mode. Her email: {EMAIL}"),
    ("gmail", "card no {CARD}, exp 09/28 -- please update our billing, thx {FIRST}"),
    ("slack", "thanks {FIRST_LOWER}! that fixed it. cc {EMAIL_UPPER}"),
    ("gmail", "Please contact {FULL} <{EMAIL}> or mailto:{EMAIL2} about the pilot."),
    ("slack", "config: api_key={APIKEY} region=eu-west-1 -- the settings page should hide this"),
    ("gong", "{STAFF_FIRST}: Great. {FIRST}, what's your direct line? {FULL}: It's {PHONE} ext. 204."),
    ("slack", "{LAST} and I both hit the rate limit, 429 after 100 calls in 60 seconds"),
    ("gmail", "Customer {FULL} (acct 88213) says card {CARD} expires 11/27; invoice #INV-20931 attached."),
    ("slack", "Ticket 48213 from {FIRST}: sync stuck since 2024-03-15 12:30, call {PHONE}"),
]

NEAR_MISS_TEMPLATES = [
    "Order #{ORDER} was shipped on {DATE} but the tracking page still shows pending.",
    "We upgraded to v{VERSION} on {DATE} and the export button disappeared.",
    "Ticket {TICKET}: the sync job {UUID} failed at {TIME} UTC with error code 502.",
    "Invoice INV-{INVOICE} for ${AMOUNT} was issued twice in {MONTH}.",
    "Build {BUILD} fixed the crash, thanks! Release {VERSION} looks good.",
    "Our account id is {ACCOUNT} and the workspace has {COUNT} users now.",
    "Timestamp {EPOCH} in the webhook payload is in seconds, we expected milliseconds.",
    "The API returns 429 after {COUNT} requests; the limit in the docs says {COUNT2}.",
    "Commit {SHA} broke the CSV export; rolling back to {VERSION} fixed it.",
    "Server {IP} cannot reach your endpoint since {DATE} {TIME}.",
    "Will you add a bulk edit? We will pay for it, mark my words.",
    "Can you chase the finance team? The grace period ends on {DATE}.",
    "Please mark the task as done; the May release notes don't mention it.",
    "Our order number is {ORDER} and the reference is REF-{TICKET}.",
    "Risk-free trial ended on {DATE}; the task-{TICKET} board still says trial.",
    "The token: expired message appears every morning at {TIME}.",
    "Password: reset link never arrives, we checked spam too.",
    "Order {LONG_ID} is stuck, case {TICKET} has the details.",
    "Revenue grew from ${AMOUNT} to ${AMOUNT2} after the pricing page change.",
    "PO {ORDER} and transaction id {LONG_ID} are both in the invoice.",
    "Upgrade from {VERSION} to {VERSION2} deleted our saved filters on {DATE2}.",
    "The report for {DATE} to {DATE2} shows {COUNT} sessions but GA shows {COUNT2}.",
    "Our skill matrix export is broken since build {BUILD}.",
    "Tracking number {ORDER}{ORDER} never updates.",
    "Model gpt-4o-mini-{DATE} returned empty answers for {COUNT} items.",
    "The sk-learn style pipeline example in the docs is out of date.",
    "Bearer tokens should expire after {COUNT} minutes, not a day.",
]


def near_values(rng: random.Random) -> dict[str, str]:
    digits = string.digits
    return {
        "ORDER": str(rng.randrange(10_000_000, 99_999_999)),
        "DATE": rng.choice(["2024-03-15", "15/03/2024", "03.15.2024", "March 15, 2024", "2025-11-02"]),
        "DATE2": rng.choice(["2024-04-01", "01/04/2024", "2025-12-31"]),
        "VERSION": rng.choice(["2.14.3", "4.2.0", "10.0.19045", "1.2.3.4", "3.11.6"]),
        "VERSION2": rng.choice(["2.15.0", "5.0.1", "11.2"]),
        "TICKET": str(rng.randrange(10_000, 999_999)),
        "UUID": "3f2b1c9e-7d4a-4e8b-9c21-{}".format(token(rng, "0123456789abcdef", 12)),
        "TIME": rng.choice(["12:30:45", "09:05", "23:59:59.120"]),
        "INVOICE": str(rng.randrange(100_000, 999_999)),
        "AMOUNT": rng.choice(["12,450.00", "1,234,567", "99.90", "4,000"]),
        "AMOUNT2": rng.choice(["2,000,000", "15,300.50"]),
        "MONTH": rng.choice(["March", "June", "October"]),
        "BUILD": rng.choice(["20240315", "4512", "2024.03.15.1"]),
        "ACCOUNT": token(rng, digits, 10),
        "COUNT": str(rng.randrange(100, 50_000)),
        "COUNT2": str(rng.randrange(100, 50_000)),
        "EPOCH": str(rng.randrange(1_600_000_000, 1_800_000_000)),
        "SHA": token(rng, "0123456789abcdef", 40),
        "IP": f"{rng.randrange(10, 250)}.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(1, 254)}",
        "LONG_ID": token(rng, digits, 16),
    }


SLOT = re.compile(r"\{([A-Z_0-9]+)\}")


def fill(template: str, values: dict[str, str], labelled: dict[str, str]) -> tuple[str, list[dict[str, object]]]:
    """The template with its slots filled, and the spans of the labelled slots."""
    pieces: list[str] = []
    spans: list[dict[str, object]] = []
    cursor = 0
    length = 0
    for match in SLOT.finditer(template):
        pieces.append(template[cursor : match.start()])
        length += match.start() - cursor
        value = values[match.group(1)]
        if match.group(1) in labelled:
            spans.append({"start": length, "end": length + len(value), "kind": labelled[match.group(1)]})
        pieces.append(value)
        length += len(value)
        cursor = match.end()
    pieces.append(template[cursor:])
    return "".join(pieces), spans


def build() -> list[dict[str, object]]:
    rng = random.Random(SEED)
    records: list[dict[str, object]] = []
    labelled = {
        "FULL": "PERSON",
        "FIRST": "PERSON",
        "LAST": "PERSON",
        "STAFF": "PERSON",
        "STAFF_FIRST": "PERSON",
        "EMAIL": "EMAIL",
        "EMAIL2": "EMAIL",
        "PHONE": "PHONE",
        "CARD": "CARD",
        "IBAN": "IBAN",
        "SECRET": "SECRET",
        "PASSWORD": "SECRET",
        "APIKEY": "SECRET",
        "FIRST_LOWER": "PERSON",
        "EMAIL_UPPER": "EMAIL",
    }
    for round_number in range(5):
        for index, (source, template) in enumerate(PII_TEMPLATES):
            full, customer = PEOPLE[(index + round_number * 7) % len(PEOPLE)]
            staff = STAFF[(index + round_number) % len(STAFF)]
            first, last = full.split()[0], full.split()[-1]
            other = PEOPLE[(index + round_number * 3 + 5) % len(PEOPLE)][0]
            values = {
                "FULL": full,
                "FIRST": first,
                "LAST": last,
                "STAFF": staff,
                "STAFF_FIRST": staff.split()[0],
                "CUSTOMER": customer,
                "EMAIL": email(rng, full),
                "EMAIL2": email(rng, other),
                "PHONE": rng.choice(PHONES),
                "CARD": card(rng),
                "IBAN": iban(rng),
                "SECRET": secret(rng),
                "PASSWORD": "Welcome" + token(rng, string.digits, 4) + "!",
                "APIKEY": token(rng, "0123456789abcdef", 32),
                "FIRST_LOWER": first.lower(),
            }
            values["EMAIL_UPPER"] = values["EMAIL"].upper()
            text, spans = fill(template, values, labelled)
            records.append(
                {
                    "id": f"pii-{round_number}-{index:02d}",
                    "group": f"{source}:{index:02d}",
                    "near_miss": False,
                    "text": text,
                    "people": [full, staff],
                    "customer": customer,
                    "spans": spans,
                }
            )
    for round_number in range(3):
        for index, template in enumerate(NEAR_MISS_TEMPLATES):
            full, customer = PEOPLE[(index + round_number * 5) % len(PEOPLE)]
            if "Will you" in template or "mark" in template.lower() or "chase" in template:
                full = rng.choice(["Will Turner", "Mark Chase", "Grace May", "Frank Price"])
            text, spans = fill(template, near_values(rng), {})
            records.append(
                {
                    "id": f"near-{round_number}-{index:02d}",
                    "group": f"near:{index:02d}",
                    "near_miss": True,
                    "text": text,
                    "people": [full],
                    "customer": customer,
                    "spans": spans,
                }
            )
    return records


MARK = re.compile(r"\[\[([A-Z]+)\|(.+?)\]\]")


def holdout() -> list[dict[str, object]]:
    """The hand-written held-out messages of `holdout.txt`, their `[[KIND|value]]` marks as spans."""
    records: list[dict[str, object]] = []
    for number, line in enumerate(HOLDOUT_SOURCE.read_text(encoding="utf-8").splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        people, customer, marked = (part.strip() for part in line.split(" | ", 2))
        text_parts: list[str] = []
        spans: list[dict[str, object]] = []
        cursor = length = 0
        for match in MARK.finditer(marked):
            text_parts.append(marked[cursor : match.start()])
            length += match.start() - cursor
            value = match.group(2)
            spans.append({"start": length, "end": length + len(value), "kind": match.group(1)})
            text_parts.append(value)
            length += len(value)
            cursor = match.end()
        text_parts.append(marked[cursor:])
        records.append(
            {
                "id": f"holdout-{number:02d}",
                "group": "holdout",
                "near_miss": not spans,
                "text": "".join(text_parts),
                "people": people.split(";"),
                "customer": customer,
                "spans": spans,
            }
        )
    return records


def write(records: list[dict[str, object]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    spans = sum(len(r["spans"]) for r in records)  # type: ignore[arg-type]
    print(f"{len(records)} messages, {spans} labelled spans -> {path}")


def main() -> None:
    write(build(), OUT)
    write(holdout(), HOLDOUT)


if __name__ == "__main__":
    main()
