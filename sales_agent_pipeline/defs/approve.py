"""The job `approve_and_send_draft`: the API's approve, launched from the UI's launchpad.

The approver is whoever signed in to the UI, as our webserver stamped it on the run
(webserver.py, connectors/ui_identity.py), never a name typed into the config; the job
sends only drafts of tenants that operator has a grant for (`sales-agent operator grant`).
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from dagster import (
    Config,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    in_process_executor,
    job,
    op,
)
from pydantic import Field

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.connectors import ui_identity
from sales_agent_pipeline.db.repositories import operator_grants
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.vendors import GmailResource
from sales_agent_pipeline.secretbox import encryption_keys
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.approvals import ApprovalRefused, approve_draft


class ApproveConfig(Config):
    """Which workflow's draft to send. The approver is the signed-in operator."""

    workflow_id: str = Field(description="the workflow id (the lead asset's partition key)")


def _refuse(description: str) -> Failure:
    return Failure(
        description=description, metadata={"reason": "operator_not_allowed"}, allow_retries=False
    )


def signed_in_operator(tags: dict[str, str], settings: Settings, now: datetime) -> str:
    """The operator our webserver stamped on the run; Failure when there is none to trust."""
    operator = tags.get(run_tags.OPERATOR, "")
    stamp = tags.get(run_tags.OPERATOR_STAMP, "")
    if not operator or not ui_identity.verify(encryption_keys(settings), operator, stamp, now):
        raise _refuse(
            "no signed-in operator on this run: launch the job from the Dagster UI behind the "
            "sign-in proxy, within an hour of launching it (or approve through the API: "
            "POST /api/drafts/{id}/approve)"
        )
    if operator == ui_identity.SERVICE_OPERATOR:
        raise _refuse("a service, not a person, launched this run: approvals need a person")
    if operator == ui_identity.LOCAL_OPERATOR and settings.resolved_ui_auth != "none":
        raise _refuse("this run comes from a UI without sign-in, and UI_AUTH is proxy here")
    return operator


@op(description="Send the workflow's DRAFT_ONLY Gmail draft once, as the API's approve does.")
def approve_and_send(
    context: OpExecutionContext,
    config: ApproveConfig,
    database: DatabaseResource,
    gmail: GmailResource,
    settings: SettingsResource,
) -> Output[dict[str, Any]]:
    """One call to approvals.approve_draft; a refusal fails the run with its reason."""
    try:
        workflow_id = uuid.UUID(config.workflow_id.strip())
    except ValueError:
        raise Failure(
            description=f"workflow_id {config.workflow_id!r} is not a workflow id (a UUID)",
            allow_retries=False,
        ) from None
    config_ = settings.get()
    operator = signed_in_operator(dict(context.run.tags), config_, datetime.now(UTC))
    if operator == ui_identity.LOCAL_OPERATOR:
        allowed = None  # one machine, no sign-in (UI_AUTH=none): its user acts for all
    else:
        with database.sessions.begin() as session:
            allowed = operator_grants.tenants_for(session, operator)
        if allowed is not None and not allowed:
            raise _refuse(
                f"{operator} has no grant for any tenant: an administrator grants one with "
                f"`sales-agent operator grant {operator} --portal PORTAL_ID`"
            )
    try:
        result = approve_draft(
            database.sessions,
            # The draft's tenant's own credentials, acting for the mailbox the draft is in.
            lambda tenant, mailbox: gmail.for_mailbox(tenant.id, mailbox),
            config_,
            approved_by=operator,
            workflow_id=workflow_id,
            allowed_tenants=allowed,
        )
    except ApprovalRefused as exc:
        raise Failure(
            description=f"not sent ({exc.reason.value}): {exc.message}",
            metadata={"reason": exc.reason.value},
            allow_retries=False,
        ) from None
    context.log.info(
        f"draft {result.draft_id} "
        + ("was already sent" if result.already_sent else f"sent, approved by {operator}")
    )
    summary: dict[str, Any] = {
        "draft_id": str(result.draft_id),
        "gmail_message_id": result.gmail_message_id,
        "already_sent": result.already_sent,
    }
    return Output(
        summary,
        metadata={
            "workflow_id": str(workflow_id),
            "approved_by": MetadataValue.text(result.approved_by or ""),
            "sent_at": MetadataValue.text(result.sent_at.isoformat() if result.sent_at else ""),
            "already_sent": result.already_sent,
            "gmail_message_id": MetadataValue.text(result.gmail_message_id or ""),
        },
    )


@job(
    executor_def=in_process_executor,
    description="Approve a DRAFT_ONLY draft and send it (Gmail drafts.send), exactly once; "
    "refused while a kill switch is on or the tenant's daily cap is reached. Launch it "
    "from the UI with the workflow id: you, as signed in, are recorded as the approver, for "
    "a tenant you have a grant for.",
    tags={"sales_agent/kind": "approval"},
)
def approve_and_send_draft() -> None:
    """One op: the approval."""
    approve_and_send()
