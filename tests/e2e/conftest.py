"""One real `sales-agent up` per test module: embedded PostgreSQL, sandbox, free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

READY_TIMEOUT = 150.0


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    api: str
    ui: str
    sandbox: str
    data_dir: Path
    output: Path
    database: str


def wait_for(url: str, process: subprocess.Popen[Any], timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"sales-agent up exited with {process.returncode}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not ready after {timeout}s")


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    data_dir = tmp_path_factory.mktemp("stack")
    api_port, ui_port, sandbox_port = free_port(), free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "DAGSTER_HOME",
            "DAGSTER_DATABASE_URL",
            "HUBSPOT_ACCESS_TOKEN",
            "GOOGLE_SERVICE_ACCOUNT_FILE",
            "GOOGLE_OAUTH_TOKEN_FILE",
        }
    }
    pg_port = free_port()
    env.update(
        DATA_DIR=str(data_dir),
        API_PORT=str(api_port),
        DAGSTER_UI_PORT=str(ui_port),
        DAGSTER_CODE_SERVER_PORT=str(free_port()),
        EMBEDDED_PG_PORT=str(pg_port),
        SANDBOX_PORT=str(sandbox_port),
    )
    output = data_dir / "up.out"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "sales-agent"), "up"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    running = RunningStack(
        process,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{ui_port}",
        f"http://127.0.0.1:{sandbox_port}",
        data_dir,
        output,
        f"postgresql://postgres@127.0.0.1:{pg_port}/sales_agent",
    )
    try:
        yield running
    finally:
        if process.poll() is None:
            # SIGTERM: `up` stops every child and PostgreSQL. A SIGKILL would leave the
            # whole stack running (its children have sessions of their own) and every
            # later test module would share the machine with it.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)
