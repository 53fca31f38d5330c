"""Logs: JSON outside the development stack; every line about a lead carries its workflow id,
and none holds a secret, the draft's text or what the lead typed."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import URL

from sales_agent_api.app import create_app
from sales_agent_pipeline.cli.stack import child_environment
from sales_agent_pipeline.db.provision import Databases
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.secretbox import generate_key
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.workflow.table import STEPS
from tests.conftest import free_port
from tests.integration.observability.conftest import MESSAGE, Journey

OUTSIDE_THE_LEAD = {
    "asyncio",
    "google.auth._default",
    "google.auth._regional_access_boundary_utils",
}


def _records(journey: Journey) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in journey.lines]
    assert all(isinstance(record, dict) for record in records)
    return records


def test_every_line_of_the_lead_carries_its_workflow_id(journey: Journey) -> None:
    assert journey.result.success
    records = _records(journey)
    # From the webhook's accept to the run's end, every line is about this lead, but the
    # test client's event loop saying which selector it uses and google-auth's lines from
    # its own background thread (a credential's access-boundary look-up, at DEBUG).
    assert records
    strays = [
        r
        for r in records
        if r.get("workflow_id") != journey.workflow_id and r["logger"] not in OUTSIDE_THE_LEAD
    ]
    assert not strays, "\n".join(json.dumps(r) for r in strays)

    launched = [r for r in records if r["event"] == "launch.launched"]
    assert [(r["run_id"], r["leads"]) for r in launched] == [(journey.run_id, 1)]
    # One line per step of the lead (DEBUG here), with the run it belongs to.
    finished = [r for r in records if r["event"] == "step.finished"]
    assert [r["step"] for r in finished] == list(STEPS)
    assert {r["outcome"] for r in finished} == {"succeeded"}
    assert {r["run_id"] for r in finished} == {journey.run_id}


def test_no_line_holds_a_secret_the_draft_or_the_lead_s_message(journey: Journey) -> None:
    assert journey.draft_body, "the lead got no draft"
    # The draft's own sentences (the greeting alone could be anywhere).
    sentences = [line for line in journey.draft_body.splitlines() if len(line) > 30]
    assert sentences
    forbidden = [*journey.secrets, MESSAGE, *sentences]
    # Our lines (API and run) and the run's Dagster messages alike.
    for text in [*journey.lines, *journey.run_messages]:
        leaked = [item for item in forbidden if item in text]
        assert not leaked, text


def _settings(database_url: URL, **values: Any) -> Settings:
    return Settings(
        _env_file=None,
        database_url=libpq_dsn(database_url),
        secrets_encryption_keys=SecretStr(generate_key()),
        **values,
    )


def test_production_logs_json_unless_told_otherwise(database_url: URL, tmp_path: Path) -> None:
    production = _settings(database_url, environment="production")
    buffer = io.StringIO()
    with TestClient(create_app(production)):
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        previous = handler.setStream(buffer)
        try:
            structlog.get_logger("tests.observability").info("hello", portal=7)
        finally:
            handler.setStream(previous)
    assert json.loads(buffer.getvalue().splitlines()[-1])["event"] == "hello"

    # `sales-agent up` (development) keeps the console for people and its children follow it;
    # an explicit LOG_FORMAT wins either way.
    databases = Databases(app=database_url, dagster=database_url)
    for values, expected in (
        ({"data_dir": str(tmp_path)}, "console"),
        ({"data_dir": str(tmp_path), "log_format": "json"}, "json"),
    ):
        settings = _settings(database_url, **values)
        assert child_environment(settings, databases)["LOG_FORMAT"] == expected
    explicit = _settings(database_url, environment="production", log_format="console")
    buffer = io.StringIO()
    with TestClient(create_app(explicit)):
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        previous = handler.setStream(buffer)
        try:
            structlog.get_logger("tests.observability").info("hello", portal=7)
        finally:
            handler.setStream(previous)
    assert not buffer.getvalue().lstrip().startswith("{")


def test_uvicorn_s_own_lines_are_json_too(database_url: URL, tmp_path: Path) -> None:
    """The API as `sales-agent up` runs it, in JSON: uvicorn's access lines are JSON too."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": libpq_dsn(database_url),
        "SECRETS_ENCRYPTION_KEYS": generate_key(),
        "DATA_DIR": str(tmp_path),
        "DAGSTER_WEBSERVER_URL": f"http://127.0.0.1:{free_port()}",
        "LOG_FORMAT": "json",
    }
    env.pop("HUBSPOT_PORTAL_ID", None)
    argv = [sys.executable, "-m", "uvicorn", "sales_agent_api.app:create_app", "--factory"]
    server = subprocess.Popen(
        [*argv, "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("the API did not start")
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("logger") == "uvicorn.access"]
    assert access, err
    assert "GET /healthz" in access[-1]["event"]
