"""Reconciliation of several tenants at once: each lists only its own forms with its own
token, and every missed submission is recovered once, under the tenant whose portal it is
in; the global ALLOWED_FORM_IDS applies to none of them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import DagsterInstance
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import FormSubmission, Tenant, Workflow
from sales_agent_pipeline.settings import get_settings
from tests.integration.pipeline.conftest import upstream_submission
from tests.integration.pipeline.tenancy import Company, add_company, by_identity, fingerprint
from tests.sandbox.conftest import Admin


def seed_form(sandbox: Admin, company: Company, count: int) -> list[str]:
    now = datetime.now(UTC).replace(microsecond=0)
    items = [
        upstream_submission(
            company.form,
            f"{company.form}-{n}-{uuid.uuid4().hex[:6]}",
            now - timedelta(minutes=n),
            email=f"lead{n}@{company.form}.example",
        )
        for n in range(count)
    ]
    sandbox.seed(portalId=company.portal_id, formSubmissions=items)
    return [str(item["conversionId"]) for item in items]


def held(engine: Engine, portal_ids: list[int]) -> dict[str, tuple[int, uuid.UUID, int]]:
    """Per submission we hold: its portal, its tenant, and how many workflows it has."""
    with Session(engine) as session:
        rows = session.execute(
            select(
                FormSubmission.hubspot_submission_id,
                FormSubmission.portal_id,
                FormSubmission.tenant_id,
                func.count(Workflow.id),
            )
            .outerjoin(Workflow, Workflow.form_submission_id == FormSubmission.id)
            .where(FormSubmission.portal_id.in_(portal_ids))
            .group_by(
                FormSubmission.hubspot_submission_id,
                FormSubmission.portal_id,
                FormSubmission.tenant_id,
            )
        ).all()
    return {sid: (portal, tenant, count) for sid, portal, tenant, count in rows}


def test_each_tenant_reconciles_its_own_forms_with_its_own_token(
    sandbox: Admin,
    engine: Engine,
    instance: DagsterInstance,
    monkeypatch: Any,
) -> None:
    alpha = add_company(engine, sandbox, "alpha")
    beta = add_company(engine, sandbox, "beta")
    # A tenant with no allowlist of its own: the global list must not lend it anyone's forms.
    gamma = add_company(engine, sandbox, "gamma")
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant).where(Tenant.id == gamma.tenant.id).values(allowed_form_ids=[])
        )
    monkeypatch.setenv("ALLOWED_FORM_IDS", f"{alpha.form},{beta.form}")
    get_settings.cache_clear()
    mine = {
        alpha.portal_id: seed_form(sandbox, alpha, 7),
        beta.portal_id: seed_form(sandbox, beta, 5),
    }
    since = sandbox.last_request_seq()

    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("reconcile_submissions")
    portals = [alpha.portal_id, beta.portal_id, gamma.portal_id]
    config = {"ops": {"submission_coverage": {"config": {"portal_ids": portals}}}}
    assert job.execute_in_process(instance=instance, run_config=config).success
    # A second run finds nothing more to recover.
    assert job.execute_in_process(instance=instance, run_config=config).success

    found = held(engine, portals)
    for company in (alpha, beta):
        ids = mine[company.portal_id]
        assert {sid for sid, (portal, _, _) in found.items() if portal == company.portal_id} == set(
            ids
        )
        assert all(found[sid] == (company.portal_id, company.tenant.id, 1) for sid in ids)
    assert not [sid for sid, (portal, _, _) in found.items() if portal == gamma.portal_id]

    # Each portal's forms were listed with that portal's token only; gamma listed nothing.
    listings = [
        r
        for r in sandbox.requests(after=since, vendor="hubspot")
        if r["path"].startswith("/form-integrations/")
    ]
    seen = by_identity(listings)
    assert alpha.token is not None
    assert beta.token is not None
    assert seen == {
        f"hubspot:{fingerprint(alpha.token)}": {"portals": {alpha.portal_id}},
        f"hubspot:{fingerprint(beta.token)}": {"portals": {beta.portal_id}},
    }
    assert all(r["status"] == 200 for r in listings)
    assert {r["path"].rsplit("/", 1)[-1] for r in listings} == {alpha.form, beta.form}
    get_settings.cache_clear()


def test_a_disabled_tenant_and_one_needing_reauthorisation_are_skipped(
    sandbox: Admin, engine: Engine, instance: DagsterInstance
) -> None:
    off = add_company(engine, sandbox, "off")
    revoked = add_company(engine, sandbox, "revoked")
    seed_form(sandbox, off, 2)
    seed_form(sandbox, revoked, 2)
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant).where(Tenant.id == off.tenant.id).values(disabled_at=func.now())
        )
        session.execute(
            update(Tenant)
            .where(Tenant.id == revoked.tenant.id)
            .values(auth_error="portal needs HubSpot re-authorisation", auth_error_at=func.now())
        )
    since = sandbox.last_request_seq()

    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("reconcile_submissions")
    portals = [off.portal_id, revoked.portal_id]
    config = {"ops": {"submission_coverage": {"config": {"portal_ids": portals}}}}
    result = job.execute_in_process(instance=instance, run_config=config)

    assert result.success
    metadata = result.asset_materializations_for_node("submission_coverage")[0].metadata
    rows: list[dict[str, Any]] = metadata["tenants_skipped"].value  # type: ignore[assignment]
    skipped = {row["portal"]: row["reason"] for row in rows}
    assert set(skipped) == {off.portal_id, revoked.portal_id}
    assert "disabled" in skipped[off.portal_id]
    assert "re-authorisation" in skipped[revoked.portal_id]
    assert metadata["forms"].value == 0
    assert not sandbox.requests(after=since, vendor="hubspot")
    assert held(engine, portals) == {}
