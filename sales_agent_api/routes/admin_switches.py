"""GET /api/admin/switches (a tenant's admin key) and PUT .../send-kill-switch (the
operator's key): the send kill switches. A tenant's own switch is one of its settings
(PUT /api/admin/settings); the global one stops every tenant, so no tenant key sets it."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRouter
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api.auth import ADMIN_RESPONSES, AdminKey, bearer
from sales_agent_api.deps import ReadSession, Responses
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.routes.admin_credentials import key_tenant
from sales_agent_api.schemas.switches import (
    GlobalKillSwitchChange,
    GlobalKillSwitchView,
    SwitchesView,
)
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.send_switches import KillSwitch, kill_switch, set_kill_switch

router = APIRouter(prefix="/api/admin/switches", tags=["admin"])

# Shorter keys are taken for placeholders: the endpoint stays off.
MIN_OPERATOR_KEY = 32
OPERATOR_ACTOR = "operator-api"
OPERATOR_RESPONSES: Responses = {
    401: {"model": ErrorResponse, "description": "Missing API key"},
    403: {"model": ErrorResponse, "description": "Not the operator's key, or none configured"},
}


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


async def require_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The operator (OPERATOR_API_KEY as the bearer); 403 for any other key, tenant admin
    keys included, and while no operator key is configured."""
    if credentials is None or not credentials.credentials:
        raise ApiError(
            401,
            "unauthorized",
            "send the operator key as `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    settings: Settings = request.app.state.settings
    configured = settings.operator_api_key
    key = configured.get_secret_value() if configured else ""
    if len(key) < MIN_OPERATOR_KEY:
        raise ApiError(
            403,
            "operator_key_not_configured",
            "no OPERATOR_API_KEY is configured: use `sales-agent send kill-switch`",
        )
    # Digests of equal length: the comparison takes the same time whatever was sent.
    if not hmac.compare_digest(_digest(credentials.credentials), _digest(key)):
        raise ApiError(403, "operator_key_required", "this operation needs the operator key")
    return OPERATOR_ACTOR


OperatorKey = Annotated[str, Depends(require_operator)]


def _view(switch: KillSwitch) -> GlobalKillSwitchView:
    return GlobalKillSwitchView.model_validate(switch, from_attributes=True)


@router.get(
    "",
    response_model=SwitchesView,
    responses=ADMIN_RESPONSES,
    summary="The send kill switches that apply to the tenant",
)
def get_switches(principal: AdminKey, session: ReadSession, request: Request) -> SwitchesView:
    """The global switch (who set it, when and why) and the tenant's own."""
    return SwitchesView(
        global_send_kill_switch=_view(kill_switch(session, request.app.state.settings)),
        tenant_send_kill_switch=key_tenant(session, principal).send_kill_switch,
    )


def _set(request: Request, actor: str, change: GlobalKillSwitchChange) -> GlobalKillSwitchView:
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions.begin() as session:
        switch = set_kill_switch(
            session,
            request.app.state.settings,
            on=change.on,
            changed_by=actor,
            reason=change.reason,
        )
    return _view(switch)


@router.put(
    "/send-kill-switch",
    response_model=GlobalKillSwitchView,
    responses={
        **OPERATOR_RESPONSES,
        400: {"model": ErrorResponse, "description": "Invalid body (named)"},
    },
    summary="Turn the global send kill switch on or off (the operator's key)",
)
async def put_kill_switch(
    change: GlobalKillSwitchChange, actor: OperatorKey, request: Request
) -> GlobalKillSwitchView:
    """On: every tenant's next send is drafted instead, with the reason; off: sends resume.
    Audited on the switch (who, when, why) and in the log."""
    return await run_in_threadpool(_set, request, actor, change)
