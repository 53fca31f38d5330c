"""Built-in demo data: owners, calendars, CRM records, Gmail threads and Drive files.

Plain data, no randomness: the only input is the clock, so busy blocks land on the next
business days and mail looks recent whatever the day the sandbox starts.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .demo_drive import ALLOWLIST, DEMO_DOMAIN, DRIVE, SHARED_DRIVE, drive_files
from .seed import apply_seed
from .state import Store, iso, utcnow

# (id, first name, last name, email, time zone, busy blocks as (business day 1..3, start, end))
OWNERS: list[tuple[str, str, str, str, str, list[tuple[int, str, str]]]] = [
    (
        "90000001",
        "Alex",
        "Morgan",
        f"alex.morgan@{DEMO_DOMAIN}",
        "America/New_York",
        [
            (1, "09:30", "10:30"),
            (1, "13:00", "14:00"),
            (2, "11:00", "12:30"),
            (3, "15:00", "16:00"),
        ],
    ),
    (
        "90000002",
        "Priya",
        "Shah",
        f"priya.shah@{DEMO_DOMAIN}",
        "Europe/London",
        [(1, "10:00", "12:00"), (2, "14:00", "15:00"), (3, "09:00", "09:30")],
    ),
    (
        "90000003",
        "Diego",
        "Ramos",
        f"diego.ramos@{DEMO_DOMAIN}",
        "America/Los_Angeles",
        [(1, "08:00", "09:00"), (2, "16:00", "17:00")],
    ),
]

COMPANIES: list[dict[str, Any]] = [
    {
        "id": "5100000001",
        "properties": {
            "name": "Acme Robotics",
            "domain": "acme-robotics.example",
            "industry": "Robotics",
            "city": "Pittsburgh",
            "country": "United States",
            "numberofemployees": "420",
        },
    },
    {
        "id": "5100000002",
        "properties": {
            "name": "Ledgerline",
            "domain": "ledgerline.example",
            "industry": "Fintech",
            "city": "London",
            "country": "United Kingdom",
            "numberofemployees": "160",
        },
    },
    {
        "id": "5100000003",
        "properties": {
            "name": "CarePoint Health",
            "domain": "carepoint-health.example",
            "industry": "Healthcare",
            "city": "San Diego",
            "country": "United States",
            "numberofemployees": "2300",
        },
    },
]

# (id, email, first, last, job title, company id, owner id)
CONTACTS: list[tuple[str, str, str, str, str, str, str | None]] = [
    (
        "4100000001",
        "jordan.lee@acme-robotics.example",
        "Jordan",
        "Lee",
        "VP Operations",
        "5100000001",
        "90000001",
    ),
    ("4100000002", "chris.wong@acme-robotics.example", "Chris", "Wong", "CTO", "5100000001", None),
    (
        "4100000003",
        "maria.garcia@ledgerline.example",
        "Maria",
        "Garcia",
        "Head of Compliance",
        "5100000002",
        "90000002",
    ),
    (
        "4100000004",
        "sam.patel@carepoint-health.example",
        "Sam",
        "Patel",
        "CIO",
        "5100000003",
        "90000003",
    ),
]

_ALEX = f"Alex Morgan <alex.morgan@{DEMO_DOMAIN}>"
_PRIYA = f"Priya Shah <priya.shah@{DEMO_DOMAIN}>"
_JORDAN = "Jordan Lee <jordan.lee@acme-robotics.example>"
_MARIA = "Maria Garcia <maria.garcia@ledgerline.example>"
_ALEX_SIG = "\n\n--\nAlex Morgan | Account Executive\nSandbox Co. | +1 555 0100\n"
_PRIYA_SIG = "\n\nBest,\nPriya\n\nPriya Shah\nSolutions Consultant, Sandbox Co.\n"

# Each message: thread key, mailbox, from, to, subject, hours before load time, body, ids.
# The first message of a thread names the thread id; replies quote what they answer.
GMAIL: list[dict[str, Any]] = [
    {
        "thread": "acme",
        "threadId": "thread-acme-robotics",
        "id": "msg-acme-robotics-1",
        "user": f"alex.morgan@{DEMO_DOMAIN}",
        "from": _JORDAN,
        "to": _ALEX,
        "subject": "Warehouse automation pilot",
        "hoursAgo": 74,
        "body": "Hi Alex,\n\nWe are looking at automating pick-and-place in two warehouses.\n"
        "Do you have anything on robotics deployments of our size?\n\nThanks,\nJordan\n\n"
        "Jordan Lee\nVP Operations, Acme Robotics\n+1 555 0142\n",
    },
    {
        "thread": "acme",
        "id": "msg-acme-robotics-2",
        "user": f"alex.morgan@{DEMO_DOMAIN}",
        "from": _ALEX,
        "to": _JORDAN,
        "subject": "Re: Warehouse automation pilot",
        "hoursAgo": 50,
        "body": "Hi Jordan,\n\nYes, we ran a similar rollout last year; I will send the case "
        "study.\nWould a call next week work?" + _ALEX_SIG + "\n"
        "On {quoted_date}, Jordan Lee <jordan.lee@acme-robotics.example> wrote:\n"
        "> Hi Alex,\n>\n> We are looking at automating pick-and-place in two warehouses.\n"
        "> Do you have anything on robotics deployments of our size?\n",
    },
    {
        "thread": "acme",
        "id": "msg-acme-robotics-3",
        "user": f"alex.morgan@{DEMO_DOMAIN}",
        "from": _JORDAN,
        "to": _ALEX,
        "cc": "Chris Wong <chris.wong@acme-robotics.example>",
        "subject": "Re: Warehouse automation pilot",
        "hoursAgo": 20,
        "body": "Alex,\n\nA call works. Tuesday or Wednesday afternoon is best for us;\n"
        "I have copied Chris, our CTO.\n\nJordan\n\n--\nJordan Lee\nVP Operations, Acme "
        "Robotics\n\nOn {quoted_date}, Alex Morgan <alex.morgan@sandbox.example.com> wrote:\n"
        "> Hi Jordan,\n>\n> Yes, we ran a similar rollout last year; I will send the case study."
        "\n> Would a call next week work?\n>\n> --\n> Alex Morgan | Account Executive\n",
    },
    {
        "thread": "ledgerline",
        "threadId": "thread-ledgerline",
        "id": "msg-ledgerline-1",
        "user": f"priya.shah@{DEMO_DOMAIN}",
        "from": _MARIA,
        "to": _PRIYA,
        "subject": "Audit trail requirements",
        "hoursAgo": 96,
        "body": "Hello Priya,\n\nOur regulator asks for a full audit trail of payment "
        "approvals.\nHow do you handle that?\n\nKind regards,\nMaria Garcia\n"
        "Head of Compliance | Ledgerline\n",
    },
    {
        "thread": "ledgerline",
        "id": "msg-ledgerline-2",
        "user": f"priya.shah@{DEMO_DOMAIN}",
        "from": _PRIYA,
        "to": _MARIA,
        "subject": "Re: Audit trail requirements",
        "hoursAgo": 30,
        "body": "Hello Maria,\n\nEvery approval is logged with who, when and why; I have "
        "attached our fintech one-pager." + _PRIYA_SIG + "\n"
        "-----Original Message-----\nFrom: Maria Garcia <maria.garcia@ledgerline.example>\n"
        "Subject: Audit trail requirements\n\nOur regulator asks for a full audit trail of "
        "payment approvals.\nHow do you handle that?\n",
    },
    {
        "thread": "newsletter",
        "threadId": "thread-newsletter",
        "id": "msg-newsletter-1",
        "user": f"alex.morgan@{DEMO_DOMAIN}",
        "from": "Robotics Weekly <news@robotics-weekly.example>",
        "to": _ALEX,
        "subject": "This week in robotics",
        "hoursAgo": 10,
        "body": "Top stories: cobots, AMRs and more.\n",
    },
]

# The form the product's demo tenant allowlists (its leads are posted as this form's).
DEMO_FORM = "demo-contact-form"
DEMO_FORM_NAME = "Contact us (demo)"


def _business_days(start: date, count: int) -> list[date]:
    days: list[date] = []
    current = start
    while len(days) < count:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days.append(current)
    return days


def _busy(zone: str, blocks: list[tuple[int, str, str]], now: datetime) -> list[dict[str, str]]:
    tz = ZoneInfo(zone)
    days = _business_days(now.astimezone(tz).date(), 3)
    busy = []
    for day, start, end in blocks:
        at = days[day - 1]
        begin = datetime.combine(at, time.fromisoformat(start), tz)
        finish = datetime.combine(at, time.fromisoformat(end), tz)
        busy.append({"start": iso(begin), "end": iso(finish)})
    return busy


def demo_seed(now: datetime | None = None) -> dict[str, Any]:
    """Return the demo as a seed document, dated relative to `now`."""
    now = now or utcnow()
    owners = [
        {"id": oid, "firstName": first, "lastName": last, "email": email, "userId": 7_000_000 + n}
        for n, (oid, first, last, email, _, _) in enumerate(OWNERS, 1)
    ]
    calendars = [
        {"id": email, "timeZone": zone, "busy": _busy(zone, blocks, now)}
        for _, _, _, email, zone, blocks in OWNERS
    ]
    contacts = []
    for cid, email, first, last, title, _, owner in CONTACTS:
        props = {"email": email, "firstname": first, "lastname": last, "jobtitle": title}
        if owner:
            props["hubspot_owner_id"] = owner
        contacts.append({"id": cid, "properties": props})
    associations = [
        {"fromType": "contacts", "fromId": cid, "toType": "companies", "toId": company}
        for cid, _, _, _, _, company, _ in CONTACTS
    ]
    gmail = []
    previous: dict[str, datetime] = {}
    for item in GMAIL:
        sent = now - timedelta(hours=item["hoursAgo"])
        # Quoted replies name the date of the message they quote, as mail clients write it.
        quoted = previous.get(item["thread"], sent).strftime("%a, %d %b %Y at %H:%M")
        body = str(item["body"]).replace("{quoted_date}", quoted)
        previous[item["thread"]] = sent
        rest = {k: v for k, v in item.items() if k not in ("hoursAgo", "body")}
        gmail.append({**rest, "body": body, "date": iso(sent)})
    return {
        "owners": owners,
        "companies": COMPANIES,
        "contacts": contacts,
        "associations": associations,
        "calendars": calendars,
        "gmail": gmail,
        "forms": [{"id": DEMO_FORM, "name": DEMO_FORM_NAME}],
        "drives": [
            {"id": SHARED_DRIVE, "name": "Sales enablement", "members": [f"domain:{DEMO_DOMAIN}"]}
        ],
        "driveFiles": drive_files(now),
    }


def describe() -> dict[str, Any]:
    """Return the demo's stable ids, for allowlists, tests and demos."""
    return {
        # Each owner has a Gmail mailbox (and a calendar): a service-account key delegated
        # for the demo's domain (POST /_sandbox/google/service-accounts) acts as any of them.
        "owners": [
            {
                "id": oid,
                "email": email,
                "name": f"{first} {last}",
                "timeZone": zone,
                "mailbox": email,
            }
            for oid, first, last, email, zone, _ in OWNERS
        ],
        "google": {"delegatedDomain": DEMO_DOMAIN, "sender": OWNERS[0][3]},
        "companies": [
            {"id": c["id"], "name": c["properties"]["name"], "domain": c["properties"]["domain"]}
            for c in COMPANIES
        ],
        "contacts": [
            {"id": cid, "email": email, "companyId": company, "ownerId": owner}
            for cid, email, _, _, _, company, owner in CONTACTS
        ],
        "forms": [{"id": DEMO_FORM, "name": DEMO_FORM_NAME}],
        "threads": [
            {"id": m["threadId"], "user": m["user"], "subject": m["subject"]}
            for m in GMAIL
            if "threadId" in m
        ],
        "drive": {
            "allowlistFolderIds": list(ALLOWLIST),
            "sharedDriveId": SHARED_DRIVE,
            "subfolderIds": ["folder-case-studies-robotics"],
            "outsideAllowlistFileIds": ["file-internal-robotics", "file-root-healthcare"],
            "trashedFileIds": [f[0] for f in DRIVE if f[4]],
        },
    }


def load_demo(store: Store, now: datetime | None = None) -> dict[str, Any]:
    """Add the demo data to the store (normally an empty one) and remember its ids."""
    with store.locked():
        apply_seed(store, demo_seed(now))
        for owner in OWNERS:
            store.mailbox(owner[3])
        store.demo = describe()
        return store.demo
