"""Exactly-once writes on real PostgreSQL: one workflow's (`once`) and a batch's
(`once_many`), under the same idempotency records."""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.effects import PostgresEffectStore
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.session import make_session_factory
from sales_agent_pipeline.domain.effects import BatchWrite
from sales_agent_pipeline.domain.errors import PermanentError, TransientError
from sales_agent_pipeline.domain.models import Task
from tests.conftest import accept_lead

SCOPE = "hubspot.task.create"


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def workflows(sessions: sessionmaker[Session], n: int) -> list[uuid.UUID]:
    with sessions.begin() as session:
        tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Effects Co")
        session.add(tenant)
        session.flush()
        return [accept_lead(session, tenant, f"l{i}@x.example").workflow_id for i in range(n)]


class Creator:
    """A batch create endpoint that counts what it made."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.fail: Exception | None = None

    def __call__(self, subjects: Mapping[str, str]) -> BatchWrite[Task]:
        if self.fail is not None:
            raise self.fail
        self.made.extend(subjects.values())
        return BatchWrite(
            created={key: Task(id=f"t-{s}", subject=s) for key, s in subjects.items()}
        )


def test_once_writes_once_and_returns_the_stored_result_after(
    sessions: sessionmaker[Session],
) -> None:
    (workflow_id,) = workflows(sessions, 1)
    effects = PostgresEffectStore(sessions).for_workflow(workflow_id)
    made: list[int] = []

    def create() -> Task:
        made.append(1)
        return Task(id="t-1", subject="call")

    first = effects.once(SCOPE, str(workflow_id), create, model=Task)
    again = effects.once(SCOPE, str(workflow_id), create, model=Task)

    assert first == again == Task(id="t-1", subject="call")
    assert made == [1]


def test_once_after_a_refusal_writes_again_and_after_an_uncertain_error_recovers_first(
    sessions: sessionmaker[Session],
) -> None:
    refused, uncertain = workflows(sessions, 2)
    store = PostgresEffectStore(sessions)

    def refuse() -> Task:
        raise PermanentError("400 bad owner", http_status=400)

    with pytest.raises(PermanentError):
        store.for_workflow(refused).once(SCOPE, str(refused), refuse, model=Task)
    # A refusal wrote nothing upstream: the next attempt writes, and nothing is recovered.
    found = store.for_workflow(refused).once(
        SCOPE,
        str(refused),
        lambda: Task(id="t-2"),
        model=Task,
        recover=lambda: pytest.fail("a refused write is not looked for"),
    )
    assert found.id == "t-2"

    def timeout() -> Task:
        raise TransientError("timed out after the write")

    with pytest.raises(TransientError):
        store.for_workflow(uncertain).once(SCOPE, str(uncertain), timeout, model=Task)
    # The write may have landed: the retry looks for it by its marker before writing.
    recovered = store.for_workflow(uncertain).once(
        SCOPE,
        str(uncertain),
        lambda: pytest.fail("a landed write is not made twice"),
        model=Task,
        recover=lambda: Task(id="t-landed"),
    )
    assert recovered.id == "t-landed"


def test_once_many_writes_the_batch_in_one_call_and_never_again(
    sessions: sessionmaker[Session],
) -> None:
    ids = workflows(sessions, 3)
    store = PostgresEffectStore(sessions)
    create = Creator()
    subjects = {workflow_id: f"s{i}" for i, workflow_id in enumerate(ids)}

    done = store.once_many(SCOPE, subjects, create, model=Task)
    again = store.once_many(SCOPE, subjects, create, model=Task)

    assert done == again == {w: Task(id=f"t-{s}", subject=s) for w, s in subjects.items()}
    assert create.made == ["s0", "s1", "s2"]
    # The per-workflow path finds the batch's records completed.
    single = store.for_workflow(ids[0]).once(
        SCOPE, str(ids[0]), lambda: pytest.fail("written twice"), model=Task
    )
    assert single.id == "t-s0"


def test_once_many_leaves_uncertain_records_to_the_per_workflow_recovery(
    sessions: sessionmaker[Session],
) -> None:
    ids = workflows(sessions, 2)
    store = PostgresEffectStore(sessions)
    create = Creator()
    subjects = {workflow_id: f"u{i}" for i, workflow_id in enumerate(ids)}
    create.fail = TransientError("207: some created")

    with pytest.raises(TransientError):
        store.once_many(SCOPE, subjects, create, model=Task)
    create.fail = None
    # Pending records are not batched again (the writes may exist)...
    assert store.once_many(SCOPE, subjects, create, model=Task) == {}
    assert create.made == []
    # ...the per-workflow path recovers them by marker instead.
    found = store.for_workflow(ids[1]).once(
        SCOPE,
        str(ids[1]),
        lambda: pytest.fail("written twice"),
        model=Task,
        recover=lambda: Task(id="t-u1"),
    )
    assert found.id == "t-u1"
