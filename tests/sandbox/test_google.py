"""The Google side of the sandbox, driven only through google-api-python-client over HTTP."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import pytest
from google.auth.credentials import AnonymousCredentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from sales_agent_sandbox.gmail_query import address_terms
from tests.sandbox.clients import list_files

USER = "owner@sandbox.example.com"


def _service(name: str, version: str, endpoint: str):
    return build(
        name,
        version,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
        static_discovery=True,
        cache_discovery=False,
    )


@pytest.fixture
def gmail(sandbox_url, admin):
    # Gmail's discovery paths already start with gmail/v1/, so the bare host is the endpoint.
    return _service("gmail", "v1", f"{sandbox_url}/")


@pytest.fixture
def calendar(sandbox_url, admin):
    # Calendar and Drive paths are relative to their servicePath: the endpoint must carry it.
    return _service("calendar", "v3", f"{sandbox_url}/calendar/v3/")


@pytest.fixture
def drive(sandbox_url, admin):
    return _service("drive", "v3", f"{sandbox_url}/drive/v3/")


def _raw(msg: EmailMessage) -> str:
    return base64.urlsafe_b64encode(msg.as_bytes()).decode()


def _headers(message: dict) -> dict[str, str]:
    return {h["name"]: h["value"] for h in message["payload"]["headers"]}


def _seed_thread(admin) -> str:
    created = admin.seed(
        gmail=[
            {
                "thread": "t",
                "from": "Pat <pat@prospect.example>",
                "to": USER,
                "subject": "Pricing",
                "body": "What does it cost?",
                "date": "2024-05-01T10:00:00Z",
            },
            {
                "thread": "t",
                "from": USER,
                "to": "pat@prospect.example",
                "subject": "Re: Pricing",
                "body": "Here it is.",
                "date": "2024-05-01T11:00:00Z",
            },
            {
                "from": "other@elsewhere.example",
                "to": USER,
                "subject": "Unrelated",
                "body": "Hi",
                "date": "2024-05-02T10:00:00Z",
            },
        ]
    )
    return created["gmail"]["threads"]["t"]


def test_threads_list_with_from_or_to_query(gmail, admin):
    thread_id = _seed_thread(admin)
    listed = (
        gmail.users()
        .threads()
        .list(userId="me", q="from:pat@prospect.example OR to:pat@prospect.example")
        .execute()
    )
    assert [t["id"] for t in listed["threads"]] == [thread_id]
    assert listed["resultSizeEstimate"] == 1
    everything = gmail.users().threads().list(userId="me").execute()
    assert len(everything["threads"]) == 2


def test_threads_get_full_and_metadata(gmail, admin):
    thread_id = _seed_thread(admin)
    full = gmail.users().threads().get(userId="me", id=thread_id).execute()
    assert len(full["messages"]) == 2
    first = full["messages"][0]
    assert _headers(first)["Subject"] == "Pricing"
    text = base64.urlsafe_b64decode(first["payload"]["body"]["data"]).decode()
    assert "What does it cost?" in text
    meta = (
        gmail.users()
        .threads()
        .get(userId="me", id=thread_id, format="metadata", metadataHeaders=["From"])
        .execute()
    )
    assert [h["name"] for h in meta["messages"][0]["payload"]["headers"]] == ["From"]


def test_draft_reply_in_thread_then_send(gmail, admin):
    thread_id = _seed_thread(admin)
    thread = gmail.users().threads().get(userId="me", id=thread_id).execute()
    last = _headers(thread["messages"][-1])
    reply = EmailMessage()
    reply["To"] = "pat@prospect.example"
    reply["Subject"] = "Re: Pricing"
    reply["In-Reply-To"] = last["Message-ID"]
    reply["References"] = last["Message-ID"]
    reply.set_content("Shall we talk on Tuesday?")
    draft = (
        gmail.users()
        .drafts()
        .create(userId="me", body={"message": {"raw": _raw(reply), "threadId": thread_id}})
        .execute()
    )
    assert draft["message"]["threadId"] == thread_id
    assert draft["message"]["labelIds"] == ["DRAFT"]

    shown = gmail.users().threads().get(userId="me", id=thread_id).execute()
    assert len(shown["messages"]) == 3
    assert "DRAFT" in shown["messages"][-1]["labelIds"]
    fetched = gmail.users().drafts().get(userId="me", id=draft["id"]).execute()
    assert _headers(fetched["message"])["In-Reply-To"] == last["Message-ID"]

    reply.replace_header("Subject", "Re: Pricing")
    reply.set_content("Shall we talk on Wednesday?")
    updated = (
        gmail.users()
        .drafts()
        .update(
            userId="me",
            id=draft["id"],
            body={"message": {"raw": _raw(reply), "threadId": thread_id}},
        )
        .execute()
    )
    assert updated["id"] == draft["id"]

    sent = gmail.users().drafts().send(userId="me", body={"id": draft["id"]}).execute()
    assert sent["threadId"] == thread_id
    assert "SENT" in sent["labelIds"]
    assert "DRAFT" not in sent["labelIds"]
    assert gmail.users().drafts().list(userId="me").execute()["drafts"] == []
    state = admin.state("gmail")["gmail"][USER]
    assert sent["id"] in state["sent"]


def test_draft_without_reply_headers_starts_a_new_thread(gmail, admin):
    thread_id = _seed_thread(admin)
    msg = EmailMessage()
    msg["To"] = "pat@prospect.example"
    msg["Subject"] = "Something else"
    msg.set_content("Hello")
    draft = (
        gmail.users()
        .drafts()
        .create(userId="me", body={"message": {"raw": _raw(msg), "threadId": thread_id}})
        .execute()
    )
    assert draft["message"]["threadId"] != thread_id


def test_messages_send_and_unknown_thread(gmail, admin):
    msg = EmailMessage()
    msg["To"] = "pat@prospect.example"
    msg["Subject"] = "Hello"
    msg.set_content("Hi Pat")
    sent = gmail.users().messages().send(userId="me", body={"raw": _raw(msg)}).execute()
    assert sent["labelIds"] == ["SENT"]
    with pytest.raises(HttpError) as caught:
        gmail.users().threads().get(userId="me", id="doesnotexist").execute()
    assert caught.value.status_code == 404
    assert caught.value.error_details[0]["reason"] == "notFound"


def test_labels_create_and_thread_modify(gmail, admin):
    thread_id = _seed_thread(admin)
    label = gmail.users().labels().create(userId="me", body={"name": "Sales Agent"}).execute()
    assert label["id"].startswith("Label_")
    names = [lb["name"] for lb in gmail.users().labels().list(userId="me").execute()["labels"]]
    assert "Sales Agent" in names
    assert "INBOX" in names
    with pytest.raises(HttpError) as caught:
        gmail.users().labels().create(userId="me", body={"name": "sales agent"}).execute()
    assert caught.value.status_code == 409
    modified = (
        gmail.users()
        .threads()
        .modify(userId="me", id=thread_id, body={"addLabelIds": [label["id"]]})
        .execute()
    )
    assert all(label["id"] in m["labelIds"] for m in modified["messages"])
    labelled = gmail.users().threads().list(userId="me", q="label:sales-agent").execute()
    assert [t["id"] for t in labelled["threads"]] == [thread_id]


def test_injected_503_and_429_reach_google_sdk(gmail, admin):
    admin.fault(pathPattern="/gmail/v1/users/*/labels", status=503, count=1)
    with pytest.raises(HttpError) as caught:
        gmail.users().labels().list(userId="me").execute()
    assert caught.value.status_code == 503
    admin.fault(pathPattern="/gmail/v1/users/*/labels", status=429, retryAfter=3, count=1)
    with pytest.raises(HttpError) as caught:
        gmail.users().labels().list(userId="me").execute()
    assert caught.value.status_code == 429
    assert caught.value.resp["retry-after"] == "3"
    assert gmail.users().labels().list(userId="me").execute()["labels"]


def test_gmail_counts_quota_units_per_user_and_refuses_past_the_minutes_budget(gmail, admin):
    admin.config(gmail_units_per_minute=25)
    gmail.users().labels().list(userId="me").execute()  # 1 unit
    gmail.users().threads().list(userId="me").execute()  # 10
    gmail.users().threads().list(userId="me").execute()  # 10: 21 of 25 in this minute
    with pytest.raises(HttpError) as caught:
        gmail.users().threads().list(userId="me").execute()
    assert caught.value.status_code == 429
    assert caught.value.error_details[0]["reason"] == "rateLimitExceeded"
    # A cheaper call still fits; what was refused was not counted.
    gmail.users().labels().list(userId="me").execute()
    quota = admin.calls()["gmail"]
    [mine] = quota["users"]
    assert (mine["units"], mine["maxUnitsInWindow"], quota["rejected"]) == (22, 22, 1)


def test_freebusy_returns_seeded_blocks(calendar, admin):
    admin.seed(
        calendars=[
            {
                "id": "ada@ourco.example",
                "busy": [
                    {"start": "2030-01-07T09:00:00Z", "end": "2030-01-07T10:00:00Z"},
                    {"start": "2030-01-07T13:00:00Z", "end": "2030-01-07T14:30:00Z"},
                    {"start": "2030-01-09T09:00:00Z", "end": "2030-01-09T10:00:00Z"},
                ],
            }
        ]
    )
    answer = (
        calendar.freebusy()
        .query(
            body={
                "timeMin": "2030-01-07T00:00:00Z",
                "timeMax": "2030-01-08T00:00:00Z",
                "items": [{"id": "ada@ourco.example"}, {"id": "nobody@ourco.example"}],
            }
        )
        .execute()
    )
    assert answer["calendars"]["ada@ourco.example"]["busy"] == [
        {"start": "2030-01-07T09:00:00Z", "end": "2030-01-07T10:00:00Z"},
        {"start": "2030-01-07T13:00:00Z", "end": "2030-01-07T14:30:00Z"},
    ]
    assert answer["calendars"]["nobody@ourco.example"]["errors"][0]["reason"] == "notFound"


def test_drive_lists_only_live_files_in_the_folder(drive, admin):
    admin.seed(
        drives=[{"id": "0AShared", "name": "Sales"}],
        driveFiles=[
            {
                "id": "fold1",
                "name": "Case studies",
                "mimeType": "application/vnd.google-apps.folder",
            },
            {"id": "f1", "name": "Acme case study.pdf", "parents": ["fold1"]},
            {"id": "f2", "name": "Old case study.pdf", "parents": ["fold1"], "trashed": True},
            {"id": "f3", "name": "Secret case study.pdf", "parents": ["elsewhere"]},
            {
                "id": "sub",
                "name": "More",
                "parents": ["fold1"],
                "mimeType": "application/vnd.google-apps.folder",
            },
            {"id": "f4", "name": "One pager.pdf", "parents": ["0AShared"], "driveId": "0AShared"},
        ],
    )
    in_folder = "'fold1' in parents and trashed = false"
    fields = "nextPageToken, files(id, name, mimeType, parents, webViewLink)"
    listed = list_files(drive, in_folder, fields=fields, pageSize=1)
    ids = [f["id"] for f in listed["files"]]
    while "nextPageToken" in listed:
        listed = list_files(
            drive, in_folder, fields=fields, pageSize=1, pageToken=listed["nextPageToken"]
        )
        ids += [f["id"] for f in listed["files"]]
    assert sorted(ids) == ["f1", "sub"]
    folders = list_files(
        drive,
        "('fold1' in parents or '0AShared' in parents) and "
        "mimeType != 'application/vnd.google-apps.folder' and trashed = false",
    )
    assert sorted(f["id"] for f in folders["files"]) == ["f1", "f4"]
    assert set(folders["files"][0]) == {"kind", "id", "name", "mimeType"}
    shared = list_files(drive, "trashed = false", corpora="drive", driveId="0AShared")
    assert [f["id"] for f in shared["files"]] == ["f4"]
    my_drive = drive.files().list(q="'0AShared' in parents").execute()
    assert my_drive["files"] == []


def test_drive_rejects_bad_query_and_fields(drive):
    with pytest.raises(HttpError) as caught:
        drive.files().list(q="'x' in parents and").execute()
    assert caught.value.status_code == 400
    with pytest.raises(HttpError) as caught:
        drive.files().list(fields="files(id, webViewUrl)").execute()
    assert caught.value.status_code == 400


def test_calendar_endpoint_without_service_path_is_a_clear_404(sandbox_url, admin):
    misrouted = _service("calendar", "v3", f"{sandbox_url}/")
    with pytest.raises(HttpError) as caught:
        misrouted.freebusy().query(body={}).execute()
    assert caught.value.status_code == 404
    assert "/calendar/v3/" in caught.value.reason


def test_only_pure_address_queries_take_the_header_shortcut():
    assert address_terms("from:Pat@Prospect.example OR to:pat@prospect.example") == [
        ("from", "pat@prospect.example"),
        ("to", "pat@prospect.example"),
    ]
    # Anything else may match a message that names neither address: the full scan.
    for query in ("-from:pat@x.example", "from:pat@x.example subject:hi", "in:drafts to:a@b"):
        assert address_terms(query) is None
    assert address_terms("") is None
