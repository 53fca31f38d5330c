"""The sandbox's fault modes over every path: a failure after commit on every write
endpoint (the write is in the store, the client gets the vendor's 500), outage windows,
and slow answers and timeouts on any vendor path."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from sales_agent_sandbox.app import create_app

TOKEN = "pat-fault-modes"
USER = "owner@sandbox.example.com"
GMAIL = f"/gmail/v1/users/{USER}"
UPLOAD = f"/upload/gmail/v1/users/{USER}"
TASK = {"hs_timestamp": "2030-01-01T09:00:00Z", "hs_task_subject": "Call back"}

# POSTs that only read, and the endpoints that issue or revoke credentials rather than
# write the objects a client works with (the auth tests cover those).
READS = {
    "POST /crm/v3/objects/{object_type}/search",
    "POST /crm/v3/objects/{object_type}/batch/read",
    "POST /communication-preferences/v4/statuses/batch/read",
    "POST /calendar/v3/freeBusy",
    # The model APIs compute an answer and store nothing (test_llm_*.py fault them).
    "POST /v1/chat/completions",
    "POST /v1/messages",
}
CREDENTIALS = {
    "POST /oauth/v1/token",
    "DELETE /oauth/v1/refresh-tokens/{token}",
    "POST /token",
}


def _raw(subject: str) -> str:
    msg = EmailMessage()
    msg["To"] = "pat@prospect.example"
    msg["Subject"] = subject
    msg.set_content("Hi Pat")
    return base64.urlsafe_b64encode(msg.as_bytes()).decode()


def _mime(subject: str) -> bytes:
    msg = EmailMessage()
    msg["To"] = "pat@prospect.example"
    msg["Subject"] = subject
    msg.set_content("Hi Pat")
    return msg.as_bytes()


@dataclass
class Write:
    """One write endpoint: how to call it on seeded data, and what it left in the store."""

    route: str  # "METHOD template", as the app declares it
    call: Callable[[Any], tuple[str, str, dict[str, Any]]]  # seeded ids -> method, path, kwargs
    left: Callable[[dict[str, Any], Any], bool]  # (state after, seeded ids) -> the write is there


def _objects(state: dict[str, Any], otype: str) -> list[dict[str, Any]]:
    return state["hubspot"]["portals"]["1000"]["objects"].get(otype, [])


def _has(state: dict[str, Any], otype: str, name: str, value: str) -> bool:
    return any(o["properties"].get(name) == value for o in _objects(state, otype))


def _box(state: dict[str, Any]) -> dict[str, Any]:
    return state["gmail"][USER]


def _subjects(state: dict[str, Any]) -> list[str]:
    return [m["headers"].get("Subject", "") for m in _box(state)["messages"]]


def _draft_subject(state: dict[str, Any], draft_id: str) -> str:
    message_id = _box(state)["drafts"].get(draft_id)
    found = [m for m in _box(state)["messages"] if m["id"] == message_id]
    return found[0]["headers"]["Subject"] if found else ""


def _sent_draft(state: dict[str, Any], ids: Any) -> bool:
    """The seeded draft was sent: no longer a draft, and in the mailbox as SENT."""
    sent = [m for m in _box(state)["messages"] if "SENT" in m["labelIds"]]
    gone = ids["draft"] not in _box(state)["drafts"]
    return gone and any(m["headers"].get("Subject") == "Seeded draft" for m in sent)


def _upload(subject: str) -> dict[str, Any]:
    return {
        "params": {"uploadType": "media"},
        "content": _mime(subject),
        "headers": {"Content-Type": "message/rfc822"},
    }


WRITES = [
    Write(
        "POST /crm/v3/objects/{object_type}",
        lambda ids: (
            "POST",
            "/crm/v3/objects/contacts",
            {"json": {"properties": {"email": "new@prospect.example"}}},
        ),
        lambda state, ids: _has(state, "contacts", "email", "new@prospect.example"),
    ),
    Write(
        "POST /crm/v3/objects/{object_type}/batch/upsert",
        lambda ids: (
            "POST",
            "/crm/v3/objects/contacts/batch/upsert",
            {
                "json": {
                    "inputs": [
                        {
                            "idProperty": "email",
                            "id": "upsert@prospect.example",
                            "properties": {"firstname": "Uma"},
                        }
                    ]
                }
            },
        ),
        lambda state, ids: _has(state, "contacts", "email", "upsert@prospect.example"),
    ),
    Write(
        "POST /crm/v3/objects/{object_type}/batch/create",
        lambda ids: (
            "POST",
            "/crm/v3/objects/tasks/batch/create",
            {"json": {"inputs": [{"properties": {**TASK, "hs_task_subject": "Batch task"}}]}},
        ),
        lambda state, ids: _has(state, "tasks", "hs_task_subject", "Batch task"),
    ),
    Write(
        "PATCH /crm/v3/objects/{object_type}/{object_id}",
        lambda ids: (
            "PATCH",
            f"/crm/v3/objects/contacts/{ids['contacts'][0]}",
            {"json": {"properties": {"firstname": "Patched"}}},
        ),
        lambda state, ids: _has(state, "contacts", "firstname", "Patched"),
    ),
    Write(
        "DELETE /crm/v3/objects/{object_type}/{object_id}",
        lambda ids: ("DELETE", f"/crm/v3/objects/contacts/{ids['contacts'][0]}", {}),
        lambda state, ids: (
            all(o.get("archived") for o in _objects(state, "contacts"))
            or not _objects(state, "contacts")
        ),
    ),
    Write(
        "PUT /crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}",
        lambda ids: (
            "PUT",
            f"/crm/v4/objects/contacts/{ids['contacts'][0]}/associations/default/companies/"
            f"{ids['companies'][0]}",
            {},
        ),
        lambda state, ids: any(
            a["fromId"] == ids["contacts"][0] and a["toId"] == ids["companies"][0]
            for a in state["hubspot"]["portals"]["1000"]["associations"]
        ),
    ),
    Write(
        "POST /gmail/v1/users/{user_id}/messages/send",
        lambda ids: ("POST", f"{GMAIL}/messages/send", {"json": {"raw": _raw("Sent JSON")}}),
        lambda state, ids: "Sent JSON" in _subjects(state),
    ),
    Write(
        "POST /upload/gmail/v1/users/{user_id}/messages/send",
        lambda ids: ("POST", f"{UPLOAD}/messages/send", _upload("Sent upload")),
        lambda state, ids: "Sent upload" in _subjects(state),
    ),
    Write(
        "POST /gmail/v1/users/{user_id}/drafts",
        lambda ids: ("POST", f"{GMAIL}/drafts", {"json": {"message": {"raw": _raw("Draft")}}}),
        lambda state, ids: "Draft" in _subjects(state),
    ),
    Write(
        "POST /upload/gmail/v1/users/{user_id}/drafts",
        lambda ids: ("POST", f"{UPLOAD}/drafts", _upload("Draft upload")),
        lambda state, ids: "Draft upload" in _subjects(state),
    ),
    Write(
        "PUT /gmail/v1/users/{user_id}/drafts/{draft_id}",
        lambda ids: (
            "PUT",
            f"{GMAIL}/drafts/{ids['draft']}",
            {"json": {"message": {"raw": _raw("Updated")}}},
        ),
        lambda state, ids: _draft_subject(state, ids["draft"]) == "Updated",
    ),
    Write(
        "PUT /upload/gmail/v1/users/{user_id}/drafts/{draft_id}",
        lambda ids: ("PUT", f"{UPLOAD}/drafts/{ids['draft']}", _upload("Updated upload")),
        lambda state, ids: _draft_subject(state, ids["draft"]) == "Updated upload",
    ),
    Write(
        "DELETE /gmail/v1/users/{user_id}/drafts/{draft_id}",
        lambda ids: ("DELETE", f"{GMAIL}/drafts/{ids['draft']}", {}),
        lambda state, ids: ids["draft"] not in _box(state)["drafts"],
    ),
    Write(
        "POST /gmail/v1/users/{user_id}/drafts/send",
        lambda ids: ("POST", f"{GMAIL}/drafts/send", {"json": {"id": ids["draft"]}}),
        lambda state, ids: _sent_draft(state, ids),
    ),
    Write(
        "POST /upload/gmail/v1/users/{user_id}/drafts/send",
        lambda ids: (
            "POST",
            f"{UPLOAD}/drafts/send",
            {
                "params": {"uploadType": "multipart"},
                "files": None,
                "content": _multipart(ids["draft"]),
                "headers": {"Content-Type": "multipart/related; boundary=b0"},
            },
        ),
        lambda state, ids: _sent_draft(state, ids),
    ),
    Write(
        "POST /gmail/v1/users/{user_id}/threads/{thread_id}/modify",
        lambda ids: (
            "POST",
            f"{GMAIL}/threads/{ids['thread']}/modify",
            {"json": {"addLabelIds": ["STARRED"]}},
        ),
        lambda state, ids: any(
            "STARRED" in m["labelIds"]
            for m in _box(state)["messages"]
            if m["threadId"] == ids["thread"]
        ),
    ),
    Write(
        "POST /gmail/v1/users/{user_id}/labels",
        lambda ids: ("POST", f"{GMAIL}/labels", {"json": {"name": "Followed up"}}),
        lambda state, ids: any(lb["name"] == "Followed up" for lb in _box(state)["labels"]),
    ),
    Write(
        "DELETE /gmail/v1/users/{user_id}/labels/{label_id}",
        lambda ids: ("DELETE", f"{GMAIL}/labels/{ids['label']}", {}),
        lambda state, ids: all(lb["id"] != ids["label"] for lb in _box(state)["labels"]),
    ),
    Write(
        "POST /gmail/v1/users/{user_id}/messages/{message_id}/modify",
        lambda ids: (
            "POST",
            f"{GMAIL}/messages/{ids['message']}/modify",
            {"json": {"addLabelIds": ["STARRED"]}},
        ),
        lambda state, ids: any(
            "STARRED" in m["labelIds"] for m in _box(state)["messages"] if m["id"] == ids["message"]
        ),
    ),
    Write(
        "POST /gmail/v1/users/{user_id}/watch",
        lambda ids: ("POST", f"{GMAIL}/watch", {"json": {"topicName": "projects/p/topics/new"}}),
        lambda state, ids: (_box(state)["watch"] or {}).get("topicName") == "projects/p/topics/new",
    ),
    Write(
        "POST /gmail/v1/users/{user_id}/stop",
        lambda ids: ("POST", f"{GMAIL}/stop", {}),
        lambda state, ids: _box(state)["watch"] is None,
    ),
    Write(
        "POST /communication-preferences/v3/unsubscribe",
        lambda ids: (
            "POST",
            "/communication-preferences/v3/unsubscribe",
            {"json": {"emailAddress": "pat@prospect.example", "subscriptionId": "8000001"}},
        ),
        lambda state, ids: _email_status(state, "pat@prospect.example") == "NOT_SUBSCRIBED",
    ),
    Write(
        "POST /communication-preferences/v3/subscribe",
        lambda ids: (
            "POST",
            "/communication-preferences/v3/subscribe",
            {"json": {"emailAddress": "sam@prospect.example", "subscriptionId": "8000001"}},
        ),
        lambda state, ids: _email_status(state, "sam@prospect.example") == "SUBSCRIBED",
    ),
]


def _email_status(state: dict[str, Any], email: str) -> str | None:
    found = state["hubspot"]["portals"]["1000"]["emailSubscriptions"].get(email, {})
    status: str | None = found.get("8000001")
    return status


def _multipart(draft_id: str) -> bytes:
    mime = _mime("Seeded draft").decode()
    return (
        "--b0\r\nContent-Type: application/json\r\n\r\n"
        f'{{"id": "{draft_id}"}}\r\n'
        f"--b0\r\nContent-Type: message/rfc822\r\n\r\n{mime}\r\n--b0--\r\n"
    ).encode()


def _write_routes() -> set[str]:
    # Every vendor endpoint the sandbox serves, from its own OpenAPI document.
    paths = create_app(demo=False).openapi()["paths"]
    routes = {
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        if not path.startswith("/_sandbox")
        for method in operations
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
    }
    return routes - READS - CREDENTIALS


def test_every_write_endpoint_has_a_fail_after_commit_case():
    assert {write.route for write in WRITES} == _write_routes()


class Vendor(httpx.Client):
    """Both vendors' APIs: HubSpot's with its bearer token, Google's as the default user."""

    def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:
        if not str(url).startswith(("/gmail", "/upload", "/drive", "/calendar")):
            headers = kwargs.get("headers") or {}
            kwargs["headers"] = {"Authorization": f"Bearer {TOKEN}", **headers}
        return super().request(method, url, **kwargs)


@pytest.fixture
def vendor(sandbox_url: str, admin: Any) -> Vendor:
    admin.register_token(TOKEN)
    return Vendor(base_url=sandbox_url, timeout=10)


def _seed(admin: Any, vendor: Vendor) -> dict[str, Any]:
    created = admin.seed(
        contacts=[{"email": "pat@prospect.example", "firstname": "Pat"}],
        companies=[{"name": "Prospect", "domain": "prospect.example"}],
        labels=[{"name": "Old label", "user": USER}],
        gmail=[{"user": USER, "from": "pat@prospect.example", "to": USER, "subject": "Hello"}],
    )
    draft = vendor.post(f"{GMAIL}/drafts", json={"message": {"raw": _raw("Seeded draft")}})
    draft.raise_for_status()
    watched = vendor.post(f"{GMAIL}/watch", json={"topicName": "projects/p/topics/seeded"})
    watched.raise_for_status()
    return {
        "contacts": created["contacts"],
        "companies": created["companies"],
        "label": created["labels"][0],
        "thread": next(iter(created["gmail"]["threads"].values())),
        "message": created["gmail"]["messages"][0],
        "draft": draft.json()["id"],
    }


@pytest.mark.parametrize("write", WRITES, ids=[w.route for w in WRITES])
def test_a_write_commits_and_then_answers_500(write: Write, vendor: Vendor, admin: Any) -> None:
    ids = _seed(admin, vendor)
    method, path, kwargs = write.call(ids)
    assert not write.left(admin.state(), ids), "the case must detect its write"
    admin.fault(pathPattern=path, method=method, afterCommit=True)
    response = vendor.request(method, path, **{k: v for k, v in kwargs.items() if v is not None})
    assert response.status_code == 500
    # The vendor's own error shape, so the SDKs raise their usual exception.
    body = response.json()
    assert "error" in body if path.startswith(("/gmail", "/upload")) else "category" in body
    assert write.left(admin.state(), ids)


def test_an_outage_window_fails_every_call_in_it_then_ends(vendor: Vendor, admin: Any):
    admin.fault(pathPattern="/crm/v3/objects/contacts*", status=503, forSeconds=1.0)
    answers = [vendor.get("/crm/v3/objects/contacts/1").status_code for _ in range(5)]
    assert answers == [503] * 5
    time.sleep(1.1)
    assert vendor.get("/crm/v3/objects/contacts/1").status_code == 404


def test_an_outage_can_start_later_and_end(vendor: Vendor, admin: Any):
    admin.fault(pathPattern=f"{GMAIL}/labels", status=503, startAfterSeconds=0.5, forSeconds=0.5)
    assert vendor.get(f"{GMAIL}/labels").status_code == 200
    time.sleep(0.6)
    assert vendor.get(f"{GMAIL}/labels").status_code == 503
    time.sleep(0.5)
    assert vendor.get(f"{GMAIL}/labels").status_code == 200


def test_a_count_bounds_an_outage_window(vendor: Vendor, admin: Any):
    admin.fault(pathPattern=f"{GMAIL}/labels", status=500, forSeconds=30, count=2)
    codes = [vendor.get(f"{GMAIL}/labels").status_code for _ in range(3)]
    assert codes == [500, 500, 200]


@pytest.mark.parametrize("spec", [{"forSeconds": 0}, {"forSeconds": -1}, {"startAfterSeconds": -1}])
def test_bad_windows_are_refused(admin: Any, spec: dict[str, Any]):
    response = admin.http.post("/faults", json={"pathPattern": "/x", "status": 503, **spec})
    assert response.status_code == 400


# One path of each kind: HubSpot read, search and write, Gmail, Drive, Calendar, a token.
PATHS = [
    ("GET", "/crm/v3/objects/contacts/1", {}),
    ("POST", "/crm/v3/objects/contacts/search", {"json": {}}),
    ("POST", "/crm/v3/objects/tasks", {"json": {"properties": TASK}}),
    ("GET", "/crm/v3/owners/", {}),
    ("GET", f"{GMAIL}/threads", {"params": {"q": "from:pat@prospect.example"}}),
    ("GET", "/drive/v3/files", {}),
    (
        "POST",
        "/calendar/v3/freeBusy",
        {
            "json": {
                "timeMin": "2030-01-01T00:00:00Z",
                "timeMax": "2030-01-02T00:00:00Z",
                "items": [{"id": USER}],
            }
        },
    ),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), PATHS, ids=[p[1] for p in PATHS])
def test_a_delay_slows_any_path_and_a_timeout_holds_it(
    method: str, path: str, kwargs: dict[str, Any], vendor: Vendor, admin: Any
) -> None:
    started = time.monotonic()
    plain = vendor.request(method, path, **kwargs).status_code
    quick = time.monotonic() - started
    admin.fault(pathPattern=path, method=method, delayMs=400)
    started = time.monotonic()
    assert vendor.request(method, path, **kwargs).status_code == plain
    assert time.monotonic() - started >= 0.4 > quick
    admin.fault(pathPattern=path, method=method, timeoutSeconds=5)
    with pytest.raises(httpx.ReadTimeout):
        vendor.request(method, path, timeout=0.5, **kwargs)
    admin.clear_faults()
