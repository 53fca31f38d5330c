"""The mailbox-watching calls of the Gmail and HubSpot adapters, through the official SDKs
over HTTP against the sandbox: profile, history (paged, expired), metadata (a DSN's raw
bytes), watch/stop; a task's update; HubSpot's opt-out (hs_email_optout, NOT_SUBSCRIBED)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hubspot.communication_preferences import PublicUpdateSubscriptionStatusRequest

from sales_agent_pipeline.connectors.gmail import GmailMail
from sales_agent_pipeline.connectors.hubspot import HubSpotCRM
from sales_agent_pipeline.domain.compliance import InboundKind
from sales_agent_pipeline.domain.enums import TaskStatus
from sales_agent_pipeline.domain.mailbox import HistoryExpired
from sales_agent_pipeline.domain.models import NewTask, OutgoingMail
from sales_agent_pipeline.steps.inbound_mail import classify

from .conftest import USER

LEAD = "pat@prospect.example"
TOPIC = "projects/sandbox-project/topics/gmail"


def _sent(mail: GmailMail, marker: str = "9b1e7a0c-1111-4222-8333-944455556666") -> str:
    return mail.send_message(
        OutgoingMail(to=(LEAD,), subject="Your demo", text_body="Tuesday?", marker=marker)
    ).message_id


def test_history_from_the_profile_id_lists_what_arrived_and_expires(mail: GmailMail, admin):
    profile = mail.profile()
    assert profile.email == USER
    sent = _sent(mail)
    reply = admin.reply(USER, sent, text="Thursday works")
    page = mail.history(profile.history_id)
    # What arrived in the INBOX, not what was sent.
    assert page.message_ids == (reply["id"],)
    assert page.history_id >= max(a.history_id for a in page.added)
    assert mail.history(page.history_id).message_ids == ()

    meta = mail.get_message_meta(reply["id"])
    assert meta.thread_id == mail.get_message_meta(sent).thread_id
    assert meta.header("from") == LEAD
    assert meta.raw is None
    assert classify(meta, mailbox=USER).kind is InboundKind.REPLY
    assert "SENT" in mail.get_message_meta(sent).label_ids

    admin.expire_history(USER)
    with pytest.raises(HistoryExpired):
        mail.history(profile.history_id)
    # The full sync's scan: the INBOX's recent mail, newest first (not what was sent).
    assert mail.list_message_ids("in:inbox newer_than:7d") == [reply["id"]]


def test_history_pages(mail: GmailMail, admin):
    start = mail.profile().history_id
    for n in range(3):
        admin.deliver(to=USER, **{"from": LEAD}, subject=f"Note {n}", text="hi")
    answer = mail._history._run(  # one record a page
        "history.list",
        lambda s: (
            s.users()
            .history()
            .list(
                userId="me", startHistoryId=str(start), historyTypes=["messageAdded"], maxResults=1
            )
        ),
    )
    assert answer["nextPageToken"]
    seen: list[str] = []
    token = None
    while True:
        page = mail.history(start, token)
        seen.extend(page.message_ids)
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == 3


def test_a_bounce_brings_its_raw_report(mail: GmailMail, admin):
    sent = _sent(mail)
    dsn = admin.bounce(USER, sent, status="5.1.1")
    meta = mail.get_message_meta(dsn["id"])
    assert meta.raw is not None
    verdict = classify(meta, mailbox=USER)
    assert verdict.kind is InboundKind.BOUNCE
    assert [(f.address, f.status) for f in verdict.failures] == [(LEAD, "5.1.1")]
    assert [str(w) for w in verdict.workflow_ids] == ["9b1e7a0c-1111-4222-8333-944455556666"]


def test_watch_and_stop(mail: GmailMail, admin):
    watch = mail.watch(TOPIC)
    assert watch.expires_at > datetime.now(UTC) + timedelta(days=6)
    assert watch.history_id == mail.profile().history_id
    assert admin.state("gmail")["gmail"][USER]["watch"]["topicName"] == TOPIC
    mail.stop_watch()
    assert admin.state("gmail")["gmail"][USER]["watch"] is None


def test_update_task_completes_and_rewrites_the_body(crm: HubSpotCRM):
    contact = crm.upsert_contact(LEAD, {"firstname": "Pat"})
    task = crm.create_task(
        NewTask(
            subject="Follow up", body="Call Pat", due_at=datetime.now(UTC), contact_id=contact.id
        )
    )
    done = crm.update_task(
        task.id,
        {"hs_task_status": TaskStatus.COMPLETED.value, "hs_task_body": "Call Pat\n\nLead replied"},
    )
    assert (done.status, done.body) == ("COMPLETED", "Call Pat\n\nLead replied")
    assert crm.get_task(task.id).status == "COMPLETED"


def test_email_opt_out_reads_the_contact_then_the_subscriptions(crm: HubSpotCRM, admin):
    assert crm.email_opt_out("nobody@nowhere.example") is None
    crm.upsert_contact(LEAD, {"firstname": "Pat"})
    assert crm.email_opt_out(LEAD) is None
    admin.seed(
        contacts=[{"properties": {"email": "out@prospect.example", "hs_email_optout": "true"}}]
    )
    assert crm.email_opt_out("OUT@prospect.example") == (
        "HubSpot: opted out of all email (hs_email_optout)"
    )
    crm._http.call(
        "unsubscribe",
        crm._http.subscriptions.unsubscribe,
        PublicUpdateSubscriptionStatusRequest(
            email_address=LEAD, subscription_id="8000001", legal_basis="NON_GDPR"
        ),
    )
    assert crm.email_opt_out(LEAD) == (
        "HubSpot: not subscribed to One to One (SUBSCRIPTION_STATUS)"
    )


def test_email_opt_out_without_the_subscriptions_scope_reads_the_contact_only(
    crm: HubSpotCRM, admin
):
    """An app without communication_preferences.read (HubSpot's 403): the lead is not
    failed; hs_email_optout still counts, and `contact_read` skips the contact's read."""
    admin.seed(
        contacts=[{"properties": {"email": "gone@prospect.example", "hs_email_optout": "true"}}]
    )
    crm.upsert_contact(LEAD, {"firstname": "Pat"})
    crm._http.call(
        "unsubscribe",
        crm._http.subscriptions.unsubscribe,
        PublicUpdateSubscriptionStatusRequest(
            email_address=LEAD, subscription_id="8000001", legal_basis="NON_GDPR"
        ),
    )
    assert crm.email_opt_out(LEAD, contact_read=True) is not None
    admin.fault(
        pathPattern="/communication-preferences/v3/status/email/*",
        status=403,
        count=None,
        message="This app hasn't been granted all required scopes",
    )
    assert crm.email_opt_out(LEAD) is None
    assert crm.email_opt_out(LEAD, contact_read=True) is None
    assert crm.email_opt_out("gone@prospect.example") == (
        "HubSpot: opted out of all email (hs_email_optout)"
    )


def test_email_opt_outs_reads_a_batch_in_two_calls(crm: HubSpotCRM, admin):
    """A batch's opt-outs: the unseen flags in one contacts batch read, the subscription
    statuses in one v4 batch read; the same answer as one address at a time."""
    admin.seed(
        contacts=[
            {"properties": {"email": "all@prospect.example", "hs_email_optout": "true"}},
            {"properties": {"email": "fine@prospect.example"}},
        ],
        emailSubscriptions={"sub@prospect.example": {"8000001": "NOT_SUBSCRIBED"}},
    )
    mark = admin.last_request_seq()
    found = crm.email_opt_outs(
        {
            "all@prospect.example": None,
            "fine@prospect.example": None,
            "SUB@prospect.example": False,
            "new@prospect.example": False,
        }
    )
    assert found == {
        "all@prospect.example": "HubSpot: opted out of all email (hs_email_optout)",
        "sub@prospect.example": "HubSpot: not subscribed to One to One (SUBSCRIPTION_STATUS)",
    }
    paths = [r["path"] for r in admin.requests(after=mark, vendor="hubspot")]
    assert len(paths) == 2, paths
    for email, reason in found.items():
        assert crm.email_opt_out(email) == reason
    assert crm.email_opt_out("fine@prospect.example") is None


def test_email_opt_outs_fall_back_to_v3_where_v4_is_not_served(crm: HubSpotCRM, admin):
    admin.seed(emailSubscriptions={"sub@prospect.example": {"8000001": "NOT_SUBSCRIBED"}})
    admin.fault(
        pathPattern="/communication-preferences/v4/*", status=404, count=None, message="nope"
    )
    assert crm.email_opt_outs({"sub@prospect.example": False, "x@prospect.example": False}) == {
        "sub@prospect.example": "HubSpot: not subscribed to One to One (SUBSCRIPTION_STATUS)"
    }
