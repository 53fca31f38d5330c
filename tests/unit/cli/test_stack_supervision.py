"""`sales-agent up` keeps its processes up: a child that dies is started again, one that
keeps dying stops the stack. Real child processes (sleep, false), no vendors."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from sales_agent_pipeline.cli import stack as stack_module
from sales_agent_pipeline.cli.stack import Service, Stack
from sales_agent_pipeline.db.provision import Databases
from sales_agent_pipeline.settings import Settings


def _stack(tmp_path: Path, *services: Service) -> Stack:
    url = make_url("postgresql+psycopg://postgres@127.0.0.1:5432/unused")
    stack = Stack(Settings(data_dir=str(tmp_path)), Databases(app=url, dagster=url))
    stack.stages = [list(services)]
    stack._env = dict(os.environ)  # what start() sets: the restarts' environment
    for service in services:
        stack._spawn(service, stack._env)
    return stack


def _wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_child_is_started_again_and_the_others_keep_running(tmp_path: Path) -> None:
    victim, bystander = Service("victim", ["sleep", "60"]), Service("bystander", ["sleep", "60"])
    stack = _stack(tmp_path, victim, bystander)
    assert victim.process is not None
    assert bystander.process is not None
    first, other = victim.process.pid, bystander.process.pid
    codes: list[int] = []
    watcher = threading.Thread(target=lambda: codes.append(stack.watch()))
    watcher.start()
    try:
        os.kill(first, signal.SIGKILL)
        _wait_for(lambda: victim.process is not None and victim.process.pid != first)
        assert victim.process.poll() is None
        assert bystander.process.pid == other
        assert bystander.process.poll() is None
    finally:
        stack.stopping.set()
        watcher.join(timeout=5)
        stack.stop()
    assert codes == [0]


def test_a_child_that_keeps_dying_stops_the_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack_module, "RESTART_LIMIT", 2)
    crashing = Service("crashing", ["false"])
    stack = _stack(tmp_path, crashing)
    started = time.monotonic()
    try:
        assert stack.watch() == 1
    finally:
        stack.stop()
    # Two restarts, each found within the watch's half-second poll, then it gives up.
    assert time.monotonic() - started < 10
