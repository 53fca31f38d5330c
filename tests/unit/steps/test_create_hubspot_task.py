"""Step 12: the owner's follow-up task, due in two business days, created once per workflow."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from sales_agent_pipeline.domain.drafting import WriterSettings
from sales_agent_pipeline.domain.errors import PermanentError, TransientError, WriteInProgress
from sales_agent_pipeline.domain.models import NewTask
from sales_agent_pipeline.domain.workflow import (
    Action,
    DraftContent,
    NextStep,
    ThreadContext,
    VoiceProfile,
)
from sales_agent_pipeline.ports.vendors import CRM
from sales_agent_pipeline.steps.business_days import BusinessCalendar
from sales_agent_pipeline.steps.create_hubspot_task import (
    build_task,
    create_hubspot_task,
    task_due,
    task_marker,
)
from sales_agent_pipeline.steps.write_draft import TEMPLATE, DraftInputs, write_draft
from tests.fakes import Crash, FakeCRM, FakeEffects
from tests.unit.steps.examples import LEAD, SLOT

DUE = datetime(2026, 11, 26, 14, tzinfo=UTC)


def drafted(plan: NextStep) -> DraftContent:
    """Step 10's template draft of LEAD for this plan."""
    return write_draft(
        DraftInputs(lead=LEAD, context=ThreadContext(), plan=plan, voice=VoiceProfile()),
        TEMPLATE,
        WriterSettings(),
    )


def test_task_due_two_business_days_later_in_the_owner_zone() -> None:
    zone = "America/Los_Angeles"
    friday_evening_utc = datetime(2026, 11, 21, 2, tzinfo=UTC)  # still Friday in LA
    due = task_due(friday_evening_utc, zone, BusinessCalendar())
    assert due == datetime(2026, 11, 24, 9, tzinfo=ZoneInfo(zone))
    assert due.date() == date(2026, 11, 24)


def test_the_task_links_the_draft_and_carries_the_marker() -> None:
    draft = drafted(NextStep(action=Action.ASK_FOR_TIME, reason="r"))
    task = build_task(
        workflow_id="wf-1",
        draft=draft,
        plan=NextStep(action=Action.ASK_FOR_TIME, reason="no slots"),
        draft_link="https://mail.google.com/mail/#drafts?compose=d1",
        due_at=datetime(2026, 11, 26, 14, tzinfo=UTC),
        owner_id="7",
        contact_id="101",
        company_id="201",
        sent=False,
    )
    assert task.body.endswith(task_marker("wf-1"))
    assert "https://mail.google.com/mail/#drafts?compose=d1" in task.body
    assert task.body.startswith("Review and send the prepared follow-up to jane@")
    assert (task.owner_id, task.contact_id, task.company_id) == ("7", "101", "201")


def seeded(*, sent: bool = False) -> tuple[FakeCRM, NewTask]:
    """A portal with the lead's contact, its company and the owner Alex; workflow wf-1's task."""
    crm = FakeCRM()
    owner = crm.add_owner("alex@ourco.example", "Alex")
    plan = NextStep(action=Action.BOOK_MEETING, reason="free time", slots=(SLOT,))
    task = build_task(
        workflow_id="wf-1",
        draft=drafted(plan),
        plan=plan,
        draft_link="https://mail.google.com/mail/#drafts?compose=m1",
        due_at=DUE,
        owner_id=owner.id,
        contact_id=crm.upsert_contact(LEAD.email, {}).id,
        company_id=crm.create_company("Acme Robotics", "acme-robotics.example").id,
        sent=sent,
    )
    return crm, task


def test_the_owner_gets_one_task_on_the_contact_and_company() -> None:
    fake, task = seeded()
    crm: CRM = fake
    created = create_hubspot_task(crm, FakeEffects(), "wf-1", task)
    assert list(fake.tasks.values()) == [created]
    assert (created.owner_id, created.contact_ids, created.company_ids) == (
        task.owner_id,
        (task.contact_id,),
        (task.company_id,),
    )
    assert (created.due_at, created.priority, created.status) == (DUE, "HIGH", "NOT_STARTED")
    assert created.subject == f"Follow up with {LEAD.email}"
    assert (created.body or "").endswith(task_marker("wf-1"))


def test_a_rerun_of_the_workflow_makes_no_second_task() -> None:
    crm, task = seeded()
    effects = FakeEffects()
    first = create_hubspot_task(crm, effects, "wf-1", task)
    assert create_hubspot_task(crm, effects, "wf-1", task) == first
    assert list(crm.tasks) == [first.id]


def test_a_rate_limited_create_is_made_by_the_retry() -> None:
    crm, task = seeded()
    effects = FakeEffects()
    crm.fail_next("create_task", TransientError("HubSpot 429", http_status=429), times=2)
    for _ in range(2):
        with pytest.raises(TransientError):
            create_hubspot_task(crm, effects, "wf-1", task)
    created = create_hubspot_task(crm, effects, "wf-1", task)
    assert list(crm.tasks) == [created.id]


def test_a_task_whose_answer_was_lost_is_found_by_its_marker() -> None:
    crm, task = seeded()
    effects = FakeEffects()
    crm.fail_next("create_task", TransientError("HubSpot 502"), after_write=True)
    with pytest.raises(TransientError):
        create_hubspot_task(crm, effects, "wf-1", task)
    found = create_hubspot_task(crm, effects, "wf-1", task)
    assert list(crm.tasks) == [found.id]
    assert crm.calls["create_task"] == 1


def test_a_crash_between_the_task_and_its_record_leaves_one_task() -> None:
    crm, task = seeded()
    effects = FakeEffects()
    effects.crash_after_next("hubspot.task.create")
    with pytest.raises(Crash):
        create_hubspot_task(crm, effects, "wf-1", task)
    found = create_hubspot_task(crm, effects, "wf-1", task)
    assert list(crm.tasks) == [found.id]
    # The record now holds the task: a later run neither searches nor creates.
    searches = crm.calls["find_task_by_marker"]
    assert create_hubspot_task(crm, effects, "wf-1", task) == found
    assert crm.calls["find_task_by_marker"] == searches


def test_a_refused_task_is_not_made_and_a_later_attempt_may_make_it() -> None:
    crm, task = seeded()
    effects = FakeEffects()
    crm.fail_next("create_task", PermanentError("HubSpot 400", http_status=400))
    with pytest.raises(PermanentError):
        create_hubspot_task(crm, effects, "wf-1", task)
    assert crm.tasks == {}
    created = create_hubspot_task(crm, effects, "wf-1", task)
    assert list(crm.tasks) == [created.id]
    # Nothing was written, so there was nothing to look for.
    assert crm.calls["find_task_by_marker"] == 0


def test_the_task_of_a_sent_mail_says_it_was_sent() -> None:
    crm, task = seeded(sent=True)
    created = create_hubspot_task(crm, FakeEffects(), "wf-1", task)
    assert (created.body or "").startswith(f'Sent follow-up to {LEAD.email}: "')


def test_a_lost_answer_is_not_written_again_while_search_lags_and_is_found_later() -> None:
    crm, task = seeded()
    crm.search_lags = True
    effects = FakeEffects()
    crm.fail_next("create_task", TransientError("HubSpot 504"), after_write=True)
    with pytest.raises(TransientError):
        create_hubspot_task(crm, effects, "wf-1", task)
    # The task exists but the search does not show it yet: a retry later, no second task.
    for seconds in (1, 30, 120):
        effects.advance(seconds)
        with pytest.raises(WriteInProgress) as waiting:
            create_hubspot_task(crm, effects, "wf-1", task)
        assert waiting.value.retry_after_seconds
    assert (crm.calls["create_task"], len(crm.tasks)) == (1, 1)
    crm.index()
    found = create_hubspot_task(crm, effects, "wf-1", task)
    assert list(crm.tasks) == [found.id]
    assert effects.result("hubspot.task.create", "wf-1") == found.model_dump(mode="json")


def test_a_write_not_found_within_the_lag_window_is_made_again() -> None:
    crm, task = seeded()
    crm.search_lags = True
    effects = FakeEffects()
    # A 503 before anything was written: from here it looks like any other 5xx.
    crm.fail_next("create_task", TransientError("HubSpot 503", http_status=503))
    with pytest.raises(TransientError):
        create_hubspot_task(crm, effects, "wf-1", task)
    with pytest.raises(WriteInProgress):
        create_hubspot_task(crm, effects, "wf-1", task)
    assert crm.tasks == {}
    effects.advance(301)
    created = create_hubspot_task(crm, effects, "wf-1", task)
    assert list(crm.tasks) == [created.id]
    record = effects.record("hubspot.task.create", "wf-1")
    assert record is not None
    assert record.write_attempts == 2


def test_another_runs_live_lease_is_a_retry_later_never_a_second_task() -> None:
    crm, task = seeded()
    run_1 = FakeEffects()
    run_1.crash_after_next("hubspot.task.create")
    with pytest.raises(Crash):
        create_hubspot_task(crm, run_1, "wf-1", task)
    run_2 = run_1.as_owner("run-2")
    with pytest.raises(WriteInProgress):
        create_hubspot_task(crm, run_2, "wf-1", task)
    assert (crm.calls["create_task"], crm.calls["find_task_by_marker"]) == (1, 0)
    # Once the dead run's lease expires, the other run looks the task up: still one.
    run_2.advance(601)
    found = create_hubspot_task(crm, run_2, "wf-1", task)
    assert list(crm.tasks) == [found.id]
