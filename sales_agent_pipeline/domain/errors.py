"""Error classes: every failure the pipeline sees is one of these three."""

from sales_agent_pipeline.domain.enums import ErrorClass


class PipelineError(Exception):
    """Base of our classified errors; keeps the vendor's status and message."""

    error_class: ErrorClass = ErrorClass.PERMANENT

    def __init__(
        self, message: str, *, http_status: int | None = None, vendor_message: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.vendor_message = vendor_message


class TransientError(PipelineError):
    """Network trouble, timeouts, 429 and 5xx: retried with backoff."""

    error_class = ErrorClass.TRANSIENT

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        vendor_message: str | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, vendor_message=vendor_message)
        self.retry_after_seconds = retry_after_seconds


class PermanentError(PipelineError):
    """4xx, validation, not allowed: never retried."""

    error_class = ErrorClass.PERMANENT


class ConfigurationError(PipelineError):
    """Missing or invalid credentials or settings: fail and alert."""

    error_class = ErrorClass.CONFIGURATION


class GrantRevoked(ConfigurationError):
    """HubSpot refused the refresh token: the portal must install (authorise) the app again."""


class LeadRejected(PermanentError):
    """The lead itself is unacceptable (no email, bad syntax, form not allowed)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class BreakerOpen(TransientError):
    """A vendor's circuit breaker for the tenant is open: no call was made. The lead waits
    (back in the queue, the attempt not counted) and resumes once the breaker lets calls
    through again; it never fails or writes twice because of it."""

    def __init__(self, vendor: str, message: str, *, retry_after_seconds: float) -> None:
        super().__init__(message, retry_after_seconds=retry_after_seconds)
        self.vendor = vendor


class WriteInProgress(TransientError):
    """Another live attempt holds the lease of this external write: retry later, never
    write a second time."""
