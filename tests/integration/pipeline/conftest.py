"""The real process_formlead job, executed in process against the sandbox over HTTP and a
real PostgreSQL. Rows are committed (the job opens its own connections), so every test
uses its own prospects and asserts only on its own workflows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult
from sqlalchemy import Engine, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_SENDER, ensure_demo_tenant
from sales_agent_pipeline.connectors import ui_identity
from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.db.repositories.outbox import accept_submission
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.secretbox import encryption_keys, generate_key
from sales_agent_pipeline.settings import get_settings
from sales_agent_pipeline.usecases.imports import ImportResult, import_csv
from tests.sandbox.conftest import Admin, admin_client, sandbox_url  # noqa: F401

FORM_ID = DEMO_FORM
# The tenants' secrets of this test process are encrypted with this key (never the
# development key under the repository's data dir).
SECRETS_KEY = generate_key()


@pytest.fixture(scope="module")
def pipeline_env(sandbox_url: str, database_url: URL) -> Iterator[None]:  # noqa: F811
    """Point the run's settings at the sandbox and this worker's database."""
    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "HUBSPOT_ACCESS_TOKEN",
            "GOOGLE_SERVICE_ACCOUNT_FILE",
            "GOOGLE_OAUTH_TOKEN_FILE",
            "WORKFLOW_MODE",
            "SEND_KILL_SWITCH",
            "ALLOWED_FORM_IDS",
            "HUBSPOT_PORTAL_ID",
            "HUBSPOT_CLIENT_ID",
            "SANDBOX",
            "SECRETS_ENCRYPTION_KEY_FILE",
        ):
            patch.delenv(name, raising=False)
        patch.setenv("SECRETS_ENCRYPTION_KEYS", SECRETS_KEY)
        patch.setenv("DATABASE_URL", libpq_dsn(database_url))
        patch.setenv("HUBSPOT_API_BASE_URL", sandbox_url)
        patch.setenv("GOOGLE_API_BASE_URL", sandbox_url)
        # Retries back off from 50 ms here instead of 1 s: the policy is the same.
        patch.setenv("STEP_RETRY_BASE_SECONDS", "0.05")
        # The sandbox's search is not lagged here (the admin fixture), so one look-up
        # settles a write left uncertain by a 5xx; the lag window has its own tests.
        patch.setenv("SEARCH_LAG_WINDOW_SECONDS", "0")
        # SEND mails at once whatever the hour (a start equal to the end: no send window);
        # the tests of windows set their own.
        patch.setenv("SEND_WINDOW_START", "00:00")
        patch.setenv("SEND_WINDOW_END", "00:00")
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture
def sandbox(admin_client: Admin, pipeline_env: None) -> Iterator[Admin]:  # noqa: F811
    """The sandbox with its demo data; the Gmail user is the demo owner Alex."""
    admin_client.reset(demo=True)
    admin_client.config(
        default_google_user=DEMO_SENDER,
        rate_limit_max=190,
        search_per_second=4,
        google_require_auth=False,
    )
    yield admin_client
    # A test may change the environment (mode, kill switch): never let it leak.
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def tenant(engine: Engine, pipeline_env: None) -> Tenant:
    """The tenant `sales-agent up` creates for the demo: the sandbox's portal and folders."""
    return ensure_demo_tenant(sessionmaker(engine))


@dataclass
class Lead:
    """A submitted lead and the helpers to run it."""

    workflow_id: uuid.UUID
    email: str


def stamped(operator: str, at: datetime | None = None) -> dict[str, str]:
    """The tags our webserver puts on a run the operator launched (connectors/ui_identity)."""
    keys = encryption_keys(get_settings())
    when = at or datetime.now(UTC)
    return {
        tags.OPERATOR: operator,
        tags.OPERATOR_STAMP: ui_identity.stamp(keys, operator, when),
    }


def set_workflow(engine: Engine, workflow_id: uuid.UUID, **values: Any) -> None:
    """Give a workflow's row these values, as a run, a crash or time would leave it."""
    with Session(engine) as session, session.begin():
        session.execute(update(Workflow).where(Workflow.id == workflow_id).values(**values))


def only_mine(engine: Engine, *leads: Lead) -> None:
    """Age this test's leads past the grace period; others' waiting work is not this test's."""
    ids = [lead.workflow_id for lead in leads]
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.run_requested_at.is_(None), Workflow.id.not_in(ids))
            .values(run_requested_at=Workflow.created_at)
        )
        session.execute(
            update(Workflow)
            .where(Workflow.id.in_(ids))
            .values(created_at=Workflow.created_at - timedelta(minutes=1))
        )


def import_rows(
    engine: Engine, tenant: Tenant, csv: str, *, filename: str, max_rows: int
) -> ImportResult:
    """Import a CSV for the tenant as an admin's upload does (committed)."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return import_csv(
            session,
            session.get_one(Tenant, tenant.id),
            csv.encode(),
            filename=filename,
            created_by="test",
            max_bytes=1 << 20,
            max_rows=max_rows,
        )


def upstream_submission(
    form: str, conversion_id: str, submitted_at: datetime, **values: str
) -> dict[str, Any]:
    """A submission as HubSpot lists it (the sandbox's seed shape), its values in order."""
    return {
        "formGuid": form,
        "conversionId": conversion_id,
        "submittedAt": submitted_at.isoformat(),
        "values": [{"name": name, "value": value} for name, value in values.items()],
    }


def lead_fields(email: str, **fields: str) -> list[dict[str, str]]:
    """A lead's form fields in the webhook's shape: the email first, then Jordan of Acme."""
    values = {"email": email, "firstname": "Jordan", "company": "Acme Robotics", **fields}
    return [{"name": name, "value": value} for name, value in values.items()]


def store_delivery(
    engine: Engine,
    tenant: Tenant,
    form: str,
    submission_id: str,
    field_values: list[dict[str, str]],
) -> uuid.UUID:
    """Store a delivery the way the webhook does (committed); its workflow's id."""
    payload = {
        "portalId": tenant.portal_id,
        "formId": form,
        "formSubmissionId": submission_id,
        "fieldValues": field_values,
    }
    with Session(engine) as session, session.begin():
        accepted = accept_submission(
            session,
            tenant,
            form_id=form,
            hubspot_submission_id=submission_id,
            payload=payload,
            email=field_values[0]["value"],  # lead_fields and HubSpot's lists put it first
        )
    return accepted.workflow_id


@pytest.fixture
def submit(engine: Engine, tenant: Tenant) -> Any:
    """Store a submission and its workflow the way the webhook does (committed)."""

    def make(email: str, **fields: str) -> Lead:
        values = lead_fields(email, **fields)
        return Lead(store_delivery(engine, tenant, FORM_ID, str(uuid.uuid4()), values), email)

    return make


@pytest.fixture(scope="module")
def instance() -> Iterator[DagsterInstance]:
    """An ephemeral Dagster instance (the e2e tests use the real one)."""
    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def run(instance: DagsterInstance) -> Any:
    """Execute process_formlead for one or more leads, as a live run or a re-run."""
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("process_formlead")

    def execute(
        *leads: Lead, trigger: str = "webhook", on: DagsterInstance | None = None
    ) -> ExecuteInProcessResult:
        target = on or instance
        keys = [str(lead.workflow_id) for lead in leads]
        missing = [key for key in keys if not target.has_dynamic_partition("leads", key)]
        if missing:
            target.add_dynamic_partitions("leads", missing)
        run_tags = {tags.TRIGGER: trigger}
        if len(keys) == 1:
            return job.execute_in_process(
                instance=target, partition_key=keys[0], tags=run_tags, raise_on_error=False
            )
        run_tags |= {
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1],
        }
        return job.execute_in_process(instance=target, tags=run_tags, raise_on_error=False)

    return execute
