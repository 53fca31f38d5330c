"""The reconciliation tests' portal: a tenant of its own on a sandbox portal of its own
(with its own HubSpot token, stored encrypted), its form's upstream submissions, the
webhook's deliveries, and the job run for that portal only."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from dagster import DagsterInstance, ExecuteInProcessResult
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.demo import DEMO_SENDER
from sales_agent_pipeline.db.models import FormSubmission, ReconciliationReport, Tenant, Workflow
from tests.integration.pipeline.conftest import (
    Lead,
    lead_fields,
    store_delivery,
    upstream_submission,
)
from tests.integration.pipeline.tenancy import store_secrets
from tests.sandbox.conftest import Admin

FORM = "contact-us-form"
OWNER = "90000001"  # the demo owner's id, seeded into each test's portal


@dataclass
class Portal:
    """A test's tenant, its sandbox portal and the token that reaches it."""

    tenant: Tenant
    token: str
    sandbox_url: str

    @property
    def portal_id(self) -> int:
        return self.tenant.portal_id

    def outside(self) -> httpx.Client:
        """HubSpot's API as the owner uses it, outside the product (the portal's token)."""
        return httpx.Client(
            base_url=self.sandbox_url, headers={"Authorization": f"Bearer {self.token}"}
        )

    def gmail(self) -> httpx.Client:
        """The owner's Gmail, outside the product (the sandbox's default mailbox: this
        tenant stores no Google credentials and acts anonymously there)."""
        return httpx.Client(base_url=self.sandbox_url)


@pytest.fixture(name="portal")
def portal_fixture(sandbox: Admin, engine: Engine, sandbox_url: str) -> Portal:
    portal_id = random.randint(10_000_000, 99_999_999)
    token = f"token-{portal_id}"
    sandbox.seed(
        portalId=portal_id,
        tokens={token: portal_id},
        owners=[{"id": OWNER, "email": DEMO_SENDER, "firstName": "Alex", "lastName": "Morgan"}],
        forms=[FORM],
    )
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(
            portal_id=portal_id,
            name=f"Reconciled {portal_id}",
            allowed_form_ids=[FORM],
            drive_folder_ids=["folder-case-studies"],
            timezone="America/New_York",
            sender_email=DEMO_SENDER,
            default_owner_id=OWNER,
            throttle_window_seconds=0,
            voice_profile={"sender_name": "Alex Morgan", "company_name": "Demo Co"},
        )
        session.add(tenant)
    # The tenant's own token, stored encrypted (the environment's applies to no tenant).
    store_secrets(engine, tenant, hubspot_token=token)
    return Portal(tenant, token, sandbox_url)


def upstream(count: int, *, newest: datetime, step: timedelta, prefix: str) -> list[dict[str, Any]]:
    """Seed `count` submissions of FORM, `step` apart going back from `newest`."""
    return [
        upstream_submission(
            FORM,
            f"{prefix}-{n}-{uuid.uuid4().hex[:8]}",
            newest - n * step,
            email=f"{prefix}{n}@acme-robotics.example",
            firstname=f"Robin{n}",
            company="Acme Robotics",
        )
        for n in range(count)
    ]


def seed(sandbox: Admin, portal: Portal, items: list[dict[str, Any]]) -> None:
    sandbox.seed(portalId=portal.portal_id, formSubmissions=items)


def deliver(engine: Engine, portal: Portal, item: dict[str, Any]) -> uuid.UUID:
    """What the webhook stores for one submission: its formSubmissionId is the conversionId."""
    return store_delivery(engine, portal.tenant, FORM, item["conversionId"], item["values"])


def reconcile(
    instance: DagsterInstance, portal: Portal, portal_id: int | None = None
) -> ExecuteInProcessResult:
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("reconcile_submissions")
    config = {"portal_ids": [portal_id or portal.portal_id]}
    result = job.execute_in_process(
        instance=instance, run_config={"ops": {"submission_coverage": {"config": config}}}
    )
    assert result.success
    return result


def report_of(engine: Engine, result: ExecuteInProcessResult) -> ReconciliationReport:
    with Session(engine) as session:
        return session.scalars(
            select(ReconciliationReport).where(ReconciliationReport.dagster_run_id == result.run_id)
        ).one()


def checks(result: ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def workflows_per_submission(engine: Engine, portal: Portal) -> dict[str, tuple[str, int]]:
    with Session(engine) as session:
        rows = session.execute(
            select(
                FormSubmission.hubspot_submission_id,
                FormSubmission.source,
                func.count(Workflow.id),
            )
            .outerjoin(Workflow, Workflow.form_submission_id == FormSubmission.id)
            .where(FormSubmission.portal_id == portal.portal_id)
            .group_by(FormSubmission.hubspot_submission_id, FormSubmission.source)
        ).all()
    return {sid: (source, count) for sid, source, count in rows}


def submit(engine: Engine, portal: Portal, email: str) -> Lead:
    """A live lead of the portal's form, as the webhook stores it (committed)."""
    workflow_id = store_delivery(engine, portal.tenant, FORM, str(uuid.uuid4()), lead_fields(email))
    return Lead(workflow_id, email)
