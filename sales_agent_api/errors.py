"""One JSON shape for every error the API answers: {"error": {code, message, fields}}."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


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


def install_error_handlers(app: FastAPI) -> None:
    """Map our errors and FastAPI's validation errors onto the one shape (400, never 422)."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.body, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            ".".join(str(part) for part in error.get("loc", ()) if part != "body")
            for error in exc.errors()
        ]
        message = "; ".join(
            f"{field or 'body'}: {error.get('msg', 'invalid')}"
            for field, error in zip(fields, exc.errors(), strict=True)
        )
        return error_response(
            400, ErrorBody(code="invalid_request", message=message, fields=fields)
        )
