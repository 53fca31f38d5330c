"""The stack's processes: find one, SIGKILL it, and wait for `sales-agent up` to start it
again (its watch restarts a child that dies, cli/stack.py `Stack.watch`); restart the
embedded PostgreSQL under it.
"""

from __future__ import annotations

import contextlib
import signal
import time
from dataclasses import dataclass

import httpx
import psutil

from sales_agent_pipeline.db.embedded import EmbeddedPostgres, port_is_free
from tests.e2e.conftest import RunningStack

# A piece of each service's command line (cli/stack.py `services`).
SERVICES = {
    "api": "sales_agent_api.app:create_app",
    "code-server": "sales_agent_pipeline.codeserver",
    "dagster-daemon": "dagster-daemon",
    "dagster-webserver": "sales_agent_pipeline.webserver",
    "sandbox": "sales_agent_sandbox",
}
# What `up` prints once its demo leads are done, whichever way they went.
DEMO_DONE = ("Every lead's run:", "first draft is not ready yet", "demo leads not posted")


def _gone(process: psutil.Process) -> bool:
    # A killed child stays a zombie until `up` reaps it.
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
    """Kills the stack's processes; `up` starts them again."""

    stack: RunningStack

    @property
    def supervisor(self) -> psutil.Process:
        return psutil.Process(self.stack.process.pid)

    def service(self, name: str) -> psutil.Process:
        """The live process of a service: `up`'s child whose command line names it."""
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

    def kill_and_wait(self, name: str, ready_timeout: float = 90) -> float:
        """SIGKILL a service and wait until `up` has started it again and it is ready;
        the seconds it was down."""
        victim = self.service(name)
        killed_at = time.monotonic()
        _kill(victim)
        deadline = killed_at + ready_timeout
        while True:
            assert self.stack.process.poll() is None, "`up` exited"
            assert time.monotonic() < deadline, f"{name} not started again; see up's output"
            with contextlib.suppress(LookupError, psutil.Error):
                again = self.service(name)
                if again.pid != victim.pid and self._ready(name):
                    return time.monotonic() - killed_at
            time.sleep(0.25)

    def _ready(self, name: str) -> bool:
        if name == "api":
            try:
                return httpx.get(f"{self.stack.api}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        if name == "code-server":
            port = int(self.service(name).environ()["DAGSTER_CODE_SERVER_PORT"])
            return not port_is_free("127.0.0.1", port)
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
        """Stop what a kill orphaned (`up` stops the rest)."""
        self._kill_orphans()

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
