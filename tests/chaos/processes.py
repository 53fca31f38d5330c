"""The stack's processes: find one, SIGKILL it, start it again as `sales-agent up` did.

`sales-agent up` does not restart a child that dies: its watch stops the whole stack and
exits 1 (cli/stack.py, `Stack.watch`), the sandbox (the vendors' state) included. So that a
kill tests the product's recovery rather than a cold start against empty vendors, the
first kill pauses `up` (SIGSTOP: its children run on, in sessions of their own) and each
killed process is started again with the command line, environment and working directory
`up` gave it. `close()` stops what was started here and lets `up` go on (it then sees the
dead child and stops everything else).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from sales_agent_pipeline.db.embedded import EmbeddedPostgres, port_is_free
from tests.e2e.conftest import RunningStack

# A piece of each service's command line (cli/stack.py `services`).
SERVICES = {
    "api": "sales_agent_api.app:create_app",
    "code-server": "sales_agent_pipeline.codeserver",
    "dagster-daemon": "dagster-daemon",
    "dagster-webserver": "dagster-webserver",
    "sandbox": "sales_agent_sandbox",
}
# What `up` prints once its demo leads are done, whichever way they went.
DEMO_DONE = ("Every lead's run:", "first draft is not ready yet", "demo leads not posted")


@dataclass(frozen=True)
class Launch:
    """How a process was started: what a restart repeats."""

    argv: list[str]
    env: dict[str, str]
    cwd: str


@dataclass
class Started:
    """A process started here in place of a killed one."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path


def _gone(process: psutil.Process) -> bool:
    # A killed child of the paused `up` stays a zombie until `up` reaps it.
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _kill(process: psutil.Process, timeout: float = 10) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while not _gone(process):
        assert time.monotonic() < deadline, f"pid {process.pid} outlived SIGKILL"
        time.sleep(0.05)


@dataclass
class Respawner:
    """Kills the stack's processes and starts them again, with `up`'s watch paused."""

    stack: RunningStack
    started: list[Started] = field(default_factory=list)
    paused: bool = False

    @property
    def supervisor(self) -> psutil.Process:
        return psutil.Process(self.stack.process.pid)

    def service(self, name: str) -> psutil.Process:
        """The live process of a service: the one started here last, else `up`'s child."""
        for again in reversed(self.started):
            if again.name == name and again.process.poll() is None:
                return psutil.Process(again.process.pid)
        for child in self.supervisor.children():
            with contextlib.suppress(psutil.Error):  # a killed child: a zombie until reaped
                if not _gone(child) and SERVICES[name] in " ".join(child.cmdline()):
                    return child
        raise LookupError(f"no live {name} process")

    def run_workers(self) -> list[psutil.Process]:
        """The code server's run workers: forks of its forkserver, one per running run."""
        workers = []
        for child in self.service("code-server").children():
            with contextlib.suppress(psutil.Error):
                if "forkserver" in " ".join(child.cmdline()):
                    workers += [w for w in child.children() if not _gone(w)]
        return workers

    def wait_for_demo(self) -> None:
        """Until `up` is done with its demo leads: it polls PostgreSQL for the first draft
        meanwhile, and a database error there stops the whole stack."""
        deadline = time.monotonic() + 150
        while not any(line in self.stack.output.read_text() for line in DEMO_DONE):
            assert time.monotonic() < deadline, "`up` did not finish its demo"
            assert self.stack.process.poll() is None, "`up` exited"
            time.sleep(0.5)

    def pause_supervisor(self) -> None:
        """Stop `up`'s watch (once its demo leads are done), leaving its children running."""
        if self.paused:
            return
        self.wait_for_demo()
        self.supervisor.send_signal(signal.SIGSTOP)
        self.paused = True

    def kill_and_restart(self, name: str, down_for: float, ready_timeout: float = 90) -> None:
        """SIGKILL a service, leave it down `down_for` seconds, then start it again with the
        command line, environment and folder `up` gave it."""
        self.pause_supervisor()
        victim = self.service(name)
        launch = Launch(victim.cmdline(), victim.environ(), victim.cwd())
        _kill(victim)
        time.sleep(down_for)
        log = self.stack.data_dir / "logs" / f"{name}.restarted.log"
        with log.open("ab") as sink:
            process = subprocess.Popen(
                launch.argv,
                env=launch.env,
                cwd=launch.cwd,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(Started(name, process, log))
        deadline = time.monotonic() + ready_timeout
        while not self._ready(name, launch):
            assert process.poll() is None, f"restarted {name} exited; see {log}"
            assert time.monotonic() < deadline, f"restarted {name} not ready; see {log}"
            time.sleep(0.25)

    def _ready(self, name: str, launch: Launch) -> bool:
        if name == "api":
            try:
                return httpx.get(f"{self.stack.api}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        if name == "code-server":
            return not port_is_free("127.0.0.1", int(launch.env["DAGSTER_CODE_SERVER_PORT"]))
        return True

    def restart_postgres(self, down_for: float) -> None:
        """Stop the embedded PostgreSQL (fast: open transactions roll back), start it again."""
        port = int(self.stack.database.rsplit(":", 1)[1].split("/")[0])
        server = EmbeddedPostgres(pgdata=self.stack.data_dir / "postgres", port=port)
        self.wait_for_demo()
        server.stop()
        time.sleep(down_for)
        server.start()

    def close(self) -> None:
        """Stop what was started here and what a kill orphaned, then let `up` go on (it
        then stops the rest)."""
        for again in self.started:
            if again.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(again.process.pid, signal.SIGTERM)
        for again in self.started:
            try:
                again.process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(again.process.pid, signal.SIGKILL)
                again.process.wait(10)
        self._kill_orphans()
        if self.paused:
            with contextlib.suppress(psutil.NoSuchProcess):
                self.supervisor.send_signal(signal.SIGCONT)

    def _kill_orphans(self) -> None:
        # The forkserver of a killed (or stopped) code server outlives it: it catches
        # SIGTERM, and no parent is left to reap it. Anything of this stack's data dir
        # that `up` does not know about is such a leftover (PostgreSQL aside: `up` stops it).
        try:
            ours = {self.supervisor.pid, *(p.pid for p in self.supervisor.children(True))}
        except psutil.NoSuchProcess:
            ours = set()
        data_dir = str(self.stack.data_dir)
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if (
                    process.pid not in ours
                    and process.name().startswith("python")
                    and process.environ().get("DATA_DIR") == data_dir
                ):
                    process.kill()
