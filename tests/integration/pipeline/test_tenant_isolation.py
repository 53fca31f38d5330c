"""Two tenants with their own portals, tokens and Google service accounts run leads at the
same time (two runs at once, then one batch run mixing them): every vendor request of A
carried A's credentials and touched only A's portal, mailbox, calendar and Drive, and the
same for B; each tenant's usage counters equal what the sandbox saw of it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dagster import DagsterInstance, serialize_value
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import TenantUsage, Workflow
from tests.integration.pipeline.tenancy import (
    Company,
    add_company,
    assert_nowhere,
    by_identity,
    fingerprint,
    secrets_of,
    submit,
)
from tests.sandbox.conftest import Admin


def of_tenant(engine: Engine, company: Company, key: Any, value: Any) -> list[tuple[Any, Any]]:
    """(key, value) of every row of their table that is the company's tenant's."""
    table = key.class_  # the model both columns are of; it has a tenant_id
    with Session(engine) as session:
        rows = session.execute(select(key, value).where(table.tenant_id == company.tenant.id))
        return [(row[0], row[1]) for row in rows]


def statuses(engine: Engine, company: Company) -> dict[str, str]:
    rows = of_tenant(engine, company, Workflow.prospect_email, Workflow.status)
    return {str(email): str(status) for email, status in rows}


def usage(engine: Engine, company: Company) -> dict[str, int]:
    totals: dict[str, int] = {}
    for metric, value in of_tenant(engine, company, TenantUsage.metric, TenantUsage.value):
        totals[metric] = totals.get(metric, 0) + value
    return totals


def api_calls(requests: list[dict[str, Any]], vendor: str, who: str) -> list[dict[str, Any]]:
    """A caller's API requests (not the OAuth token exchanges, which are not API calls)."""
    key = "token" if vendor == "hubspot" else "subject"
    return [
        r
        for r in requests
        if r["vendor"] == vendor
        and r["identity"].get(key) == who
        and not r["path"].startswith("/oauth/")
        and r["path"] != "/token"
    ]


def test_two_tenants_run_at_once_each_with_only_its_own_credentials(
    sandbox: Admin, engine: Engine, run: Any, capfd: Any
) -> None:
    sandbox.config(google_require_auth=True)
    alpha = add_company(engine, sandbox, "alpha")
    beta = add_company(engine, sandbox, "beta")
    assert alpha.token is not None
    assert beta.token is not None
    tag = uuid.uuid4().hex[:6]
    since = sandbox.last_request_seq()

    # Two runs at once, one per tenant, each in its own Dagster instance (two run processes).
    first = [submit(engine, c, f"jordan.{c.tenant.name[:4].lower()}.{tag}@robots.example",
                    industry="Robotics") for c in (alpha, beta)]  # fmt: skip
    with (
        DagsterInstance.ephemeral() as one,
        DagsterInstance.ephemeral() as two,
        ThreadPoolExecutor(2) as pool,
    ):
        pairs = zip(first, (one, two), strict=True)
        done = list(pool.map(lambda pair: run(pair[0], on=pair[1]), pairs))
    assert all(result.success for result in done)
    # Then one batch run mixing both tenants' leads.
    mixed = [
        submit(engine, company, f"lead{n}.{company.tenant.name[:4].lower()}.{tag}@co{n}.example")
        for n in range(3)
        for company in (alpha, beta)
    ]
    mixed_run = run(*mixed, trigger="sensor")
    assert mixed_run.success

    for company in (alpha, beta):
        assert set(statuses(engine, company).values()) == {"succeeded"}
        assert len(company.leads) == 4

    # Drafts are in each tenant's own mailbox, tasks in each tenant's own portal.
    drafts = sandbox.drafts()
    for company in (alpha, beta):
        mine = {lead.email for lead in company.leads}
        in_box = {d["to"] for d in drafts if d["user"].lower() == company.mailbox}
        assert in_box == mine
        tasks = [t for t in sandbox.tasks() if t["portalId"] == company.portal_id]
        markers = {str(lead.workflow_id) for lead in company.leads}
        assert len(tasks) == 4
        assert all(any(m in t["properties"]["hs_task_body"] for m in markers) for t in tasks)

    requests = sandbox.requests(after=since)
    seen = by_identity(requests)
    # Nobody else called: only the two tokens and the two subjects (no anonymous call, no
    # environment token, no sandbox default).
    hubspot = {name for name in seen if name.startswith("hubspot:")}
    assert hubspot == {f"hubspot:{fingerprint(alpha.token)}", f"hubspot:{fingerprint(beta.token)}"}
    google = {name for name in seen if name.startswith("google:")}
    assert google == {f"google:{alpha.mailbox}", f"google:{beta.mailbox}"}
    for company in (alpha, beta):
        assert company.token is not None
        assert seen[f"hubspot:{fingerprint(company.token)}"] == {"portals": {company.portal_id}}
        touched = seen[f"google:{company.mailbox}"]
        assert touched["mailboxes"] == {company.mailbox}
        assert touched["calendars"] == {company.mailbox}
        assert touched["driveOwners"] == {company.mailbox}
        assert all(
            r["identity"]["portalId"] == company.portal_id
            for r in requests
            if r["vendor"] == "hubspot" and r["identity"]["token"] == fingerprint(company.token)
        )

    # Usage: each tenant's counters are exactly what the sandbox saw of it.
    units = {u["user"]: u["units"] for u in sandbox.calls()["gmail"]["users"]}
    for company in (alpha, beta):
        assert company.token is not None
        counted = usage(engine, company)
        assert counted["vendor_calls.hubspot"] == len(
            api_calls(requests, "hubspot", fingerprint(company.token))
        )
        assert counted["vendor_calls.google"] == len(api_calls(requests, "google", company.mailbox))
        assert counted["quota_units.gmail"] == units[company.mailbox]

    # No secret of either tenant reached a log line, a run's events, tags or metadata.
    results = [*done, mixed_run]
    captured = capfd.readouterr()
    texts = [captured.out, captured.err]
    for result in results:
        record = result.dagster_run
        texts.append(serialize_value(dict(record.tags)))
        texts.extend(serialize_value(entry) for entry in result.all_events)
    assert any(str(alpha.portal_id) in text for text in texts)
    assert_nowhere(texts, secrets_of(alpha) + secrets_of(beta))


def test_a_tenant_without_a_token_outside_sandbox_mode_fails_naming_its_portal(
    sandbox: Admin, engine: Engine, run: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SANDBOX", "false")
    from sales_agent_pipeline.settings import get_settings

    get_settings.cache_clear()
    bare = add_company(engine, sandbox, "bare", token=False, auth=None)
    lead = submit(engine, bare, f"no.token.{uuid.uuid4().hex[:6]}@robots.example")
    since = sandbox.last_request_seq()

    result = run(lead)

    assert not result.success
    with Session(engine) as session:
        workflow = session.get_one(Workflow, lead.workflow_id)
    assert workflow.status == "failed"
    assert workflow.failure_reason is not None
    assert f"portal {bare.portal_id} has no HubSpot token stored" in workflow.failure_reason
    # Nothing went to HubSpot with anyone else's token (nor the sandbox's).
    assert not [r for r in sandbox.requests(after=since) if r["vendor"] == "hubspot"]
    get_settings.cache_clear()


def test_the_demo_tenant_with_nothing_stored_still_runs_in_sandbox_mode(
    sandbox: Admin, submit: Any, run: Any, engine: Engine
) -> None:
    lead = submit(f"demo.{uuid.uuid4().hex[:6]}@acme-robotics.example")
    assert run(lead).success
    with Session(engine) as session:
        assert session.get_one(Workflow, lead.workflow_id).status == "succeeded"
