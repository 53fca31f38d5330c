"""Exactly-once writes under uncertainty on real PostgreSQL: leases between runs, look-ups
that wait out a lagging search index, and the happy path's two statements."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.effects import PostgresEffects, PostgresEffectStore
from sales_agent_pipeline.db.models import IdempotencyKey
from sales_agent_pipeline.db.session import make_session_factory
from sales_agent_pipeline.domain.effects import EffectPolicy
from sales_agent_pipeline.domain.errors import TransientError, WriteInProgress
from sales_agent_pipeline.domain.models import Company, Task
from sales_agent_pipeline.domain.workflow import CompanyResult
from sales_agent_pipeline.steps.resolve_company import resolve_company
from tests.fakes import FakeCRM
from tests.integration.db.test_effects import SCOPE, workflows
from tests.unit.steps.examples import lead


class Killed(BaseException):
    """The process died during the vendor call: nothing after it ran."""


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def effects(
    sessions: sessionmaker[Session], owner: str, workflow_id: uuid.UUID, **policy: float
) -> PostgresEffects:
    store = PostgresEffectStore(sessions, owner=owner, policy=EffectPolicy(**policy))
    return store.for_workflow(workflow_id)


def record(sessions: sessionmaker[Session], key: uuid.UUID) -> IdempotencyKey:
    with sessions() as session:
        return session.execute(
            select(IdempotencyKey).where(IdempotencyKey.key == str(key))
        ).scalar_one()


def killed() -> Task:
    raise Killed


def test_another_runs_live_lease_is_a_retry_later_never_a_second_write(
    sessions: sessionmaker[Session],
) -> None:
    (workflow_id,) = workflows(sessions, 1)
    key = str(workflow_id)
    with pytest.raises(Killed):
        effects(sessions, "run-a", workflow_id).once(SCOPE, key, killed, model=Task)

    with pytest.raises(WriteInProgress) as caught:
        effects(sessions, "run-b", workflow_id).once(
            SCOPE,
            key,
            lambda: pytest.fail("written under another run's lease"),
            model=Task,
            recover=lambda: pytest.fail("looked up under another run's lease"),
        )
    assert caught.value.retry_after_seconds is not None
    assert 1 <= caught.value.retry_after_seconds <= 600
    assert (
        record(sessions, workflow_id).lease_owner,
        record(sessions, workflow_id).write_attempts,
    ) == (
        "run-a",
        1,
    )
    # The same run takes its own lease over, and looks for the write before anything else.
    found = effects(sessions, "run-a", workflow_id).once(
        SCOPE, key, lambda: pytest.fail("written twice"), model=Task, recover=lambda: Task(id="a")
    )
    assert found.id == "a"


def test_an_expired_lease_is_taken_over_by_another_run(sessions: sessionmaker[Session]) -> None:
    (workflow_id,) = workflows(sessions, 1)
    key = str(workflow_id)
    with pytest.raises(Killed):
        effects(sessions, "run-a", workflow_id, lease_seconds=0.3).once(
            SCOPE, key, killed, model=Task
        )
    time.sleep(0.4)
    found = effects(sessions, "run-b", workflow_id).once(
        SCOPE, key, lambda: pytest.fail("written twice"), model=Task, recover=lambda: Task(id="a")
    )
    assert found.id == "a"
    assert record(sessions, workflow_id).status == "completed"


def test_an_uncertain_write_is_looked_for_until_the_search_has_caught_up(
    sessions: sessionmaker[Session],
) -> None:
    landed, lost = workflows(sessions, 2)

    def timeout() -> Task:
        raise TransientError("HubSpot create task timed out")

    for workflow_id in (landed, lost):
        with pytest.raises(TransientError):
            effects(sessions, "run-a", workflow_id).once(
                SCOPE, str(workflow_id), timeout, model=Task
            )
        row = record(sessions, workflow_id)
        assert (row.status, row.write_attempts, row.lease_expires_at) == ("pending", 1, None)
        assert row.uncertain_since is not None

    # The search does not see the task yet: no second write, a retry later (another run).
    with pytest.raises(WriteInProgress):
        effects(sessions, "run-b", landed, lag_window_seconds=60).once(
            SCOPE,
            str(landed),
            lambda: pytest.fail("written again inside the lag window"),
            model=Task,
            recover=lambda: None,
        )
    # Once the index has caught up the look-up finds it: completed with the found task.
    found = effects(sessions, "run-b", landed, lag_window_seconds=60).once(
        SCOPE,
        str(landed),
        lambda: pytest.fail("written twice"),
        model=Task,
        recover=lambda: Task(id="t-landed"),
    )
    assert found.id == "t-landed"
    assert record(sessions, landed).result == found.model_dump(mode="json")

    # Never found within the window: the write surely did not land, and is made again.
    time.sleep(1.1)
    again = effects(sessions, "run-b", lost, lag_window_seconds=1).once(
        SCOPE, str(lost), lambda: Task(id="t-again"), model=Task, recover=lambda: None
    )
    assert again.id == "t-again"
    assert (record(sessions, lost).status, record(sessions, lost).write_attempts) == (
        "completed",
        2,
    )


def test_a_first_write_opens_in_one_statement_and_completes_in_one(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    (workflow_id,) = workflows(sessions, 1)
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]).split()[0])

    event.listen(engine, "before_cursor_execute", seen)
    try:
        effects(sessions, "run-a", workflow_id).once(
            SCOPE, str(workflow_id), lambda: Task(id="t-1"), model=Task
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements == ["INSERT", "UPDATE"]


class GatedCRM(FakeCRM):
    """HubSpot whose company create waits for a signal: a call still in flight."""

    def __init__(self) -> None:
        super().__init__(search_lags=True)
        self.calling = threading.Event()
        self.go_on = threading.Event()

    def create_company(
        self, name: str, domain: str | None = None, properties: Any = None
    ) -> Company:
        self.calling.set()
        assert self.go_on.wait(10)
        return super().create_company(name, domain, properties)


def test_two_runs_of_one_new_company_create_it_once(sessions: sessionmaker[Session]) -> None:
    crm = GatedCRM()
    jane = lead("jane@acme-robotics.example", company="Acme Robotics")
    sam = lead("sam@acme-robotics.example", company="Acme Robotics")
    contacts = {p.email: crm.upsert_contact(p.email, {}).id for p in (jane, sam)}
    ids = dict(zip(("run-a", "run-b"), workflows(sessions, 2), strict=True))
    results: dict[str, CompanyResult] = {}
    waited: list[str] = []

    def run(owner: str, prospect: Any) -> None:
        # The runner's part: a WriteInProgress is retried later.
        for _ in range(100):
            try:
                results[owner] = resolve_company(
                    crm, effects(sessions, owner, ids[owner]), prospect, contacts[prospect.email]
                )
                return
            except WriteInProgress:
                waited.append(owner)
                crm.go_on.set()
                time.sleep(0.05)

    first = threading.Thread(target=run, args=("run-a", jane))
    first.start()
    assert crm.calling.wait(10)
    second = threading.Thread(target=run, args=("run-b", sam))
    second.start()
    for thread in (first, second):
        thread.join(20)

    assert len(crm.companies) == 1
    assert results["run-a"].company == results["run-b"].company == crm.companies[0]
    assert waited  # the second run met the first one's live lease...
    assert set(waited) == {"run-b"}  # ...and the first never waited
    assert all(crm.companies_of(contact) == crm.companies for contact in contacts.values())
