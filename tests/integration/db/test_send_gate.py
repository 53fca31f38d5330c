"""The send gate on real PostgreSQL: concurrent reservations of one tenant never pass its
daily cap, a slot is one per workflow and comes back when released, and the kill switches
and the mode are read in the reservation's own transaction."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import DraftEmail, GlobalSwitch, SendReservation, Tenant
from sales_agent_pipeline.db.repositories.sends import PostgresSendGate
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.domain.enums import ReservationStatus, WorkflowMode
from sales_agent_pipeline.domain.sending import SEND_KILL_SWITCH, SendBlock
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.send_switches import kill_switch, set_kill_switch
from tests.conftest import accept_lead

SETTINGS = Settings(_env_file=None)


@pytest.fixture(scope="module")
def sessions(database_url: URL) -> Iterator[sessionmaker[Session]]:
    """A pool big enough for 25 threads at once, as the runs' processes together have."""
    engine = make_engine(database_url, pool_size=25)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(autouse=True)
def switch_off(sessions: sessionmaker[Session]) -> Iterator[None]:
    """The global switch stops every tenant in this database: off before and after."""

    def off() -> None:
        with sessions.begin() as session:
            session.execute(delete(GlobalSwitch).where(GlobalSwitch.name == SEND_KILL_SWITCH))

    off()
    yield
    off()


def tenant_with(
    sessions: sessionmaker[Session], leads: int, *, cap: int, mode: str | None = "SEND"
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A tenant in `mode` with this daily cap and `leads` accepted workflows."""
    with sessions.begin() as session:
        tenant = Tenant(
            portal_id=random.randint(10**6, 10**9), name="Gate Co", mode=mode, daily_send_cap=cap
        )
        session.add(tenant)
        session.flush()
        ids = [accept_lead(session, tenant, f"g{i}@x.example").workflow_id for i in range(leads)]
        return tenant.id, ids


def slots(sessions: sessionmaker[Session], tenant_id: uuid.UUID) -> dict[str, int]:
    with sessions() as session:
        rows = session.execute(
            select(SendReservation.status, func.count())
            .where(SendReservation.tenant_id == tenant_id)
            .group_by(SendReservation.status)
        )
        return dict(rows.all())


def test_fifty_concurrent_reservations_against_a_cap_of_ten_grant_exactly_ten(
    sessions: sessionmaker[Session],
) -> None:
    tenant_id, workflows = tenant_with(sessions, 50, cap=10)
    gate = PostgresSendGate(sessions, SETTINGS)
    with ThreadPoolExecutor(max_workers=25) as pool:
        grants = list(pool.map(lambda w: gate.reserve(tenant_id, w), workflows))
    assert sum(g.granted for g in grants) == 10
    refused = [g for g in grants if not g.granted]
    assert {(g.block, g.reason, g.held) for g in refused} == {
        (SendBlock.DAILY_CAP, "daily send cap of 10 reached", False)
    }
    assert slots(sessions, tenant_id) == {"reserved": 10}


def test_a_slot_is_one_per_workflow_and_returns_when_released(
    sessions: sessionmaker[Session],
) -> None:
    tenant_id, (first, second, third) = tenant_with(sessions, 3, cap=2)
    gate = PostgresSendGate(sessions, SETTINGS)
    assert gate.reserve(tenant_id, first).granted
    # A retry of the same workflow gets its own slot back, not a second one.
    assert gate.reserve(tenant_id, first).granted
    assert gate.reserve(tenant_id, second).granted
    assert not gate.reserve(tenant_id, third).granted
    gate.release(second)  # Gmail refused that send: nothing went out
    assert gate.reserve(tenant_id, third).granted
    gate.mark_sent(first)
    gate.release(first)  # a used slot stays used
    assert slots(sessions, tenant_id) == {"sent": 1, "reserved": 1, "released": 1}
    assert not gate.reserve(tenant_id, second).granted


def test_emails_sent_before_slots_existed_count_against_the_cap(
    sessions: sessionmaker[Session],
) -> None:
    tenant_id, (earlier, later) = tenant_with(sessions, 2, cap=1)
    with sessions.begin() as session:
        session.add(
            DraftEmail(
                workflow_id=earlier, to_email="e@x.example", subject="s", body="b",
                sent=True, sent_at=datetime.now(UTC), mode="SEND",
            )
        )  # fmt: skip
    grant = PostgresSendGate(sessions, SETTINGS).reserve(tenant_id, later)
    assert (grant.granted, grant.block) == (False, SendBlock.DAILY_CAP)


def test_yesterdays_slots_leave_today_free(sessions: sessionmaker[Session]) -> None:
    tenant_id, (yesterday, today) = tenant_with(sessions, 2, cap=1)
    now = datetime.now(UTC)
    assert (
        PostgresSendGate(sessions, SETTINGS, lambda: now - timedelta(days=1))
        .reserve(tenant_id, yesterday)
        .granted
    )
    assert PostgresSendGate(sessions, SETTINGS, lambda: now).reserve(tenant_id, today).granted


def test_the_switches_and_the_mode_are_read_at_reservation_time(
    sessions: sessionmaker[Session],
) -> None:
    tenant_id, (a, b, c, d) = tenant_with(sessions, 4, cap=10)
    gate = PostgresSendGate(sessions, SETTINGS)
    with sessions.begin() as session:
        set_kill_switch(session, SETTINGS, on=True, changed_by="test", reason="incident 7")
    stopped = gate.reserve(tenant_id, a)
    assert (stopped.granted, stopped.block, stopped.reason) == (
        False, SendBlock.KILL_SWITCH, "send kill switch is on",
    )  # fmt: skip
    with sessions.begin() as session:
        switch = set_kill_switch(session, SETTINGS, on=False, changed_by="test", reason=None)
        assert (switch.on, switch.changed_by) == (False, "test")
        session.execute(update(Tenant).where(Tenant.id == tenant_id).values(send_kill_switch=True))
    assert gate.reserve(tenant_id, b).block is SendBlock.KILL_SWITCH
    with sessions.begin() as session:
        session.execute(
            update(Tenant)
            .where(Tenant.id == tenant_id)
            .values(send_kill_switch=False, mode=WorkflowMode.DRAFT_ONLY.value)
        )
    assert gate.reserve(tenant_id, c).block is SendBlock.MODE
    # An approval asks for this one send explicitly: the mode does not stop it.
    assert gate.reserve(tenant_id, c, approved=True).granted
    # SEND_KILL_SWITCH in the environment forces the switch on for its process.
    forced = Settings(_env_file=None, send_kill_switch=True)
    assert PostgresSendGate(sessions, forced).reserve(tenant_id, d, approved=True).block is (
        SendBlock.KILL_SWITCH
    )
    with sessions() as session:
        assert kill_switch(session, forced).as_json()["forced_by_environment"] is True
    assert slots(sessions, tenant_id) == {"reserved": 1}


def test_a_held_slot_is_kept_while_a_switch_refuses_its_retry(
    sessions: sessionmaker[Session],
) -> None:
    tenant_id, (workflow,) = tenant_with(sessions, 1, cap=1)
    gate = PostgresSendGate(sessions, SETTINGS)
    assert gate.reserve(tenant_id, workflow).granted
    with sessions.begin() as session:
        set_kill_switch(session, SETTINGS, on=True, changed_by="test", reason="stop")
    retry = gate.reserve(tenant_id, workflow)
    # Its send may have reached Gmail: the step resolves it before the slot is given back.
    assert (retry.granted, retry.held, retry.block) == (False, True, SendBlock.KILL_SWITCH)
    assert slots(sessions, tenant_id) == {ReservationStatus.RESERVED.value: 1}


def test_no_lock_is_left_after_a_reservation(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    tenant_id, (workflow,) = tenant_with(sessions, 1, cap=1)
    PostgresSendGate(sessions, SETTINGS).reserve(tenant_id, workflow)
    with Session(engine) as session, session.begin():
        # NOWAIT: an error if anything still held the tenant's row.
        session.execute(
            select(Tenant.id).where(Tenant.id == tenant_id).with_for_update(nowait=True)
        )
