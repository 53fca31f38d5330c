"""`sales-agent up`: the whole stack as child processes, stopped together, no orphans."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import psutil
import structlog
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; stubs are not locked

from sales_agent_pipeline.cli.demo import DEMO_SENDER
from sales_agent_pipeline.db.budget import (
    DAGSTER_WEBSERVER_POOL_OVERFLOW,
    ConnectionBudget,
    stack_budget,
)
from sales_agent_pipeline.db.embedded import port_is_free
from sales_agent_pipeline.db.provision import Databases
from sales_agent_pipeline.observability import log_format
from sales_agent_pipeline.settings import Settings

log = structlog.get_logger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_SECONDS = 20.0
# A child that dies is started again, as systemd's Restart=on-failure would, unless it died
# this many times within the window (StartLimitBurst / StartLimitIntervalSec): a service
# that cannot stay up stops the stack rather than loop.
RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 300.0
# QueuedRunCoordinator's own default when dagster.yaml names no limit.
DAGSTER_DEFAULT_MAX_CONCURRENT_RUNS = 10


class StackError(RuntimeError):
    """A process of the stack failed to start or died."""


@dataclass
class Service:
    """One long-running child process and how to tell it is ready."""

    name: str
    argv: list[str]
    ready_url: str | None = None
    ready_port: tuple[str, int] | None = None
    # Variables of this service only, on top of the stack's environment.
    env: dict[str, str] = field(default_factory=dict)
    # Whether a restart first ends what the dead process left in its session (a uvicorn
    # worker holding the port). Not for the code server: the run workers it started go on
    # with their runs after it dies.
    restart_ends_session: bool = True
    process: subprocess.Popen[bytes] | None = None
    logfile: IO[bytes] | None = field(default=None, repr=False)

    def is_ready(self) -> bool:
        """True once the service answers its health URL or listens on its port."""
        if self.ready_port is not None:
            return not port_is_free(*self.ready_port)
        if self.ready_url is not None:
            try:
                return httpx.get(self.ready_url, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        return True


def fresh_dir(path: Path) -> Path:
    """An empty folder at `path` (what was there is removed)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path.resolve()


def _bin(name: str) -> str:
    # The venv's scripts sit beside its interpreter; PATH may not include them.
    return str(Path(sys.executable).parent / name)


def install_dagster_home(settings: Settings) -> Path:
    """Put the repo's dagster.yaml into DAGSTER_HOME (kept when the user brought their own)."""
    home = settings.resolved_dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    ours = PROJECT_ROOT / "dagster.yaml"
    if settings.dagster_home is None or not target.exists():
        shutil.copyfile(ours, target)
    return home


def max_concurrent_runs(dagster_yaml: Path) -> int:
    """The run limit of the instance's run coordinator (an `env:` value read from ours)."""
    config = yaml.safe_load(dagster_yaml.read_text()) or {}
    limit = (config.get("run_coordinator") or {}).get("config", {}).get("max_concurrent_runs")
    if isinstance(limit, dict) and "env" in limit:
        limit = os.environ.get(str(limit["env"]))
    limit = DAGSTER_DEFAULT_MAX_CONCURRENT_RUNS if limit is None else int(limit)
    if limit < 0:
        raise StackError(
            f"{dagster_yaml}: max_concurrent_runs is unlimited ({limit}), so no number of "
            "database connections is enough; set a limit"
        )
    return limit


def connection_budget(settings: Settings) -> ConnectionBudget:
    """The most database connections the stack can open (db/budget.py), with the run limit
    of the dagster.yaml the stack will use."""
    home = install_dagster_home(settings)
    return stack_budget(settings, max_concurrent_runs(home / "dagster.yaml"))


def child_environment(settings: Settings, databases: Databases) -> dict[str, str]:
    """The environment every child process gets: ours plus where the data lives."""
    data_dir = Path(settings.data_dir).resolve()
    home = install_dagster_home(settings)
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": databases.app_dsn,
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_URL": databases.dagster_sqlalchemy_url,
            "DAGSTER_DATA_DIR": str(home / "storage"),
            "DAGSTER_COMPUTE_LOG_DIR": str(data_dir / "logs" / "compute"),
            "DAGSTER_CODE_SERVER_HOST": "127.0.0.1",
            "DAGSTER_CODE_SERVER_PORT": str(settings.dagster_code_server_port),
            "DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
            # The children log as `up` itself does: the console in development unless
            # LOG_FORMAT says otherwise, JSON in production (the API, the run workers).
            "LOG_FORMAT": log_format(settings),
        }
    )
    if settings.sandbox_mode:
        # No real credentials: every connector talks to the sandbox `up` starts, as the
        # demo owner's mailbox. The demo's deliveries are signed with the demo tenant's own
        # webhook secret (stored encrypted by ensure_demo_tenant), never a global one.
        env["HUBSPOT_API_BASE_URL"] = settings.sandbox_url
        env["GOOGLE_API_BASE_URL"] = settings.sandbox_url
        env.setdefault("SANDBOX_GOOGLE_USER", DEMO_SENDER)
    return env


def services(settings: Settings) -> list[list[Service]]:
    """The stack in start order; each inner list starts together once the previous is ready."""
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    # Dagster's standalone gRPC code server (`dagster api grpc`), with warm run workers.
    code_server = Service(
        "code-server",
        [
            sys.executable,
            "-m",
            "sales_agent_pipeline.codeserver",
            "-h",
            "127.0.0.1",
            "-p",
            str(settings.dagster_code_server_port),
            "-m",
            "sales_agent_pipeline.definitions",
            "--location-name",
            "sales_agent_pipeline",
        ],
        ready_port=("127.0.0.1", settings.dagster_code_server_port),
        restart_ends_session=False,
    )
    ui = f"http://{settings.dagster_ui_host}:{settings.dagster_ui_port}"
    # Dagster's webserver behind our sign-in gate (UI_AUTH; webserver.py).
    webserver = Service(
        "dagster-webserver",
        [
            sys.executable,
            "-m",
            "sales_agent_pipeline.webserver",
            "-h",
            settings.dagster_ui_host,
            "-p",
            str(settings.dagster_ui_port),
            "-w",
            workspace,
            # Its storage pools within the connection budget (Dagster's default overflow: 20).
            "--db-pool-max-overflow",
            str(DAGSTER_WEBSERVER_POOL_OVERFLOW),
        ],
        ready_url=f"{ui}/server_info",
    )
    daemon = Service("dagster-daemon", [_bin("dagster-daemon"), "run", "-w", workspace])
    api = Service(
        "api",
        [
            _bin("uvicorn"),
            "sales_agent_api.app:create_app",
            "--factory",
            "--host",
            settings.api_host,
            "--port",
            str(settings.api_port),
            "--workers",
            str(settings.api_workers),
        ],
        ready_url=f"http://{settings.api_host}:{settings.api_port}/healthz",
        # The workers' metrics, summed by /metrics; emptied at each start (prometheus-client's
        # multiprocess mode keeps one file per worker process).
        env={"PROMETHEUS_MULTIPROC_DIR": str(fresh_dir(Path(settings.data_dir) / "metrics"))},
    )
    first: list[Service] = [code_server]
    if settings.sandbox_mode:
        first.append(
            Service(
                "sandbox",
                [
                    sys.executable,
                    "-m",
                    "sales_agent_sandbox",
                    "--host",
                    settings.sandbox_host,
                    "--port",
                    str(settings.sandbox_port),
                ],
                ready_url=f"{settings.sandbox_url}/_sandbox/config",
            )
        )
    return [first, [webserver, daemon, api]]


def check_ports(settings: Settings) -> None:
    """Refuse to start, naming the variable to change, when a port of the stack is taken."""
    ports = [
        ("API_PORT", settings.api_host, settings.api_port),
        ("DAGSTER_UI_PORT", settings.dagster_ui_host, settings.dagster_ui_port),
        ("DAGSTER_CODE_SERVER_PORT", "127.0.0.1", settings.dagster_code_server_port),
    ]
    if settings.sandbox_mode:
        ports.append(("SANDBOX_PORT", settings.sandbox_host, settings.sandbox_port))
    taken = [f"{name}={port}" for name, host, port in ports if not port_is_free(host, port)]
    if taken:
        raise StackError(f"ports already in use: {', '.join(taken)}; set each to a free port")


class Stack:
    """Starts the services in order, watches them (starting a dead one again), and stops
    them all on a signal, or when one keeps dying."""

    def __init__(self, settings: Settings, databases: Databases) -> None:
        self.settings = settings
        self.databases = databases
        self.stages = services(settings)
        self.log_dir = Path(settings.data_dir).resolve() / "logs"
        self.stopping = threading.Event()
        self._env: dict[str, str] = {}
        self._deaths: dict[str, deque[float]] = defaultdict(deque)
        # Sessions of dead children left running on purpose (the code server's run workers
        # finish their runs): ended with the stack.
        self._left_running: list[int] = []

    @property
    def all_services(self) -> list[Service]:
        """Every service, in start order."""
        return [service for stage in self.stages for service in stage]

    def _spawn(self, service: Service, env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        service.logfile = (self.log_dir / f"{service.name}.log").open("ab")
        # A session of its own: Ctrl-C reaches only us, and we stop each group in order.
        service.process = subprocess.Popen(
            service.argv,
            env={**env, **service.env},
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=service.logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.info("stack.started", service=service.name, pid=service.process.pid)

    def _dead(self) -> Service | None:
        for service in self.all_services:
            if service.process is not None and service.process.poll() is not None:
                return service
        return None

    def _log_tail(self, service: Service, lines: int = 30) -> str:
        path = self.log_dir / f"{service.name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def start(self, ready_timeout: float = 180.0) -> None:
        """Start every stage and wait until it is ready; raise StackError if one dies."""
        env = self._env = child_environment(self.settings, self.databases)
        deadline = time.monotonic() + ready_timeout
        for stage in self.stages:
            for service in stage:
                self._spawn(service, env)
            while not all(service.is_ready() for service in stage):
                dead = self._dead()
                if dead is not None:
                    raise StackError(f"{dead.name} exited at start:\n{self._log_tail(dead)}")
                if self.stopping.is_set():
                    return
                if time.monotonic() > deadline:
                    raise StackError(
                        f"not ready after {ready_timeout:.0f}s; logs in {self.log_dir}"
                    )
                time.sleep(0.25)

    def watch(self) -> int:
        """Block until a signal (exit 0). A child that dies (a crash, an OOM kill, a SIGKILL)
        is started again with the same command and environment; the others keep running,
        and the work it had is picked up by the runs' retries and the sensors. One that dies
        more than RESTART_LIMIT times within RESTART_WINDOW_SECONDS stops the stack (exit 1)."""
        while not self.stopping.wait(0.5):
            dead = self._dead()
            if dead is None:
                continue
            assert dead.process is not None
            log.error(
                "stack.child_died",
                service=dead.name,
                returncode=dead.process.returncode,
                tail=self._log_tail(dead),
            )
            if not self._may_restart(dead.name):
                log.error(
                    "stack.giving_up",
                    service=dead.name,
                    deaths=RESTART_LIMIT,
                    window_seconds=RESTART_WINDOW_SECONDS,
                )
                return 1
            self._restart(dead)
        return 0

    def _may_restart(self, name: str) -> bool:
        deaths, now = self._deaths[name], time.monotonic()
        while deaths and now - deaths[0] > RESTART_WINDOW_SECONDS:
            deaths.popleft()
        deaths.append(now)
        return len(deaths) <= RESTART_LIMIT

    def _restart(self, service: Service) -> None:
        assert service.process is not None
        if service.restart_ends_session:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(service.process.pid, signal.SIGKILL)
        else:
            self._left_running.append(service.process.pid)
        if service.logfile is not None:
            service.logfile.close()
        self._spawn(service, self._env)
        log.warning("stack.restarted", service=service.name, pid=service.process.pid)

    def stop(self) -> None:
        """SIGTERM every process group in reverse order, SIGKILL what outlives the grace."""
        procs: list[psutil.Process] = []
        for service in reversed(self.all_services):
            if service.process is None:
                continue
            try:
                root = psutil.Process(service.process.pid)
                procs.extend([root, *root.children(recursive=True)])
            except psutil.NoSuchProcess:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGTERM)
        for group in self._left_running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGTERM)
        _, alive = psutil.wait_procs(procs, timeout=STOP_GRACE_SECONDS)
        for group in self._left_running:
            # A forkserver ignores SIGTERM; nothing of a dead child's session outlives us.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        for proc in alive:
            log.warning("stack.kill", pid=proc.pid)
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
        for service in self.all_services:
            if service.process is not None:
                service.process.wait(timeout=5)
            if service.logfile is not None:
                service.logfile.close()
        if self.databases.embedded is not None:
            self.databases.embedded.stop()
