"""The Gmail adapter through google-api-python-client over HTTP against the sandbox."""

from __future__ import annotations

import base64
import time
from email import message_from_bytes, policy

import httpx
import pytest

from sales_agent_pipeline.connectors.gmail import GmailMail
from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.errors import PermanentError
from sales_agent_pipeline.domain.models import OutgoingMail
from sales_agent_pipeline.domain.workflow import MailOutcome
from sales_agent_pipeline.steps.record_audit import LABEL, label_thread

from .conftest import USER

PAT = "pat@prospect.example"


def _seed_thread(admin) -> str:
    created = admin.seed(
        gmail=[
            {
                "thread": "t",
                "from": f"Pat Doe <{PAT}>",
                "to": USER,
                "subject": "Pricing",
                "body": "What does it cost?",
                "html": "<p>What does it <b>cost</b>?</p>",
                "date": "2024-05-01T10:00:00Z",
                "messageId": "<first@prospect.example>",
            },
            {
                "thread": "t",
                "from": USER,
                "to": PAT,
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


def _mailbox(admin) -> dict:
    return admin.state("gmail")["gmail"][USER]


def _stored(admin, message_id: str) -> dict:
    return next(m for m in _mailbox(admin)["messages"] if m["id"] == message_id)


def test_search_and_read_thread(mail: GmailMail, admin):
    thread_id = _seed_thread(admin)
    found = mail.search_threads(PAT)
    assert [t.id for t in found] == [thread_id]
    assert mail.search_threads("nobody@nowhere.example") == []

    thread = mail.get_thread(thread_id)
    first, last = thread.messages
    assert first.from_address == PAT
    assert first.to == (USER,)
    assert first.subject == "Pricing"
    assert first.message_id_header == "<first@prospect.example>"
    assert "What does it cost?" in first.text_body
    assert first.html_body is not None
    assert "<b>cost</b>" in first.html_body
    assert first.date is not None
    assert first.date.tzinfo is not None
    assert last.from_address == USER
    assert last.in_reply_to == "<first@prospect.example>"
    assert last.references == ("<first@prospect.example>",)
    assert thread.last_message == last


def test_reply_draft_carries_thread_and_reply_headers(mail: GmailMail, admin):
    thread_id = _seed_thread(admin)
    thread = mail.get_thread(thread_id)
    last = thread.messages[-1]
    reply = OutgoingMail.replying_to(
        thread, to=(PAT,), text_body="Shall we talk on Tuesday?", html_body="<p>Tuesday?</p>"
    )
    assert reply.subject == "Re: Pricing"

    ref = mail.create_draft(reply)
    assert ref.thread_id == thread_id
    stored = _stored(admin, ref.message_id)
    assert stored["threadId"] == thread_id
    assert stored["labelIds"] == ["DRAFT"]
    assert stored["headers"]["In-Reply-To"] == last.message_id_header
    assert stored["headers"]["References"] == (f"<first@prospect.example> {last.message_id_header}")
    assert stored["headers"]["Subject"] == "Re: Pricing"

    draft = mail.get_draft(ref.draft_id)
    assert draft.message.thread_id == thread_id
    assert draft.message.in_reply_to == last.message_id_header
    assert draft.message.text_body.strip() == "Shall we talk on Tuesday?"
    assert draft.message.html_body is not None
    assert "Tuesday?" in draft.message.html_body
    assert len(mail.get_thread(thread_id).messages) == 3


def test_draft_is_multipart_alternative_rfc2822(mail: GmailMail, admin):
    ref = mail.create_draft(
        OutgoingMail(to=(PAT,), subject="Hello", text_body="Hi Pat", html_body="<p>Hi Pat</p>")
    )
    assert ref.thread_id
    fetched = mail._api.execute(
        "drafts.get", lambda s: s.users().drafts().get(userId="me", id=ref.draft_id, format="raw")
    )
    raw = base64.urlsafe_b64decode(fetched["message"]["raw"])
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["To"] == PAT


def test_update_then_send_draft(mail: GmailMail, admin):
    thread_id = _seed_thread(admin)
    thread = mail.get_thread(thread_id)
    ref = mail.create_draft(OutgoingMail.replying_to(thread, to=(PAT,), text_body="Tuesday?"))
    updated = mail.update_draft(
        ref.draft_id, OutgoingMail.replying_to(thread, to=(PAT,), text_body="Wednesday?")
    )
    assert updated.draft_id == ref.draft_id
    assert updated.thread_id == thread_id
    assert mail.get_draft(ref.draft_id).message.text_body.strip() == "Wednesday?"

    sent = mail.send_draft(ref.draft_id)
    assert sent.thread_id == thread_id
    assert "SENT" in sent.label_ids
    assert sent.message_id in _mailbox(admin)["sent"]
    with pytest.raises(PermanentError) as caught:
        mail.get_draft(ref.draft_id)
    assert caught.value.http_status == 404


def test_send_message_new_and_in_thread(mail: GmailMail, admin):
    sent = mail.send_message(OutgoingMail(to=(PAT,), subject="Hello", text_body="Hi Pat"))
    assert sent.label_ids == ("SENT",)
    thread_id = _seed_thread(admin)
    reply = mail.send_message(
        OutgoingMail.replying_to(mail.get_thread(thread_id), to=(PAT,), text_body="Following up")
    )
    assert reply.thread_id == thread_id
    with pytest.raises(PermanentError) as caught:
        mail.send_message(OutgoingMail(to=(), subject="Nobody", text_body="x"))
    assert caught.value.http_status == 400


def test_labels_ensure_is_idempotent_and_threads_modify(mail: GmailMail, admin):
    thread_id = _seed_thread(admin)
    label = mail.ensure_label("Sales Agent")
    assert label.id.startswith("Label_")
    assert mail.ensure_label("sales agent") == label
    names = [lb.name for lb in mail.list_labels()]
    assert names.count("Sales Agent") == 1
    assert "INBOX" in names
    mail.add_thread_label(thread_id, label.id)
    assert all(label.id in m.label_ids for m in mail.get_thread(thread_id).messages)
    with pytest.raises(PermanentError) as caught:
        mail.create_label("SALES AGENT")
    assert caught.value.http_status == 409


def _label_lists(admin) -> int:
    return sum(
        e["count"]
        for e in admin.calls()["endpoints"]
        if e["endpoint"] == "GET /gmail/v1/users/me/labels"
    )


def test_step_13_lists_labels_once_and_recovers_a_deleted_label(
    mail: GmailMail, admin, sandbox_url: str
):
    thread_id = _seed_thread(admin)
    outcome = MailOutcome(mode=WorkflowMode.DRAFT_ONLY, draft_id="d", thread_id=thread_id)
    before = _label_lists(admin)
    for _ in range(3):
        assert label_thread(mail, outcome) == thread_id
    # One labels.list (and one create) for three leads: the label is remembered.
    assert _label_lists(admin) - before == 1
    label = mail.ensure_label(LABEL)

    # The owner deletes the label in Gmail: the next lead finds the remembered id refused
    # and creates the label again, once, instead of failing.
    httpx.delete(f"{sandbox_url}/gmail/v1/users/me/labels/{label.id}").raise_for_status()
    assert label_thread(mail, outcome) == thread_id
    again = mail.ensure_label(LABEL)
    assert again.id != label.id
    assert all(again.id in m.label_ids for m in mail.get_thread(thread_id).messages)
    assert [lb.name for lb in mail.list_labels()].count(LABEL) == 1


def test_a_write_after_the_server_closed_the_idle_connection_goes_through(mail: GmailMail, admin):
    thread_id = _seed_thread(admin)
    label = mail.ensure_label(LABEL)
    mail.add_thread_label(thread_id, label.id)
    # Longer than the server keeps an idle keep-alive connection open (uvicorn: 5 s), as
    # between a run's Gmail steps: the next POST writes into a connection the server closed.
    time.sleep(6)
    mail.add_thread_label(thread_id, label.id)
    draft = mail.create_draft(OutgoingMail(to=(PAT,), subject="After a pause", text_body="Hi"))
    assert draft.draft_id


def test_ensure_label_survives_a_racing_create(mail: GmailMail, admin):
    # The create happens, but the answer is the 409 a concurrent worker would cause.
    admin.fault(pathPattern="/gmail/v1/users/*/labels", method="POST", status=409, afterCommit=True)
    label = mail.ensure_label("Sales Agent")
    assert label.name == "Sales Agent"
    labels = [lb for lb in _mailbox(admin)["labels"] if lb["name"] == "Sales Agent"]
    assert len(labels) == 1


def test_marked_draft_and_send_are_found_again(mail: GmailMail, admin):
    thread_id = _seed_thread(admin)
    marker = "WF-7f3a9c"
    reply = OutgoingMail.replying_to(
        mail.get_thread(thread_id), to=(PAT,), text_body="Tuesday?"
    ).model_copy(update={"marker": marker})
    assert mail.find_draft_by_marker(PAT, marker) is None

    ref = mail.create_draft(reply)
    assert mail.find_draft_by_marker(PAT, marker) == ref
    assert mail.find_draft_by_marker(PAT, "wf-other") is None
    assert mail.find_sent_by_marker(PAT, marker) is None
    assert _stored(admin, ref.message_id)["headers"]["Message-ID"] == (
        "<sales-agent.wf-7f3a9c@sales-agent.local>"
    )

    sent = mail.send_draft(ref.draft_id)
    assert mail.find_sent_by_marker(PAT, marker) == sent
    assert mail.find_draft_by_marker(PAT, marker) is None
    direct = mail.send_message(
        OutgoingMail(to=(PAT,), subject="Hi", text_body="Hello", marker="wf-direct")
    )
    assert mail.find_sent_by_marker(PAT, "wf-direct") == direct


def test_list_draft_ids_leaves_out_sent_and_deleted_drafts(mail: GmailMail, admin):
    made = [
        mail.create_draft(OutgoingMail(to=(PAT,), subject=f"Hello {n}", text_body="Hi"))
        for n in range(3)
    ]
    mail.send_draft(made[0].draft_id)
    mail._api.execute(
        "drafts.delete", lambda s: s.users().drafts().delete(userId="me", id=made[1].draft_id)
    )
    assert mail.list_draft_ids() == {made[2].draft_id}
