"""/metrics after real leads ran through the 13 steps in their own run (the job executed
against the sandbox, as a Dagster run worker does): the pipeline's figures are read from
the database, so the API serves them whichever process did the work."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import Engine, create_engine, delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api.metrics import PipelineCollector, database_families
from sales_agent_pipeline.db.models import (
    CircuitBreaker,
    ScheduledSend,
    Suppression,
    Tenant,
    Workflow,
)
from sales_agent_pipeline.db.repositories.metrics import pipeline_figures
from sales_agent_pipeline.domain import metrics as catalog
from sales_agent_pipeline.domain.metrics import METRICS, MetricKind
from sales_agent_pipeline.secretbox import SecretBox
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.workflow.table import STEPS
from tests.conftest import free_port
from tests.integration.api.conftest import body_for, make_tenant, post
from tests.integration.pipeline.conftest import (  # noqa: F401 (fixtures)
    instance,
    pipeline_env,
    run,
    sandbox,
    submit,
    tenant,
)
from tests.sandbox.conftest import Admin, admin_client, sandbox_url  # noqa: F401 (fixtures)

Samples = list[Sample]
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)


def scrape(client: TestClient) -> Samples:
    """Every sample /metrics answers now (the pipeline's figures read afresh)."""
    collector = getattr(client.app.state, "pipeline_metrics", None)  # type: ignore[attr-defined]
    if collector is not None:
        collector.invalidate()
    response = client.get("/metrics")
    assert response.status_code == 200
    return [s for f in text_string_to_metric_families(response.text) for s in f.samples]


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include these (0 when none)."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


@pytest.fixture
def leads_ran(
    sandbox: Admin,  # noqa: F811
    submit: Any,  # noqa: F811
    run: Any,  # noqa: F811
    client: TestClient,
) -> tuple[Samples, Samples, int]:
    """Samples before and after two leads ran, the first Gmail draft write answered 503
    (a transient failure: step 11 retried for that lead); and how many leads."""
    before = scrape(client)
    marker = uuid.uuid4().hex[:8]
    leads = [submit(f"metrics-{marker}-{n}@acme-robotics.example") for n in range(2)]
    sandbox.fault(pathPattern="/gmail/v1/users/*/drafts", method="POST", status=503, count=1)
    result = run(*leads)
    assert result.success
    return before, scrape(client), len(leads)


def test_every_catalog_metric_is_served_with_the_leads_figures(
    leads_ran: tuple[Samples, Samples, int],
    client: TestClient,
    engine: Engine,
    tenant: Tenant,  # noqa: F811
    box: SecretBox,
) -> None:
    before, _, leads = leads_ran
    # The API's own: a delivery of another tenant (Dagster is unreachable: left to the sensor).
    other = make_tenant(engine, box)
    assert post(client, body_for(other.portal_id, f"sub-{uuid.uuid4()}")).status_code == 202
    assert client.app.state.launches.wait_idle()  # type: ignore[attr-defined]
    # A breaker the sandbox's outage left open for the tenant's HubSpot.
    with Session(engine) as session, session.begin():
        session.merge(CircuitBreaker(vendor="hubspot", tenant_id=tenant.id, state="open"))
    # Lawful sending's figures, on the other tenant: its lead replied after its send was
    # scheduled two hours ago (overdue), and two entries on its suppression list.
    with Session(engine) as session, session.begin():
        lead = session.scalars(select(Workflow).where(Workflow.tenant_id == other.id)).one()
        lead.stopped_reason, lead.stopped_at = "replied", func.now()
        session.add(
            ScheduledSend(
                workflow_id=lead.id,
                tenant_id=other.id,
                mailbox="sales@example.com",
                to_email=lead.prospect_email,
                gmail_draft_id="r-1",
                due_at=func.now() - timedelta(hours=2),
                time_zone="Europe/Paris",
                zone_of="recipient",
            )
        )
        for entry, reason in (("gone@example.org", "bounce"), ("example.net", "manual")):
            kind = "address" if "@" in entry else "domain"
            session.add(Suppression(tenant_id=other.id, kind=kind, value=entry, reason=reason))
    try:
        after = scrape(client)
    finally:
        with Session(engine) as session, session.begin():
            session.execute(delete(CircuitBreaker).where(CircuitBreaker.tenant_id == tenant.id))

    names = {s.name for s in after}
    for spec in METRICS:
        sample_name = f"{spec.name}_count" if spec.kind is MetricKind.HISTOGRAM else spec.name
        assert sample_name in names, f"{spec.name} is not served"

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    portal = str(tenant.portal_id)
    assert delta("sales_agent_workflows_total", tenant=portal, status="succeeded") == leads
    for step in STEPS:
        assert delta("sales_agent_step_duration_seconds_count", step=step) == leads, step
        # Each outcome is in a bucket: the +Inf one holds them all.
        assert delta("sales_agent_step_duration_seconds_bucket", step=step, le="+Inf") == leads
    assert delta("sales_agent_step_duration_seconds_sum", step="create_gmail_draft") > 0
    assert (
        delta("sales_agent_step_retries_total", step="create_gmail_draft", error_class="transient")
        == 1
    )
    gmail = {"vendor": "gmail", "operation": "drafts.create"}
    assert delta("sales_agent_vendor_requests_total", **gmail, status="200") >= leads
    assert delta("sales_agent_vendor_requests_total", **gmail, status="503") == 1
    hubspot_ok = [
        s
        for s in after
        if s.name == "sales_agent_vendor_requests_total"
        and s.labels["vendor"] == "hubspot"
        and s.labels["status"] in ("200", "201", "207")
    ]
    assert hubspot_ok, "no successful HubSpot request counted"
    assert all("/" not in s.labels["operation"] for s in hubspot_ok)
    assert value(after, "sales_agent_quota_units_used", vendor="gmail") > 0
    assert delta("sales_agent_draft_writer_total", writer="template", outcome="written") == leads
    assert delta("sales_agent_lead_to_draft_seconds_count", source="webhook") == leads
    assert delta("sales_agent_approvals_pending", tenant=portal) == leads
    assert value(after, "sales_agent_breaker_open", vendor="hubspot", tenant=portal) == 1
    assert value(after, "sales_agent_reconciliation_missing", tenant=portal) == 0
    assert value(after, "sales_agent_backlog", state="waiting") >= 1
    assert value(after, "sales_agent_oldest_pending_seconds") > 0
    assert value(after, "sales_agent_webhook_submissions_total", outcome="accepted") >= 1
    third = str(other.portal_id)
    assert value(after, "sales_agent_scheduled_sends", tenant=third, state="scheduled") == 1
    assert value(after, "sales_agent_scheduled_sends", tenant=third, state="overdue") == 1
    assert value(after, "sales_agent_suppressions", tenant=third, reason="bounce") == 1
    assert value(after, "sales_agent_suppressions", tenant=third, reason="manual") == 1
    assert value(after, "sales_agent_workflows_stopped_total", tenant=third, reason="replied") == 1
    # Dagster is not running here: down, and the scrape still answered.
    assert value(after, "sales_agent_dagster_daemon_up") == 0


def test_no_label_value_is_an_email_or_a_uuid(
    leads_ran: tuple[Samples, Samples, int],
) -> None:
    _, after, _ = leads_ran
    ours = [s for s in after if s.name.startswith("sales_agent_")]
    assert ours
    for sample in ours:
        for label, shown in sample.labels.items():
            assert not EMAIL.search(shown), (sample.name, label, shown)
            assert not UUID.search(shown), (sample.name, label, shown)
    buckets = {s.labels["bucket"] for s in ours if s.name == "sales_agent_quota_units_used"}
    assert buckets
    assert all(re.fullmatch(r"[a-z_]+:[0-9a-f]{16}", b) for b in buckets), buckets


def test_the_scrape_survives_a_database_outage(client: TestClient, settings: Settings) -> None:
    nothing = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres")
    collector = PipelineCollector(sessionmaker(nothing), settings)
    families = {family.name for family in collector.collect()}
    assert families == {"sales_agent_dagster_daemon_up", "sales_agent_code_server_up"}

    app = client.app
    sessions = app.state.sessions  # type: ignore[attr-defined]
    app.state.sessions = sessionmaker(nothing)  # type: ignore[attr-defined]
    try:
        response = client.get("/metrics")
    finally:
        app.state.sessions = sessions  # type: ignore[attr-defined]
    assert response.status_code == 200
    names = {f.name for f in text_string_to_metric_families(response.text)}
    assert "sales_agent_http_requests" in names  # the API's own, counted in memory
    assert "sales_agent_dagster_daemon_up" in names
    assert "sales_agent_workflows" not in names  # absent, not stale
    # Back on the database, its figures come back at the next read.
    assert "sales_agent_backlog" in {s.name for s in scrape(client)}


def test_a_figure_that_cannot_be_read_is_left_out_and_the_others_served(
    engine: Engine, settings: Settings
) -> None:
    # A migration holding a table: that one query gives up, the others are read.
    with engine.connect() as migration, migration.begin():
        migration.execute(text("LOCK TABLE workflow_errors IN ACCESS EXCLUSIVE MODE"))
        with Session(engine) as session, session.begin():
            session.execute(text("SET LOCAL lock_timeout = '200ms'"))
            figures = pipeline_figures(
                session,
                step_bounds=catalog.STEP_DURATION.buckets,
                lead_bounds=catalog.LEAD_TO_DRAFT.buckets,
                canary_goal_seconds=settings.canary_latency_goal_seconds,
            )

    assert figures.missing == {"step_retries": "LockNotAvailable"}
    names = {family.name for family in database_families(figures, settings)}
    assert "sales_agent_step_retries" not in names  # absent, never a zero
    assert {"sales_agent_workflows", "sales_agent_backlog", "sales_agent_canary_late"} <= names
