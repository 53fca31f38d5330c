"""Liveness and readiness for load balancers and the stack supervisor."""

from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from sales_agent_pipeline.db.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The process is alive."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether the process can serve: database reachable and schema at the newest revision."""

    status: Literal["ready", "not_ready"]
    database: Literal["ok", "unreachable"]
    schema_revision: str | None
    expected_revision: str | None


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: answers as long as the process serves requests."""
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
def readyz(request: Request, response: Response) -> Readiness:
    """Readiness: the database answers and its schema is migrated to head."""
    try:
        current = current_revision(request.app.state.engine)
    except SQLAlchemyError:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(
            status="not_ready", database="unreachable", schema_revision=None, expected_revision=None
        )
    head = head_revision()
    ready = current == head
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(
        status="ready" if ready else "not_ready",
        database="ok",
        schema_revision=current,
        expected_revision=head,
    )
