"""Timeouts, fail-after-commit per endpoint for both vendors, and the call counters."""

from __future__ import annotations

import base64
import json
import time
from email.message import EmailMessage
from typing import Any

import google_auth_httplib2
import httplib2
import hubspot
import pytest
import urllib3
from google.auth.credentials import AnonymousCredentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from hubspot.crm.objects.tasks import ApiException as TasksApiException
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate
from hubspot.crm.owners import ApiException as OwnersApiException

TOKEN = "pat-faults"
USER = "owner@sandbox.example.com"


@pytest.fixture
def client(sandbox_url: str, admin: Any) -> hubspot.Client:
    admin.register_token(TOKEN)
    return hubspot.Client.create(access_token=TOKEN, host=sandbox_url)


def _gmail(sandbox_url: str, timeout: float | None = None) -> Any:
    http = google_auth_httplib2.AuthorizedHttp(
        AnonymousCredentials(), http=httplib2.Http(timeout=timeout)
    )
    return build(
        "gmail",
        "v1",
        http=http,
        client_options={"api_endpoint": f"{sandbox_url}/"},
        static_discovery=True,
        cache_discovery=False,
    )


def _task(subject: str) -> SimplePublicObjectInputForCreate:
    return SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": "2030-01-01T09:00:00Z", "hs_task_subject": subject}
    )


def _draft_body() -> dict[str, Any]:
    msg = EmailMessage()
    msg["To"] = "pat@prospect.example"
    msg["Subject"] = "Hello"
    msg.set_content("Hi Pat")
    return {"message": {"raw": base64.urlsafe_b64encode(msg.as_bytes()).decode()}}


def test_timeout_makes_the_sdk_time_out_and_writes_nothing(client: hubspot.Client, admin: Any):
    admin.fault(pathPattern="/crm/v3/objects/tasks", method="POST", timeoutSeconds=5)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        client.crm.objects.tasks.basic_api.create(_task("Held"), _request_timeout=0.5)
    assert time.monotonic() - started < 3
    assert admin.tasks() == []
    # The rule was used up: the next call goes through.
    client.crm.objects.tasks.basic_api.create(_task("Next"))
    assert [t["properties"]["hs_task_subject"] for t in admin.tasks()] == ["Next"]


def test_timeout_after_commit_leaves_the_write(client: hubspot.Client, admin: Any):
    admin.fault(
        pathPattern="/crm/v3/objects/tasks", method="POST", timeoutSeconds=5, afterCommit=True
    )
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        client.crm.objects.tasks.basic_api.create(_task("Written anyway"), _request_timeout=0.5)
    assert [t["properties"]["hs_task_subject"] for t in admin.tasks()] == ["Written anyway"]


def test_held_request_answers_504_after_the_hold(sandbox_url: str, admin: Any):
    admin.fault(pathPattern="/gmail/v1/users/*/labels", timeoutSeconds=0.3)
    with pytest.raises(HttpError) as caught:
        _gmail(sandbox_url).users().labels().list(userId="me").execute()
    assert caught.value.status_code == 504
    assert caught.value.error_details[0]["reason"] == "backendError"


def test_gmail_timeout_raises_in_the_google_sdk(sandbox_url: str, admin: Any):
    admin.fault(pathPattern="/gmail/v1/users/*/drafts", method="POST", timeoutSeconds=5)
    with pytest.raises(TimeoutError):
        _gmail(sandbox_url, timeout=0.5).users().drafts().create(
            userId="me", body=_draft_body()
        ).execute()
    assert admin.drafts() == []


def test_fail_after_commit_task_is_visible_in_tasks(client: hubspot.Client, admin: Any):
    admin.fault(pathPattern="/crm/v3/objects/tasks", method="POST", status=500, afterCommit=True)
    with pytest.raises(TasksApiException) as caught:
        client.crm.objects.tasks.basic_api.create(_task("Committed"))
    assert caught.value.status == 500
    assert json.loads(caught.value.body)["category"] == "INTERNAL_ERROR"
    tasks = admin.tasks()
    assert [t["properties"]["hs_task_subject"] for t in tasks] == ["Committed"]
    # The rule is per endpoint and method: reading the task is untouched.
    read = client.crm.objects.tasks.basic_api.get_by_id(tasks[0]["id"])
    assert read.id == tasks[0]["id"]


def test_fail_after_commit_draft_is_visible_in_drafts(sandbox_url: str, admin: Any):
    admin.fault(pathPattern="/gmail/v1/users/*/drafts", method="POST", status=503, afterCommit=True)
    gmail = _gmail(sandbox_url)
    with pytest.raises(HttpError) as caught:
        gmail.users().drafts().create(userId="me", body=_draft_body()).execute()
    assert caught.value.status_code == 503
    drafts = admin.drafts()
    assert [(d["user"], d["to"], d["subject"]) for d in drafts] == [
        (USER, "pat@prospect.example", "Hello")
    ]
    assert "Hi Pat" in drafts[0]["body"]
    listed = gmail.users().drafts().list(userId="me").execute()
    assert [d["id"] for d in listed["drafts"]] == [drafts[0]["draftId"]]


def test_calls_count_endpoints_and_the_busiest_window(sandbox_url: str, admin: Any):
    admin.seed(tokens={"small-portal": 3000}, portalId=3000, rateLimitMax=5)
    small = hubspot.Client.create(access_token="small-portal", host=sandbox_url)
    for _ in range(5):
        small.crm.owners.owners_api.get_page()
    for _ in range(3):
        with pytest.raises(OwnersApiException) as caught:
            small.crm.owners.owners_api.get_page()
        assert caught.value.status == 429
    calls = admin.calls()
    assert {"endpoint": "GET /crm/v3/owners/", "count": 8} in calls["endpoints"]
    portal = next(p for p in calls["portals"] if p["portalId"] == 3000)
    assert portal == {
        "portalId": 3000,
        "windowMs": 10_000,
        "limit": 5,
        "maxCallsInWindow": 8,
        "maxAdmittedInWindow": 5,
    }
    assert calls["rejected"] == [{"policyName": "TEN_SECONDLY_ROLLING", "count": 3}]


def test_bad_fault_rules_are_refused(admin: Any):
    for rule in (
        {"pathPattern": "/x", "stauts": 500},
        {"status": 500},
        {"pathPattern": "/x", "status": 200},
    ):
        response = admin.http.post("/faults", json=rule)
        assert response.status_code == 400, rule
        assert "bad fault rule" in response.json()["error"]
