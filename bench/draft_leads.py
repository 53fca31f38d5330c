"""The draft bench's fixed leads (draft_leads.json) and what each one asked, read into types.

Every lead carries its own expectations, written from the lead's side: the topics a good
answer addresses, the times it stated (in its own zone), strings that must never reach the
draft. The product's parser and slot search never see these: they are what the checks
compare the draft against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

LEADS_FILE = Path(__file__).with_name("draft_leads.json")


@dataclass(frozen=True)
class Topic:
    """Something the lead asked: any of the word stems in the draft, or the asset offered."""

    words: tuple[str, ...]
    asset: str | None = None


@dataclass(frozen=True)
class Stated:
    """The times the lead stated, as a person reads them; windows in the prospect's zone."""

    weekdays: tuple[int, ...] = ()  # 0 = Monday
    excluded_weekdays: tuple[int, ...] = ()
    dates: tuple[date, ...] = ()
    windows: tuple[tuple[time, time], ...] = ()
    earliest: date | None = None
    latest: date | None = None


@dataclass(frozen=True)
class Asset:
    """A Drive file the lead's tenant may share: our id, title, one line, link."""

    id: str
    name: str
    description: str
    link: str


@dataclass(frozen=True)
class Person:
    """A contact owner."""

    id: str
    email: str
    first_name: str
    last_name: str
    time_zone: str

    @property
    def name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Tenant:
    """A tenant's zone, voice and writer settings, as plain JSON for the product's models."""

    key: str
    timezone: str
    voice: dict[str, Any]
    writer: dict[str, Any]

    @property
    def sender_name(self) -> str:
        """Who signs when the lead has no owner."""
        return str(self.voice["sender_name"])


@dataclass(frozen=True)
class Thread:
    """The existing thread with the prospect."""

    subject: str
    last_message: str
    last_speaker: str  # prospect or us
    message_count: int


@dataclass(frozen=True)
class LeadCase:
    """One bench lead: the form as HubSpot sends it, what we know, what it expects."""

    id: str
    tags: tuple[str, ...]
    language: str
    tenant: Tenant
    owner: Person | None
    form: dict[str, str]
    thread: Thread | None
    company: dict[str, Any] | None
    angle: str
    assets: tuple[Asset, ...]
    asks: tuple[Topic, ...]
    stated: Stated | None
    prospect_zone: str | None
    busy: tuple[tuple[datetime, datetime], ...] = ()
    fixed_slots: tuple[datetime, ...] | None = None
    forbidden: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def email(self) -> str:
        """The address the draft must go to."""
        return self.form["email"]

    @property
    def message(self) -> str:
        """The form's message, or empty."""
        return self.form.get("message", "")

    @property
    def owner_zone(self) -> str:
        """The owner's time zone, else the tenant's."""
        return self.owner.time_zone if self.owner else self.tenant.timezone

    @property
    def signer(self) -> str:
        """Who must sign: the owner, else the tenant's sender."""
        return self.owner.name if self.owner else self.tenant.sender_name

    @property
    def untrusted_texts(self) -> tuple[str, ...]:
        """Everything the lead typed (form values and the thread's last message)."""
        texts = [value for key, value in self.form.items() if key != "email"]
        if self.thread:
            texts.append(self.thread.last_message)
        return tuple(texts)

    @property
    def allowed_links(self) -> tuple[str, ...]:
        """The only links a draft may carry: the lead's candidate assets'."""
        return tuple(asset.link for asset in self.assets)


def _clock(text: str) -> time:
    if text == "23:59":
        return time(23, 59, 59)
    return time.fromisoformat(text)


def _stated(raw: dict[str, Any] | None) -> Stated | None:
    if not raw:
        return None
    return Stated(
        weekdays=tuple(raw.get("weekdays", ())),
        excluded_weekdays=tuple(raw.get("excluded_weekdays", ())),
        dates=tuple(date.fromisoformat(d) for d in raw.get("dates", ())),
        windows=tuple((_clock(a), _clock(b)) for a, b in raw.get("windows", ())),
        earliest=date.fromisoformat(raw["earliest"]) if raw.get("earliest") else None,
        latest=date.fromisoformat(raw["latest"]) if raw.get("latest") else None,
    )


def _padded(message: str, filler: list[str], length: int) -> str:
    # A long message made of the language's distinct paragraphs, cycled until long enough.
    parts = [message]
    index = 0
    while sum(len(p) + 2 for p in parts) < length:
        parts.append(filler[index % len(filler)])
        index += 1
    return "\n\n".join(parts)


def _asset(key: str, raw: dict[str, str]) -> Asset:
    return Asset(
        id=f"drv-{key}",
        name=raw["name"],
        description=raw["description"],
        link=f"https://drive.google.com/file/d/drv-{key}/view",
    )


def load_cases(path: Path = LEADS_FILE) -> tuple[datetime, list[LeadCase]]:
    """The bench's reference time and its leads, in file order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    now = datetime.fromisoformat(data["now"])
    tenants = {
        key: Tenant(key=key, timezone=raw["timezone"], voice=raw["voice"], writer=raw["writer"])
        for key, raw in data["tenants"].items()
    }
    owners = {key: Person(**raw) for key, raw in data["owners"].items()}
    assets = {key: _asset(key, raw) for key, raw in data["assets"].items()}
    cases = []
    for raw in data["leads"]:
        form = dict(raw["form"])
        if raw.get("pad_to"):
            form["message"] = _padded(
                form["message"], data["filler"][raw["language"]], raw["pad_to"]
            )
        tenant = tenants[raw["tenant"]]
        owner = owners[raw["owner"]] if raw.get("owner") else None
        zone = owner.time_zone if owner else tenant.timezone
        busy = tuple((_local(start, zone), _local(end, zone)) for start, end in raw.get("busy", ()))
        fixed = raw.get("slots")
        thread = raw.get("thread")
        cases.append(
            LeadCase(
                id=raw["id"],
                tags=tuple(raw.get("tags", ())),
                language=raw["language"],
                tenant=tenant,
                owner=owner,
                form=form,
                thread=Thread(**thread) if thread else None,
                company=raw.get("company"),
                angle=raw.get("angle", ""),
                assets=tuple(assets[key] for key in raw.get("assets", ())),
                asks=tuple(
                    Topic(
                        words=tuple(t["words"]),
                        asset=f"drv-{t['asset']}" if t.get("asset") else None,
                    )
                    for t in raw.get("asks", ())
                ),
                stated=_stated(raw.get("prefers")),
                prospect_zone=raw.get("prospect_zone"),
                busy=busy,
                fixed_slots=tuple(datetime.fromisoformat(s) for s in fixed) if fixed else None,
                forbidden=tuple(raw.get("forbidden", ())),
            )
        )
    return now, cases


def _local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
