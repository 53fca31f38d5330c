"""Which database errors are worth a retry: the connection's and the server's limits', not
the statement's."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

from sales_agent_pipeline.domain.errors import TransientError

# Why the server ended a statement or a session, by SQLSTATE, for the error's reason.
_LIMITS = {
    "57014": "statement timed out (statement_timeout) or was cancelled",
    "55P03": "lock wait timed out (lock_timeout)",
    "25P03": "transaction left idle too long (idle_in_transaction_session_timeout)",
    "53300": "too many connections (max_connections)",
    "57P01": "server shutting down",
    "57P03": "server starting up",
}


def as_transient(error: BaseException) -> TransientError | None:
    """A TransientError for a connection-level failure (the server restarting or closing the
    connection, a connect timeout, a serialisation conflict, too many connections) or one of
    the session limits db/session.py sets; None otherwise.

    A statement timeout (QueryCanceled) counts as transient: our statements are indexed and
    take milliseconds, so one that runs past 30 s is waiting on the server (load, I/O, a lock
    held elsewhere), which passes. A statement slow by construction would time out on every
    try; the runner's retries are bounded, so it ends in the dead-letter state with this
    reason for a person to read, never in a loop. Integrity and programming errors are our
    data's or our code's: retrying repeats them.
    """
    if not isinstance(error, DBAPIError):
        return None
    code = getattr(error.orig, "sqlstate", None)
    if not (isinstance(error, OperationalError) or error.connection_invalidated or code in _LIMITS):
        return None
    detail = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
    reason = _LIMITS.get(code or "")
    return TransientError(f"database unavailable: {f'{reason}: ' if reason else ''}{detail}")
