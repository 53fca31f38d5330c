"""Seeding: turn a JSON scenario into sandbox records (owners, mail, files, busy blocks...)."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from . import hubspot_objects as objs
from . import hubspot_subscriptions as subs
from .gmail import store_message
from .gmail_inbound import undeliverable_entries
from .gmail_mime import decode_raw, header, parse
from .hubspot_schema import DEFAULT_ASSOCIATION
from .state import (
    Calendar,
    DriveFile,
    FormSubmission,
    GmailLabel,
    Owner,
    SharedDrive,
    Store,
    parse_time,
    utcnow,
)


class SeedError(ValueError):
    """A seed document the sandbox cannot apply."""


def apply_seed(store: Store, doc: dict[str, Any]) -> dict[str, Any]:
    """Apply a seed document; return the ids the sandbox gave to what it created."""
    created: dict[str, Any] = {}
    with store.locked():
        portal = store.portal(int(doc.get("portalId", store.config.default_portal_id)))
        for token, portal_id in (doc.get("tokens") or {}).items():
            store.hubspot_auth.register(str(token), int(portal_id))
            store.portal(int(portal_id))
        if doc.get("account"):
            portal.account.update(dict(doc["account"]))
        if doc.get("rateLimitMax") is not None:
            portal.rate_limit_max = int(doc["rateLimitMax"])
        for otype, names in (doc.get("customProperties") or {}).items():
            portal.custom_properties.setdefault(objs.object_type(otype), set()).update(names)
        created["owners"] = [_owner(store, portal.owners, o) for o in doc.get("owners") or []]
        created["subscriptionDefinitions"] = subs.seed_types(
            portal, list(doc.get("subscriptionDefinitions") or [])
        )
        for key in ("contacts", "companies", "tasks", "notes"):
            if key in doc:
                created[key] = [_record(store, portal, key, item) for item in doc[key]]
        created["associations"] = [
            _association(portal, item) for item in doc.get("associations") or []
        ]
        for form in doc.get("forms") or []:
            # A form id, or {"id", "name"}.
            guid = str(form["id"]) if isinstance(form, dict) else str(form)
            portal.forms.setdefault(guid, [])
            if isinstance(form, dict) and form.get("name"):
                portal.form_names[guid] = str(form["name"])
        created["formSubmissions"] = [
            _submission(portal.forms, item) for item in doc.get("formSubmissions") or []
        ]
        created["emailSubscriptions"] = subs.seed_statuses(
            portal, dict(doc.get("emailSubscriptions") or {})
        )
        if doc.get("undeliverable") is not None:
            store.undeliverable.update(undeliverable_entries(doc["undeliverable"]))
        created["labels"] = [_label(store, item) for item in doc.get("labels") or []]
        created["gmail"] = _gmail(store, doc.get("gmail") or [])
        for item in doc.get("calendars") or []:
            _calendar(store, item)
        for item in doc.get("drives") or []:
            # Members see the drive's files; by default the default user's domain.
            members = item.get("members") or [f"domain:{_domain(store.config.default_google_user)}"]
            store.shared_drives[str(item["id"])] = SharedDrive(
                str(item["id"]), str(item["name"]), [str(m).lower() for m in members]
            )
        created["driveFiles"] = [_drive_file(store, item) for item in doc.get("driveFiles") or []]
    return created


def _owner(store: Store, owners: dict[str, Owner], item: dict[str, Any]) -> str:
    now = utcnow()
    owner_id = str(item.get("id") or store.crm_id())
    owners[owner_id] = Owner(
        id=owner_id,
        email=str(item["email"]),
        first_name=str(item.get("firstName", "")),
        last_name=str(item.get("lastName", "")),
        user_id=int(item.get("userId") or 9_000_000 + store.next_int()),
        created_at=now,
        updated_at=now,
        archived=bool(item.get("archived", False)),
        teams=list(item.get("teams") or []),
    )
    return owner_id


def _record(store: Store, portal: Any, key: str, item: dict[str, Any]) -> str:
    props = item.get("properties", item)
    wanted = str(item.get("id") or "")
    table = portal.table(key)
    # A stable id asked by the seed (HubSpot ids are numeric strings).
    if wanted and (not wanted.isdigit() or wanted in table):
        raise SeedError(f"record id must be numeric and unused: {wanted}")
    # Read-only properties HubSpot sets itself (hs_email_optout): a seed may set them.
    fixed = {k: str(v).lower() for k, v in props.items() if k in subs.SEEDABLE and v is not None}
    props = {k: v for k, v in props.items() if k not in subs.SEEDABLE}
    clean = objs.validate_properties(portal, key, props, creating=True)
    obj = objs.create_object(store, portal, key, clean)
    obj.properties.update(fixed if key == "contacts" else {})
    if wanted:
        del table[obj.id]
        obj.id = obj.properties["hs_object_id"] = wanted
        table[wanted] = obj
    if item.get("createdAt"):
        obj.created_at = parse_time(str(item["createdAt"]))
    return obj.id


def _association(portal: Any, item: dict[str, Any]) -> list[str]:
    frm, to = objs.object_type(str(item["fromType"])), objs.object_type(str(item["toType"]))
    from_id, to_id = str(item["fromId"]), str(item["toId"])
    for otype, oid in ((frm, from_id), (to, to_id)):
        if oid not in portal.table(otype):
            raise SeedError(f"association to a missing {otype} record: {oid}")
    type_id = int(item.get("typeId") or DEFAULT_ASSOCIATION[(frm, to)])
    objs.associate(portal, frm, from_id, to, to_id, type_id)
    return [from_id, to_id]


def _submission(forms: dict[str, list[FormSubmission]], item: dict[str, Any]) -> str:
    values = item.get("values") or []
    if isinstance(values, dict):
        values = [{"name": k, "value": str(v)} for k, v in values.items()]
    submitted = item.get("submittedAt")
    at = parse_time(submitted) if submitted is not None else utcnow()
    submission = FormSubmission(
        conversion_id=str(item.get("conversionId") or uuid.uuid4()),
        submitted_at=int(at.timestamp() * 1000),
        values=[{"name": str(v["name"]), "value": str(v["value"])} for v in values],
        page_url=str(item.get("pageUrl", "https://www.example.com/contact")),
    )
    forms.setdefault(str(item["formGuid"]), []).append(submission)
    return submission.conversion_id


def _label(store: Store, item: dict[str, Any]) -> str:
    box = store.mailbox(str(item.get("user", "me")))
    label = GmailLabel(
        id=str(item.get("id") or f"Label_{store.next_int()}"), name=str(item["name"])
    )
    box.labels[label.id] = label
    return label.id


def _gmail(store: Store, items: list[dict[str, Any]]) -> dict[str, Any]:
    threads: dict[str, str] = {}
    last_ids: dict[str, list[str]] = {}
    messages: list[str] = []
    for item in items:
        box = store.mailbox(str(item.get("user", "me")))
        key = str(item.get("thread") or uuid.uuid4())
        raw = item.get("raw")
        data = decode_raw(raw) if raw is not None else _compose(item, last_ids.get(key, []))
        sender = parseaddr(str(item.get("from", "")))[1]
        default_labels = ["SENT"] if sender.lower() == box.email.lower() else ["INBOX"]
        message = store_message(
            store,
            box,
            data,
            list(item.get("labelIds") or default_labels),
            threads.get(key),
            keep_thread=key in threads,
            message_id=str(item["id"]) if item.get("id") else None,
            new_thread_id=str(item["threadId"]) if item.get("threadId") else None,
            # Seeded history arrived at its Date: Gmail's search index has it already.
            indexed_by_date=True,
        )
        threads.setdefault(key, message.thread_id)
        last_ids.setdefault(key, []).append(header(parse(message.raw), "Message-ID"))
        messages.append(message.id)
    return {"threads": threads, "messages": messages}


def _compose(item: dict[str, Any], previous: list[str]) -> bytes:
    msg = EmailMessage()
    for name, key in (("From", "from"), ("To", "to"), ("Cc", "cc"), ("Subject", "subject")):
        if item.get(key):
            msg[name] = str(item[key])
    msg["Date"] = format_datetime(parse_time(str(item["date"])) if item.get("date") else utcnow())
    msg["Message-ID"] = str(item.get("messageId") or make_msgid(domain="sandbox.example.com"))
    if previous:
        msg["In-Reply-To"] = previous[-1]
        msg["References"] = " ".join(previous)
    msg.set_content(str(item.get("body", "")))
    if item.get("html"):
        msg.add_alternative(str(item["html"]), subtype="html")
    return msg.as_bytes()


def _calendar(store: Store, item: dict[str, Any]) -> None:
    calendar_id = str(item["id"]).lower()
    calendar = store.calendars.setdefault(calendar_id, Calendar(calendar_id))
    calendar.time_zone = str(item.get("timeZone", calendar.time_zone))
    for block in item.get("busy") or []:
        start, end = parse_time(str(block["start"])), parse_time(str(block["end"]))
        if end <= start:
            raise SeedError(f"busy block ends before it starts: {block}")
        calendar.busy.append((start, end))


def _drive_file(store: Store, item: dict[str, Any]) -> str:
    now = utcnow()
    file_id = str(item.get("id") or f"1{uuid.uuid4().hex[:32]}")
    modified = parse_time(str(item["modifiedTime"])) if item.get("modifiedTime") else now
    store.drive_files[file_id] = DriveFile(
        id=file_id,
        name=str(item["name"]),
        mime_type=str(item.get("mimeType", "application/pdf")),
        parents=[str(p) for p in item.get("parents") or []],
        created_time=modified,
        modified_time=modified,
        trashed=bool(item.get("trashed", False)),
        starred=bool(item.get("starred", False)),
        drive_id=item.get("driveId"),
        description=item.get("description"),
        size=item.get("size"),
        owner_email=str(item.get("owner", store.config.default_google_user)),
        content=str(item.get("content", "")),
        shared_with=[str(who).lower() for who in item.get("sharedWith") or []],
    )
    return file_id


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()
