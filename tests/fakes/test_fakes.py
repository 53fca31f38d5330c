"""The fakes' own behaviour the step tests do not reach, for the runner tests that rely on it."""

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from sales_agent_pipeline.domain.effects import BatchWrite
from sales_agent_pipeline.domain.errors import TransientError
from sales_agent_pipeline.domain.models import NewTask, Task, UpstreamSubmission
from tests.fakes import Crash, FakeCalendar, FakeCRM, FakeEffects

NOON = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_a_misspelt_method_cannot_be_failed() -> None:
    with pytest.raises(AttributeError):
        FakeCRM().fail_next("create_tsk", TransientError("x"))


def test_batch_tasks_are_made_100_a_request_and_read_back_without_the_deleted() -> None:
    crm = FakeCRM()
    contact = crm.upsert_contact("jane@acme.example", {}).id
    batch = crm.create_tasks(
        {f"k{n}": NewTask(subject=f"t{n}", due_at=NOON, contact_id=contact) for n in range(150)}
    )
    made = [batch.created[f"k{n}"] for n in range(150)]
    assert [t.subject for t in made] == [f"t{n}" for n in range(150)]
    assert crm.calls["create_tasks"] == 2
    crm.delete_task(made[0].id)
    assert set(crm.get_tasks([t.id for t in made[:3]])) == {made[1].id, made[2].id}


def test_form_submissions_come_newest_first_page_by_page() -> None:
    crm = FakeCRM()
    for n in range(120):
        crm.add_submission(
            UpstreamSubmission(
                conversion_id=f"c{n}",
                form_id="f",
                submitted_at=NOON + timedelta(minutes=n),
                values={"email": f"b{n}@acme.example"},
            )
        )
    first = crm.list_form_submissions("f")
    assert (len(first.submissions), first.submissions[0].conversion_id) == (50, "c119")
    assert [s.conversion_id for s in crm.iter_form_submissions("f")][-1] == "c0"
    assert crm.calls["list_form_submissions"] == 4  # three pages and the first look


def test_busy_blocks_are_clipped_to_the_window_and_unknown_calendars_are_free() -> None:
    calendar = FakeCalendar()
    calendar.add_busy("alex@ourco.example", NOON - timedelta(hours=1), NOON + timedelta(hours=1))
    busy = calendar.busy_intervals(
        ["alex@ourco.example", "sam@ourco.example"], NOON, NOON + timedelta(hours=8)
    )
    [block] = busy["alex@ourco.example"]
    assert (block.start, block.end) == (NOON, NOON + timedelta(hours=1))
    assert busy["sam@ourco.example"] == []


def test_many_writes_at_once_skip_the_done_and_leave_the_crashed_to_once() -> None:
    effects = FakeEffects()
    done, crashed, fresh = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    earlier = effects.once("s", str(done), lambda: Task(id="1"), model=Task)
    effects.crash_after_next("s")
    with pytest.raises(Crash):
        effects.once("s", str(crashed), lambda: Task(id="2"), model=Task)
    written: list[str] = []

    def create(subjects: Mapping[str, str]) -> BatchWrite[Task]:
        written.extend(subjects.values())
        return BatchWrite(created={key: Task(id=f"new-{s}") for key, s in subjects.items()})

    items = {done: "a", crashed: "b", fresh: "c"}
    results = effects.once_many("s", items, create, model=Task)
    assert written == ["c"]
    assert results == {done: earlier, fresh: Task(id="new-c")}
    # The crashed one is recovered by `once` before anything is written again.
    again = effects.once(
        "s", str(crashed), lambda: Task(id="3"), model=Task, recover=lambda: Task(id="2")
    )
    assert again == Task(id="2")
