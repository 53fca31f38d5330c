"""One bad form stops neither the other forms nor the other tenants: each form is reconciled
in its own transaction, and a failure is a report naming the form and the error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import DagsterInstance
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import FormSubmission, ReconciliationReport, Tenant
from sales_agent_pipeline.domain.models import UpstreamSubmission
from sales_agent_pipeline.usecases.reconciliation.recover import Window, reconcile_form
from tests.fakes.crm import FakeCRM
from tests.integration.pipeline.conftest import upstream_submission
from tests.integration.pipeline.tenancy import add_company, new_portal_id
from tests.sandbox.conftest import Admin

UNKNOWN = "form-hubspot-does-not-know"


def listed(form: str, conversion_id: str, email: str, **values: str) -> dict[str, Any]:
    return upstream_submission(form, conversion_id, datetime.now(UTC), email=email, **values)


def held(engine: Engine, portal_id: int) -> set[str]:
    with Session(engine) as session:
        return set(
            session.scalars(
                select(FormSubmission.hubspot_submission_id).where(
                    FormSubmission.portal_id == portal_id
                )
            )
        )


def reports(engine: Engine, run_id: str) -> dict[tuple[uuid.UUID, str], ReconciliationReport]:
    """The run's reports by tenant and form."""
    with Session(engine) as session:
        found = session.scalars(
            select(ReconciliationReport).where(ReconciliationReport.dagster_run_id == run_id)
        ).all()
    return {(report.tenant_id, report.form_id): report for report in found}


def test_bad_forms_stop_neither_the_other_forms_nor_the_other_tenants(
    sandbox: Admin, engine: Engine, instance: DagsterInstance
) -> None:
    alpha = add_company(engine, sandbox, "alpha")
    beta = add_company(engine, sandbox, "beta")
    # Listed first, three forms HubSpot refuses alpha's token: unknown anywhere, beta's
    # own form (another portal's), and a 255-character id.
    refused = [UNKNOWN, beta.form, "f" * 255]
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant)
            .where(Tenant.id == alpha.tenant.id)
            .values(allowed_form_ids=[*refused, alpha.form])
        )
    tag = uuid.uuid4().hex[:8]
    good = [listed(alpha.form, f"good-{n}-{tag}", f"good{n}@alpha.example") for n in range(2)]
    # Entries of the good form that cannot be stored as listed: skipped, named, not a failure.
    unfit = [
        listed(alpha.form, "c" * 300, "long-id@alpha.example"),
        listed(alpha.form, f"nul-{tag}", "nul@alpha.example", company="Ac\x00me"),
        listed(alpha.form, f"wide-{tag}", "wide@alpha.example", company="C" * 300),
    ]
    sandbox.seed(portalId=alpha.portal_id, formSubmissions=[*good, *unfit])
    theirs = [listed(beta.form, f"beta-{n}-{tag}", f"b{n}@beta.example") for n in range(3)]
    sandbox.seed(portalId=beta.portal_id, formSubmissions=theirs)

    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("reconcile_submissions")
    config = {"portal_ids": [alpha.portal_id, beta.portal_id]}
    result = job.execute_in_process(
        instance=instance, run_config={"ops": {"submission_coverage": {"config": config}}}
    )

    assert result.success
    assert held(engine, alpha.portal_id) == {item["conversionId"] for item in good}
    assert held(engine, beta.portal_id) == {item["conversionId"] for item in theirs}
    by_form = reports(engine, result.run_id)
    for form in refused:
        error = by_form[alpha.tenant.id, form].details["error"]
        assert "404" in error or "not found" in error.lower(), error
    mine = by_form[alpha.tenant.id, alpha.form]
    assert (mine.recovered, mine.missing, mine.details.get("error")) == (2, 0, None)
    assert set(mine.details["unusable"]) == {item["conversionId"] for item in unfit}
    assert by_form[beta.tenant.id, beta.form].recovered == 3
    check = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "no_missing_submissions"
    )
    assert not check.passed
    unproven: list[dict[str, Any]] = check.metadata["unproven_forms"].value  # type: ignore[assignment]
    assert {(row["portal"], row["form"]) for row in unproven} == {
        (alpha.portal_id, form) for form in refused
    }
    assert all(row["error"] for row in unproven)


def test_a_form_the_database_refuses_is_reported_and_the_next_form_is_reconciled(
    engine: Engine,
) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(portal_id=new_portal_id(), name="Overflow", allowed_form_ids=[])
        session.add(tenant)
    crm = FakeCRM()
    # An id longer than the report's column (as a 73-character id once was for 64).
    overlong = "x" * 300
    crm.submissions["contact-form"] = [
        UpstreamSubmission(
            conversion_id=f"ok-{uuid.uuid4().hex[:8]}",
            form_id="contact-form",
            submitted_at=datetime.now(UTC),
            values={"email": "ok@overflow.example"},
        )
    ]
    sessions = sessionmaker(engine)
    window = Window(
        overlap=timedelta(minutes=5), lookback=timedelta(days=1), stuck_after=timedelta(hours=1)
    )

    covered = [
        reconcile_form(
            sessions, lambda: crm, tenant, form, window=window, now=datetime.now(UTC), run_id=None
        )
        for form in (overlong, "contact-form")
    ]

    failed, fine = covered
    assert failed.error is not None
    assert failed.error.startswith("DataError: value too long")
    assert (fine.error, fine.recovered) == (None, 1)
    with Session(engine) as session:
        written = {
            report.form_id: report.details.get("error")
            for report in session.scalars(
                select(ReconciliationReport).where(ReconciliationReport.tenant_id == tenant.id)
            )
        }
    assert written == {overlong[:255]: failed.error, "contact-form": None}
