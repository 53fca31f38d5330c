"""The sandbox's own endpoints under /_sandbox/: reset, seed, state dump, faults, config."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from . import gmail_mime as mime
from .demo import load_demo
from .deps import FaultsDep, StoreDep
from .drive import file_json
from .faults import FaultSpecError
from .hubspot_crm import owner_json
from .hubspot_objects import object_json
from .seed import SeedError, apply_seed
from .state import Store, iso

router = APIRouter(prefix="/_sandbox", tags=["sandbox"])

JsonBody = Annotated[dict[str, Any], Body()]
_SUMMARY_HEADERS = ("From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References")


@router.post("/reset")
def reset(store: StoreDep, faults: FaultsDep, demo: bool = False) -> dict[str, Any]:
    """Empty the sandbox (records, fault rules, counters); `?demo=true` reloads the demo.

    The configuration stays. Tests rely on the default being empty, whatever the start-up.
    """
    with store.locked():
        store.reset()
        faults.reset()
        loaded = load_demo(store) if demo else None
    return {"status": "ok", "demo": loaded}


@router.post("/seed")
def seed(body: JsonBody, store: StoreDep) -> JSONResponse:
    """Add owners, records, form submissions, mail, busy blocks and Drive files."""
    try:
        created = apply_seed(store, body)
    except (SeedError, KeyError, ValueError, TypeError) as exc:
        return JSONResponse({"error": f"bad seed: {exc!r}"}, status_code=400)
    return JSONResponse(created)


@router.get("/config")
def get_config(store: StoreDep) -> dict[str, Any]:
    """Return the tunable behaviour."""
    return asdict(store.config)


@router.patch("/config")
def patch_config(body: JsonBody, store: StoreDep) -> JSONResponse:
    """Change rate limits, search lag or defaults, by field name."""
    names = {f.name: f.type for f in fields(store.config)}
    unknown = sorted(set(body) - set(names))
    if unknown:
        return JSONResponse({"error": f"unknown config fields: {unknown}"}, status_code=400)
    with store.locked():
        for name, value in body.items():
            setattr(store.config, name, value)
    return JSONResponse(asdict(store.config))


@router.post("/faults")
def add_fault(body: JsonBody, faults: FaultsDep) -> JSONResponse:
    """Register a fault rule: pathPattern (glob), method, status, count, probability,
    retryAfter, delayMs, afterCommit, message, timeoutSeconds, forSeconds, startAfterSeconds
    (faults.py says what each does)."""
    try:
        rule = faults.add_rule(body)
    except (FaultSpecError, TypeError, ValueError) as exc:
        return JSONResponse({"error": f"bad fault rule: {exc}"}, status_code=400)
    return JSONResponse(asdict(rule), status_code=201)


@router.get("/faults")
def list_faults(faults: FaultsDep) -> dict[str, Any]:
    """Return fault rules, call counts and rate-limit peaks."""
    return faults.snapshot()


@router.delete("/faults")
def clear_faults(faults: FaultsDep) -> dict[str, str]:
    """Remove every fault rule."""
    faults.clear_rules()
    return {"status": "ok"}


@router.get("/state")
def state(store: StoreDep, faults: FaultsDep, section: str | None = None) -> dict[str, Any]:
    """Dump everything (or one section: hubspot, gmail, calendar, drive, calls, config, demo,
    pubsub)."""
    with store.locked():
        dump = {
            "config": asdict(store.config),
            "hubspot": _hubspot(store),
            "gmail": _gmail(store),
            "calendar": {
                cal.id: {
                    "timeZone": cal.time_zone,
                    "busy": [{"start": iso(s), "end": iso(e)} for s, e in sorted(cal.busy)],
                }
                for cal in store.calendars.values()
            },
            "drive": {
                "drives": [asdict(d) for d in store.shared_drives.values()],
                "files": [file_json(f) for f in store.drive_files.values()],
            },
            "calls": faults.snapshot(),
            "demo": store.demo,
            "pubsub": {
                "subscriptions": [
                    {"name": sub.name, "topic": sub.topic, "pushEndpoint": sub.endpoint}
                    for found in store.push_subscriptions.values()
                    for sub in found
                ],
                "undeliverable": sorted(store.undeliverable),
            },
        }
    return {section: dump.get(section)} if section else dump


def _hubspot(store: Store) -> dict[str, Any]:
    return {
        "tokens": dict(store.hubspot_auth.tokens),
        "portals": {
            str(portal.id): {
                "objects": {
                    otype: [object_json(portal, obj, ["*"]) for obj in table.values()]
                    for otype, table in portal.objects.items()
                },
                "associations": [
                    {"fromType": f, "fromId": fid, "toType": t, "toId": tid, "typeId": type_id}
                    for f, fid, t, tid, type_id in sorted(portal.associations)
                ],
                "owners": [owner_json(o) for o in portal.owners.values()],
                "forms": {guid: len(subs) for guid, subs in portal.forms.items()},
                "subscriptionDefinitions": list(portal.subscription_types.values()),
                "emailSubscriptions": {
                    email: {sub_id: status.status for sub_id, status in found.items()}
                    for email, found in portal.email_statuses.items()
                },
            }
            for portal in store.portals.values()
        },
    }


def _gmail(store: Store) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for box in store.mailboxes.values():
        messages: list[dict[str, Any]] = []
        for message in box.messages.values():
            parsed = mime.parse(message.raw)
            summary = {name: mime.header(parsed, name) for name in _SUMMARY_HEADERS}
            messages.append(
                {
                    "id": message.id,
                    "threadId": message.thread_id,
                    "labelIds": message.label_ids,
                    "historyId": str(message.history_id),
                    "sentByApi": message.sent_by_api,
                    "headers": summary,
                    # Every header as sent (List-Unsubscribe, Auto-Submitted...), in order.
                    "allHeaders": [{"name": k, "value": str(v)} for k, v in parsed.items()],
                    "snippet": mime.snippet(parsed),
                }
            )
        watch = box.watch
        result[box.email] = {
            "threads": dict(box.threads),
            "drafts": dict(box.drafts),
            "sent": [m["id"] for m in messages if "SENT" in m["labelIds"]],
            "messages": messages,
            "labels": [
                {"id": lb.id, "name": lb.name, "type": lb.type} for lb in box.labels.values()
            ],
            "historyId": str(box.history_id),
            "historyFloor": str(box.history_floor),
            "historyRecords": len(box.history),
            "watch": None
            if watch is None
            else {
                "topicName": watch.topic_name,
                "labelIds": watch.label_ids,
                "labelFilterBehavior": watch.label_filter_behavior,
                "expiration": str(watch.expiration_ms),
            },
        }
    return result
