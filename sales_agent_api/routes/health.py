"""Liveness and readiness for load balancers, the stack supervisor and operators."""

import structlog
from fastapi import APIRouter, Request, Response, status
from sqlalchemy.exc import SQLAlchemyError

from sales_agent_api.schemas.health import Check, Health, IntakeReadiness, Readiness
from sales_agent_pipeline.connectors.dagster_status import dagster_health
from sales_agent_pipeline.db.migrate import current_revision, head_revision

log = structlog.get_logger(__name__)

router = APIRouter(tags=["health"])

# The webserver's answer must come well within a probe's own timeout (give it 3 s or more).
DAGSTER_TIMEOUT_SECONDS = 2.0


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: answers as long as the process serves requests (restart it when not)."""
    return Health()


def _database(request: Request) -> tuple[Check, str | None, str | None]:
    head = head_revision()
    try:
        current = current_revision(request.app.state.engine)
    except SQLAlchemyError as exc:
        log.warning("readyz.database_unreachable", error=type(exc).__name__)
        return Check(ok=False, detail=f"unreachable ({type(exc).__name__})"), None, head
    if current != head:
        detail = (
            f"schema at {current or 'no revision'}, expected {head}: run `sales-agent db upgrade`"
        )
        return Check(ok=False, detail=detail), current, head
    return Check(ok=True, detail=f"reachable, schema at {current}"), current, head


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: the failed checks say why"}},
)
def readyz(request: Request, response: Response) -> Readiness:
    """Readiness: the database answers at the newest schema, Dagster's daemon heartbeats
    are recent and the code location is loaded (Dagster's answer cached 5 s per process).
    503 names what failed; `accepting_leads` says whether the webhook still stores leads."""
    database, current, head = _database(request)
    settings = request.app.state.settings
    dagster = dagster_health(
        settings.resolved_dagster_webserver_url,
        DAGSTER_TIMEOUT_SECONDS,
        headers=request.app.state.launcher.headers,
    )
    daemon = Check(ok=dagster.daemon_ok, detail=dagster.daemon_detail)
    code_server = Check(ok=dagster.code_server_ok, detail=dagster.code_server_detail)
    ready = database.ok and daemon.ok and code_server.ok
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(
        status="ready" if ready else "not_ready",
        accepting_leads=database.ok,
        database=database,
        dagster_daemon=daemon,
        code_server=code_server,
        schema_revision=current,
        expected_revision=head,
    )


@router.get(
    "/readyz/intake",
    response_model=IntakeReadiness,
    responses={503: {"model": IntakeReadiness, "description": "The database is not ready"}},
)
def readyz_intake(request: Request, response: Response) -> IntakeReadiness:
    """Readiness of the webhook alone, for load balancers: the database answers at the
    newest schema. Dagster is not asked: with it down, leads are stored and wait (the
    sensor launches them), so the webhook stays in service; /readyz says the rest."""
    database, _, _ = _database(request)
    if not database.ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return IntakeReadiness(status="ready" if database.ok else "not_ready", database=database)
