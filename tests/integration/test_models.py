"""Every table takes and gives back its rows; the constraints refuse what they should."""

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import (
    ApiKey,
    DraftEmail,
    FormSubmission,
    HubspotTask,
    IdempotencyKey,
    Tenant,
    Workflow,
    WorkflowError,
    WorkflowEvent,
)
from sales_agent_pipeline.domain.enums import WorkflowStatus


def make_lead(session: Session, submission_id: str = "sub-1") -> Workflow:
    tenant = session.scalar(select(Tenant).where(Tenant.portal_id == 4242))
    if tenant is None:
        tenant = Tenant(portal_id=4242, name="Acme", allowed_form_ids=["form-1"])
        session.add(tenant)
        session.flush()
    submission = FormSubmission(
        tenant_id=tenant.id,
        portal_id=tenant.portal_id,
        form_id="form-1",
        hubspot_submission_id=submission_id,
        email="jane@example.com",
        company="Example Inc",
        first_name="Jane",
        last_name="Doe",
        raw_payload={"fieldValues": [{"name": "email", "value": "jane@example.com"}]},
    )
    session.add(submission)
    session.flush()
    workflow = Workflow(
        tenant_id=tenant.id,
        form_submission_id=submission.id,
        prospect_email=submission.email,
        prospect_company=submission.company,
        email_domain="example.com",
    )
    session.add(workflow)
    session.flush()
    return workflow


def test_every_table_round_trips(db_session: Session) -> None:
    workflow = make_lead(db_session)
    tenant = db_session.get_one(Tenant, workflow.tenant_id)
    db_session.add_all(
        [
            ApiKey(tenant_id=tenant.id, name="ops", key_prefix="sa_abcd", key_hash="f" * 64),
            DraftEmail(
                workflow_id=workflow.id,
                to_email="jane@example.com",
                subject="Following up",
                body="Hi Jane",
                assets=[{"name": "deck.pdf", "url": "https://drive/deck"}],
                assets_included=1,
            ),
            HubspotTask(workflow_id=workflow.id, contact_id="101", due_date=date(2026, 11, 26)),
            WorkflowEvent(
                workflow_id=workflow.id,
                event_type="step_completed",
                step_number=1,
                step_name="validate_payload",
                status="succeeded",
                duration_ms=12,
                details={"fields": 4},
            ),
            WorkflowError(
                workflow_id=workflow.id,
                step_number=2,
                step_name="resolve_contact",
                error_class="transient",
                error_type="TransientError",
                error_message="HubSpot answered 503",
                http_status=503,
            ),
            IdempotencyKey(scope="gmail.draft", key=str(workflow.id), workflow_id=workflow.id),
        ]
    )
    db_session.flush()
    db_session.expire_all()

    stored = db_session.get_one(Workflow, workflow.id)
    assert stored.status == WorkflowStatus.RECEIVED
    assert stored.mode == "DRAFT_ONLY"
    assert stored.created_at.tzinfo is not None
    assert abs((datetime.now(UTC) - stored.created_at).total_seconds()) < 60
    assert db_session.get_one(Tenant, tenant.id).allowed_form_ids == ["form-1"]
    draft = db_session.scalars(
        select(DraftEmail).where(DraftEmail.workflow_id == workflow.id)
    ).one()
    assert draft.assets[0]["name"] == "deck.pdf"
    assert draft.sent is False
    task = db_session.scalars(
        select(HubspotTask).where(HubspotTask.workflow_id == workflow.id)
    ).one()
    assert (task.status, task.due_date) == ("NOT_STARTED", date(2026, 11, 26))
    event = db_session.scalars(
        select(WorkflowEvent).where(WorkflowEvent.workflow_id == workflow.id)
    ).one()
    assert event.details == {"fields": 4}
    error = db_session.scalars(
        select(WorkflowError).where(WorkflowError.workflow_id == workflow.id)
    ).one()
    assert (error.error_class, error.http_status, error.attempt) == ("transient", 503, 1)
    key = db_session.scalars(
        select(IdempotencyKey).where(IdempotencyKey.workflow_id == workflow.id)
    ).one()
    assert key.status == "pending"
    api_key = db_session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant.id)).one()
    assert api_key.is_admin is False


def test_a_repeated_submission_id_in_one_portal_is_refused(db_session: Session) -> None:
    make_lead(db_session, "sub-dup")
    with pytest.raises(IntegrityError, match="uq_form_submissions_portal_id_hubspot_submission_id"):
        make_lead(db_session, "sub-dup")


def test_a_second_workflow_for_one_submission_is_refused(db_session: Session) -> None:
    workflow = make_lead(db_session)
    db_session.add(
        Workflow(
            tenant_id=workflow.tenant_id,
            form_submission_id=workflow.form_submission_id,
            prospect_email="jane@example.com",
            email_domain="example.com",
        )
    )
    with pytest.raises(IntegrityError, match="uq_workflows_form_submission_id"):
        db_session.flush()


def test_an_event_for_a_missing_workflow_is_refused(db_session: Session) -> None:
    db_session.add(
        WorkflowEvent(workflow_id=uuid.uuid4(), event_type="step_completed", status="succeeded")
    )
    with pytest.raises(IntegrityError, match="fk_workflow_events_workflow_id_workflows"):
        db_session.flush()


@pytest.mark.parametrize(
    ("model", "field", "value", "constraint"),
    [
        (Workflow, "status", "done", "ck_workflows_status"),
        (Workflow, "mode", "SEND_ALL", "ck_workflows_mode"),
    ],
)
def test_an_invalid_workflow_value_is_refused(
    db_session: Session, model: type[Workflow], field: str, value: str, constraint: str
) -> None:
    workflow = make_lead(db_session)
    setattr(workflow, field, value)
    with pytest.raises(IntegrityError, match=constraint):
        db_session.flush()


def test_an_invalid_step_number_and_status_are_refused(db_session: Session) -> None:
    workflow = make_lead(db_session)
    with db_session.begin_nested():
        db_session.add(
            WorkflowEvent(
                workflow_id=workflow.id, event_type="x", status="succeeded", step_number=14
            )
        )
        with pytest.raises(IntegrityError, match="ck_workflow_events_step_number_range"):
            db_session.flush()
    db_session.add(WorkflowEvent(workflow_id=workflow.id, event_type="x", status="exploded"))
    with pytest.raises(IntegrityError, match="ck_workflow_events_status"):
        db_session.flush()


def test_one_idempotency_key_per_scope(db_session: Session) -> None:
    db_session.add(IdempotencyKey(scope="hubspot.task", key="wf-1"))
    db_session.flush()
    db_session.add(IdempotencyKey(scope="gmail.draft", key="wf-1"))
    db_session.flush()
    db_session.add(IdempotencyKey(scope="hubspot.task", key="wf-1"))
    with pytest.raises(IntegrityError, match="uq_idempotency_keys_scope_key"):
        db_session.flush()


def test_a_sent_draft_needs_its_send_time(db_session: Session) -> None:
    workflow = make_lead(db_session)
    db_session.add(
        DraftEmail(workflow_id=workflow.id, to_email="a@b.co", subject="s", body="b", sent=True)
    )
    with pytest.raises(IntegrityError, match="ck_draft_emails_sent_has_time"):
        db_session.flush()


def test_tests_do_not_see_each_others_rows(db_session: Session) -> None:
    # Every test above added a tenant with portal 4242 and none of them committed for good.
    assert db_session.scalars(select(Tenant).where(Tenant.portal_id == 4242)).all() == []
