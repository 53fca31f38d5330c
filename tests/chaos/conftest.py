"""One `sales-agent up` per chaos module (tests/e2e's stack), started with short dead-letter
re-drive delays and breaker cool-downs so that faults of seconds heal within the suite's
budget; `up` itself starts again what a scenario kills (see processes.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.processes import Respawner
from tests.e2e.conftest import RunningStack, engine, stack, stack_env

__all__ = ["chaos_settings", "engine", "respawner", "stack", "stack_env"]

# What the stack's processes read at start: re-drives after 5 s, 10 s, ... instead of
# minutes and hours; a breaker that opens after 5 failures and probes again after 5 s; an
# uncertain write looked for 40 s (longer than the sandbox's 25 s search lag, as the
# default 300 s is longer than HubSpot's) before it may be written again; a crashed
# writer's lease free after 60 s instead of 10 minutes; SEND mail goes out at any hour (no
# send window: the send test counts what the cap lets out, whenever CI runs).
CHAOS_ENVIRONMENT = {
    "SEND_WINDOW_START": "00:00",
    "SEND_WINDOW_END": "00:00",
    "SEARCH_LAG_WINDOW_SECONDS": "40",
    "IDEMPOTENCY_LEASE_SECONDS": "60",
    "DLQ_REDRIVE_DELAYS": "5s,10s,20s,30s,45s,60s",
    "BREAKER_FAILURE_THRESHOLD": "5",
    "BREAKER_COOLDOWN_SECONDS": "5",
    "BREAKER_COOLDOWN_MAX_SECONDS": "15",
    "BREAKER_PROBE_LEASE_SECONDS": "20",
}


@pytest.fixture(scope="module", autouse=True)
def chaos_settings() -> Iterator[None]:
    """Set before the module's stack starts (autouse fixtures come first in their scope)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CHAOS_ENVIRONMENT.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def respawner(stack: RunningStack) -> Iterator[Respawner]:
    """Kills the stack's processes (`up` restarts them); ends what a kill orphaned."""
    keeper = Respawner(stack)
    try:
        yield keeper
    finally:
        keeper.close()
