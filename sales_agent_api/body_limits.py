"""Request bodies bounded before they are read and while they stream in, and keyless /api
bodies refused unread.

A pure ASGI middleware, written by hand: Starlette's RequestBodyLimitMiddleware (behind
FastAPI's `max_body_size`) counts the same bytes, but it answers a declared Content-Length
over the limit with a plain-text 413 that replaces whatever the app sends, and nothing
there can look at a header before FastAPI reads a route's body (which it does before any
dependency, the API key's included). BaseHTTPMiddleware would cost a task and a stream per
request on the webhook's path; this adds a dictionary look-up and one pass over the headers.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sales_agent_api.auth import missing_key
from sales_agent_api.errors import ErrorBody, error_response
from sales_agent_pipeline.settings import Settings

# Multipart framing around an uploaded file: the boundaries and part headers.
MULTIPART_SLACK = 64 * 1024


def upload_limit(settings: Settings) -> int:
    """The most bytes a CSV upload's request may carry: the file's limit plus the framing."""
    return settings.import_max_bytes + MULTIPART_SLACK


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes its limit: FastAPI lets an
    HTTPException out of its body parsing, so the app's handler answers it (413, JSON)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimits:
    """Per request: 401 for a /api body sent with no Authorization header at all, 413 for a
    declared Content-Length over the path's limit, both before a byte is read; a body with
    no length (chunked) counted as it arrives and refused the moment it passes the limit.

    `limits` maps exact paths to their own limit (the webhook's, the CSV upload's); every
    other path gets `default`. Every /api operation needs an API key; the webhook and the
    OAuth paths are not under /api.
    """

    def __init__(self, app: ASGIApp, *, default: int, limits: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.limits = dict(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.limits.get(path, self.default)
        declared: int | None = None
        streamed = keyed = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                streamed = True
            elif name == b"authorization":
                keyed = True
        carries_body = streamed or bool(declared)
        if carries_body and not keyed and path.startswith("/api/"):
            refusal = missing_key()
            await error_response(refusal.status, refusal.body, refusal.headers)(
                scope, receive, send
            )
            return
        if declared is not None and declared > limit:
            message = f"the request body is larger than {limit} bytes"
            refusal_413 = error_response(413, ErrorBody(code="body_too_large", message=message))
            await refusal_413(scope, receive, send)
            return
        if declared is not None and not streamed:
            # The server delivers no more than the declared length: nothing to count.
            await self.app(scope, receive, send)
            return
        await self.app(scope, _counted(receive, limit), send)


def _counted(receive: Receive, limit: int) -> Receive:
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyTooLarge(limit)
        return message

    return counted
