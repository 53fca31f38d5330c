"""The canary's tests: the real API under uvicorn on this worker's database, the sandbox,
the pipeline's settings (tests/integration/pipeline/conftest.py) with the API's address."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from dagster import DagsterInstance
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from sales_agent_api.app import create_app
from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.settings import Settings, get_settings
from tests.conftest import free_port
from tests.integration.pipeline.conftest import (  # noqa: F401
    SECRETS_KEY,
    instance,
    pipeline_env,
    run,
    sandbox,
    submit,
    tenant,
)
from tests.sandbox.conftest import admin_client, sandbox_url  # noqa: F401


@pytest.fixture(scope="module")
def api(pipeline_env: None, engine: Engine, sandbox_url: str) -> Iterator[str]:  # noqa: F811
    """The API on a free port, over the pipeline's database and secrets key; Dagster is a
    closed port (launches are released for the sensor, as when Dagster is down)."""
    port = free_port()
    settings = Settings(
        _env_file=None,
        database_url=libpq_dsn(engine.url),
        secrets_encryption_keys=SECRETS_KEY,
        hubspot_api_base_url=sandbox_url,
        google_api_base_url=sandbox_url,
        dagster_webserver_url=f"http://127.0.0.1:{free_port()}",
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("API_HOST", "127.0.0.1")
        patch.setenv("API_PORT", str(port))
        get_settings.cache_clear()
        yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    get_settings.cache_clear()


def resources(engine: Engine) -> dict[str, Any]:
    """What the canary's schedule and the sensors are given in the code location."""
    return {"database": DatabaseResource(url=libpq_dsn(engine.url)), "settings": SettingsResource()}


def leave_others_waiting(engine: Engine) -> None:
    """Earlier tests' received work is not this test's: mark it requested."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.run_requested_at.is_(None))
            .values(run_requested_at=Workflow.created_at)
        )


def run_canary(instance: DagsterInstance) -> Any:  # noqa: F811 (the fixture's value)
    """The `canary` job as the schedule starts it, in process."""
    from sales_agent_pipeline.definitions import defs

    return defs.resolve_job_def("canary").execute_in_process(
        instance=instance, raise_on_error=False
    )
