"""GET /api/admin/breakers (admin key): the tenant's circuit breakers per vendor."""

from __future__ import annotations

from fastapi import APIRouter

from sales_agent_api.auth import ADMIN_RESPONSES, AdminKey
from sales_agent_api.deps import ReadSession
from sales_agent_api.schemas.breakers import BreakerList, BreakerView
from sales_agent_pipeline.db.repositories.breakers import tenant_breakers
from sales_agent_pipeline.domain.breaker import every_vendor

router = APIRouter(prefix="/api/admin/breakers", tags=["admin"])


@router.get(
    "",
    response_model=BreakerList,
    responses=ADMIN_RESPONSES,
    summary="The tenant's circuit breakers",
)
def list_breakers(principal: AdminKey, session: ReadSession) -> BreakerList:
    """Each vendor's state, consecutive failures, until when it is open and its last error;
    only the key's own tenant's."""
    stored = tenant_breakers(session, principal.tenant_id)
    return BreakerList(
        portal_id=principal.portal_id,
        items=[BreakerView.model_validate(b) for b in every_vendor(principal.tenant_id, stored)],
    )
