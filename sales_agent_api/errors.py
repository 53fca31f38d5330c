"""One JSON shape for every error the API answers: {"error": {code, message, fields}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from sales_agent_pipeline.db.errors import as_transient

# How long a client should wait before it retries while the database is unreachable
# (a restart takes seconds; HubSpot retries a webhook on any 5xx, with backoff).
DATABASE_RETRY_AFTER_SECONDS = 5


class ErrorBody(BaseModel):
    """What went wrong, and which fields when the input was at fault."""

    code: str
    message: str
    fields: list[str] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The envelope of every error answer."""

    error: ErrorBody


class ApiError(Exception):
    """An answer other than success, with its status and a safe message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(code=code, message=message, fields=fields or [])
        self.headers = headers


def error_response(
    status: int, body: ErrorBody, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON answer for an error."""
    return JSONResponse(ErrorResponse(error=body).model_dump(), status_code=status, headers=headers)


_HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


def _document_400_not_422(app: FastAPI) -> None:
    """Make the OpenAPI document say what the handlers do: invalid input is a 400 in the
    one error shape, never FastAPI's default 422 (so clients and schemathesis can rely on it),
    and any request body may be refused as too large (413, body_limits).
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_schema.pop("$defs", {}))
        schemas.setdefault("ErrorResponse", error_schema)
        invalid = {
            "description": "Invalid input (the fields are named)",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
            },
        }
        too_large = {**invalid, "description": "The request body is over its limit"}
        for path in document.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None:
                    responses.setdefault("400", invalid)
                if "requestBody" in operation:
                    responses.setdefault("413", too_large)
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _without_body_prefix(loc: Any) -> tuple[Any, ...]:
    parts = tuple(loc)
    return parts[1:] if parts[:1] == ("body",) else parts


def install_error_handlers(app: FastAPI) -> None:
    """Map our errors and FastAPI's validation errors onto the one shape (400, never 422)."""
    _document_400_not_422(app)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.body, exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's own answers (an unknown path, a wrong method, a body FastAPI could not
        # parse) get the one shape too, not {"detail": ...}.
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        body = ErrorBody(code=code, message=str(exc.detail))
        return error_response(exc.status_code, body, dict(exc.headers or {}) or None)

    @app.exception_handler(DBAPIError)
    async def database_error(_: Request, exc: DBAPIError) -> JSONResponse:
        # The database restarting or out of connections is a 503 the client may retry,
        # not a 500: nothing was written (the transaction rolled back).
        if as_transient(exc) is None:
            raise exc
        body = ErrorBody(
            code="database_unavailable", message="the database is unavailable; retry shortly"
        )
        return error_response(503, body, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # The location's leading "body" is where, not a name: a body field named "body"
        # (a draft's text) keeps its name.
        fields = [
            ".".join(str(part) for part in _without_body_prefix(error.get("loc", ())))
            for error in exc.errors()
        ]
        message = "; ".join(
            f"{field or 'body'}: {error.get('msg', 'invalid')}"
            for field, error in zip(fields, exc.errors(), strict=True)
        )
        return error_response(
            400, ErrorBody(code="invalid_request", message=message, fields=fields)
        )
