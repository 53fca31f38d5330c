"""The closed sets of values the schema, the API and the pipeline share."""

from enum import StrEnum


class WorkflowMode(StrEnum):
    """Whether a workflow may only draft or may also send."""

    DRAFT_ONLY = "DRAFT_ONLY"
    SEND = "SEND"


class WorkflowStatus(StrEnum):
    """Lifecycle of one lead's workflow; `received` is the outbox state."""

    RECEIVED = "received"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    REJECTED = "rejected"
    # Transient retries exhausted: re-driven automatically with growing delays, then kept
    # for a person (`sales-agent dlq`).
    DEAD_LETTER = "dead_letter"


class SubmissionSource(StrEnum):
    """How a form submission reached us."""

    WEBHOOK = "webhook"
    RECONCILIATION = "reconciliation"
    IMPORT = "import"


class StepStatus(StrEnum):
    """Outcome of one step as written to the audit trail."""

    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    RETRYING = "retrying"


class ErrorClass(StrEnum):
    """How an error is handled: retried, failed at once, or failed and alerted."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    CONFIGURATION = "configuration"


class IdempotencyStatus(StrEnum):
    """An external write's record: written before the call, completed after it."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class TaskStatus(StrEnum):
    """HubSpot's hs_task_status values."""

    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    DEFERRED = "DEFERRED"


def values(enum: type[StrEnum]) -> list[str]:
    """The string values of an enum, in declaration order."""
    return [member.value for member in enum]


class SecretKind(StrEnum):
    """The secrets a tenant's row may hold, each encrypted at rest."""

    HUBSPOT_TOKEN = "hubspot_token"  # noqa: S105 (a name, not a secret)
    HUBSPOT_REFRESH_TOKEN = "hubspot_refresh_token"  # noqa: S105
    HUBSPOT_ACCESS_TOKEN = "hubspot_access_token"  # noqa: S105 (OAuth's, refreshed)
    WEBHOOK_SECRET = "webhook_secret"  # noqa: S105
    GOOGLE_CREDENTIALS = "google_credentials"


class HubSpotAuth(StrEnum):
    """How a tenant reaches HubSpot: a private app's static token or a public app's OAuth."""

    PRIVATE_APP = "private_app"
    OAUTH = "oauth"


class BreakerState(StrEnum):
    """A circuit breaker per vendor and tenant: calls flow, stop, or probe."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class ReservationStatus(StrEnum):
    """A slot of a tenant's daily send cap: held for a send in progress, used, or given back."""

    RESERVED = "reserved"
    SENT = "sent"
    RELEASED = "released"
