"""The one place that turns SDK and network exceptions into our three error classes."""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import google.auth.exceptions
import httplib2
import urllib3.exceptions
from googleapiclient.errors import HttpError

from sales_agent_pipeline import tracing
from sales_agent_pipeline.domain.effects import Unreachable
from sales_agent_pipeline.domain.errors import (
    ConfigurationError,
    PermanentError,
    PipelineError,
    TransientError,
)

# Google answers some quota overruns with 403 instead of 429; those pass with time.
_GOOGLE_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    socket.gaierror,
    ssl.SSLError,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
    httplib2.HttpLib2Error,
    google.auth.exceptions.TransportError,
)


def _header(headers: Any, name: str) -> str | None:
    """Read a header from urllib3's case-insensitive dict or httplib2's lower-cased one."""
    if not headers:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, Mapping):
        value = next((v for k, v in headers.items() if str(k).lower() == name.lower()), None)
    return None if value is None else str(value)


def _seconds(value: str | None) -> float | None:
    """Parse Retry-After: delta seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def retry_after_from(headers: Any) -> float | None:
    """The server's wait hint: Retry-After, else HubSpot's rate-limit interval."""
    seconds = _seconds(_header(headers, "Retry-After"))
    if seconds is not None:
        return seconds
    interval = _header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    try:
        return float(interval) / 1000 if interval else None
    except ValueError:
        return None


def _json(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not isinstance(body, str) or not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def from_status(
    operation: str,
    status: int,
    vendor_message: str | None,
    headers: Any = None,
    *,
    reasons: frozenset[str] = frozenset(),
) -> PipelineError:
    """Classify an HTTP failure by its status (and Google's reasons)."""
    text = f"{operation} failed: HTTP {status}"
    if vendor_message:
        text = f"{text}: {vendor_message}"
    common: dict[str, Any] = {"http_status": status, "vendor_message": vendor_message}
    if status == 429 or (status == 403 and reasons & _GOOGLE_RATE_REASONS):
        return TransientError(text, retry_after_seconds=retry_after_from(headers), **common)
    if status == 0 or status == 408 or status >= 500:
        retry_after = _seconds(_header(headers, "Retry-After"))
        return TransientError(text, retry_after_seconds=retry_after, **common)
    if status in (401, 403):
        return ConfigurationError(text, **common)
    return PermanentError(text, **common)


def _is_hubspot_api_exception(exc: BaseException) -> bool:
    # Every hubspot.* package generates its own ApiException with no shared base
    # class, so recognise them by name and origin rather than by one import.
    return any(
        cls.__name__ == "ApiException" and cls.__module__.startswith("hubspot.")
        for cls in type(exc).__mro__
    )


def _from_hubspot(exc: Any, operation: str) -> PipelineError:
    status = int(getattr(exc, "status", 0) or 0)
    body = _json(getattr(exc, "body", None))
    message = body.get("message") if isinstance(body, dict) else None
    if status == 0:
        # Status 0 is the SDK's wrapper for TLS failures (network) or a bad request it
        # could not even build (our bug).
        reason = str(getattr(exc, "reason", "") or "")
        if "SSLError" in reason:
            return TransientError(f"{operation} failed: {reason}", vendor_message=reason)
        return PermanentError(f"{operation} failed: {reason}", vendor_message=reason)
    return from_status(operation, status, message or getattr(exc, "reason", None), exc.headers)


def _from_google(exc: HttpError, operation: str) -> PipelineError:
    body = _json(exc.content)
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    details = error.get("errors") if isinstance(error, dict) else None
    reasons = frozenset(
        str(d.get("reason")) for d in details or [] if isinstance(d, dict) and d.get("reason")
    )
    status = int(exc.resp.status)
    return from_status(operation, status, message or exc.reason, exc.resp, reasons=reasons)


# OpenAI answers an exhausted balance or spend limit with 429 too; waiting does not help,
# an operator must (platform.openai.com/docs/guides/error-codes).
_OPENAI_BILLING_CODES = {
    "insufficient_quota",
    "credit_balance_exhausted",
    "organization_spend_limit_exceeded",
    "project_spend_limit_exceeded",
    "organization_usage_limit_exceeded",
}
# A vendor's 401 may echo part of the key it refused ("Incorrect API key provided: sk-ab***").
_KEY_LIKE = re.compile(r"\b(?:sk|pk|key|api)[-_][\w*.-]{3,}", re.IGNORECASE)


def _loaded(modules: tuple[str, ...], name: str) -> tuple[type[BaseException], ...]:
    """The exception class `name` of each of these modules that this process imported.

    The model SDKs (and httpx2 under Anthropic's) are imported only by the writers that use
    them: a run process drafting with the template never pays their import (a second of a
    run's start). An exception of theirs exists only once they are loaded.
    """
    loaded = [sys.modules[module] for module in modules if module in sys.modules]
    found = (getattr(module, name, None) for module in loaded)
    return tuple(cls for cls in found if isinstance(cls, type))


_SDKS = ("openai", "anthropic")


def _redacted(message: str | None) -> str | None:
    return _KEY_LIKE.sub("[redacted]", message) if message else message


def _llm_retry_after(headers: Any) -> float | None:
    """The model APIs' wait hint: retry-after-ms (OpenAI, Anthropic), else Retry-After."""
    millis = _header(headers, "retry-after-ms")
    try:
        if millis:
            return max(float(millis) / 1000, 0.0)
    except ValueError:
        pass
    return _seconds(_header(headers, "Retry-After"))


def _cannot_connect(exc: BaseException) -> bool:
    """True when the SDK's connection error wraps a refused or failed connect (no request
    left), as opposed to a connection lost after the request was sent."""
    seen: BaseException | None = exc.__cause__ or exc.__context__
    for _ in range(5):
        if seen is None:
            return False
        connect = (*_loaded(("httpx2", "httpx"), "ConnectError"), ConnectionRefusedError)
        if isinstance(seen, connect):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _from_llm_status(exc: Any, operation: str) -> PipelineError:
    status = int(exc.status_code)
    body: dict[str, Any] = exc.body if isinstance(exc.body, dict) else {}
    # OpenAI's SDK keeps the inner `error` object as the body, Anthropic's the whole body.
    inner = body.get("error")
    error: dict[str, Any] = inner if isinstance(inner, dict) else body
    message = _redacted(str(error.get("message") or "") or None)
    code = str(error.get("code") or error.get("type") or "")
    headers = exc.response.headers
    if status == 429 and {code, str(error.get("type"))} & _OPENAI_BILLING_CODES:
        return ConfigurationError(
            f"{operation} failed: HTTP 429: the account's quota or spend limit is spent ({code})",
            http_status=status,
            vendor_message=message,
        )
    mapped = from_status(operation, status, message, headers)
    if isinstance(mapped, TransientError):
        mapped.retry_after_seconds = _llm_retry_after(headers)
    return mapped


def _from_llm(exc: BaseException, operation: str) -> PipelineError | None:
    """Our error for the openai / anthropic SDKs' exceptions (the same shapes in both)."""
    if not any(module in sys.modules for module in _SDKS):
        return None
    if isinstance(exc, _loaded(_SDKS, "APIStatusError")):
        return _from_llm_status(exc, operation)
    if isinstance(exc, _loaded(_SDKS, "APITimeoutError")):
        return TransientError(f"{operation} timed out: {type(exc).__name__}")
    if isinstance(exc, _loaded(_SDKS, "APIConnectionError")):
        if _cannot_connect(exc):
            return Unreachable(f"{operation} failed: network: cannot connect")
        cause = exc.__cause__
        detail = type(cause).__name__ if cause is not None else type(exc).__name__
        return TransientError(f"{operation} failed: network: {detail}")
    if isinstance(exc, _loaded(_SDKS, "APIResponseValidationError")):
        return PermanentError(f"{operation} failed: malformed answer from the API")
    return None


def classify(exc: BaseException, operation: str) -> PipelineError | None:
    """Our error for an SDK or network exception, or None when it is not one we know."""
    if isinstance(exc, PipelineError):
        return exc
    llm = _from_llm(exc, operation)
    if llm is not None:
        return llm
    if _is_hubspot_api_exception(exc):
        return _from_hubspot(exc, operation)
    if isinstance(exc, HttpError):
        return _from_google(exc, operation)
    if isinstance(exc, google.auth.exceptions.RefreshError):
        # A refused token refresh means bad or revoked credentials, unless google-auth
        # itself says the failure is worth retrying.
        if getattr(exc, "retryable", False):
            return TransientError(f"{operation} failed: token refresh: {exc}")
        return ConfigurationError(f"{operation} failed: Google credentials refused: {exc}")
    if isinstance(exc, google.auth.exceptions.DefaultCredentialsError):
        return ConfigurationError(f"{operation} failed: Google credentials: {exc}")
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        # urllib3 wraps the last failure once its (connect-only) retries are spent.
        return classify(exc.reason, operation)
    if isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        # No connection, so no byte of the request left: the vendor wrote nothing and the
        # write is not uncertain. Checked before timeouts: urllib3 2 still derives
        # NewConnectionError from ConnectTimeoutError.
        return Unreachable(f"{operation} failed: network: cannot connect: {exc}")
    if isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError):
        return TransientError(f"{operation} timed out: {type(exc).__name__}")
    if isinstance(exc, _NETWORK_ERRORS):
        return TransientError(f"{operation} failed: network: {type(exc).__name__}: {exc}")
    return None


def vendor_and_operation(operation: str) -> tuple[str, str]:
    """The vendor (hubspot, gmail, drive, calendar, openai, anthropic) and the call of an
    operation as the connectors name it ("HubSpot create task", "Google gmail threads.list")."""
    vendor, _, call = operation.partition(" ")
    vendor = vendor.lower()
    if vendor == "google":
        vendor, _, call = call.partition(" ")
    return vendor, call


@contextmanager
def vendor_call(operation: str) -> Iterator[None]:
    """Run an SDK call and re-raise what it throws as our classified error.

    With tracing on, the call is a span of its own under the lead's step."""
    span = tracing.vendor_span(*vendor_and_operation(operation)) if tracing.enabled() else None
    try:
        yield
    except Exception as exc:
        mapped = classify(exc, operation)
        if span is not None:
            span.failed(exc, mapped)
        if mapped is None or mapped is exc:
            raise
        raise mapped from exc
    finally:
        if span is not None:
            span.end()
