"""GET /api/drafts and POST /api/drafts/{id}/approve: drafts written to the sandbox's Gmail
through our connector, sent through it, counted on the sandbox's own sent list."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.demo import DEMO_SENDER
from sales_agent_pipeline.connectors.factory import build_mail, gmail_quota_key
from sales_agent_pipeline.connectors.gmail import GmailMail
from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import DraftEmail, QuotaUsage, Tenant
from sales_agent_pipeline.db.repositories.tenant_secrets import load_credentials, put_secret
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.enums import SecretKind
from sales_agent_pipeline.domain.models import OutgoingMail
from sales_agent_pipeline.secretbox import SecretBox
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.send_switches import set_kill_switch
from tests.integration.api.conftest import SECRET, app_settings, make_tenant
from tests.integration.api.operator_support import add_draft, add_workflow, bearer, key_for
from tests.sandbox.conftest import Admin, admin_client, sandbox_url  # noqa: F401

SENDER = "sam.lee@drafts-co.example"


@pytest.fixture(scope="module")
def settings(database_url: URL, sandbox_url: str) -> Settings:  # noqa: F811
    """The app's settings with Gmail (and HubSpot) pointed at this module's sandbox."""
    return app_settings(
        database_url,
        sandbox_url,
        hubspot_client_secret=SECRET,
        gmail_quota_units_per_second=10_000,
    )


@pytest.fixture
def sandbox(admin_client: Admin) -> Admin:  # noqa: F811
    admin_client.reset(demo=True)
    admin_client.config(default_google_user=DEMO_SENDER)
    return admin_client


def service_account(sandbox: Admin) -> str:
    """A new key of a service account that may act for the sender's domain."""
    return json.dumps(sandbox.service_account([SENDER.rsplit("@", 1)[1]]))


@pytest.fixture
def tenant(engine: Engine, box: SecretBox, sandbox: Admin) -> Tenant:
    """A tenant whose mailbox is SENDER, with a service-account key acting for it."""
    tenant = make_tenant(engine, box, sender_email=SENDER)
    with Session(engine) as session, session.begin():
        put_secret(session, box, tenant.id, SecretKind.GOOGLE_CREDENTIALS, service_account(sandbox))
    return tenant


@pytest.fixture
def credentials(engine: Engine, box: SecretBox, tenant: Tenant) -> TenantCredentials:
    with Session(engine) as session:
        return load_credentials(session, box, tenant)


@pytest.fixture
def mail(settings: Settings, credentials: TenantCredentials) -> GmailMail:
    """The tenant's own Gmail, as its runs use it (drafts are written in its mailbox)."""
    return build_mail(settings, credentials)


@pytest.fixture
def admin_key(engine: Engine, tenant: Tenant) -> str:
    return key_for(engine, tenant, admin=True, name="alice")


def gmail_draft(engine: Engine, tenant: Tenant, mail: GmailMail, email: str) -> uuid.UUID:
    """A finished DRAFT_ONLY workflow whose draft is in the sandbox's Gmail."""
    workflow_id = add_workflow(engine, tenant, email)
    ref = mail.create_draft(
        OutgoingMail(
            to=(email,), subject="Next step", text_body="Hi,\n\nTuesday?", marker=str(workflow_id)
        )
    )
    return add_draft(
        engine,
        workflow_id,
        email,
        gmail_draft_id=ref.draft_id,
        gmail_message_id=ref.message_id,
        gmail_thread_id=ref.thread_id,
    )


def sent_to(sandbox: Admin, email: str) -> int:
    return sum(1 for message in sandbox.sent() if email in (message["to"] or ""))


def test_list_filter_and_read_drafts(
    client: TestClient, engine: Engine, tenant: Tenant, admin_key: str
) -> None:
    first = add_draft(engine, add_workflow(engine, tenant, "a@acme.example"), "a@acme.example")
    second = add_draft(
        engine,
        add_workflow(engine, tenant, "b@acme.example"),
        "b@acme.example",
        sent=True,
        sent_at=utcnow(),
        mode="SEND",
    )
    headers = bearer(admin_key)
    page = client.get("/api/drafts", headers=headers).json()
    assert [item["id"] for item in page["items"]] == [str(second), str(first)]
    assert page["next_cursor"] is None
    one = client.get("/api/drafts", params={"limit": 1}, headers=headers).json()
    rest = client.get(
        "/api/drafts", params={"limit": 1, "cursor": one["next_cursor"]}, headers=headers
    ).json()
    assert [one["items"][0]["id"], rest["items"][0]["id"]] == [str(second), str(first)]
    unsent = client.get("/api/drafts", params={"sent": "false"}, headers=headers).json()
    assert [item["id"] for item in unsent["items"]] == [str(first)]

    full = client.get(f"/api/drafts/{first}", headers=headers).json()
    assert full["to_email"] == "a@acme.example"
    assert full["body"].startswith("Hi there")
    assert full["body_html"] == "<p>Hi there,</p>"
    assert full["assets"][0]["name"] == "Case study.pdf"
    assert (full["mode"], full["sent"], full["approved_by"]) == ("DRAFT_ONLY", False, None)
    assert client.get(f"/api/drafts/{uuid.uuid4()}", headers=headers).status_code == 404


def gmail_units(engine: Engine, settings: Settings, credentials: TenantCredentials) -> int:
    """Units in the shared Gmail quota's window of the tenant's mailbox."""
    with Session(engine) as session:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(QuotaUsage.units), 0)).where(
                    QuotaUsage.key == gmail_quota_key(settings, credentials)
                )
            )
            or 0
        )


def test_approve_sends_once_and_records_who(
    settings: Settings,
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    admin_key: str,
    mail: GmailMail,
    credentials: TenantCredentials,
    sandbox: Admin,
) -> None:
    draft_id = gmail_draft(engine, tenant, mail, "once@acme.example")
    units_before = gmail_units(engine, settings, credentials)
    first = client.post(f"/api/drafts/{draft_id}/approve", headers=bearer(admin_key))
    assert first.status_code == 200, first.text
    # The send (100 units) counts in the mailbox's quota that the pipeline's runs share.
    assert gmail_units(engine, settings, credentials) - units_before >= 100
    body = first.json()
    assert body["sent"] is True
    assert body["already_sent"] is False
    assert body["approved_by"] == f"alice ({admin_key[:12]})"
    assert body["gmail_message_id"]
    assert sent_to(sandbox, "once@acme.example") == 1

    second = client.post(f"/api/drafts/{draft_id}/approve", headers=bearer(admin_key))
    assert second.status_code == 200
    assert second.json()["already_sent"] is True
    assert second.json()["sent_at"] == body["sent_at"]
    assert sent_to(sandbox, "once@acme.example") == 1

    stored = client.get(f"/api/drafts/{draft_id}", headers=bearer(admin_key)).json()
    assert (stored["sent"], stored["mode"], stored["approved_by"]) == (
        True,
        "SEND",
        body["approved_by"],
    )
    assert datetime.fromisoformat(stored["approved_at"]) == datetime.fromisoformat(
        body["approved_at"]
    )
    trail = client.get(
        f"/api/workflows/{stored['workflow_id']}/events", headers=bearer(admin_key)
    ).json()
    approved = [e for e in trail["events"] if e["event_type"] == "draft_approved"]
    assert len(approved) == 1
    assert approved[0]["details"]["approved_by"] == body["approved_by"]


def test_approve_sends_from_the_tenants_own_mailbox_and_counts_its_usage(
    client: TestClient,
    engine: Engine,
    box: SecretBox,
    tenant: Tenant,
    admin_key: str,
    mail: GmailMail,
    sandbox: Admin,
) -> None:
    draft_id = gmail_draft(engine, tenant, mail, "own@acme.example")
    after = sandbox.last_request_seq()
    sent = client.post(f"/api/drafts/{draft_id}/approve", headers=bearer(admin_key))
    assert sent.status_code == 200, sent.text
    calls = sandbox.requests(after, vendor="google")
    gmail = [c for c in calls if "/gmail/" in c["path"]]
    assert gmail, calls
    # Every Gmail call of the approval carried the tenant's identity and touched its mailbox.
    assert {c["identity"]["subject"] for c in gmail} == {SENDER}
    assert {m for c in gmail for m in c["touched"].get("mailboxes", [])} == {SENDER}
    usage = client.get("/api/usage", headers=bearer(admin_key)).json()["totals"]
    assert usage["vendor_calls"].get("google", 0) >= 1
    assert usage["quota_units"].get("gmail", 0) >= 100

    # New Google credentials take effect at the next approval: the old key is deleted at
    # Google, so a connector kept from before would be refused.
    old = json.loads(load_google(engine, box, tenant))["client_email"]
    assert sandbox.delete_service_account(old)
    replaced = client.put(
        "/api/admin/credentials",
        json={"google_credentials": service_account(sandbox)},
        headers=bearer(admin_key),
    )
    assert replaced.status_code == 200, replaced.text
    fresh_mail = build_mail(client.app.state.settings, credentials_of(engine, box, tenant))  # type: ignore[attr-defined]
    second = gmail_draft(engine, tenant, fresh_mail, "again@acme.example")
    again = client.post(f"/api/drafts/{second}/approve", headers=bearer(admin_key))
    assert again.status_code == 200, again.text
    assert sent_to(sandbox, "again@acme.example") == 1


def load_google(engine: Engine, box: SecretBox, tenant: Tenant) -> str:
    """The tenant's stored Google credentials (the test reads what the CLI would write)."""
    google = credentials_of(engine, box, tenant).google_credentials
    assert google is not None
    return google.get_secret_value()


def credentials_of(engine: Engine, box: SecretBox, tenant: Tenant) -> TenantCredentials:
    with Session(engine) as session:
        return load_credentials(session, box, tenant)


def test_concurrent_approvals_send_once(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    admin_key: str,
    mail: GmailMail,
    sandbox: Admin,
) -> None:
    draft_id = gmail_draft(engine, tenant, mail, "race@acme.example")
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(
                lambda _: client.post(f"/api/drafts/{draft_id}/approve", headers=bearer(admin_key)),
                range(4),
            )
        )
    assert [a.status_code for a in answers] == [200] * 4
    assert sorted(a.json()["already_sent"] for a in answers) == [False, True, True, True]
    assert sent_to(sandbox, "race@acme.example") == 1


def test_approve_is_refused_under_the_kill_switch(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    admin_key: str,
    mail: GmailMail,
    sandbox: Admin,
) -> None:
    draft_id = gmail_draft(engine, tenant, mail, "kill@acme.example")
    switched = client.put(
        "/api/admin/settings", json={"kill_switch": True}, headers=bearer(admin_key)
    )
    assert switched.status_code == 200
    refused = client.post(f"/api/drafts/{draft_id}/approve", headers=bearer(admin_key))
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "send_kill_switch_on"
    assert sent_to(sandbox, "kill@acme.example") == 0
    stored = client.get(f"/api/drafts/{draft_id}", headers=bearer(admin_key)).json()
    assert (stored["sent"], stored["approved_by"]) == (False, None)

    client.put("/api/admin/settings", json={"kill_switch": False}, headers=bearer(admin_key))
    allowed = client.post(f"/api/drafts/{draft_id}/approve", headers=bearer(admin_key))
    assert allowed.status_code == 200
    assert sent_to(sandbox, "kill@acme.example") == 1


def test_approve_is_refused_past_the_daily_cap(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    admin_key: str,
    mail: GmailMail,
    sandbox: Admin,
) -> None:
    with Session(engine) as session, session.begin():
        session.execute(update(Tenant).where(Tenant.id == tenant.id).values(daily_send_cap=1))
    earlier = add_workflow(engine, tenant, "earlier@acme.example")
    add_draft(engine, earlier, "earlier@acme.example", sent=True, sent_at=utcnow(), mode="SEND")
    draft_id = gmail_draft(engine, tenant, mail, "capped@acme.example")
    refused = client.post(f"/api/drafts/{draft_id}/approve", headers=bearer(admin_key))
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "daily_send_cap_reached"
    assert "daily send cap of 1 reached" in refused.json()["error"]["message"]
    assert sent_to(sandbox, "capped@acme.example") == 0


def test_concurrent_approvals_of_different_drafts_stop_at_the_cap(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    admin_key: str,
    mail: GmailMail,
    sandbox: Admin,
) -> None:
    with Session(engine) as session, session.begin():
        session.execute(update(Tenant).where(Tenant.id == tenant.id).values(daily_send_cap=2))
    drafts = [gmail_draft(engine, tenant, mail, f"cap{i}@acme.example") for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(
                lambda d: client.post(f"/api/drafts/{d}/approve", headers=bearer(admin_key)),
                drafts,
            )
        )
    assert sorted(a.status_code for a in answers) == [200, 200, 409, 409]
    assert sum(sent_to(sandbox, f"cap{i}@acme.example") for i in range(4)) == 2


def test_approve_waits_for_a_running_workflow_and_needs_a_gmail_draft(
    client: TestClient, engine: Engine, tenant: Tenant, admin_key: str, sandbox: Admin
) -> None:
    running = add_workflow(engine, tenant, "run@acme.example", status="running")
    in_flight = add_draft(engine, running, "run@acme.example", gmail_draft_id="r-x")
    answer = client.post(f"/api/drafts/{in_flight}/approve", headers=bearer(admin_key))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "workflow_in_flight"

    never = add_draft(engine, add_workflow(engine, tenant, "n@acme.example"), "n@acme.example")
    answer = client.post(f"/api/drafts/{never}/approve", headers=bearer(admin_key))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "draft_not_in_gmail"

    # Deleted in Gmail by its owner: the send is refused, nothing is recorded as sent.
    gone = add_draft(
        engine, add_workflow(engine, tenant, "g@acme.example"), "g@acme.example",
        gmail_draft_id="r-does-not-exist",
    )  # fmt: skip
    answer = client.post(f"/api/drafts/{gone}/approve", headers=bearer(admin_key))
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "draft_not_in_gmail"
    assert client.get(f"/api/drafts/{gone}", headers=bearer(admin_key)).json()["sent"] is False

    missing = client.post(f"/api/drafts/{uuid.uuid4()}/approve", headers=bearer(admin_key))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_no_row_lock_is_held_while_gmail_sends_an_approved_draft(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    admin_key: str,
    mail: GmailMail,
    sandbox: Admin,
) -> None:
    draft_id = gmail_draft(engine, tenant, mail, "slow@acme.example")
    sandbox.fault(pathPattern="/gmail/v1/users/*/drafts/send", method="POST", delayMs=3000)
    with ThreadPoolExecutor(max_workers=1) as pool:
        approval = pool.submit(
            client.post, f"/api/drafts/{draft_id}/approve", headers=bearer(admin_key)
        )
        deadline = time.monotonic() + 20
        while not any("drafts/send" in e["endpoint"] for e in sandbox.calls()["endpoints"]):
            assert time.monotonic() < deadline, "the send never reached Gmail"
            time.sleep(0.05)
        # Gmail is holding the send: the draft's and the tenant's rows are free (NOWAIT
        # raises at once if anything still held them).
        with Session(engine) as session, session.begin():
            session.execute(
                select(DraftEmail.id).where(DraftEmail.id == draft_id).with_for_update(nowait=True)
            )
            session.execute(
                select(Tenant.id).where(Tenant.id == tenant.id).with_for_update(nowait=True)
            )
        answer = approval.result(timeout=30)
    assert answer.status_code == 200, answer.text
    assert sent_to(sandbox, "slow@acme.example") == 1


def test_approve_is_refused_under_the_global_switch_in_the_database(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    tenant: Tenant,
    admin_key: str,
    mail: GmailMail,
    sandbox: Admin,
) -> None:
    draft_id = gmail_draft(engine, tenant, mail, "global@acme.example")
    with Session(engine) as session, session.begin():
        set_kill_switch(session, settings, on=True, changed_by="test", reason="drill")
    try:
        refused = client.post(f"/api/drafts/{draft_id}/approve", headers=bearer(admin_key))
    finally:
        with Session(engine) as session, session.begin():
            set_kill_switch(session, settings, on=False, changed_by="test", reason=None)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "send_kill_switch_on"
    assert sent_to(sandbox, "global@acme.example") == 0
    # Refused at the gate: no slot is kept, the next approval sends.
    assert client.post(f"/api/drafts/{draft_id}/approve", headers=bearer(admin_key)).is_success
    assert sent_to(sandbox, "global@acme.example") == 1
