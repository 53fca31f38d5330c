"""Google credentials in the sandbox: service-account keys it issues (domain-wide delegation),
authorized-user files, and a subject that sees only its own mailbox, calendar and Drive.
Driven through google-auth and google-api-python-client over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.errors import HttpError

from sales_agent_sandbox.google_auth import new_private_key
from tests.sandbox.clients import CALENDAR, DRIVE, GMAIL, delegated, list_files, service

ALICE, CAROL, BOB = "alice@a.example", "carol@a.example", "bob@b.example"


def _reason(exc: HttpError) -> str:
    return str(exc.error_details[0]["reason"]) if exc.error_details else ""


def _seed_mail(admin: Any) -> None:
    admin.seed(
        gmail=[
            {"user": who, "from": "pat@prospect.example", "to": who, "subject": f"For {who}"}
            for who in (ALICE, BOB)
        ]
    )


def _subjects(gmail: Any, user: str = "me") -> list[str]:
    threads = gmail.users().threads().list(userId=user).execute().get("threads", [])
    return [
        next(h["value"] for h in m["payload"]["headers"] if h["name"] == "Subject")
        for t in threads
        for m in gmail.users().threads().get(userId=user, id=t["id"]).execute()["messages"]
    ]


def test_a_delegated_key_reads_its_subjects_mailbox_and_not_anothers(sandbox_url, admin):
    _seed_mail(admin)
    key = admin.service_account(["a.example"])
    assert key["type"] == "service_account"
    assert key["token_uri"] == f"{sandbox_url}/token"
    gmail = service(sandbox_url, "gmail", delegated(key, ALICE, GMAIL))

    assert _subjects(gmail) == [f"For {ALICE}"]
    assert _subjects(gmail, ALICE) == [f"For {ALICE}"]
    with pytest.raises(HttpError) as denied:
        gmail.users().threads().list(userId=BOB).execute()
    assert denied.value.resp.status == 403
    assert _reason(denied.value) == "forbidden"
    assert f"Delegation denied for {ALICE}" in str(denied.value)
    draft = {"message": {"raw": "VG86IHBhdEBwcm9zcGVjdC5leGFtcGxlDQpTdWJqZWN0OiBIaQ0KDQpIaQ"}}
    gmail.users().drafts().create(userId="me", body=draft).execute()
    assert [d["user"] for d in admin.drafts()] == [ALICE]
    units = {u["user"]: u["units"] for u in admin.calls()["gmail"]["users"]}
    assert set(units) == {ALICE}


def test_delegation_is_refused_for_a_domain_not_granted(sandbox_url, admin):
    key = admin.service_account(["a.example"])
    request = google.auth.transport.requests.Request()
    outsider = delegated(key, BOB, GMAIL)
    with pytest.raises(google.auth.exceptions.RefreshError, match="unauthorized_client"):
        outsider.refresh(request)

    admin.set_delegation(key["client_email"], ["a.example", "b.example"])
    outsider.refresh(request)
    assert outsider.token

    # Without a subject the key acts as the service account itself, which has no mailbox.
    itself = service_account.Credentials.from_service_account_info(key, scopes=GMAIL)
    with pytest.raises(HttpError) as caught:
        service(sandbox_url, "gmail", itself).users().labels().list(userId="me").execute()
    assert caught.value.resp.status == 400
    assert _reason(caught.value) == "failedPrecondition"


def test_a_signature_the_sandbox_did_not_issue_is_refused(sandbox_url, admin):
    key = admin.service_account(["a.example"])
    forged = dict(key)
    _, forged["private_key"] = new_private_key()  # a key the sandbox never issued
    request = google.auth.transport.requests.Request()
    with pytest.raises(google.auth.exceptions.RefreshError, match="Invalid JWT Signature"):
        delegated(forged, ALICE, GMAIL).refresh(request)

    genuine = delegated(key, ALICE, GMAIL)
    genuine.refresh(request)
    assert admin.delete_service_account(key["client_email"]) is True
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        delegated(key, ALICE, GMAIL).refresh(request)
    refused = httpx.get(
        f"{sandbox_url}/gmail/v1/users/me/labels",
        headers={"Authorization": f"Bearer {genuine.token}"},
    )
    assert refused.status_code == 401


def test_drive_shows_a_subject_only_its_files_and_what_is_shared_with_it(sandbox_url, admin):
    folder = "application/vnd.google-apps.folder"
    admin.seed(
        drives=[{"id": "drive-b", "name": "B team", "members": ["domain:b.example"]}],
        driveFiles=[
            {"id": "alice-folder", "name": "Decks", "mimeType": folder, "owner": ALICE},
            {"id": "alice-deck", "name": "Deck A", "parents": ["alice-folder"], "owner": ALICE},
            {"id": "bob-deck", "name": "Deck B", "owner": BOB},
            {"id": "bob-to-alice", "name": "Shared", "owner": BOB, "sharedWith": [ALICE]},
            {"id": "carol-doc", "name": "Team", "owner": CAROL, "sharedWith": ["domain:a.example"]},
            {"id": "b-team-doc", "name": "B only", "driveId": "drive-b", "owner": BOB},
        ],
    )
    key = admin.service_account(["a.example"])
    drive = service(sandbox_url, "drive", delegated(key, ALICE, DRIVE))

    listed = list_files(drive, "trashed = false")
    assert {f["id"] for f in listed["files"]} == {
        "alice-folder",
        "alice-deck",
        "bob-to-alice",
        "carol-doc",
    }
    shared = drive.files().list(q="sharedWithMe = true").execute()["files"]
    assert [f["id"] for f in shared] == ["bob-to-alice"]
    found = (
        drive.files()
        .get(fileId="alice-folder", fields="id, mimeType, trashed", supportsAllDrives=True)
        .execute()
    )
    assert found == {"id": "alice-folder", "mimeType": folder, "trashed": False}
    for hidden in ("bob-deck", "b-team-doc", "no-such-file"):
        with pytest.raises(HttpError) as caught:
            drive.files().get(fileId=hidden, supportsAllDrives=True).execute()
        assert caught.value.resp.status == 404
        assert f"File not found: {hidden}." in str(caught.value)
    bob = service(sandbox_url, "drive", delegated(admin.service_account(["b.example"]), BOB, DRIVE))
    assert bob.files().get(fileId="b-team-doc", supportsAllDrives=True).execute()["id"]


def test_freebusy_answers_the_subjects_domain_only(sandbox_url, admin):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    block = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    admin.seed(calendars=[{"id": who, "busy": [block]} for who in (ALICE, CAROL, BOB)])
    key = admin.service_account(["a.example"])
    calendar = service(sandbox_url, "calendar", delegated(key, ALICE, CALENDAR))

    answer = (
        calendar.freebusy()
        .query(
            body={
                "timeMin": start.isoformat(),
                "timeMax": (start + timedelta(days=1)).isoformat(),
                "items": [
                    {"id": "primary"},
                    {"id": ALICE},
                    {"id": CAROL},
                    {"id": "dave@a.example"},
                    {"id": BOB},
                ],
            }
        )
        .execute()["calendars"]
    )
    for visible in ("primary", ALICE, CAROL):
        assert len(answer[visible]["busy"]) == 1
    # A colleague whose calendar holds nothing is free, not unknown.
    assert answer["dave@a.example"] == {"busy": []}
    assert answer[BOB] == {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}


def test_an_authorized_user_file_acts_as_its_user_until_revoked(sandbox_url, admin):
    _seed_mail(admin)
    info = admin.authorized_user(BOB)
    assert info["type"] == "authorized_user"
    assert info["token_uri"] == f"{sandbox_url}/token"
    # google-auth ignores the file's token_uri (always Google's): point it at the sandbox.
    creds = user_credentials.Credentials.from_authorized_user_info(info, scopes=GMAIL)
    creds = creds.with_token_uri(info["token_uri"])
    gmail = service(sandbox_url, "gmail", creds)
    assert _subjects(gmail) == [f"For {BOB}"]

    # An expired access token is answered 401, and google-auth refreshes it.
    before = admin.last_request_seq()
    assert admin.expire_google_tokens(BOB) == 1
    assert _subjects(gmail) == [f"For {BOB}"]
    statuses = [(r["path"], r["status"]) for r in admin.requests(after=before)]
    assert statuses[:3] == [
        ("/gmail/v1/users/me/threads", 401),
        ("/token", 200),
        ("/gmail/v1/users/me/threads", 200),
    ]

    assert admin.revoke_google(info["refresh_token"]) is True
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        gmail.users().labels().list(userId="me").execute()


def test_bad_tokens_and_required_auth_get_googles_401(sandbox_url, admin):
    bogus = httpx.get(
        f"{sandbox_url}/gmail/v1/users/me/labels", headers={"Authorization": "Bearer ya29.nope"}
    )
    assert bogus.status_code == 401
    assert bogus.headers["www-authenticate"].startswith("Bearer")
    error = bogus.json()["error"]
    assert (error["status"], error["errors"][0]["reason"]) == ("UNAUTHENTICATED", "authError")

    anonymous = service(sandbox_url, "gmail", AnonymousCredentials())
    assert anonymous.users().labels().list(userId="me").execute()["labels"]
    admin.config(google_require_auth=True)
    with pytest.raises(HttpError) as caught:
        anonymous.users().labels().list(userId="me").execute()
    assert caught.value.resp.status == 401
    assert _reason(caught.value) == "required"
