"""/healthz and /readyz answer what a load balancer and an operator need to know."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from sales_agent_api.app import create_app
from sales_agent_pipeline.db.migrate import head_revision
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.settings import Settings
from tests.conftest import free_port


def client_for(url: str) -> TestClient:
    dagster = f"http://127.0.0.1:{free_port()}"
    return TestClient(
        create_app(Settings(_env_file=None, database_url=url, dagster_webserver_url=dagster))
    )


def test_a_migrated_database_is_ok_but_not_ready_without_dagster(database_url: URL) -> None:
    # Dagster at a closed port: /readyz also checks the daemon and the code server
    # (tests/integration/api/test_readiness.py checks a running stack is ready).
    with client_for(libpq_dsn(database_url)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == {"ok": True, "detail": f"reachable, schema at {head_revision()}"}
    assert body["accepting_leads"] is True
    assert body["schema_revision"] == body["expected_revision"] == head_revision()


def test_with_dagster_down_the_webhook_stays_in_its_load_balancer(database_url: URL) -> None:
    # What the Helm chart's readiness probe asks: the leads are stored and wait for Dagster.
    with client_for(libpq_dsn(database_url)) as client:
        intake = client.get("/readyz/intake")
    assert intake.status_code == 200
    assert intake.json() == {
        "status": "ready",
        "database": {"ok": True, "detail": f"reachable, schema at {head_revision()}"},
    }


def test_an_unmigrated_database_is_not_ready(fresh_database: Callable[[str], URL]) -> None:
    with client_for(libpq_dsn(fresh_database("unmigrated"))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["schema_revision"] is None


def test_an_unreachable_database_is_not_ready_but_alive() -> None:
    with client_for(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere") as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False, "detail": "unreachable (OperationalError)"}
    assert response.json()["accepting_leads"] is False
    with client_for(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere") as client:
        intake = client.get("/readyz/intake")
    assert intake.status_code == 503
    assert intake.json()["status"] == "not_ready"
