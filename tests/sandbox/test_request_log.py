"""The request log tells, for every vendor call, which credential it carried and what it
touched: two tenants working at once each appear only with their own portal and users."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import hubspot
import pytest
from googleapiclient.errors import HttpError
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import SimplePublicObjectInputForCreate
from hubspot.oauth import ApiException as OAuthApiException

from tests.sandbox.clients import CALENDAR, DRIVE, GMAIL, delegated, service

TENANTS = {"a": (3001, "alice@a.example"), "b": (3002, "bob@b.example")}


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def _work(url: str, admin: Any, name: str) -> dict[str, Any]:
    """One tenant's calls: a contact, its mailbox, its Drive and its calendar."""
    portal, user = TENANTS[name]
    domain = user.split("@")[1]
    token = admin.register_token(portal_id=portal)
    key = admin.service_account([domain])
    crm = hubspot.Client.create(access_token=token, host=url)
    contact = crm.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": f"lead@{name}-prospect.example"})
    )
    gmail_creds = delegated(key, user, GMAIL)
    service(url, "gmail", gmail_creds).users().threads().list(userId="me").execute()
    service(url, "drive", delegated(key, user, DRIVE)).files().list().execute()
    start = datetime.now(UTC)
    service(url, "calendar", delegated(key, user, CALENDAR)).freebusy().query(
        body={
            "timeMin": start.isoformat(),
            "timeMax": (start + timedelta(days=1)).isoformat(),
            "items": [{"id": "primary"}, {"id": "alice@a.example"}, {"id": "bob@b.example"}],
        }
    ).execute()
    return {"token": token, "google": gmail_creds.token, "contact": contact.id, "crm": crm}


def test_the_log_shows_each_tenants_credentials_and_what_they_touched(sandbox_url, admin):
    admin.seed(
        driveFiles=[
            {"id": "a-doc", "name": "A doc", "owner": "alice@a.example"},
            {"id": "b-doc", "name": "B doc", "owner": "bob@b.example"},
        ],
        calendars=[{"id": "alice@a.example"}, {"id": "bob@b.example"}],
    )
    before = admin.last_request_seq()
    a, b = _work(sandbox_url, admin, "a"), _work(sandbox_url, admin, "b")
    # B tries A's contact: HubSpot answers 404 from B's own portal.
    with pytest.raises(ContactsApiException):
        b["crm"].crm.contacts.basic_api.get_by_id(a["contact"])
    log = admin.requests(after=before)

    assert [entry["seq"] for entry in log] == list(range(before + 1, before + 1 + len(log)))
    for name, work in (("a", a), ("b", b)):
        portal, user = TENANTS[name]
        domain = "@" + user.split("@")[1]
        hub = [e for e in log if e["vendor"] == "hubspot" and e["identity"]["portalId"] == portal]
        assert {e["identity"]["token"] for e in hub} == {_fingerprint(work["token"])}
        assert {p for e in hub for p in e["touched"]["portals"]} == {portal}
        google = [e for e in log if e["identity"].get("subject") == user]
        paths = {e["path"] for e in google}
        assert "/token" in paths
        assert "/gmail/v1/users/me/threads" in paths
        touched = [v for e in google for values in e["touched"].values() for v in values]
        assert touched
        assert all(v.endswith(domain) for v in touched)
        assert {"mailboxes", "calendars", "driveOwners"} <= {
            k for e in google for k in e["touched"]
        }
    foreign = [e for e in log if e["path"] == f"/crm/v3/objects/contacts/{a['contact']}"]
    assert [(e["status"], e["identity"]["portalId"]) for e in foreign] == [(404, 3002)]

    dump = json.dumps(log)
    for secret in (a["token"], b["token"], a["google"], b["google"]):
        assert secret not in dump


def test_refused_calls_are_logged_as_touching_nothing(sandbox_url, admin):
    admin.seed(gmail=[{"user": "alice@a.example", "from": "x@y.example", "subject": "Hi"}])
    key = admin.service_account(["b.example"])
    before = admin.last_request_seq()
    bob = service(sandbox_url, "gmail", delegated(key, "bob@b.example", GMAIL))
    with pytest.raises(HttpError):
        bob.users().threads().list(userId="alice@a.example").execute()
    crm = hubspot.Client.create(access_token="never-registered", host=sandbox_url)
    with pytest.raises(ContactsApiException):
        crm.crm.contacts.basic_api.get_by_id("1")

    refused = [e for e in admin.requests(after=before) if e["path"] != "/token"]
    assert [(e["status"], e["touched"]) for e in refused] == [(403, {}), (401, {})]
    assert refused[0]["identity"] == {"subject": "bob@b.example"}
    assert refused[1]["identity"] == {
        "portalId": None,
        "token": _fingerprint("never-registered"),
        "appId": None,
    }


def test_oauth_token_paths_are_logged_without_the_token_and_reset_clears_the_log(
    sandbox_url, admin
):
    app = admin.oauth_app()
    oauth = hubspot.Client.create(host=sandbox_url).oauth
    with pytest.raises(OAuthApiException) as caught:
        oauth.access_tokens_api.get("CNsecret-access-token")
    assert caught.value.status == 404
    entry = admin.requests(vendor="hubspot")[-1]
    assert entry["path"] == "/oauth/v1/access-tokens/" + _fingerprint("CNsecret-access-token")
    assert app["clientId"]

    admin.reset()
    assert admin.requests() == []
    assert admin.last_request_seq() == 0
