"""Every table of the app schema; import from here so Alembic sees them all."""

from sqlalchemy.orm import configure_mappers

from sales_agent_pipeline.db.base import Base
from sales_agent_pipeline.db.models.alerts import AlertState
from sales_agent_pipeline.db.models.audit import WorkflowError, WorkflowEvent
from sales_agent_pipeline.db.models.compliance import (
    InboundMessage,
    MailboxCursor,
    ScheduledSend,
    Suppression,
)
from sales_agent_pipeline.db.models.idempotency import IdempotencyKey
from sales_agent_pipeline.db.models.imports import LeadImport
from sales_agent_pipeline.db.models.operators import OperatorGrant
from sales_agent_pipeline.db.models.outputs import DraftEmail, DraftRevision, HubspotTask
from sales_agent_pipeline.db.models.quota import QuotaBucket, QuotaUsage
from sales_agent_pipeline.db.models.reconciliation import FormCursor, ReconciliationReport
from sales_agent_pipeline.db.models.reliability import (
    CircuitBreaker,
    GlobalSwitch,
    SendReservation,
)
from sales_agent_pipeline.db.models.settings_audit import SettingsChange
from sales_agent_pipeline.db.models.tenants import ApiKey, Tenant, TenantSecret, TenantUsage
from sales_agent_pipeline.db.models.workflows import FormSubmission, Workflow

__all__ = [
    "AlertState",
    "ApiKey",
    "Base",
    "CircuitBreaker",
    "DraftEmail",
    "DraftRevision",
    "FormCursor",
    "FormSubmission",
    "GlobalSwitch",
    "HubspotTask",
    "IdempotencyKey",
    "InboundMessage",
    "LeadImport",
    "MailboxCursor",
    "OperatorGrant",
    "QuotaBucket",
    "QuotaUsage",
    "ReconciliationReport",
    "ScheduledSend",
    "SendReservation",
    "SettingsChange",
    "Suppression",
    "Tenant",
    "TenantSecret",
    "TenantUsage",
    "Workflow",
    "WorkflowError",
    "WorkflowEvent",
]

# The mappers are configured here, at import, instead of at each process's first query: a
# run worker forked from the code server's forkserver (which imported this module) then
# starts with them ready; configuring them cost its first query ~0.1 s.
configure_mappers()
