"""Time `sales-agent up` to ready (cold: new data dir; warm: second start), its idle
memory (RSS of every process, embedded PostgreSQL included, and by component) and the time
to stop; how long the first demo lead took to its draft (what `up` prints), and ten leads
posted together to all succeeded.

Run: .venv/bin/python bench/stack_startup.py [--idle-seconds 20]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
from pipeline import TERMINAL
from sqlalchemy import create_engine
from support import by_component, embedded_postmaster, free_port, stack_components, wait_ok
from webhook import delivery, status

from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_PORTAL, demo_secret


def memory_mb(root: psutil.Process, data_dir: Path) -> tuple[float, int, dict[str, float], float]:
    """The stack's idle memory: the RSS of all its processes (the embedded server's
    included), their count, the RSS of each component, and their PSS (each shared page,
    PostgreSQL's shared buffers or a fork's copy-on-write pages, counted once, as RSS does
    not)."""
    processes = stack_components(root, embedded_postmaster(data_dir))
    parts = by_component(processes, lambda proc: proc.memory_info().rss / 2**20)
    if os.environ.get("BENCH_RSS_DETAIL"):
        for name, proc in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                rss = proc.memory_info().rss / 2**20
                print(f"    {rss:6.0f} MB  {name:12} {' '.join(proc.cmdline())[:100]}")
    pss = by_component(processes, lambda proc: proc.memory_full_info().pss / 2**20)
    return sum(parts.values()), len(processes), parts, sum(pss.values())


def ten_together(api: str, database: str, secret: str) -> float:
    """Ten signed leads posted at once (threads): seconds until every one succeeded."""
    url = f"{api}/webhook/formlead"
    posts = [
        delivery(secret, url, DEMO_PORTAL, DEMO_FORM, f"ten{n}@{uuid.uuid4().hex[:8]}.example")
        for n in range(10)
    ]
    started = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda p: httpx.post(url, content=p[0], headers=p[1]), posts))
    ids = [answer.json()["workflow_id"] for answer in answers]
    engine = create_engine(database)
    try:
        while time.monotonic() < started + 120:
            states = [status(engine, workflow_id) for workflow_id in ids]
            if all(state in TERMINAL for state in states):
                if set(states) != {"succeeded"}:
                    raise SystemExit(f"ten leads ended {states}")
                return time.monotonic() - started
            time.sleep(0.02)
    finally:
        engine.dispose()
    raise SystemExit("ten leads not done in 120 s")


def run_once(data_dir: Path, idle_seconds: float) -> dict[str, Any]:
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
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    # `up` prints how long the first demo lead took to its draft after posting it.
    first_draft: list[float] = []

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if match := re.search(r"First draft, ([0-9.]+) s after posting", line):
                first_draft.append(float(match.group(1)))

    threading.Thread(target=read_output, daemon=True).start()
    try:
        deadline = started + 180
        wait_ok(f"http://127.0.0.1:{api}/healthz", deadline - time.monotonic())
        wait_ok(f"http://127.0.0.1:{ui}/server_info", deadline - time.monotonic())
        ready = time.monotonic() - started
        while not first_draft and time.monotonic() < deadline:
            time.sleep(0.1)
        database = f"postgresql://postgres@127.0.0.1:{env['EMBEDDED_PG_PORT']}/sales_agent"
        ten = ten_together(f"http://127.0.0.1:{api}", database, demo_secret(data_dir))
        time.sleep(idle_seconds)
        rss, count, parts, pss = memory_mb(psutil.Process(process.pid), data_dir)
        cpu_start = sum(
            p.cpu_times().user + p.cpu_times().system
            for p in [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
        )
        time.sleep(10)
        cpu_end = sum(
            p.cpu_times().user + p.cpu_times().system
            for p in [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
        )
    except BaseException:
        # A failed measurement still stops the stack it started.
        process.send_signal(signal.SIGTERM)
        process.wait(120)
        raise
    stop_started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(120)
    return {
        "ready_s": ready,
        "idle_rss_mb": rss,
        "idle_pss_mb": pss,
        "processes": count,
        "idle_cpu_pct": (cpu_end - cpu_start) / 10 * 100,
        "stop_s": time.monotonic() - stop_started,
        "first_draft_s": first_draft[0] if first_draft else float("nan"),
        "ten_s": ten,
        "parts": parts,
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
                f"{figures['idle_rss_mb']:.0f} MB in {figures['processes']:.0f} processes "
                f"(PSS {figures['idle_pss_mb']:.0f} MB), "
                f"idle CPU {figures['idle_cpu_pct']:.1f}% of one core, "
                f"stop {figures['stop_s']:.1f}s; first demo draft {figures['first_draft_s']:.1f}s "
                f"after posting; ten leads together all succeeded in {figures['ten_s']:.2f}s"
            )
            parts = sorted(figures["parts"].items(), key=lambda item: -item[1])
            print("  RSS by component: " + ", ".join(f"{n} {mb:.0f} MB" for n, mb in parts))


if __name__ == "__main__":
    main()
