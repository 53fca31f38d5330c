"""Step 11: a Gmail draft (DRAFT_ONLY) or a sent email (SEND), exactly once per workflow."""

from __future__ import annotations

from dataclasses import dataclass

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
from sales_agent_pipeline.ports.vendors import Mail


@dataclass(frozen=True)
class ModePolicy:
    """Everything that decides between drafting and sending."""

    global_mode: WorkflowMode
    global_kill_switch: bool
    tenant_mode: WorkflowMode | None
    tenant_kill_switch: bool
    override: WorkflowMode | None
    sent_today: int
    daily_send_cap: int


def effective_mode(policy: ModePolicy) -> tuple[WorkflowMode, str | None]:
    """The workflow's override, else the tenant's, else the global mode; the kill switch and
    the daily cap force DRAFT_ONLY. Returns the mode and why it differs from the request."""
    wanted = policy.override or policy.tenant_mode or policy.global_mode
    if wanted is not WorkflowMode.SEND:
        return WorkflowMode.DRAFT_ONLY, None
    if policy.global_kill_switch or policy.tenant_kill_switch:
        return WorkflowMode.DRAFT_ONLY, "send kill switch is on"
    if policy.sent_today >= policy.daily_send_cap:
        return WorkflowMode.DRAFT_ONLY, f"daily send cap of {policy.daily_send_cap} reached"
    return WorkflowMode.SEND, None


def outgoing_mail(content: DraftContent, context: ThreadContext, marker: str) -> OutgoingMail:
    """The RFC 2822 message to write: a reply in the thread when there is one."""
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
    )


def create_gmail_draft(
    mail: Mail,
    effects: Effects,
    *,
    workflow_id: str,
    content: DraftContent,
    context: ThreadContext,
    mode: WorkflowMode,
    mode_reason: str | None = None,
    previous: PreviousMail | None = None,
) -> MailOutcome:
    """Draft or send; a re-run updates its draft and never sends twice."""
    if previous is not None and previous.sent:
        return MailOutcome(
            mode=WorkflowMode.SEND,
            message_id=previous.message_id,
            thread_id=previous.thread_id,
            sent=True,
            mode_reason="already sent by an earlier run: never sent twice",
        )
    outgoing = outgoing_mail(content, context, marker=workflow_id)
    if mode is WorkflowMode.SEND:
        draft_id = previous.draft_id if previous is not None else None

        def send() -> SentRef:
            if draft_id is None:
                return mail.send_message(outgoing)
            # An earlier DRAFT_ONLY run left a draft: bring it up to date, then send it.
            mail.update_draft(draft_id, outgoing)
            return mail.send_draft(draft_id)

        sent = effects.once(
            "gmail.message.send",
            workflow_id,
            send,
            model=SentRef,
            recover=lambda: mail.find_sent_by_marker(content.to, workflow_id),
        )
        return MailOutcome(
            mode=mode, message_id=sent.message_id, thread_id=sent.thread_id, sent=True
        )
    if previous is not None and previous.draft_id:
        try:
            ref = mail.update_draft(previous.draft_id, outgoing)
            return _drafted(ref, mode_reason, updated=True)
        except PermanentError as exc:
            if exc.http_status != 404:
                raise
            # The owner deleted the draft: write a new one under a key of its own.
            key = f"{workflow_id}:after:{previous.draft_id}"
            ref = effects.once(
                "gmail.draft.create", key, lambda: mail.create_draft(outgoing), model=DraftRef
            )
            return _drafted(ref, mode_reason)
    ref = effects.once(
        "gmail.draft.create",
        workflow_id,
        lambda: mail.create_draft(outgoing),
        model=DraftRef,
        recover=lambda: mail.find_draft_by_marker(content.to, workflow_id),
    )
    return _drafted(ref, mode_reason)


def _drafted(ref: DraftRef, reason: str | None, *, updated: bool = False) -> MailOutcome:
    return MailOutcome(
        mode=WorkflowMode.DRAFT_ONLY,
        draft_id=ref.draft_id,
        message_id=ref.message_id,
        thread_id=ref.thread_id,
        updated=updated,
        mode_reason=reason,
    )
