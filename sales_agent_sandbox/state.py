"""The sandbox's in-memory store: every vendor's state behind one re-entrant lock."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .config import DEFAULT_GOOGLE_USER, SandboxConfig
from .google_auth import GoogleAuth
from .hubspot_auth import HubSpotAuth
from .pubsub import Pusher, PushSubscription
from .request_log import RequestLog


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """Format a datetime as HubSpot and Google do: UTC, milliseconds, a Z suffix."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(value: str | int | float) -> datetime:
    """Parse an ISO 8601 timestamp or epoch milliseconds into an aware datetime."""
    if isinstance(value, int | float) or str(value).lstrip("-").isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class CrmObject:
    """A HubSpot CRM record (contact, company, task, note)."""

    id: str
    object_type: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    archived: bool = False


@dataclass
class Owner:
    """A HubSpot owner (a user who can own records)."""

    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    teams: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FormSubmission:
    """One submission of a HubSpot form, as the legacy submissions API lists it."""

    conversion_id: str
    submitted_at: int
    values: list[dict[str, str]]
    page_url: str


@dataclass
class Portal:
    """One HubSpot account: its records, associations, owners and forms."""

    id: int
    objects: dict[str, dict[str, CrmObject]] = field(default_factory=dict)
    # (from_type, from_id, to_type, to_id, association_type_id)
    associations: set[tuple[str, str, str, str, int]] = field(default_factory=set)
    owners: dict[str, Owner] = field(default_factory=dict)
    forms: dict[str, list[FormSubmission]] = field(default_factory=dict)
    form_names: dict[str, str] = field(default_factory=dict)
    # account-info overrides (timeZone, companyCurrency, ...), HubSpot's field names.
    account: dict[str, Any] = field(default_factory=dict)
    custom_properties: dict[str, set[str]] = field(default_factory=dict)
    rate_limit_max: int | None = None
    # Communication preferences: subscription types (id -> definition, HubSpot's field
    # names) and each address's explicit statuses (lowercased email -> id -> status).
    subscription_types: dict[str, dict[str, Any]] = field(default_factory=dict)
    email_statuses: dict[str, dict[str, SubscriptionStatus]] = field(default_factory=dict)

    def table(self, object_type: str) -> dict[str, CrmObject]:
        """Return the records of one object type, creating the table on first use."""
        return self.objects.setdefault(object_type, {})


@dataclass
class GmailMessage:
    """A stored Gmail message: the RFC 2822 bytes plus Gmail's own metadata."""

    id: str
    thread_id: str
    raw: bytes
    label_ids: list[str]
    internal_date: int
    history_id: int
    # Set by messages.send and drafts.send: /_sandbox/sent lists these, not seeded history.
    sent_by_api: bool = False
    # When Gmail's search index has it (epoch seconds): q= searches lag behind this.
    indexed_at: float = 0.0


@dataclass
class GmailLabel:
    """A Gmail label, system or user."""

    id: str
    name: str
    type: str = "user"
    message_list_visibility: str | None = "show"
    label_list_visibility: str | None = "labelShow"


SYSTEM_LABELS = (
    "INBOX",
    "SENT",
    "DRAFT",
    "SPAM",
    "TRASH",
    "UNREAD",
    "STARRED",
    "IMPORTANT",
    "CHAT",
    "CATEGORY_PERSONAL",
    "CATEGORY_SOCIAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
)


def _system_labels() -> dict[str, GmailLabel]:
    return {name: GmailLabel(name, name, "system", None, None) for name in SYSTEM_LABELS}


@dataclass
class HistoryChange:
    """One message's part in a history record: what it was at the change."""

    message_id: str
    thread_id: str
    # The message's labels just after the change (messagesAdded and labels* show them).
    label_ids: list[str]
    # labelAdded / labelRemoved: the labels this change added or removed.
    changed: list[str] = field(default_factory=list)


@dataclass
class HistoryRecord:
    """A change to a mailbox under one history id (users.history.list's History)."""

    id: int
    at: float
    added: list[HistoryChange] = field(default_factory=list)
    deleted: list[HistoryChange] = field(default_factory=list)
    labels_added: list[HistoryChange] = field(default_factory=list)
    labels_removed: list[HistoryChange] = field(default_factory=list)


@dataclass
class GmailWatch:
    """A users.watch registration: where the mailbox's changes are published, until when."""

    topic_name: str
    label_ids: list[str]
    # "include" (only changes to messages with one of label_ids) or "exclude".
    label_filter_behavior: str
    expiration_ms: int
    history_id: int


@dataclass
class Mailbox:
    """One Gmail user's mailbox."""

    email: str
    messages: dict[str, GmailMessage] = field(default_factory=dict)
    # thread id -> message ids in insertion order
    threads: dict[str, list[str]] = field(default_factory=dict)
    # draft id -> message id
    drafts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, GmailLabel] = field(default_factory=_system_labels)
    # The mailbox's current history id, its retained records (oldest first), and the
    # oldest startHistoryId history.list still answers (older: 404, the client resyncs).
    history_id: int = 0
    history: list[HistoryRecord] = field(default_factory=list)
    history_floor: int = 0
    watch: GmailWatch | None = None


@dataclass
class SubscriptionStatus:
    """An email address's explicit status for one HubSpot subscription type."""

    status: str
    legal_basis: str | None = None
    legal_basis_explanation: str | None = None


@dataclass
class Calendar:
    """A calendar reduced to what freeBusy reveals: its busy intervals."""

    id: str
    busy: list[tuple[datetime, datetime]] = field(default_factory=list)
    time_zone: str = "UTC"


@dataclass
class DriveFile:
    """A Drive file or folder."""

    id: str
    name: str
    mime_type: str
    parents: list[str]
    created_time: datetime
    modified_time: datetime
    trashed: bool = False
    starred: bool = False
    drive_id: str | None = None
    description: str | None = None
    size: int | None = None
    owner_email: str = DEFAULT_GOOGLE_USER
    content: str = ""
    # Drive permissions besides the owner: user emails, or "domain:example.com".
    shared_with: list[str] = field(default_factory=list)


@dataclass
class SharedDrive:
    """A shared drive."""

    id: str
    name: str
    # Who may see its files: user emails, or "domain:example.com".
    members: list[str] = field(default_factory=list)


# Every portal has HubSpot's default email subscription types; seeds may add others.
ONE_TO_ONE = "8000001"
MARKETING = "8000002"


def default_subscription_types() -> dict[str, dict[str, Any]]:
    """The subscription types a new portal has (SubscriptionDefinition's fields)."""
    created = "2024-01-01T00:00:00.000Z"
    types = [
        (ONE_TO_ONE, "One to One", "One to one emails from your sales team.", "Sales"),
        (MARKETING, "Marketing Information", "Marketing offers and updates.", "Marketing"),
    ]
    return {
        sub_id: {
            "id": sub_id,
            "name": name,
            "description": description,
            "purpose": purpose,
            "communicationMethod": "Email",
            "isActive": True,
            "isDefault": True,
            "isInternal": False,
            "businessUnitId": 0,
            "createdAt": created,
            "updatedAt": created,
        }
        for sub_id, name, description, purpose in types
    }


class Store:
    """All sandbox state; callers hold `store.locked()` while they read or write it."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.RLock()
        # Credentials and the request log have their own locks: the gate looks them up for
        # every request, and must not wait behind a long search holding the store's.
        self.hubspot_auth = HubSpotAuth(self.config)
        self.google_auth = GoogleAuth(self.config)
        self.requests = RequestLog(self.config)
        self.pusher = Pusher(self.config)
        self.reset()

    def reset(self) -> None:
        """Forget every record, credential (but the demo token) and logged request,
        keeping the configuration."""
        with self._lock:
            self._ids = itertools.count(1)
            self.portals: dict[int, Portal] = {}
            self.hubspot_auth.reset()
            self.google_auth.reset()
            self.requests.reset()
            self.pusher.reset()
            self.mailboxes: dict[str, Mailbox] = {}
            self.calendars: dict[str, Calendar] = {}
            self.drive_files: dict[str, DriveFile] = {}
            self.shared_drives: dict[str, SharedDrive] = {}
            self.history_id = 1000
            # Pub/Sub: topic -> push subscriptions; addresses ("x@y") and domains ("@y")
            # that bounce whatever is sent to them.
            self.push_subscriptions: dict[str, list[PushSubscription]] = {}
            self.undeliverable: set[str] = set()
            # What the demo loader put in (ids for allowlists and tests); None when empty.
            self.demo: dict[str, Any] | None = None

    @contextmanager
    def locked(self) -> Iterator[Store]:
        """Hold the store's lock for a read-modify-write sequence."""
        with self._lock:
            yield self

    def next_int(self) -> int:
        """Return the next value of the store-wide id sequence."""
        with self._lock:
            return next(self._ids)

    def crm_id(self) -> str:
        """Return a new numeric HubSpot record id."""
        return str(100_000 + self.next_int())

    def gmail_id(self) -> str:
        """Return a new Gmail-looking hexadecimal id."""
        return f"{0x18F0000000000000 + self.next_int():x}"

    def next_history_id(self) -> int:
        """Advance and return Gmail's history id."""
        with self._lock:
            self.history_id += 1
            return self.history_id

    def portal(self, portal_id: int) -> Portal:
        """Return a portal, creating it on first use."""
        with self._lock:
            if portal_id not in self.portals:
                self.portals[portal_id] = Portal(portal_id)
                self.portals[portal_id].subscription_types = default_subscription_types()
            return self.portals[portal_id]

    def mailbox(self, user_id: str) -> Mailbox:
        """Return a Gmail mailbox; `me` is the configured default user."""
        email = self.config.default_google_user if user_id == "me" else user_id
        with self._lock:
            key = email.lower()
            if key not in self.mailboxes:
                # A new mailbox's history starts now: nothing older can be asked for.
                self.mailboxes[key] = Mailbox(
                    email, history_id=self.history_id, history_floor=self.history_id
                )
            return self.mailboxes[key]

    def calendar(self, calendar_id: str) -> Calendar | None:
        """Return a calendar; `primary` is the default user's."""
        key = self.config.default_google_user if calendar_id == "primary" else calendar_id
        with self._lock:
            return self.calendars.get(key.lower())
