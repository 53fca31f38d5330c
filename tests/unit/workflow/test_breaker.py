"""The circuit breaker's state machine on the in-memory store: it opens after N consecutive
transient failures, stops calls (no request made) for a cool-down, lets exactly one probe
through, closes on its success and reopens for longer on its failure."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sales_agent_pipeline.domain.breaker import Breaker
from sales_agent_pipeline.domain.effects import NotSent
from sales_agent_pipeline.domain.enums import BreakerState
from sales_agent_pipeline.domain.errors import (
    BreakerOpen,
    PermanentError,
    TransientError,
    WriteInProgress,
)
from sales_agent_pipeline.ports.vendors import CRM
from sales_agent_pipeline.workflow.breaker import BreakerPolicy, CircuitBreakers
from tests.fakes.breakers import FakeBreakerStore
from tests.fakes.crm import FakeCRM

TENANT = uuid.uuid4()
POLICY = BreakerPolicy(
    failure_threshold=3,
    cooldown_seconds=30,
    cooldown_max_seconds=100,
    probe_lease_seconds=20,
    cache_seconds=2,
)


def outage(status: int = 503) -> TransientError:
    return TransientError(f"list owners failed: HTTP {status}", http_status=status)


class Clock:
    """Wall time and the monotonic clock of one fake world, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class World:
    """One vendor (a fake HubSpot), the shared store, and processes guarding calls to it."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.store = FakeBreakerStore()
        self.crm = FakeCRM()
        self.crm.add_owner("alex@ourco.example")

    def process(self) -> CircuitBreakers:
        """A process of its own: its own in-memory copies, the same store."""
        return CircuitBreakers(self.store, POLICY, self.clock, monotonic=self.clock.monotonic)

    def port(self, breakers: CircuitBreakers) -> CRM:
        return breakers.guard("crm", lambda _tenant: self.crm)(TENANT)

    def breaker(self) -> Breaker:
        stored = self.store.get("crm", TENANT)
        assert stored is not None
        return stored


def fail(port: CRM, world: World, error: Any, times: int = 1) -> None:
    world.crm.fail_next("list_owners", error, times=times)
    for _ in range(times):
        with pytest.raises(type(error)):
            port.list_owners()


def opened(world: World, port: CRM) -> None:
    fail(port, world, outage(), times=POLICY.failure_threshold)


def test_opens_after_n_consecutive_failures_and_then_no_request_is_made() -> None:
    world = World()
    port = world.port(world.process())
    fail(port, world, outage(), times=POLICY.failure_threshold - 1)
    assert world.breaker().state is BreakerState.CLOSED
    assert world.breaker().consecutive_failures == POLICY.failure_threshold - 1

    fail(port, world, outage(504))
    assert world.breaker().state is BreakerState.OPEN
    assert world.breaker().open_until == world.clock.now + timedelta(seconds=30)
    assert "HTTP 504" in (world.breaker().last_error or "")

    requests = world.crm.calls["list_owners"]
    with pytest.raises(BreakerOpen) as stopped:
        port.list_owners()
    assert world.crm.calls["list_owners"] == requests  # refused before any request
    assert stopped.value.vendor == "crm"
    assert stopped.value.retry_after_seconds == pytest.approx(30)
    # Another process sees it too, through the store.
    with pytest.raises(BreakerOpen):
        world.port(world.process()).list_owners()
    assert world.crm.calls["list_owners"] == requests


def test_a_success_between_failures_starts_the_count_over() -> None:
    world = World()
    port = world.port(world.process())
    fail(port, world, outage(), times=2)
    assert port.list_owners()
    assert world.breaker().consecutive_failures == 0
    fail(port, world, outage(), times=2)
    assert world.breaker().state is BreakerState.CLOSED


@pytest.mark.parametrize(
    "error",
    [
        TransientError("rate limited: HTTP 429", http_status=429, retry_after_seconds=10),
        PermanentError("not found: HTTP 404", http_status=404),
        WriteInProgress("another attempt holds the write"),
        NotSent("our rate limiter stayed full", retry_after_seconds=1),
        RuntimeError("a bug of ours"),
    ],
    ids=["429", "404", "write-in-progress", "not-sent", "bug"],
)
def test_answers_that_show_the_vendor_up_or_say_nothing_of_it_never_open_it(
    error: Exception,
) -> None:
    world = World()
    port = world.port(world.process())
    fail(port, world, error, times=POLICY.failure_threshold + 2)
    assert world.store.get("crm", TENANT) is None  # nothing counted, nothing written
    assert port.list_owners()


def test_a_closed_breaker_costs_no_database_round_trip_per_call() -> None:
    world = World()
    port = world.port(world.process())
    for _ in range(100):
        port.list_owners()
    assert (world.store.reads, world.store.writes) == (1, 0)
    world.clock.advance(POLICY.cache_seconds + 0.1)
    port.list_owners()
    assert (world.store.reads, world.store.writes) == (2, 0)


def test_after_the_cooldown_exactly_one_caller_probes_and_its_success_closes_it() -> None:
    world = World()
    first, second = world.process(), world.process()
    opened(world, world.port(first))
    world.clock.advance(30)

    seen_during_probe: list[str] = []

    def probe_answer() -> list[Any]:
        # While the first process's probe is in flight, the other is refused.
        try:
            world.port(second).get_owner("1")
        except BreakerOpen as error:
            seen_during_probe.append(error.message)
        assert world.breaker().state is BreakerState.HALF_OPEN
        return []

    world.crm.list_owners = probe_answer  # type: ignore[method-assign]
    assert world.port(first).list_owners() == []
    assert len(seen_during_probe) == 1
    assert "half_open" in seen_during_probe[0]
    assert world.crm.calls["get_owner"] == 0

    assert world.breaker().state is BreakerState.CLOSED
    assert (world.breaker().consecutive_failures, world.breaker().trips) == (0, 0)
    world.clock.advance(POLICY.cache_seconds + 0.1)  # the other's copy of the probe expires
    assert world.port(second).get_owner(next(iter(world.crm.owners)))


def test_a_failed_probe_reopens_it_for_longer_up_to_the_cap() -> None:
    world = World()
    port = world.port(world.process())
    opened(world, port)
    for expected in (60, 100, 100):  # 30 doubled, then capped at 100
        until = world.breaker().open_until
        assert until is not None
        world.clock.advance((until - world.clock.now).total_seconds())
        requests = world.crm.calls["list_owners"]
        fail(port, world, outage())
        assert world.crm.calls["list_owners"] == requests + 1  # the one probe
        assert world.breaker().state is BreakerState.OPEN
        assert world.breaker().open_until == world.clock.now + timedelta(seconds=expected)
    world.clock.advance(100)
    port.list_owners()
    assert (world.breaker().state, world.breaker().trips) == (BreakerState.CLOSED, 0)


def test_a_probe_whose_holder_died_is_taken_over_after_its_lease() -> None:
    world = World()
    dead, alive = world.process(), world.process()
    opened(world, world.port(dead))
    world.clock.advance(30)
    # The dead process took the probe and never came back.
    world.crm.list_owners = lambda: (_ for _ in ()).throw(KeyboardInterrupt())  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        world.port(dead).list_owners()
    world.crm = FakeCRM()
    world.crm.add_owner("alex@ourco.example")
    # Our own error says nothing of the vendor: the probe is given back at once.
    assert world.breaker().state is BreakerState.OPEN
    assert world.port(alive).list_owners()
    assert world.breaker().state is BreakerState.CLOSED

    # A holder that vanishes without a word keeps the probe until its lease ends.
    opened(world, world.port(alive))
    world.clock.advance(30)
    stuck = world.breaker()
    owner = "gone:1:abc"
    lease = world.clock.now + timedelta(seconds=POLICY.probe_lease_seconds)
    held = replace(stuck, state=BreakerState.HALF_OPEN, probe_owner=owner, probe_until=lease)
    taken = world.store.replace(stuck, held)
    assert taken is not None
    late = world.process()
    with pytest.raises(BreakerOpen):
        world.port(late).list_owners()
    world.clock.advance(POLICY.probe_lease_seconds)
    assert world.port(late).list_owners()
    assert world.breaker().state is BreakerState.CLOSED


def test_a_lazy_listing_is_guarded_page_by_page() -> None:
    world = World()
    port = world.port(world.process())
    opened(world, port)
    listing = port.iter_form_submissions("form-1")  # nothing requested yet
    with pytest.raises(BreakerOpen):
        next(listing)
    assert world.crm.calls["list_form_submissions"] == 0


class BrokenStore(FakeBreakerStore):
    """A store whose writes fail (the database went away mid-run)."""

    def replace(self, old: Breaker | None, new: Breaker) -> Breaker | None:
        raise ConnectionError("database unreachable")


def test_a_store_failure_never_hides_the_vendor_calls_own_result() -> None:
    world = World()
    world.store = BrokenStore()
    port = world.port(world.process())
    world.crm.fail_next("list_owners", outage())
    with pytest.raises(TransientError, match="HTTP 503"):
        port.list_owners()
    assert port.list_owners()  # the success after it is not turned into an error
