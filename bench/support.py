"""What every bench script needs: free ports, waiting for a service, the sandbox in a thread,
and the environment of a `sales-agent up` on ports and a database of its own."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import uvicorn
from fastapi import FastAPI
from scale_plan import classify


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ok(url: str, timeout: float = 180) -> None:
    """Poll until the URL answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} not ready")


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """The app (the sandbox) under uvicorn on a free port in a thread; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("sandbox did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass(frozen=True)
class StackPlan:
    """Where a bench's `sales-agent up` listens and keeps its data."""

    data_dir: Path
    env: dict[str, str]
    database: str
    api: str
    ui: str
    sandbox: str


def stack_plan(prefix: str, **extra_env: str) -> StackPlan:
    """A stack in sandbox mode on free ports, under a fresh data dir; with DATABASE_URL set,
    on a database of its own on that server, else on the embedded PostgreSQL."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    names = ("API", "DAGSTER_UI", "DAGSTER_CODE_SERVER", "EMBEDDED_PG", "SANDBOX")
    ports = {name: free_port() for name in names}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "GOOGLE_"))}
    env.update({f"{name}_PORT": str(port) for name, port in ports.items()})
    env.update(DATA_DIR=str(data_dir), SANDBOX_GOOGLE_USER="alex.morgan@sandbox.example.com")
    env.update(extra_env)
    pg = ports["EMBEDDED_PG"]
    if env.get("DATABASE_URL"):  # an external server: a database of our own on it
        env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + f"/bench_{pg}"
    return StackPlan(
        data_dir=data_dir,
        env=env,
        database=env.get("DATABASE_URL") or f"postgresql://postgres@127.0.0.1:{pg}/sales_agent",
        api=f"http://127.0.0.1:{ports['API']}",
        ui=f"http://127.0.0.1:{ports['DAGSTER_UI']}",
        sandbox=f"http://127.0.0.1:{ports['SANDBOX']}",
    )


def embedded_postmaster(data_dir: Path) -> psutil.Process | None:
    """The embedded PostgreSQL server of a stack's data dir (None: an external server)."""
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return None
    return psutil.Process(int(pid_file.read_text().splitlines()[0]))


def stack_components(
    root: psutil.Process, postmaster: psutil.Process | None
) -> list[tuple[str, psutil.Process]]:
    """Every process of a `sales-agent up` stack with its component: `up` itself (the
    supervisor), each child by its command line, what the code server forks (its
    forkserver and the run workers), and PostgreSQL's server with its backends."""
    found = [("supervisor", root)]
    for child in root.children():
        try:
            role = classify(" ".join(child.cmdline()))
            found.append((role, child))
            for sub in child.children(recursive=True):
                forked = role == "code server" and "resource_tracker" not in " ".join(sub.cmdline())
                found.append(("run workers" if forked else role, sub))
        except psutil.NoSuchProcess:
            continue
    if postmaster is not None:
        found += [("PostgreSQL", proc) for proc in [postmaster, *postmaster.children()]]
    return found


def by_component(
    processes: list[tuple[str, psutil.Process]], measure: Callable[[psutil.Process], float]
) -> dict[str, float]:
    """`measure` of each process summed by component; a process that just ended is skipped."""
    totals: dict[str, float] = {}
    for name, proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            totals[name] = totals.get(name, 0.0) + measure(proc)
    return totals


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU of a process so far, with what its exited children used (the kernel adds a
    child's times to its parent's when the parent reaps it: the forkserver reaps the run
    workers, the postmaster its backends)."""
    times = proc.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def cpu_by_component(root: psutil.Process, postmaster: psutil.Process | None) -> dict[str, float]:
    """CPU seconds so far of each component (live processes plus their reaped children)."""
    return by_component(stack_components(root, postmaster), cpu_seconds)
