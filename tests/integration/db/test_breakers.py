"""Circuit breakers on real PostgreSQL: a change applies only over the version it was
computed from, processes racing for the half-open probe get exactly one, and the launch
query holds a tenant's queued leads back while its breaker is open."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.db.repositories import imports, outbox
from sales_agent_pipeline.db.repositories.breakers import PostgresBreakerStore
from sales_agent_pipeline.db.session import make_session_factory
from sales_agent_pipeline.domain.breaker import Breaker
from sales_agent_pipeline.domain.enums import BreakerState, SubmissionSource
from sales_agent_pipeline.domain.errors import BreakerOpen, TransientError
from sales_agent_pipeline.domain.submission import Submission
from sales_agent_pipeline.workflow.breaker import BreakerPolicy, CircuitBreakers
from tests.conftest import accept_lead

POLICY = BreakerPolicy(failure_threshold=2, cooldown_seconds=0.5, probe_lease_seconds=30)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def new_tenant(sessions: sessionmaker[Session]) -> uuid.UUID:
    with sessions.begin() as session:
        tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Breaker Co")
        session.add(tenant)
        session.flush()
        return tenant.id


def now() -> datetime:
    return datetime.now(UTC)


def test_a_change_applies_only_over_the_version_it_was_computed_from(
    sessions: sessionmaker[Session],
) -> None:
    store = PostgresBreakerStore(sessions)
    tenant = new_tenant(sessions)
    assert store.get("mail", tenant) is None

    first = store.replace(None, Breaker("mail", tenant, consecutive_failures=1, last_error="x"))
    assert first is not None
    assert first.updated_at is not None
    # A second process that also saw no row loses: the row exists now.
    assert store.replace(None, Breaker("mail", tenant, consecutive_failures=1)) is None

    second = store.replace(first, replace(first, consecutive_failures=2, last_error="5" * 900))
    assert second is not None
    assert second.updated_at != first.updated_at
    assert len(second.last_error or "") == 500  # an error page is cut to its start
    # A change computed from the old version is refused.
    assert store.replace(first, replace(first, consecutive_failures=0)) is None
    assert store.get("mail", tenant) == second
    assert [b.vendor for b in store.of_tenant(tenant)] == ["mail"]
    assert store.of_tenant(new_tenant(sessions)) == []


def test_processes_racing_for_the_half_open_probe_get_exactly_one(
    sessions: sessionmaker[Session],
) -> None:
    tenant = new_tenant(sessions)
    processes = [CircuitBreakers(PostgresBreakerStore(sessions), POLICY, now) for _ in range(6)]
    for _ in range(POLICY.failure_threshold):
        with pytest.raises(TransientError):
            processes[0].call("crm", tenant, _outage)
    opened = PostgresBreakerStore(sessions).get("crm", tenant)
    assert opened is not None
    assert opened.state is BreakerState.OPEN
    time.sleep(POLICY.cooldown_seconds + 0.1)

    probes: list[int] = []
    refused: list[str] = []
    start = threading.Barrier(len(processes))

    def attempt(index: int) -> None:
        start.wait()

        def vendor_call() -> str:
            probes.append(index)
            time.sleep(0.5)  # the others try while the probe is in flight
            return "ok"

        try:
            processes[index].call("crm", tenant, vendor_call)
        except BreakerOpen as error:
            refused.append(error.message)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(processes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(probes) == 1
    assert len(refused) == len(processes) - 1
    assert all("half_open" in message for message in refused)
    closed = PostgresBreakerStore(sessions).get("crm", tenant)
    assert closed is not None
    assert (closed.state, closed.consecutive_failures, closed.probe_owner) == (
        BreakerState.CLOSED,
        0,
        None,
    )


def _outage() -> None:
    raise TransientError("create task failed: HTTP 502", http_status=502)


def test_an_open_breaker_holds_the_tenants_queued_leads_back_until_it_may_probe(
    sessions: sessionmaker[Session],
) -> None:
    store = PostgresBreakerStore(sessions)
    stopped, other = new_tenant(sessions), new_tenant(sessions)
    with sessions.begin() as session:
        leads = {
            tenant: accept_lead(
                session, session.get_one(Tenant, tenant), f"lead@{tenant.hex[:8]}.example"
            ).workflow_id
            for tenant in (stopped, other)
        }
        session.execute(
            update(Workflow)
            .where(Workflow.id.in_(leads.values()))
            .values(created_at=Workflow.created_at - timedelta(minutes=1))
        )
    breaker = store.replace(
        None,
        Breaker(
            "crm",
            stopped,
            state=BreakerState.OPEN,
            consecutive_failures=5,
            trips=1,
            open_until=now() + timedelta(minutes=5),
        ),
    )
    assert breaker is not None

    def launchable() -> set[uuid.UUID]:
        with sessions.begin() as session:
            claimed = outbox.claim_awaiting(session, timedelta(seconds=1), limit=10_000)
            ids = {item.workflow_id for item in claimed}
            # Hand them back: this test only asks which the sensor would launch.
            outbox.release_launch(session, list(ids))
        return ids & set(leads.values())

    assert launchable() == {leads[other]}
    with sessions() as session:
        waiting = [w for w in outbox.waiting_blocked(session) if "circuit breaker" in w.reason]
    portal = {w.reason: w.portal_id for w in waiting}
    assert any(reason.startswith("crm circuit breaker open until") for reason in portal)

    # Its cool-down over, the next caller may probe: the leads are launched again.
    due = store.replace(breaker, replace(breaker, open_until=now() - timedelta(seconds=1)))
    assert due is not None
    assert launchable() == set(leads.values())


def test_an_open_breaker_holds_the_tenants_import_back(sessions: sessionmaker[Session]) -> None:
    store = PostgresBreakerStore(sessions)
    tenant_id = new_tenant(sessions)
    import_id = uuid.uuid4()
    with sessions.begin() as session:
        tenant = session.get_one(Tenant, tenant_id)
        imports.create_import(
            session, import_id, tenant, filename="leads.csv", created_by="test",
            rows_total=1, rows_accepted=1, rejections=[],
        )  # fmt: skip
        row = Submission(tenant.portal_id, "f", "row-1", "lead@import.example", {}, None, {})
        outbox.accept_new(
            session, tenant, [row], source=SubmissionSource.IMPORT, import_id=import_id
        )

    def waiting() -> set[uuid.UUID]:
        with sessions() as session:
            return {work.import_id for work in imports.waiting_imports(session)}

    assert import_id in waiting()
    opened = store.replace(
        None,
        Breaker(
            "drive", tenant_id, state=BreakerState.OPEN, open_until=now() + timedelta(minutes=1)
        ),
    )
    assert opened is not None
    assert import_id not in waiting()
    assert store.replace(opened, replace(opened, open_until=now() - timedelta(seconds=1)))
    assert import_id in waiting()
