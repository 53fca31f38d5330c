"""Vendor-shaped error bodies: HubSpot's, Google's, OpenAI's and Anthropic's, as their SDKs
expect to parse them."""

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


def vendor_error(
    path: str, status: int, message: str
) -> HubSpotError | GoogleError | OpenAIError | AnthropicError:
    """Build the error of the vendor that owns `path`."""
    vendor = llm_vendor(path)
    if vendor == "openai":
        return OpenAIError(status, message)
    if vendor == "anthropic":
        return AnthropicError(status, message)
    if is_google_path(path):
        return GoogleError(status, message)
    return HubSpotError(status, message)


# The model APIs: OpenAI-compatible Chat Completions (the SDK's base URL ends in /v1) and
# Anthropic Messages (its base URL is the host). No HubSpot or Google path starts with /v1/.
OPENAI_PREFIX = "/v1/chat/"
ANTHROPIC_PREFIX = "/v1/messages"
_OPENAI_TYPE = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    429: "requests",
}
_ANTHROPIC_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def llm_vendor(path: str) -> str | None:
    """ "openai" or "anthropic" for a model path, else None."""
    if path.startswith(OPENAI_PREFIX):
        return "openai"
    if path.startswith(ANTHROPIC_PREFIX):
        return "anthropic"
    return None


def request_id(prefix: str) -> str:
    """A fresh request id as the vendor writes it (req_..., chatcmpl-...)."""
    return f"{prefix}{uuid.uuid4().hex[:24]}"


class OpenAIError(Exception):
    """An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        default = "server_error" if status >= 500 else "invalid_request_error"
        self.error_type = error_type or _OPENAI_TYPE.get(status, default)
        self.param = param
        self.code = code
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """Return the error as an HTTP response."""
        body = {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }
        headers = {"x-request-id": request_id("req_"), **self.headers}
        return JSONResponse(body, status_code=self.status, headers=headers)


class AnthropicError(Exception):
    """An error in Anthropic's shape: {"type": "error", "error": {"type", "message"}}."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        default = "api_error" if status >= 500 else "invalid_request_error"
        self.error_type = error_type or _ANTHROPIC_TYPE.get(status, default)
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """Return the error as an HTTP response."""
        rid = request_id("req_")
        body = {
            "type": "error",
            "error": {"type": self.error_type, "message": self.message},
            "request_id": rid,
        }
        headers = {"request-id": rid, **self.headers}
        return JSONResponse(body, status_code=self.status, headers=headers)


def llm_key(vendor: str, headers: Any) -> str:
    """The API key a model request carries ('' without one): OpenAI's bearer token (or
    Azure's api-key header); Anthropic's x-api-key (or a bearer token, which its SDK sends)."""
    scheme, _, token = str(headers.get("authorization", "")).partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else ""
    if vendor == "openai":
        return bearer or str(headers.get("api-key", "")).strip()
    return str(headers.get("x-api-key", "")).strip() or bearer


def llm_auth_error(vendor: str, headers: Any) -> OpenAIError | AnthropicError | None:
    """The vendor's 401 for a request without a key (any non-empty key is accepted), and
    Anthropic's 400 without an anthropic-version header."""
    if vendor == "openai":
        if llm_key(vendor, headers):
            return None
        return OpenAIError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    if not llm_key(vendor, headers):
        return AnthropicError(401, "x-api-key header is required")
    if not str(headers.get("anthropic-version", "")).strip():
        return AnthropicError(400, "anthropic-version: header is required")
    return None
