"""Flat views for tests and demos: drafts, sent mail, tasks, contacts, call counts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from . import gmail_mime as mime
from .deps import FaultsDep, StoreDep
from .state import CrmObject, GmailMessage, Portal, Store, iso

router = APIRouter(prefix="/_sandbox", tags=["sandbox"])


def _mail(user: str, message: GmailMessage) -> dict[str, Any]:
    parsed = mime.parse(message.raw)
    return {
        "user": user,
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": list(message.label_ids),
        "from": mime.header(parsed, "From"),
        "to": mime.header(parsed, "To"),
        "cc": mime.header(parsed, "Cc"),
        "subject": mime.header(parsed, "Subject"),
        "messageIdHeader": mime.header(parsed, "Message-ID"),
        "inReplyTo": mime.header(parsed, "In-Reply-To"),
        "references": mime.header(parsed, "References"),
        "body": mime.body_text(parsed),
        "internalDate": str(message.internal_date),
        "historyId": str(message.history_id),
        # Every header as stored (List-Unsubscribe, List-Unsubscribe-Post...), in order.
        "headers": [{"name": k, "value": str(v)} for k, v in parsed.items()],
    }


@router.get("/drafts")
def drafts(store: StoreDep) -> list[dict[str, Any]]:
    """List every mailbox's drafts, with their headers and text."""
    with store.locked():
        return [
            {**_mail(box.email, box.messages[message_id]), "draftId": draft_id}
            for box in store.mailboxes.values()
            for draft_id, message_id in box.drafts.items()
        ]


@router.get("/sent")
def sent(store: StoreDep, include_seeded: bool = False) -> list[dict[str, Any]]:
    """List messages sent through the API (seeded history too with ?include_seeded=true)."""
    with store.locked():
        return [
            _mail(box.email, message)
            for box in store.mailboxes.values()
            for message in sorted(box.messages.values(), key=lambda m: m.history_id)
            if "SENT" in message.label_ids and (message.sent_by_api or include_seeded)
        ]


def _associated(portal: Portal, obj: CrmObject, to_type: str) -> list[str]:
    return sorted(
        {
            to_id
            for frm, from_id, to, to_id, _ in portal.associations
            if frm == obj.object_type and from_id == obj.id and to == to_type
        },
        key=int,
    )


def _records(store: Store, otype: str, related: tuple[str, ...]) -> list[dict[str, Any]]:
    with store.locked():
        return [
            {
                "portalId": portal.id,
                "id": obj.id,
                "properties": dict(obj.properties),
                "createdAt": iso(obj.created_at),
                "updatedAt": iso(obj.updated_at),
                "archived": obj.archived,
                "associations": {name: _associated(portal, obj, name) for name in related},
            }
            for portal in store.portals.values()
            for obj in sorted(portal.table(otype).values(), key=lambda o: int(o.id))
        ]


@router.get("/tasks")
def tasks(store: StoreDep) -> list[dict[str, Any]]:
    """List every portal's tasks with their associated contacts and companies."""
    return _records(store, "tasks", ("contacts", "companies"))


@router.get("/contacts")
def contacts(store: StoreDep) -> list[dict[str, Any]]:
    """List every portal's contacts with their associated companies and tasks."""
    return _records(store, "contacts", ("companies", "tasks", "notes"))


@router.get("/requests")
def requests(
    store: StoreDep, after: int = 0, vendor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """The logged vendor requests numbered after `after` (0: all still kept), oldest first:
    who each carried (HubSpot: portal and token fingerprint; Google: the subject) and what
    it touched (portals, mailboxes, calendars, Drive owners)."""
    return store.requests.read(after, vendor, limit)


def _window(key: str) -> tuple[int, int | None]:
    portal, _, app = key.partition("/")
    return int(portal), int(app) if app else None


@router.get("/calls")
def calls(store: StoreDep, faults: FaultsDep) -> dict[str, Any]:
    """Return call counts per endpoint and, per portal (and OAuth app), the busiest window."""
    snapshot = faults.snapshot()
    windows = sorted(
        set(snapshot["peakAttemptsInWindow"]) | set(snapshot["peakInWindow"]),
        key=lambda key: (_window(key)[0], _window(key)[1] or 0),
    )
    config = store.config
    with store.locked():
        limits = {
            str(p.id): p.rate_limit_max or config.rate_limit_max for p in store.portals.values()
        }
        interval = config.rate_limit_interval_ms
    rows = []
    for key in windows:
        portal_id, app_id = _window(key)
        row: dict[str, Any] = {
            "portalId": portal_id,
            "windowMs": interval,
            "limit": limits.get(key, config.rate_limit_max)
            if app_id is None
            else store.hubspot_auth.app_limit(app_id),
            # Every call received, including those answered 429.
            "maxCallsInWindow": snapshot["peakAttemptsInWindow"].get(key, 0),
            # Calls the sandbox's own limiter admitted.
            "maxAdmittedInWindow": snapshot["peakInWindow"].get(key, 0),
        }
        if app_id is not None:
            # A public app's window: per installing portal and app.
            row["appId"] = app_id
        rows.append(row)
    return {
        "endpoints": [
            {"endpoint": key, "count": count} for key, count in sorted(snapshot["calls"].items())
        ],
        "portals": rows,
        "rejected": [
            {"policyName": name, "count": count}
            for name, count in sorted(snapshot["rejected"].items())
        ],
        # Gmail's quota units per user and the busiest rolling minute of each.
        "gmail": faults.gmail.snapshot(),
    }
