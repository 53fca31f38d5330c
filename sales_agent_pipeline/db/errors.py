"""Which database errors are worth a retry: the connection's, not the statement's."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

from sales_agent_pipeline.domain.errors import TransientError


def as_transient(error: BaseException) -> TransientError | None:
    """A TransientError for a connection-level failure (the server restarting or closing the
    connection, a connect or statement timeout, a serialisation conflict); None otherwise.

    Integrity and programming errors are our data's or our code's: retrying repeats them.
    """
    if isinstance(error, OperationalError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        detail = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        return TransientError(f"database unavailable: {detail}")
    return None
