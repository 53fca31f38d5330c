"""Tenant A's bulk import, tenant B's live lead and the reconciliation of both portals run at
the same time (three run processes' worth, each its own Dagster instance): every request of
A carried A's token or Google identity and touched only A's objects, and the same for B;
then B's draft is approved and sent from B's own mailbox."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.connectors import ui_identity
from sales_agent_pipeline.db.models import FormSubmission, Workflow
from tests.integration.pipeline.conftest import Lead, import_rows, stamped, upstream_submission
from tests.integration.pipeline.tenancy import (
    Company,
    add_company,
    by_identity,
    fingerprint,
    submit,
)
from tests.sandbox.conftest import Admin


def import_leads(engine: Engine, company: Company, count: int) -> list[Lead]:
    tag = uuid.uuid4().hex[:6]
    rows = "\n".join(f"row{n}.{tag}@buyer{n}.example,Sam,Company {n}" for n in range(count))
    csv = f"email,first name,company\n{rows}\n"
    result = import_rows(engine, company.tenant, csv, filename="leads.csv", max_rows=100)
    return [Lead(r.workflow_id, r.email) for r in result.rows if r.workflow_id is not None]


def missed(sandbox: Admin, company: Company, count: int) -> set[str]:
    now = datetime.now(UTC).replace(microsecond=0)
    ids = [f"{company.form}-missed-{n}-{uuid.uuid4().hex[:6]}" for n in range(count)]
    sandbox.seed(
        portalId=company.portal_id,
        formSubmissions=[
            upstream_submission(
                company.form,
                cid,
                now - timedelta(minutes=n),
                email=f"m{n}.{cid[-6:]}@missed.example",
            )
            for n, cid in enumerate(ids)
        ],
    )
    return set(ids)


def reconcile(instance: DagsterInstance, portals: list[int]) -> ExecuteInProcessResult:
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("reconcile_submissions")
    config = {"ops": {"submission_coverage": {"config": {"portal_ids": portals}}}}
    return job.execute_in_process(instance=instance, run_config=config)


def approve(instance: DagsterInstance, lead: Lead) -> ExecuteInProcessResult:
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("approve_and_send_draft")
    config = {"workflow_id": str(lead.workflow_id)}
    return job.execute_in_process(
        run_config={"ops": {"approve_and_send": {"config": config}}},
        instance=instance,
        # A UI without sign-in (the tests' development settings): its user acts for all.
        tags=stamped(ui_identity.LOCAL_OPERATOR),
    )


def test_an_import_a_live_lead_and_reconciliation_at_once_stay_apart(
    sandbox: Admin, engine: Engine, run: Any
) -> None:
    sandbox.config(google_require_auth=True)
    alpha = add_company(engine, sandbox, "alpha")
    beta = add_company(engine, sandbox, "beta")
    imported = import_leads(engine, alpha, 6)
    live = submit(engine, beta, f"live.{uuid.uuid4().hex[:6]}@robots.example")
    upstream = {
        alpha.portal_id: missed(sandbox, alpha, 2),
        beta.portal_id: missed(sandbox, beta, 3),
    }
    since = sandbox.last_request_seq()

    with (
        DagsterInstance.ephemeral() as one,
        DagsterInstance.ephemeral() as two,
        DagsterInstance.ephemeral() as three,
        ThreadPoolExecutor(3) as pool,
    ):
        jobs = [
            pool.submit(lambda: run(*imported, trigger="import", on=one)),
            pool.submit(lambda: run(live, on=two)),
            pool.submit(lambda: reconcile(three, [alpha.portal_id, beta.portal_id])),
        ]
        results = [job.result() for job in jobs]
    assert all(result.success for result in results)

    with Session(engine) as session:
        statuses = session.scalars(
            select(Workflow.status).where(
                Workflow.id.in_([lead.workflow_id for lead in [*imported, live]])
            )
        ).all()
        recovered = session.execute(
            select(FormSubmission.hubspot_submission_id, FormSubmission.tenant_id).where(
                FormSubmission.source == "reconciliation",
                FormSubmission.portal_id.in_([alpha.portal_id, beta.portal_id]),
            )
        ).all()
    assert statuses == ["succeeded"] * 7
    for company in (alpha, beta):
        theirs = {sid for sid, tenant_id in recovered if tenant_id == company.tenant.id}
        assert theirs == upstream[company.portal_id]

    # The approval of B's draft goes out from B's mailbox, with B's identity only.
    before_approval = sandbox.last_request_seq()
    with DagsterInstance.ephemeral() as instance:
        assert approve(instance, live).success
    sent = [m for m in sandbox.sent() if live.email in m["to"]]
    assert [m["user"].lower() for m in sent] == [beta.mailbox]
    approval = sandbox.requests(after=before_approval)
    assert {r["identity"].get("subject") for r in approval} == {beta.mailbox}

    seen = by_identity(sandbox.requests(after=since))
    assert alpha.token is not None
    assert beta.token is not None
    assert set(seen) == {
        f"hubspot:{fingerprint(alpha.token)}",
        f"hubspot:{fingerprint(beta.token)}",
        f"google:{alpha.mailbox}",
        f"google:{beta.mailbox}",
    }
    for company in (alpha, beta):
        assert company.token is not None
        assert seen[f"hubspot:{fingerprint(company.token)}"] == {"portals": {company.portal_id}}
        google = seen[f"google:{company.mailbox}"]
        assert google["mailboxes"] == {company.mailbox}
        assert google.get("calendars", {company.mailbox}) == {company.mailbox}
        assert google.get("driveOwners", {company.mailbox}) == {company.mailbox}
