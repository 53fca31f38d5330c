"""The dead-letter queue on the real database: a dead letter's next re-drive by its count,
the re-drive of due ones only (once, even from two ticks at once), and a person's replay and
discard, refused for what is not a dead letter or not the tenant's, with nothing changed."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import Tenant, Workflow, WorkflowEvent
from sales_agent_pipeline.db.repositories import workflows
from sales_agent_pipeline.db.session import make_session_factory
from sales_agent_pipeline.domain.enums import ErrorClass, WorkflowStatus
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from sales_agent_pipeline.usecases import dead_letters
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import add_workflow

DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(hours=1))


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def tenant(engine: Engine) -> Tenant:
    return make_tenant(engine, SecretBox([generate_key()]), webhook_secret=None)


def dead_letter(engine: Engine, tenant: Tenant, *, due_in: timedelta | None, **values: Any) -> Any:
    """A dead letter of the tenant whose next re-drive is `due_in` from now (None: a person's)."""
    workflow_id = add_workflow(
        engine,
        tenant,
        f"lead.{uuid.uuid4().hex[:8]}@acme.example",
        status="dead_letter",
        error_class="transient",
        failure_reason="step 12 create_hubspot_task: still failing after 4 retries: 503",
        dagster_run_id=str(uuid.uuid4()),
        run_requested_at=func.now(),
        attempts=1,
        **values,
    )
    if due_in is not None:
        with Session(engine) as session, session.begin():
            session.execute(
                update(Workflow)
                .where(Workflow.id == workflow_id)
                .values(next_redrive_at=func.now() + due_in)
            )
    return workflow_id


def row(engine: Engine, workflow_id: uuid.UUID) -> Workflow:
    with Session(engine, expire_on_commit=False) as session:
        return session.get_one(Workflow, workflow_id)


def events(engine: Engine, workflow_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    with Session(engine) as session:
        return [
            (event.event_type, event.details)
            for event in session.scalars(
                select(WorkflowEvent)
                .where(WorkflowEvent.workflow_id == workflow_id)
                .order_by(WorkflowEvent.id)
            )
        ]


def close_as_dead_letter(sessions: sessionmaker[Session], workflow_id: uuid.UUID) -> None:
    with sessions.begin() as session:
        workflows.finish(
            session,
            workflow_id,
            WorkflowStatus.DEAD_LETTER,
            reason="step 2 resolve_contact: still failing after 4 retries: HubSpot 503",
            error_class=ErrorClass.TRANSIENT,
            redrive_delays=DELAYS,
        )


def seconds_until_redrive(engine: Engine, workflow_id: uuid.UUID) -> float | None:
    with Session(engine) as session:
        due = session.scalar(
            select(func.extract("epoch", Workflow.next_redrive_at - Workflow.completed_at)).where(
                Workflow.id == workflow_id
            )
        )
    return None if due is None else float(due)


def test_each_dead_letter_waits_the_delay_of_its_redrive_count_then_stays_for_a_person(
    engine: Engine, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    waits = []
    for redrives in range(len(DELAYS) + 1):
        workflow_id = add_workflow(
            engine, tenant, f"n{redrives}@acme.example", status="running", redrives=redrives
        )
        close_as_dead_letter(sessions, workflow_id)
        stored = row(engine, workflow_id)
        assert stored.status == "dead_letter"
        assert stored.error_class == "transient"
        assert stored.failure_reason is not None
        assert "HubSpot 503" in stored.failure_reason
        waits.append(seconds_until_redrive(engine, workflow_id))
    # now() is the transaction's start, completed_at the statement's clock: close, not equal.
    assert [round(w) if w is not None else None for w in waits] == [60, 300, 3600, None]


def test_a_permanent_error_fails_at_once_with_no_redrive(
    engine: Engine, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    workflow_id = add_workflow(engine, tenant, "perm@acme.example", status="running")
    with sessions.begin() as session:
        workflows.finish(
            session,
            workflow_id,
            WorkflowStatus.FAILED,
            reason="step 12 create_hubspot_task: HTTP 400",
            error_class=ErrorClass.PERMANENT,
            redrive_delays=DELAYS,
        )
    stored = row(engine, workflow_id)
    assert (stored.status, stored.error_class, stored.next_redrive_at) == (
        "failed",
        "permanent",
        None,
    )


def test_the_redrive_queues_due_dead_letters_only(
    engine: Engine, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    due = dead_letter(engine, tenant, due_in=timedelta(seconds=-1), redrives=2)
    later = dead_letter(engine, tenant, due_in=timedelta(minutes=5))
    for_a_person = dead_letter(engine, tenant, due_in=None, redrives=len(DELAYS))

    with sessions.begin() as session:
        redriven = dead_letters.redrive_due(session, limit=1000)

    assert due in redriven
    assert later not in redriven
    assert for_a_person not in redriven
    queued = row(engine, due)
    assert queued.status == "queued"
    assert queued.run_requested_at is None
    assert queued.dagster_run_id is None
    assert (queued.redrives, queued.next_redrive_at, queued.attempts) == (3, None, 0)
    assert events(engine, due)[-1] == ("dead_letter_redriven", {"redrive": 3})
    assert row(engine, later).status == "dead_letter"
    assert row(engine, for_a_person).status == "dead_letter"
    with sessions.begin() as session:
        assert due not in dead_letters.redrive_due(session, limit=1000)


def test_two_ticks_at_once_redrive_a_dead_letter_once(
    engine: Engine, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    letters = {dead_letter(engine, tenant, due_in=timedelta(seconds=-1)) for _ in range(20)}
    taken: list[list[uuid.UUID]] = []
    start = threading.Barrier(2)

    def tick() -> None:
        with sessions.begin() as session:
            start.wait()
            taken.append(dead_letters.redrive_due(session, limit=1000))

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ours = [[i for i in ids if i in letters] for ids in taken]
    assert sorted(ours[0] + ours[1]) == sorted(letters)  # every one, none twice
    assert {row(engine, i).redrives for i in letters} == {1}


def test_a_replay_queues_the_dead_letter_and_starts_its_schedule_again(
    engine: Engine, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    letter = dead_letter(engine, tenant, due_in=None, redrives=len(DELAYS))
    with sessions.begin() as session:
        queued = dead_letters.replay(session, [letter], tenant_id=tenant.id, actor="alice")
    assert queued == [letter]
    stored = row(engine, letter)
    assert (stored.status, stored.redrives, stored.run_requested_at) == ("queued", 0, None)
    assert events(engine, letter)[-1] == ("dead_letter_replayed", {"requested_by": "alice"})


def test_replaying_what_is_not_a_dead_letter_changes_nothing(
    engine: Engine, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    letter = dead_letter(engine, tenant, due_in=None)
    done = add_workflow(engine, tenant, "done@acme.example", status="succeeded")
    with (
        pytest.raises(dead_letters.NotDeadLetter, match=f"{done} is succeeded"),
        sessions.begin() as session,
    ):
        dead_letters.replay(session, [letter, done], tenant_id=tenant.id, actor="alice")
    assert row(engine, letter).status == "dead_letter"
    assert events(engine, letter) == []

    other = make_tenant(engine, SecretBox([generate_key()]), webhook_secret=None)
    theirs = dead_letter(engine, other, due_in=None)
    with (
        pytest.raises(dead_letters.UnknownWorkflows, match=str(theirs)),
        sessions.begin() as session,
    ):
        dead_letters.discard(
            session, [theirs], tenant_id=tenant.id, actor="alice", reason="not mine"
        )
    assert row(engine, theirs).status == "dead_letter"


def test_replay_all_takes_every_dead_letter_of_the_tenant_only(
    engine: Engine, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    mine = {dead_letter(engine, tenant, due_in=None) for _ in range(3)}
    other = make_tenant(engine, SecretBox([generate_key()]), webhook_secret=None)
    theirs = dead_letter(engine, other, due_in=None)
    with sessions.begin() as session:
        queued = dead_letters.replay(session, None, tenant_id=tenant.id, actor="alice")
    assert set(queued) == mine
    assert row(engine, theirs).status == "dead_letter"


def test_a_discard_fails_the_dead_letter_with_the_reason_audited(
    engine: Engine, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    letter = dead_letter(engine, tenant, due_in=timedelta(minutes=5))
    with sessions.begin() as session:
        dead_letters.discard(
            session, [letter], tenant_id=tenant.id, actor="alice", reason="duplicate lead"
        )
    stored = row(engine, letter)
    assert stored.status == "failed"
    assert stored.next_redrive_at is None
    assert stored.failure_reason == (
        "discarded from the dead-letter queue by alice: duplicate lead"
    )
    assert events(engine, letter)[-1] == (
        "dead_letter_discarded",
        {"discarded_by": "alice", "reason": "duplicate lead"},
    )
