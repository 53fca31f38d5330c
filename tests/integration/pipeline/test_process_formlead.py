"""One lead through all 13 steps, and the ways a run can go wrong without duplicating."""

from __future__ import annotations

import threading
from typing import Any

from dagster import DagsterInstance
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import DraftEmail, HubspotTask, Workflow, WorkflowEvent
from sales_agent_pipeline.settings import get_settings
from sales_agent_pipeline.workflow.table import STEPS
from tests.integration.pipeline.conftest import Lead
from tests.sandbox.conftest import Admin

PROSPECT = "jordan.lee@acme-robotics.example"  # demo contact: owner Alex, thread, robotics


def workflow(engine: Engine, lead: Lead) -> Workflow:
    with Session(engine) as session:
        return session.get_one(Workflow, lead.workflow_id)


def events(
    engine: Engine, lead: Lead, status: str = "succeeded"
) -> list[tuple[int | None, str | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(WorkflowEvent.step_number, WorkflowEvent.step_name)
            .where(WorkflowEvent.workflow_id == lead.workflow_id, WorkflowEvent.status == status)
            .order_by(WorkflowEvent.id)
        ).all()
    return [(number, name) for number, name in rows]


STEP_EVENTS: list[tuple[int | None, str | None]] = list(enumerate(STEPS, start=1))


def drafts_to(sandbox: Admin, email: str) -> list[dict[str, Any]]:
    return [d for d in sandbox.drafts() if email in d["to"]]


def tasks_for(sandbox: Admin, lead: Lead) -> list[dict[str, Any]]:
    marker = f"[sales-agent workflow {lead.workflow_id}]"
    return [t for t in sandbox.tasks() if marker in (t["properties"].get("hs_task_body") or "")]


def test_one_lead_goes_through_the_13_steps(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    lead = submit(PROSPECT, interest="Fleet automation for our warehouses", industry="Robotics")
    result = run(lead)
    assert result.success

    assert events(engine, lead) == STEP_EVENTS
    stored = workflow(engine, lead)
    assert (stored.status, stored.mode) == ("succeeded", "DRAFT_ONLY")
    assert stored.duration_ms is not None
    assert stored.completed_at is not None

    drafts = drafts_to(sandbox, PROSPECT)
    assert len(drafts) == 1
    draft = drafts[0]
    # A reply in the existing thread, threaded the way Gmail needs.
    assert draft["threadId"] == "thread-acme-robotics"
    assert draft["inReplyTo"]
    assert draft["inReplyTo"] in draft["references"]
    assert draft["subject"].startswith("Re: ")
    assert "\u2014" not in draft["body"]

    with Session(engine) as session:
        row = session.scalars(
            select(DraftEmail).where(DraftEmail.workflow_id == lead.workflow_id)
        ).one()
        task_row = session.scalars(
            select(HubspotTask).where(HubspotTask.workflow_id == lead.workflow_id)
        ).one()
    assert row.gmail_draft_id == draft["draftId"]
    assert row.sent is False
    assert row.assets_included == 1
    # Step 7 ranks by content: the demo's warehouse fleet case study, whose name says nothing.
    assert row.assets[0]["id"] == "file-cs-northwind"

    tasks = tasks_for(sandbox, lead)
    assert len(tasks) == 1
    task = tasks[0]
    assert task["id"] == task_row.hubspot_task_id
    assert task["properties"]["hubspot_owner_id"] == "90000001"
    assert task["associations"]["contacts"] == ["4100000001"]
    assert task["associations"]["companies"] == ["5100000001"]

    labelled = [m for m in sandbox.sent(include_seeded=True) if m["threadId"] == draft["threadId"]]
    assert labelled
    assert all(any(lbl.startswith("Label_") for lbl in m["labelIds"]) for m in labelled)

    metadata = result.asset_materializations_for_node("lead_followup")[0].metadata
    assert metadata["recipient"].value == PROSPECT
    assert "Re: " in metadata["draft"].value


def test_a_hubspot_429_is_retried_and_makes_one_task(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    lead = submit("new.buyer@acme-robotics.example")
    sandbox.fault(
        pathPattern="/crm/v3/objects/tasks", method="POST", status=429, count=2, retryAfter=0
    )
    assert run(lead).success
    assert len(tasks_for(sandbox, lead)) == 1
    assert workflow(engine, lead).status == "succeeded"


def test_a_permanent_400_fails_the_lead_with_the_reason_and_no_retry(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    lead = submit("rejects.task@acme-robotics.example")
    sandbox.fault(pathPattern="/crm/v3/objects/tasks", method="POST", status=400, count=5)
    result = run(lead)
    assert not result.success
    stored = workflow(engine, lead)
    assert stored.status == "failed"
    assert stored.failure_reason is not None
    assert stored.failure_reason.startswith("step 12 create_hubspot_task")
    assert tasks_for(sandbox, lead) == []
    counts = {row["endpoint"]: row["count"] for row in sandbox.calls()["endpoints"]}
    assert counts["POST /crm/v3/objects/tasks"] == 1
    assert events(engine, lead, status="retrying") == []
    # The draft was already made and stays (one), the task never was.
    assert len(drafts_to(sandbox, "rejects.task@acme-robotics.example")) == 1


def test_a_draft_write_that_fails_after_commit_leaves_one_draft(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    email = "after.commit@acme-robotics.example"
    lead = submit(email)
    sandbox.fault(
        pathPattern="/gmail/v1/users/*/drafts", method="POST", status=500, count=1, afterCommit=True
    )
    assert run(lead).success
    assert len(drafts_to(sandbox, email)) == 1
    assert events(engine, lead, status="retrying") == [(11, "create_gmail_draft")]
    assert workflow(engine, lead).status == "succeeded"


def test_two_runs_of_one_workflow_at_once_do_the_work_once(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    email = "raced@acme-robotics.example"
    lead = submit(email)
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def race() -> None:
        # Two run workers of their own (an in-memory instance is not for threads); they
        # meet only in PostgreSQL, where the claim decides.
        with DagsterInstance.ephemeral() as own:
            barrier.wait()
            try:
                results.append(run(lead, on=own))
            except Exception as exc:  # reported by the assertion below
                results.append(exc)

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    failures = [r for r in results if isinstance(r, Exception) or not r.success]
    assert failures == [], [
        r if isinstance(r, Exception) else r.get_step_failure_events() for r in failures
    ]
    assert len(drafts_to(sandbox, email)) == 1
    assert len(tasks_for(sandbox, lead)) == 1
    with Session(engine) as session:
        refused = session.scalars(
            select(WorkflowEvent).where(
                WorkflowEvent.workflow_id == lead.workflow_id,
                WorkflowEvent.event_type == "claim_refused",
            )
        ).all()
    assert len(refused) == 1
    assert events(engine, lead) == STEP_EVENTS


def test_rematerialising_a_lead_updates_its_one_draft(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    email = "twice@acme-robotics.example"
    lead = submit(email)
    assert run(lead).success
    first = drafts_to(sandbox, email)
    assert run(lead, trigger="materialization").success
    second = drafts_to(sandbox, email)
    assert len(second) == 1
    assert second[0]["draftId"] == first[0]["draftId"]
    assert len(tasks_for(sandbox, lead)) == 1
    assert workflow(engine, lead).attempts == 2


def test_a_live_trigger_never_reruns_a_finished_workflow(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    lead = submit("once@acme-robotics.example")
    assert run(lead).success
    assert run(lead, trigger="sensor").success
    assert workflow(engine, lead).attempts == 1


def test_send_mode_sends_once_and_records_it(
    sandbox: Admin, submit: Any, run: Any, engine: Engine, monkeypatch: Any
) -> None:
    monkeypatch.setenv("WORKFLOW_MODE", "SEND")
    get_settings.cache_clear()
    email = "send.me@acme-robotics.example"
    lead = submit(email)
    assert run(lead).success
    assert run(lead, trigger="materialization").success  # a re-run never sends again
    sent = [m for m in sandbox.sent() if email in m["to"]]
    assert len(sent) == 1
    assert drafts_to(sandbox, email) == []
    with Session(engine) as session:
        row = session.scalars(
            select(DraftEmail).where(DraftEmail.workflow_id == lead.workflow_id)
        ).one()
    assert row.sent is True
    assert row.sent_at is not None
    assert row.mode == "SEND"
    assert workflow(engine, lead).mode == "SEND"


def test_the_kill_switch_turns_send_into_a_draft(
    sandbox: Admin, submit: Any, run: Any, engine: Engine, monkeypatch: Any
) -> None:
    monkeypatch.setenv("WORKFLOW_MODE", "SEND")
    monkeypatch.setenv("SEND_KILL_SWITCH", "true")
    get_settings.cache_clear()
    email = "killed@acme-robotics.example"
    lead = submit(email)
    assert run(lead).success
    assert [m for m in sandbox.sent() if email in m["to"]] == []
    assert len(drafts_to(sandbox, email)) == 1
    assert workflow(engine, lead).mode == "DRAFT_ONLY"


def test_a_batch_run_keeps_each_leads_outcome_its_own(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    good = [submit(f"batch{i}@acme-robotics.example") for i in range(3)]
    bad = submit("batch-bad@")  # not an address: rejected at step 1
    result = run(*good, bad)
    assert result.success
    assert [workflow(engine, lead).status for lead in good] == ["succeeded"] * 3
    rejected = workflow(engine, bad)
    assert rejected.status == "rejected"
    assert rejected.failure_reason is not None
    assert "not valid" in rejected.failure_reason
    for lead in good:
        assert len(drafts_to(sandbox, lead.email)) == 1
        assert events(engine, lead) == STEP_EVENTS
    metadata = result.asset_materializations_for_node("lead_followup")[0].metadata
    assert metadata["outcomes"].value == {"succeeded": 3, "rejected": 1}


def test_a_step_retry_in_a_batch_redoes_only_the_lead_that_failed(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    leads = [submit(f"retry{i}@acme-robotics.example") for i in range(3)]
    # The second draft write of the run answers 503 once: one lead is retried, not three.
    sandbox.fault(pathPattern="/gmail/v1/users/*/drafts", method="POST", status=503, count=1)
    assert run(*leads).success
    for lead in leads:
        assert workflow(engine, lead).status == "succeeded"
        assert len(drafts_to(sandbox, lead.email)) == 1
        assert len(tasks_for(sandbox, lead)) == 1
    retried = [lead for lead in leads if events(engine, lead, status="retrying")]
    assert len(retried) == 1
    counts = {row["endpoint"]: row["count"] for row in sandbox.calls()["endpoints"]}
    draft_posts = sum(
        n
        for key, n in counts.items()
        if key.startswith("POST /gmail/v1/users/") and key.endswith("/drafts")
    )
    assert draft_posts == 4  # three drafts and the one refused attempt


def test_a_draft_later_run_in_send_mode_is_updated_and_sent_once(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    email = "draft.then.send@acme-robotics.example"
    lead = submit(email)
    assert run(lead).success
    assert len(drafts_to(sandbox, email)) == 1
    with Session(engine) as session, session.begin():
        session.get_one(Workflow, lead.workflow_id).mode_override = "SEND"
    assert run(lead, trigger="retry").success
    assert run(lead, trigger="retry").success
    assert drafts_to(sandbox, email) == []
    assert len([m for m in sandbox.sent() if email in m["to"]]) == 1
    assert workflow(engine, lead).mode == "SEND"
