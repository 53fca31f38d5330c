"""`sales-agent up` as a user runs it: the README's default (embedded PostgreSQL), real
processes, free ports; then SIGTERM, and nothing may be left running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.conftest import RunningStack, postmaster_pid, wait_for

pytestmark = pytest.mark.e2e


def test_up_serves_the_api_and_the_dagster_ui(stack: RunningStack) -> None:
    wait_for(f"{stack.api}/healthz", stack.process)
    wait_for(f"{stack.ui}/server_info", stack.process)
    ready = httpx.get(f"{stack.api}/readyz", timeout=5).json()
    assert ready["status"] == "ready"

    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    workspace = httpx.post(f"{stack.ui}/graphql", json={"query": query}, timeout=10).json()
    entries = workspace["data"]["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["loadStatus"]) for e in entries] == [("sales_agent_pipeline", "LOADED")]

    deadline = time.monotonic() + 30
    while "Sales Agent Pipeline is up" not in stack.output.read_text():
        assert time.monotonic() < deadline, stack.output.read_text()
        time.sleep(0.5)
    printed = stack.output.read_text()
    assert stack.ui in printed
    assert f"{stack.api}/docs" in printed
    assert f"the sandbox at {stack.sandbox}" in printed


def test_without_credentials_up_serves_the_sandbox(stack: RunningStack) -> None:
    wait_for(f"{stack.sandbox}/_sandbox/config", stack.process)
    owners = httpx.get(
        f"{stack.sandbox}/crm/v3/owners/",
        headers={"Authorization": "Bearer sandbox-token"},  # the demo portal's token
        timeout=5,
    )
    assert owners.status_code == 200
    assert "results" in owners.json()


def test_sigterm_stops_every_process_and_the_database(stack: RunningStack) -> None:
    wait_for(f"{stack.api}/healthz", stack.process)
    root = psutil.Process(stack.process.pid)
    children = root.children(recursive=True)
    names = " ".join(" ".join(child.cmdline()) for child in children)
    for expected in (
        "sales_agent_pipeline.codeserver",
        "sales_agent_pipeline.webserver",
        "dagster-daemon",
        "uvicorn",
        "sales_agent_sandbox",
    ):
        assert expected in names
    database = psutil.Process(postmaster_pid(stack.data_dir))
    assert database.is_running()

    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(timeout=60) == 0

    _, alive = psutil.wait_procs([*children, database], timeout=10)
    assert alive == [], f"left running: {[p.pid for p in alive]}"
    assert not (stack.data_dir / "postgres" / "postmaster.pid").exists()
    assert "stopped" in stack.output.read_text()


def test_up_refuses_a_taken_port_naming_the_variable(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env.update(DATA_DIR=str(tmp_path), API_PORT=str(taken))
        result = subprocess.run(
            [str(Path(sys.executable).parent / "sales-agent"), "up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"API_PORT={taken}" in result.stderr
    assert not (tmp_path / "postgres").exists(), "nothing is started when a port is taken"
