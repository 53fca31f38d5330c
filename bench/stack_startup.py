"""Time `sales-agent up` to ready (cold: new data dir; warm: second start), its idle
memory (RSS of every process, embedded PostgreSQL included) and the time to stop.

Run: .venv/bin/python bench/stack_startup.py [--idle-seconds 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from support import free_port, wait_ok


def tree_rss_mb(root: psutil.Process, data_dir: Path) -> tuple[float, int]:
    """RSS of the process tree plus the embedded server's processes, and their count."""
    procs = [root, *root.children(recursive=True)]
    pid = int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])
    postmaster = psutil.Process(pid)
    procs += [postmaster, *postmaster.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 2**20, len(procs)


def run_once(data_dir: Path, idle_seconds: float) -> dict[str, float]:
    """Start the stack, measure, stop it."""
    api, ui = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DATA_DIR=str(data_dir),
        API_PORT=str(api),
        DAGSTER_UI_PORT=str(ui),
        DAGSTER_CODE_SERVER_PORT=str(free_port()),
        EMBEDDED_PG_PORT=str(free_port()),
        SANDBOX_PORT=str(free_port()),
    )
    started = time.monotonic()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "sales-agent"), "up"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = started + 180
    wait_ok(f"http://127.0.0.1:{api}/healthz", deadline - time.monotonic())
    wait_ok(f"http://127.0.0.1:{ui}/server_info", deadline - time.monotonic())
    ready = time.monotonic() - started
    time.sleep(idle_seconds)
    rss, count = tree_rss_mb(psutil.Process(process.pid), data_dir)
    cpu_start = sum(
        p.cpu_times().user + p.cpu_times().system
        for p in [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
    )
    time.sleep(10)
    cpu_end = sum(
        p.cpu_times().user + p.cpu_times().system
        for p in [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
    )
    stop_started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(120)
    return {
        "ready_s": ready,
        "idle_rss_mb": rss,
        "processes": count,
        "idle_cpu_pct": (cpu_end - cpu_start) / 10 * 100,
        "stop_s": time.monotonic() - stop_started,
    }


def main() -> None:
    """Print one line per start."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        for label in ("cold", "warm"):
            figures = run_once(data_dir, args.idle_seconds)
            print(
                f"{label}: ready {figures['ready_s']:.1f}s, idle RSS "
                f"{figures['idle_rss_mb']:.0f} MB in {figures['processes']:.0f} processes, "
                f"idle CPU {figures['idle_cpu_pct']:.1f}% of one core, "
                f"stop {figures['stop_s']:.1f}s"
            )


if __name__ == "__main__":
    main()
