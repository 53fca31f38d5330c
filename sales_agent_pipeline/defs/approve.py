"""The job `approve_and_send_draft`: the API's approve, launched from the UI's launchpad."""

import uuid
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

from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.vendors import GmailResource
from sales_agent_pipeline.usecases.approvals import ApprovalRefused, approve_draft


class ApproveConfig(Config):
    """Which workflow's draft to send, and who approved it (kept on the draft)."""

    workflow_id: str = Field(description="the workflow id (the lead asset's partition key)")
    approved_by: str = Field(
        min_length=1, max_length=200, description="your name: recorded as the approver"
    )


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
    try:
        result = approve_draft(
            database.sessions,
            # The draft's tenant's own mailbox and credentials.
            lambda tenant: gmail.for_tenant(tenant.id),
            settings.get(),
            approved_by=config.approved_by,
            workflow_id=workflow_id,
        )
    except ApprovalRefused as exc:
        raise Failure(
            description=f"not sent ({exc.reason.value}): {exc.message}",
            metadata={"reason": exc.reason.value},
            allow_retries=False,
        ) from None
    context.log.info(
        f"draft {result.draft_id} "
        + ("was already sent" if result.already_sent else f"sent by {config.approved_by}")
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
    "with the workflow id and your name.",
    tags={"sales_agent/kind": "approval"},
)
def approve_and_send_draft() -> None:
    """One op: the approval."""
    approve_and_send()
