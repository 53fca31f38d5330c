"""Vendor-shaped error bodies: HubSpot's and Google's, as their SDKs expect to parse them."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import JSONResponse

GOOGLE_PREFIXES = ("/gmail/", "/calendar/", "/drive/", "/upload/", "/batch/")
# What Calendar and Drive call when api_endpoint lacks their service path: answered
# as a Google 404, never a HubSpot 401 that would make google-auth try a refresh.
MISROUTED_GOOGLE = ("/freeBusy", "/files")

# Google's canonical status names for the HTTP codes we answer.
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_GOOGLE_REASON = {
    400: "invalid",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    409: "duplicate",
    429: "rateLimitExceeded",
    500: "backendError",
    502: "backendError",
    503: "backendError",
    504: "backendError",
}
_HUBSPOT_CATEGORY = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    429: "RATE_LIMITS",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def is_google_path(path: str) -> bool:
    """Tell whether a request path belongs to the emulated Google APIs."""
    return path.startswith(GOOGLE_PREFIXES) or path.startswith(MISROUTED_GOOGLE)


def correlation_id() -> str:
    """Return a fresh correlation id, as HubSpot puts in every error."""
    return str(uuid.uuid4())


class HubSpotError(Exception):
    """An error answered in HubSpot's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str | None = None,
        *,
        context: dict[str, Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
        sub_category: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category or _HUBSPOT_CATEGORY.get(status, "UNKNOWN")
        self.context = context
        self.errors = errors
        self.sub_category = sub_category
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Return the JSON body HubSpot sends for this error."""
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id(),
        }
        body.update(self.extra)
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.context:
            body["context"] = self.context
        if self.errors:
            body["errors"] = self.errors
        body["category"] = self.category
        return body

    def response(self) -> JSONResponse:
        """Return the error as an HTTP response."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


class GoogleError(Exception):
    """An error answered in Google's JSON error envelope."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        *,
        status: str | None = None,
        domain: str = "global",
        location: str | None = None,
        location_type: str = "parameter",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _GOOGLE_REASON.get(code, "unknown")
        self.status = status or _GOOGLE_STATUS.get(code, "UNKNOWN")
        self.domain = domain
        self.location = location
        self.location_type = location_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Return the JSON body Google sends for this error."""
        detail: dict[str, Any] = {
            "message": self.message,
            "domain": self.domain,
            "reason": self.reason,
        }
        if self.location:
            detail["locationType"] = self.location_type
            detail["location"] = self.location
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [detail],
                "status": self.status,
            }
        }

    def response(self) -> JSONResponse:
        """Return the error as an HTTP response."""
        return JSONResponse(self.body(), status_code=self.code, headers=self.headers)


def vendor_error(path: str, status: int, message: str) -> HubSpotError | GoogleError:
    """Build the error of the vendor that owns `path`."""
    if is_google_path(path):
        return GoogleError(status, message)
    return HubSpotError(status, message)
