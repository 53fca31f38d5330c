"""Operators change a draft before they approve it: edit its subject and body, or have it
written again. Either way the workflow's one Gmail draft is updated in place (the same draft
id, thread, reply headers and marker as step 11 wrote), then our row and a draft_revisions
row, in that order: when Gmail refuses or cannot be reached nothing of ours changes.

As in approvals, no transaction is open during a vendor call: read the draft (refusals),
write (the model, then Gmail), record in one short transaction that re-checks the draft is
still unsent and at the revision read (else a conflict, nothing recorded).
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import DraftEmail, Tenant, Workflow
from sales_agent_pipeline.db.repositories import audit
from sales_agent_pipeline.db.repositories.draft_revisions import (
    RevisionText,
    add_revision,
    latest_step_outputs,
)
from sales_agent_pipeline.db.repositories.outputs import _provenance
from sales_agent_pipeline.db.repositories.usage import PostgresTokenBudget
from sales_agent_pipeline.db.repositories.workflows import load_work_items
from sales_agent_pipeline.domain.drafting import WriterKind
from sales_agent_pipeline.domain.enums import StepStatus
from sales_agent_pipeline.domain.errors import (
    ConfigurationError,
    PermanentError,
    TransientError,
)
from sales_agent_pipeline.domain.models import DraftRef, OutgoingMail
from sales_agent_pipeline.domain.workflow import DraftContent, ThreadContext
from sales_agent_pipeline.ports.vendors import Mail
from sales_agent_pipeline.secretbox import unsubscribe_tokens
from sales_agent_pipeline.settings import Settings, get_settings
from sales_agent_pipeline.steps.create_gmail_draft import draft_gone, outgoing_mail
from sales_agent_pipeline.steps.unsubscribe import Unsubscribe
from sales_agent_pipeline.steps.write_draft import usage_counts, write_draft
from sales_agent_pipeline.usecases.approvals import IN_FLIGHT
from sales_agent_pipeline.usecases.vendors import model_writer
from sales_agent_pipeline.workflow.drafting import choose_writer, draft_inputs, sent_assets
from sales_agent_pipeline.workflow.state import LeadState

MailFor = Callable[[Tenant, str | None], Mail]

# Step 10 writes from the outputs of steps 1-9.
LAST_INPUT_STEP = 9
EDIT = "edit"
REGENERATE = "regenerate"


class EditRefusal(StrEnum):
    """Why a draft was not changed."""

    NOT_FOUND = "draft_not_found"
    SENT = "draft_already_sent"
    IN_FLIGHT = "workflow_in_flight"
    NO_GMAIL_DRAFT = "draft_not_in_gmail"
    NO_INPUTS = "draft_inputs_missing"
    SUBJECT_LEAVES_THREAD = "subject_leaves_thread"
    CONFLICT = "draft_changed_meanwhile"
    GMAIL_REFUSED = "gmail_refused"
    GMAIL_UNAVAILABLE = "gmail_unavailable"


class EditRefused(Exception):
    """The draft was not changed; `reason` says why, `message` says it for a person."""

    def __init__(self, reason: EditRefusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Actor:
    """Who changes the draft: the audit name of an API key, and the key."""

    name: str
    api_key_id: uuid.UUID | None = None


@dataclass(frozen=True)
class _Current:
    """The draft as read before the vendor calls (no lock kept)."""

    draft_id: uuid.UUID
    workflow_id: uuid.UUID
    revision: int
    to_email: str
    subject: str
    body: str
    body_html: str | None
    gmail_draft_id: str
    gmail_thread_id: str | None
    state: LeadState | None
    mail: Mail
    # The one-click unsubscribe every version of the draft carries (step 11's).
    unsubscribe: Unsubscribe


def restored_state(session: Session, workflow_id: uuid.UUID) -> LeadState | None:
    """The lead as step 10 saw it: the work item (the tenant's settings as a run loads
    them) with the latest outputs of steps 1-9 merged in the runner's way (`_restore`)."""
    items = load_work_items(session, [workflow_id])
    if not items:
        return None
    merged: dict[str, Any] = LeadState(item=items[0]).model_dump(mode="json")
    for output in latest_step_outputs(session, workflow_id, LAST_INPUT_STEP):
        merged.update(output)
    try:
        return LeadState.model_validate(merged)
    except ValidationError:
        # Outputs of an older shape: nothing to write from (an edit keeps no context).
        return None


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
# Reply and forward prefixes (en, de, fr, es, and the Nordic ones mail clients add).
_PREFIXES = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|tr|rv|sv|antw)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def thread_subject(subject: str) -> str:
    """A subject as Gmail matches it to a thread's: no reply prefixes, case or spacing."""
    return " ".join(_PREFIXES.sub("", subject).split()).casefold()


def text_to_html(text: str) -> str:
    """An operator's plain text as the draft's HTML part: escaped (it is text, never
    markup), one <p> per blank-line-separated paragraph, line breaks kept."""
    paragraphs = [part.strip("\n") for part in _PARAGRAPH_BREAK.split(text.strip())]
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in part.split("\n")) + "</p>"
        for part in paragraphs
        if part.strip()
    )


def _unsubscribe(tenant: Tenant, workflow: Workflow, to_email: str) -> Unsubscribe:
    """The draft's unsubscribe link and mailto:, as step 11 writes them (a new token: any
    valid one works)."""
    settings = get_settings()
    token = unsubscribe_tokens(settings).mint(tenant.id, to_email, workflow.id)
    return Unsubscribe.of(settings, token, workflow.mailbox or tenant.sender_email)


def _current(
    sessions: sessionmaker[Session],
    mail: MailFor,
    tenant_id: uuid.UUID,
    draft_id: uuid.UUID,
    *,
    with_state: bool,
) -> _Current:
    statement = (
        select(DraftEmail, Workflow, Tenant)
        .join(Workflow, DraftEmail.workflow_id == Workflow.id)
        .join(Tenant, Workflow.tenant_id == Tenant.id)
        .where(DraftEmail.id == draft_id, Workflow.tenant_id == tenant_id)
    )
    with sessions.begin() as session:
        row = session.execute(statement).one_or_none()
        if row is None:
            raise EditRefused(EditRefusal.NOT_FOUND, f"no draft {draft_id}")
        draft, workflow, tenant = row
        if draft.sent:
            raise EditRefused(EditRefusal.SENT, "the draft was sent: it can no longer change")
        if workflow.status in IN_FLIGHT:
            raise EditRefused(
                EditRefusal.IN_FLIGHT,
                f"the workflow is {workflow.status}: change the draft once its run has finished",
            )
        if draft.gmail_draft_id is None:
            raise EditRefused(EditRefusal.NO_GMAIL_DRAFT, "the draft was never written to Gmail")
        # The context (thread, reply headers) is the trail's for an edit too.
        state = restored_state(session, workflow.id)
        if with_state and (state is None or not (state.lead and state.context and state.plan)):
            raise EditRefused(
                EditRefusal.NO_INPUTS,
                "the workflow's trail lacks the outputs of steps 1-9 to write from",
            )
        return _Current(
            draft_id=draft.id,
            workflow_id=workflow.id,
            revision=draft.revision,
            to_email=draft.to_email,
            subject=draft.subject,
            body=draft.body,
            body_html=draft.body_html,
            gmail_draft_id=draft.gmail_draft_id,
            gmail_thread_id=draft.gmail_thread_id,
            state=state,
            mail=mail(tenant, workflow.mailbox),
            unsubscribe=_unsubscribe(tenant, workflow, draft.to_email),
        )


def _outgoing(current: _Current, subject: str, text: str, html_body: str) -> OutgoingMail:
    """Step 11's message with the new text: the stored recipient, the workflow's marker,
    the thread and reply headers of the workflow's context."""
    context = current.state.context if current.state else None
    content = DraftContent(
        to=current.to_email, subject=subject, text_body=text, html_body=html_body
    )
    outgoing = outgoing_mail(
        current.unsubscribe.appended(content),
        context or ThreadContext(),
        marker=str(current.workflow_id),
        headers=current.unsubscribe.headers,
    )
    if outgoing.thread_id is None and current.gmail_thread_id:
        # A draft that is no reply stays in the thread Gmail gave it.
        outgoing = outgoing.model_copy(update={"thread_id": current.gmail_thread_id})
    return outgoing


def _update_gmail(current: _Current, outgoing: OutgoingMail) -> DraftRef:
    try:
        return current.mail.update_draft(current.gmail_draft_id, outgoing)
    except PermanentError as exc:
        if draft_gone(exc):
            raise EditRefused(
                EditRefusal.NO_GMAIL_DRAFT,
                "the Gmail draft is gone (deleted or sent from Gmail): retry the workflow",
            ) from exc
        raise EditRefused(EditRefusal.GMAIL_REFUSED, f"Gmail refused: {exc}") from exc
    except (TransientError, ConfigurationError) as exc:
        raise EditRefused(EditRefusal.GMAIL_UNAVAILABLE, f"Gmail: {exc}") from exc


def _record(
    sessions: sessionmaker[Session],
    current: _Current,
    ref: DraftRef,
    actor: Actor,
    kind: str,
    values: dict[str, Any],
    details: dict[str, Any],
) -> None:
    """Our row, its revision and the audit event, once Gmail holds the new text."""
    with sessions.begin() as session:
        draft = session.execute(
            select(DraftEmail).where(DraftEmail.id == current.draft_id).with_for_update()
        ).scalar_one()
        if draft.sent or draft.revision != current.revision:
            raise EditRefused(
                EditRefusal.CONFLICT,
                "the draft was changed or sent while this change was written: read it again",
            )
        text = RevisionText(draft.subject, draft.body, values["subject"], values["body"])
        for name, value in values.items():
            setattr(draft, name, value)
        draft.revision = current.revision + 1
        draft.edited_by = actor.name
        draft.edited_at = utcnow()
        draft.gmail_message_id = ref.message_id or draft.gmail_message_id
        draft.gmail_thread_id = ref.thread_id or draft.gmail_thread_id
        add_revision(
            session,
            draft.id,
            revision=draft.revision,
            kind=kind,
            actor=actor.name,
            api_key_id=actor.api_key_id,
            text=text,
            details=details,
        )
        audit.record_event(
            session,
            current.workflow_id,
            event_type="draft_edited" if kind == EDIT else "draft_regenerated",
            status=StepStatus.SUCCEEDED,
            details={
                "draft_id": str(draft.id),
                "revision": draft.revision,
                "actor": actor.name,
                **details,
            },
        )


def edit_draft(
    sessions: sessionmaker[Session],
    mail: MailFor,
    *,
    tenant_id: uuid.UUID,
    draft_id: uuid.UUID,
    actor: Actor,
    subject: str | None = None,
    body: str | None = None,
) -> bool:
    """Replace the draft's subject and/or body in Gmail, then in our records; False when
    the text is the stored one (nothing changes)."""
    current = _current(sessions, mail, tenant_id, draft_id, with_state=False)
    new_subject = current.subject if subject is None else subject
    new_body = current.body if body is None else body
    if (new_subject, new_body) == (current.subject, current.body):
        return False
    context = current.state.context if current.state else None
    if (
        context is not None
        and context.thread_id
        and thread_subject(new_subject) != thread_subject(current.subject)
    ):
        # Gmail keeps a message in a thread only when its Subject matches the thread's
        # (Gmail API, Message.threadId): another subject would move the reply out of it.
        raise EditRefused(
            EditRefusal.SUBJECT_LEAVES_THREAD,
            "the draft replies in the prospect's thread: Gmail keeps it there only under "
            f"the thread's subject ({current.subject!r}); edit the body, or keep the subject",
        )
    html_body = (
        current.body_html
        if new_body == current.body and current.body_html
        else text_to_html(new_body)
    )
    ref = _update_gmail(current, _outgoing(current, new_subject, new_body, html_body))
    values = {"subject": new_subject, "body": new_body, "body_html": html_body}
    _record(sessions, current, ref, actor, EDIT, values, {})
    return True


def regenerate_draft(
    engine: Engine,
    sessions: sessionmaker[Session],
    mail: MailFor,
    settings: Settings,
    *,
    tenant_id: uuid.UUID,
    draft_id: uuid.UUID,
    actor: Actor,
    writer: WriterKind | None = None,
) -> None:
    """Write the draft again from the workflow's own step outputs with the tenant's writer
    (or `writer`), into the same Gmail draft, then our records. The model's tokens count
    in the tenant's usage as step 10's do, even when Gmail then refuses the update."""
    current = _current(sessions, mail, tenant_id, draft_id, with_state=True)
    state = current.state
    assert state is not None
    tokens = PostgresTokenBudget(sessions)
    choice = choose_writer(
        state.item.tenant,
        settings,
        lambda kind, _tenant: model_writer(engine, settings, kind),
        tokens.spent_today,
        writer,
    )
    content = write_draft(
        draft_inputs(state),
        choice.writer,
        state.item.tenant.writer,
        model=choice.model,
        budget_left=choice.budget_left,
    )
    made = content.provenance
    if choice.kind is not WriterKind.TEMPLATE and made is not None:
        tokens.record(tenant_id, usage_counts(made))
    outgoing = _outgoing(current, content.subject, content.text_body, content.html_body)
    ref = _update_gmail(current, outgoing)
    assets = sent_assets(state, content)
    values: dict[str, Any] = {
        "subject": content.subject,
        "body": content.text_body,
        "body_html": content.html_body,
        "assets": [asset.model_dump(mode="json") for asset in assets],
        "assets_included": len(assets),
        **_provenance(content),
    }
    details = made.model_dump(mode="json") if made is not None else {}
    _record(sessions, current, ref, actor, REGENERATE, values, details)
