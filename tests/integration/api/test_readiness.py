"""/readyz as a load balancer and an operator read it: against a real `sales-agent up`
(database, Dagster daemon, code server all ok), with the daemon hung (its heartbeats stop:
503 once they are stale, intake still accepting), with the webserver gone (503 naming it,
no credential in the body), and with the database gone (not accepting leads)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from sales_agent_api.app import create_app
from sales_agent_pipeline.connectors.dagster_status import CACHE_SECONDS, HEARTBEAT_STALE_SECONDS
from sales_agent_pipeline.db.migrate import head_revision
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.settings import Settings
from tests.chaos.processes import Respawner
from tests.conftest import free_port
from tests.e2e.conftest import RunningStack, stack, stack_env, wait_for  # noqa: F401 (fixtures)

# The daemon's first heartbeats come a few seconds after the webserver answers.
FIRST_HEARTBEAT_SECONDS = 90.0


def readiness(stack: RunningStack) -> httpx.Response:  # noqa: F811
    return httpx.get(f"{stack.api}/readyz", timeout=10)


def until(stack: RunningStack, wanted: int, timeout: float) -> dict[str, Any]:  # noqa: F811
    """The /readyz body once it answers `wanted` (the last body in the failure otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        response = readiness(stack)
        if response.status_code == wanted:
            body: dict[str, Any] = response.json()
            return body
        assert time.monotonic() < deadline, f"/readyz still {response.status_code}: {response.text}"
        time.sleep(1)


def client_for(**values: Any) -> TestClient:
    return TestClient(create_app(Settings(_env_file=None, **values)))


@pytest.mark.e2e
def test_a_running_stack_is_ready_with_all_three_checks(stack: RunningStack) -> None:  # noqa: F811
    wait_for(f"{stack.api}/healthz", stack.process)
    body = until(stack, 200, FIRST_HEARTBEAT_SECONDS)
    assert body["status"] == "ready"
    assert body["accepting_leads"] is True
    assert body["database"] == {"ok": True, "detail": f"reachable, schema at {head_revision()}"}
    assert body["dagster_daemon"]["ok"] is True
    detail = body["dagster_daemon"]["detail"]
    errors = r"(; \d+ daemon errors in the last 5 minutes \(see the Dagster UI\))?"
    assert re.fullmatch(rf"7 daemons, oldest heartbeat \d+ s ago{errors}", detail), detail
    assert body["code_server"] == {"ok": True, "detail": "sales_agent_pipeline loaded"}


@pytest.fixture
def hung_daemon(stack: RunningStack) -> Iterator[psutil.Process]:  # noqa: F811
    """The stack's dagster-daemon stopped with SIGSTOP: alive to `up` (which restarts a dead
    one at once), silent to Dagster, as a hung daemon is; continued afterwards."""
    respawner = Respawner(stack)
    respawner.wait_for_demo()
    daemon = respawner.service("dagster-daemon")
    family = [daemon, *daemon.children(recursive=True)]
    for process in family:
        process.suspend()
    try:
        yield daemon
    finally:
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.resume()


@pytest.mark.e2e
def test_a_hung_daemon_fails_readiness_once_its_heartbeats_are_stale_and_recovers(
    stack: RunningStack,  # noqa: F811
    hung_daemon: psutil.Process,
) -> None:
    stopped = time.monotonic()
    # Stale 120 s after the last heartbeat, which was up to ~60 s before the stop; plus
    # the 5 s each API worker keeps Dagster's answer.
    body = until(stack, 503, HEARTBEAT_STALE_SECONDS + CACHE_SECONDS + 10)
    waited = time.monotonic() - stopped
    assert waited >= HEARTBEAT_STALE_SECONDS - 65, f"failed after only {waited:.0f} s"
    assert body["status"] == "not_ready"
    assert body["accepting_leads"] is True, "the webhook still stores leads"
    assert body["database"]["ok"] is True
    assert body["code_server"]["ok"] is True
    daemon = body["dagster_daemon"]
    assert daemon["ok"] is False
    assert daemon["detail"].startswith("no recent heartbeat (stale after 120 s): ")
    ages = [int(age) for age in re.findall(r"[A-Z_]+ (\d+) s ago", daemon["detail"])]
    assert ages, daemon["detail"]
    assert all(age > HEARTBEAT_STALE_SECONDS for age in ages), daemon["detail"]
    assert set(re.findall(r"([A-Z_]+) \d+ s ago", daemon["detail"])) <= {
        "ASSET",
        "BACKFILL",
        "FRESHNESS_DAEMON",
        "MONITORING",
        "QUEUED_RUN_COORDINATOR",
        "SCHEDULER",
        "SENSOR",
    }
    assert daemon["detail"].endswith("is dagster-daemon running?")

    hung_daemon.resume()
    # Continued, it beats again (or stops itself for its stale threads and `up` starts it).
    until(stack, 200, FIRST_HEARTBEAT_SECONDS)


def test_a_closed_webserver_port_is_not_ready_naming_it_and_no_credential(
    database_url: URL,
) -> None:
    port = free_port()
    with client_for(
        database_url=libpq_dsn(database_url),
        dagster_webserver_url=f"http://admin:hunter2@127.0.0.1:{port}",
    ) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["accepting_leads"] is True
    assert body["database"]["ok"] is True
    reason = f"cannot reach the Dagster webserver at http://127.0.0.1:{port}: "
    for check in ("dagster_daemon", "code_server"):
        assert body[check]["ok"] is False
        assert body[check]["detail"].startswith(reason), body[check]
        assert "refused" in body[check]["detail"].lower()
    assert "hunter2" not in response.text
    assert "admin" not in response.text


def test_an_unreachable_database_is_not_ready_and_not_accepting_leads() -> None:
    with client_for(
        database_url=f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/nowhere",
        dagster_webserver_url=f"http://127.0.0.1:{free_port()}",
    ) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["accepting_leads"] is False
    assert body["database"] == {"ok": False, "detail": "unreachable (OperationalError)"}
    assert body["schema_revision"] is None
    assert "hunter2" not in response.text


def test_an_unmigrated_database_is_not_ready_and_says_how_to_fix_it(
    fresh_database: Callable[[str], URL],
) -> None:
    with client_for(
        database_url=libpq_dsn(fresh_database("unmigrated_ready")),
        dagster_webserver_url=f"http://127.0.0.1:{free_port()}",
    ) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    database = response.json()["database"]
    assert database["ok"] is False
    assert database["detail"] == (
        f"schema at no revision, expected {head_revision()}: run `sales-agent db upgrade`"
    )


def test_openapi_documents_both_answers_with_each_check(database_url: URL) -> None:
    with client_for(database_url=libpq_dsn(database_url)) as client:
        document = client.get("/openapi.json").json()
    responses = document["paths"]["/readyz"]["get"]["responses"]
    for code in ("200", "503"):
        schema = responses[code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Readiness"}
    readiness_schema = document["components"]["schemas"]["Readiness"]
    assert set(readiness_schema["required"]) >= {
        "status",
        "accepting_leads",
        "database",
        "dagster_daemon",
        "code_server",
    }
    check = document["components"]["schemas"]["Check"]
    assert set(check["properties"]) == {"ok", "detail"}
