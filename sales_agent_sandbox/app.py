"""The sandbox application: vendor routers behind the rate-limit and fault middleware."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import (
    admin,
    admin_auth,
    calendar,
    drive,
    gmail,
    gmail_drafts,
    gmail_history,
    gmail_inbound,
    gmail_labels,
    google_oauth,
    hubspot_account,
    hubspot_crm,
    hubspot_forms,
    hubspot_oauth,
    hubspot_prefs,
    inspection,
    llm_anthropic,
    llm_openai,
)
from .config import SandboxConfig
from .demo import load_demo
from .errors import (
    MISROUTED_GOOGLE,
    AnthropicError,
    GoogleError,
    HubSpotError,
    OpenAIError,
    is_google_path,
    llm_vendor,
    vendor_error,
)
from .faults import Faults
from .gate import install
from .state import Store


def create_app(
    config: SandboxConfig | None = None,
    *,
    fault_seed: int | None = None,
    demo: bool = True,
    faults: list[dict[str, Any]] | None = None,
) -> FastAPI:
    """Build a sandbox app: the demo data unless `demo=False`, plus any fault rules given.

    Invalid fault rules raise FaultSpecError here, before anything serves.
    """
    app = FastAPI(
        title="Sales Agent sandbox",
        description="HubSpot and Google wire-format emulator for tests and demos.",
    )
    app.state.store = Store(config)
    app.state.faults = Faults(fault_seed)
    for rule in faults or []:
        app.state.faults.add_rule(rule)
    if demo:
        load_demo(app.state.store)
    routers = (
        admin,
        admin_auth,
        inspection,
        hubspot_oauth,
        hubspot_account,
        hubspot_crm,
        hubspot_forms,
        hubspot_prefs,
        google_oauth,
        gmail,
        gmail_drafts,
        gmail_labels,
        gmail_history,
        gmail_inbound,
        calendar,
        drive,
        llm_openai,
        llm_anthropic,
    )
    for module in routers:
        app.include_router(module.router)
    install(app, app.state.store, app.state.faults)

    @app.exception_handler(HubSpotError)
    async def hubspot_error(_: Request, exc: HubSpotError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(GoogleError)
    async def google_error(_: Request, exc: GoogleError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(OpenAIError)
    async def openai_error(_: Request, exc: OpenAIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(AnthropicError)
    async def anthropic_error(_: Request, exc: AnthropicError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # Both vendors answer malformed input with a 400 in their own shape, never a 422.
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = f"Invalid input: {where}: {first.get('msg', 'invalid value')}"
        if llm_vendor(request.url.path):
            return vendor_error(request.url.path, 400, message).response()
        if is_google_path(request.url.path):
            return GoogleError(400, message, "invalid", location=where or None).response()
        return HubSpotError(400, message, "VALIDATION_ERROR").response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        if path.startswith("/_sandbox"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        message = "Not Found" if exc.status_code == 404 else str(exc.detail)
        if exc.status_code == 404 and path.startswith(MISROUTED_GOOGLE):
            # The usual mistake: api_endpoint without the service path for Calendar or Drive.
            message = (
                f"{path} is not served at the root: give Calendar and Drive an api_endpoint "
                "ending in /calendar/v3/ or /drive/v3/"
            )
        elif exc.status_code == 404 and is_google_path(path):
            message = f"The requested URL {path} was not found on this server."
        return vendor_error(path, exc.status_code, message).response()

    return app
