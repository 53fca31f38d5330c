"""GET /api/workflows (pages, filters), one workflow, its trail, and POST .../retry."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.db.repositories import audit
from sales_agent_pipeline.domain.enums import ErrorClass, StepStatus
from sales_agent_pipeline.domain.errors import TransientError
from tests.integration.api.operator_support import add_draft, add_workflow, at, bearer, key_for


@pytest.fixture
def key(engine: Engine, tenant: Tenant) -> str:
    return key_for(engine, tenant)


def test_the_cursor_walks_every_row_once_newest_first(
    client: TestClient, engine: Engine, tenant: Tenant, key: str
) -> None:
    # Five rows share one timestamp: the id breaks the tie, so no page repeats or skips one.
    stamps = [at(1, h) for h in range(7)] + [at(2)] * 5
    ids = {add_workflow(engine, tenant, f"p{i}@acme.example", created_at=s): s
           for i, s in enumerate(stamps)}  # fmt: skip
    seen: list[dict[str, object]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/workflows", params=params, headers=bearer(key)).json()
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(uuid.UUID(str(item["id"])) for item in seen) == sorted(ids)
    order = [(item["created_at"], item["id"]) for item in seen]
    assert order == sorted(order, reverse=True)


def test_limit_defaults_to_50_and_is_bounded(
    client: TestClient, engine: Engine, tenant: Tenant, key: str
) -> None:
    for i in range(51):
        add_workflow(engine, tenant, f"bulk{i}@acme.example")
    page = client.get("/api/workflows", headers=bearer(key)).json()
    assert len(page["items"]) == 50
    assert page["next_cursor"]
    for bad in ("0", "201", "ten"):
        response = client.get("/api/workflows", params={"limit": bad}, headers=bearer(key))
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == ["query.limit"]


def test_filters_narrow_by_status_dates_email_and_domain(
    client: TestClient, engine: Engine, tenant: Tenant, key: str
) -> None:
    failed = add_workflow(engine, tenant, "Jane@Acme.example", status="failed", created_at=at(3))
    early = add_workflow(engine, tenant, "bob@acme.example", created_at=at(1))
    other = add_workflow(engine, tenant, "kim@northwind.example", created_at=at(5))

    def ids(**params: str) -> set[uuid.UUID]:
        response = client.get("/api/workflows", params=params, headers=bearer(key))
        assert response.status_code == 200, response.text
        return {uuid.UUID(item["id"]) for item in response.json()["items"]}

    assert ids(status="failed") == {failed}
    assert ids(email="jane@acme.example") == {failed}
    assert ids(domain="ACME.example") == {failed, early}
    assert ids(created_from="2026-11-02T00:00:00Z") == {failed, other}
    assert ids(created_to="2026-11-04T00:00:00+00:00") == {failed, early}
    assert ids(created_from="2026-11-02T00:00:00Z", created_to="2026-11-04T00:00:00Z") == {failed}
    assert ids(status="running") == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "done"}, "query.status"),
        ({"created_from": "yesterday"}, "query.created_from"),
        ({"created_from": "2026-11-02T00:00:00"}, "created_from"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "W10"}, "cursor"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(
    client: TestClient, key: str, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/workflows", params=params, headers=bearer(key))
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == [field]


def test_detail_has_submission_draft_and_task(
    client: TestClient, engine: Engine, tenant: Tenant, key: str
) -> None:
    workflow_id = add_workflow(engine, tenant, "ana@acme.example")
    draft_id = add_draft(engine, workflow_id, "ana@acme.example", gmail_draft_id="r-1")
    body = client.get(f"/api/workflows/{workflow_id}", headers=bearer(key)).json()
    assert body["id"] == str(workflow_id)
    assert body["status"] == "succeeded"
    assert body["submission"]["email"] == "ana@acme.example"
    assert body["draft"]["id"] == str(draft_id)
    assert body["draft"]["body"].startswith("Hi there")
    assert body["draft"]["gmail_draft_id"] == "r-1"
    assert body["task"] is None
    missing = client.get(f"/api/workflows/{uuid.uuid4()}", headers=bearer(key))
    assert missing.status_code == 404
    malformed = client.get("/api/workflows/not-a-uuid", headers=bearer(key))
    assert malformed.status_code == 400
    assert malformed.json()["error"]["fields"] == ["path.workflow_id"]


def test_events_come_in_the_order_written_with_the_errors(
    client: TestClient, engine: Engine, tenant: Tenant, key: str
) -> None:
    workflow_id = add_workflow(engine, tenant, "eve@acme.example", status="failed")
    with Session(engine) as session, session.begin():
        for number, name in ((1, "validate_payload"), (2, "resolve_contact")):
            audit.record_event(
                session,
                workflow_id,
                event_type="step_completed",
                status=StepStatus.SUCCEEDED,
                step_number=number,
                step_name=name,
                duration_ms=5,
            )
        audit.record_error(
            session,
            workflow_id,
            error_class=ErrorClass.TRANSIENT,
            error=TransientError("HubSpot 503", http_status=503),
            step_number=3,
            step_name="resolve_company",
            traceback=None,
            http_status=503,
        )
    trail = client.get(f"/api/workflows/{workflow_id}/events", headers=bearer(key)).json()
    assert [e["step_name"] for e in trail["events"]] == ["validate_payload", "resolve_contact"]
    assert [(e["step_name"], e["http_status"]) for e in trail["errors"]] == [
        ("resolve_company", 503)
    ]


def test_retry_requeues_a_failed_workflow_once(
    client: TestClient, engine: Engine, tenant: Tenant, key: str
) -> None:
    workflow_id = add_workflow(
        engine, tenant, "rita@acme.example", status="failed", failure_reason="HubSpot 500"
    )
    response = client.post(f"/api/workflows/{workflow_id}/retry", headers=bearer(key))
    assert response.status_code == 202, response.text
    assert response.json() == {"workflow_id": str(workflow_id), "status": "queued"}
    with Session(engine) as session:
        row = session.get(Workflow, workflow_id)
        assert row is not None
        # Dagster is unreachable in these tests: the launch was released for the sensor.
        assert (row.status, row.run_requested_at) == ("queued", None)
    trail = client.get(f"/api/workflows/{workflow_id}/events", headers=bearer(key)).json()
    assert trail["events"][-1]["event_type"] == "retry_requested"
    assert trail["events"][-1]["details"]["previous_failure"] == "HubSpot 500"
    assert trail["events"][-1]["details"]["requested_by"].startswith("ops (sak_")
    again = client.post(f"/api/workflows/{workflow_id}/retry", headers=bearer(key))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_retryable"


def test_retry_replays_a_dead_letter_and_stops_its_automatic_schedule(
    client: TestClient, engine: Engine, tenant: Tenant, key: str
) -> None:
    workflow_id = add_workflow(
        engine, tenant, "dora@acme.example", status="dead_letter", failure_reason="HubSpot 503"
    )
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id == workflow_id)
            .values(redrives=3, next_redrive_at=utcnow() + timedelta(hours=1))
        )
    response = client.post(f"/api/workflows/{workflow_id}/retry", headers=bearer(key))
    assert response.status_code == 202, response.text
    with Session(engine) as session:
        row = session.get(Workflow, workflow_id)
        assert row is not None
        assert (row.status, row.next_redrive_at, row.redrives) == ("queued", None, 0)


def test_retry_takes_stuck_work_but_not_live_or_finished_work(
    client: TestClient, engine: Engine, tenant: Tenant, key: str
) -> None:
    stuck = add_workflow(engine, tenant, "s@acme.example", status="running")
    live = add_workflow(engine, tenant, "l@acme.example", status="running")
    done = add_workflow(engine, tenant, "d@acme.example", status="succeeded")
    rejected = add_workflow(engine, tenant, "r@acme.example", status="rejected")
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id == stuck)
            .values(updated_at=utcnow() - timedelta(hours=2))
        )
    assert client.post(f"/api/workflows/{stuck}/retry", headers=bearer(key)).status_code == 202
    for workflow_id in (live, done, rejected):
        response = client.post(f"/api/workflows/{workflow_id}/retry", headers=bearer(key))
        assert response.status_code == 409
    with Session(engine) as session:
        statuses = dict(
            session.execute(
                select(Workflow.id, Workflow.status).where(
                    Workflow.id.in_([stuck, live, done, rejected])
                )
            ).all()
        )
    assert statuses == {stuck: "queued", live: "running", done: "succeeded", rejected: "rejected"}
