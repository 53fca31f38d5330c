"""Step 11: a Gmail draft (DRAFT_ONLY) or a sent email (SEND), exactly once per workflow.

SEND drafts first, then sends that draft with `drafts.send`: Gmail deletes a draft when it
sends it, so a repeated send of the same draft is refused by Gmail itself, and a send
whose answer was lost is resolved by asking for the draft (gone: it was sent) instead of
by a search whose index lags behind the send.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.errors import PermanentError
from sales_agent_pipeline.domain.models import DraftRef, OutgoingMail, SentRef
from sales_agent_pipeline.domain.workflow import (
    DraftContent,
    MailOutcome,
    PreviousMail,
    ThreadContext,
)
from sales_agent_pipeline.ports.effects import Effects
from sales_agent_pipeline.ports.sends import SendGate
from sales_agent_pipeline.ports.vendors import Mail

DRAFT_SCOPE = "gmail.draft.create"
SEND_SCOPE = "gmail.message.send"


class SendRefused(PermanentError):
    """The gate refused a send whose earlier attempt was not found sent: nothing goes out."""


def outgoing_mail(
    content: DraftContent,
    context: ThreadContext,
    marker: str,
    headers: tuple[tuple[str, str], ...] = (),
) -> OutgoingMail:
    """The RFC 2822 message to write: a reply in the thread when there is one; `headers`
    (List-Unsubscribe and its one-click POST) ride on it, draft or sent."""
    references = list(context.references)
    if context.last_message_id_header and context.last_message_id_header not in references:
        references.append(context.last_message_id_header)
    return OutgoingMail(
        to=(content.to,),
        subject=content.subject,
        text_body=content.text_body,
        html_body=content.html_body,
        thread_id=context.thread_id,
        in_reply_to=context.last_message_id_header if context.thread_id else None,
        references=tuple(references) if context.thread_id else (),
        marker=marker,
        headers=headers,
    )


def draft_gone(exc: PermanentError) -> bool:
    """Gmail's answer for a draft it no longer has: 404, or 400 "Invalid draft" from
    drafts.send (a sent draft is deleted)."""
    return exc.http_status == 404 or (
        exc.http_status == 400 and "invalid draft" in str(exc).lower()
    )


def sent_copy(mail: Mail, draft: DraftRef, marker: str) -> SentRef | None:
    """What the draft became when it was sent: the marked sent message in its thread."""
    if not draft.thread_id:
        return None
    return mail.find_sent_in_thread(draft.thread_id, marker)


def send_draft_once(
    mail: Mail,
    effects: Effects,
    draft: DraftRef,
    marker: str,
    *,
    refused: str | None = None,
) -> SentRef:
    """Send the draft under the workflow's send record (scope gmail.message.send).

    A record an earlier attempt left uncertain is resolved by asking Gmail for the draft,
    which (unlike a search) never lags: gone means Gmail sent it (found in its thread, else
    recorded with what is known), never a reason to send a new message; still there means
    nothing was sent, and it is sent now (Gmail sends a draft once at most, so an earlier
    call still on its way cannot make it two). `refused` (the gate's reason) resolves an
    uncertain attempt but never sends: SendRefused, nothing written.
    """

    def send() -> SentRef:
        if refused is not None:
            raise SendRefused(f"not sent: {refused}")
        try:
            return mail.send_draft(draft.draft_id)
        except PermanentError as exc:
            if not draft_gone(exc):
                raise
            # Sent by an attempt whose answer is still on its way, or deleted by the owner.
            found = sent_copy(mail, draft, marker)
            if found is None:
                raise
            return found

    def resolve() -> SentRef:
        try:
            mail.get_draft(draft.draft_id)
        except PermanentError as exc:
            if exc.http_status != 404:
                raise
            return sent_copy(mail, draft, marker) or SentRef(
                message_id=draft.message_id, thread_id=draft.thread_id, label_ids=("SENT",)
            )
        return send()

    return effects.once(SEND_SCOPE, marker, send, model=SentRef, recover=resolve)


def _write_draft(
    mail: Mail,
    effects: Effects,
    outgoing: OutgoingMail,
    key: str,
    previous: PreviousMail | None,
) -> tuple[DraftRef | SentRef, bool]:
    """The workflow's draft, written once (an earlier run's brought up to date), and
    whether it was an update; a SentRef when that earlier draft turns out sent."""
    to = outgoing.to[0]

    def create(record_key: str) -> DraftRef:
        # Either record's draft carries the workflow's marker: that is what a recovery finds.
        return effects.once(
            DRAFT_SCOPE,
            record_key,
            lambda: mail.create_draft(outgoing),
            model=DraftRef,
            recover=lambda: mail.find_draft_by_marker(to, key),
        )

    if previous is None or not previous.draft_id:
        return create(key), False
    try:
        return mail.update_draft(previous.draft_id, outgoing), True
    except PermanentError as exc:
        if exc.http_status != 404:
            raise
    gone = DraftRef(
        draft_id=previous.draft_id,
        message_id=previous.message_id or "",
        thread_id=previous.thread_id or "",
    )
    # A send whose record never reached our tables, or the owner deleted the draft. (An
    # update may have moved the draft to a thread of its own: the search is the fallback,
    # and a miss costs at most a second draft, never a second send.)
    sent = sent_copy(mail, gone, key) or mail.find_sent_by_marker(to, key)
    if sent is not None:
        return sent, False
    # Deleted: write a new one under a key of its own.
    return create(f"{key}:after:{previous.draft_id}"), False


def create_gmail_draft(
    mail: Mail,
    effects: Effects,
    gate: SendGate,
    *,
    tenant_id: uuid.UUID,
    workflow_id: uuid.UUID,
    content: DraftContent,
    context: ThreadContext,
    mode: WorkflowMode,
    previous: PreviousMail | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    later: Callable[[DraftRef], MailOutcome] | None = None,
) -> MailOutcome:
    """Draft, and in SEND mode (`mode`: what the lead was claimed in) send that draft when
    the gate grants a slot; a refusal leaves the draft with the gate's reason. A re-run
    updates its draft and never sends twice.

    `later`: the recipient's business hours have not begun (SEND only): once the gate
    allows the send, its slot goes back to the day and `later` schedules the draft instead
    (the due-sends job sends it through the gate then)."""
    if previous is not None and previous.sent:
        return MailOutcome(
            mode=WorkflowMode.SEND,
            message_id=previous.message_id,
            thread_id=previous.thread_id,
            sent=True,
            mode_reason="already sent by an earlier run: never sent twice",
        )
    key = str(workflow_id)
    written, updated = _write_draft(
        mail, effects, outgoing_mail(content, context, marker=key, headers=headers), key, previous
    )
    if isinstance(written, SentRef):
        gate.mark_sent(workflow_id)
        return _sent(written)
    if mode is not WorkflowMode.SEND:
        return _drafted(written, None, updated=updated)
    grant = gate.reserve(tenant_id, workflow_id)
    if not grant.granted and not grant.held:
        return _drafted(written, grant.reason, updated=updated)
    if later is not None and grant.granted:
        # The due-sends job sends it under the same send record (send_draft_once), so an
        # earlier attempt's uncertain send is resolved there, never made twice.
        gate.release(workflow_id)
        return later(written).model_copy(update={"updated": updated})
    try:
        sent = send_draft_once(
            mail, effects, written, key, refused=None if grant.granted else grant.reason
        )
    except PermanentError as exc:
        # Nothing went out: the slot returns to the day.
        gate.release(workflow_id)
        if isinstance(exc, SendRefused):
            return _drafted(written, grant.reason, updated=updated)
        raise
    gate.mark_sent(workflow_id)
    return _sent(sent)


def _sent(ref: SentRef) -> MailOutcome:
    return MailOutcome(
        mode=WorkflowMode.SEND, message_id=ref.message_id, thread_id=ref.thread_id, sent=True
    )


def _drafted(ref: DraftRef, reason: str | None, *, updated: bool = False) -> MailOutcome:
    return MailOutcome(
        mode=WorkflowMode.DRAFT_ONLY,
        draft_id=ref.draft_id,
        message_id=ref.message_id,
        thread_id=ref.thread_id,
        updated=updated,
        mode_reason=reason,
    )
