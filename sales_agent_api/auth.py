"""API-key auth: `Authorization: Bearer <key>` -> the Principal acting for one tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api.deps import Responses
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_pipeline.db.repositories.api_keys import authenticate

# auto_error=False: FastAPI's own 403 would bypass our error shape; we answer 401 ourselves.
# The scheme still puts the Authorize button on /docs.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A tenant API key: `sales-agent apikey create --tenant <portal>`.",
)

# For routes' `responses=`: what the auth dependencies may answer.
AUTH_RESPONSES: Responses = {
    401: {"model": ErrorResponse, "description": "Missing, wrong or revoked API key"},
}
ADMIN_RESPONSES: Responses = {
    **AUTH_RESPONSES,
    403: {"model": ErrorResponse, "description": "The key is not an admin key"},
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: one key of one tenant."""

    tenant_id: uuid.UUID
    portal_id: int
    key_id: uuid.UUID
    key_name: str
    key_prefix: str
    is_admin: bool

    @property
    def actor(self) -> str:
        """How audit rows name this caller: the key's name and its public prefix."""
        return f"{self.key_name} ({self.key_prefix})"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def missing_key() -> ApiError:
    """The 401 of a request that sends no API key."""
    return _unauthorized("send an API key as `Authorization: Bearer <key>`")


def _lookup(sessions: sessionmaker[Session], presented: str) -> Principal | None:
    with sessions.begin() as session:
        key = authenticate(session, presented)
        if key is None:
            return None
        return Principal(
            tenant_id=key.tenant_id,
            portal_id=key.tenant.portal_id,
            key_id=key.id,
            key_name=key.name,
            key_prefix=key.key_prefix,
            is_admin=key.is_admin,
        )


async def require_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller's principal; 401 for a missing, unknown or revoked key."""
    if credentials is None or not credentials.credentials:
        raise missing_key()
    principal = await run_in_threadpool(
        _lookup, request.app.state.sessions, credentials.credentials
    )
    if principal is None:
        raise _unauthorized("the API key is wrong or revoked")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_key)]) -> Principal:
    """The caller's principal when its key is an admin key; 403 otherwise."""
    if not principal.is_admin:
        raise ApiError(403, "admin_key_required", "this operation needs an admin API key")
    return principal


CurrentKey = Annotated[Principal, Depends(require_key)]
AdminKey = Annotated[Principal, Depends(require_admin)]
