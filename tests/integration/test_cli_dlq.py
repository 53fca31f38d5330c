"""`sales-agent dlq list|replay|discard` on real PostgreSQL, with --json as a script reads it:
what is listed, what each action changed, and a refusal (an unknown id, a workflow that is
not a dead letter) as one line and exit code 2 with nothing changed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from sales_agent_pipeline.cli.main import app as cli
from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from sales_agent_pipeline.settings import get_settings
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import add_workflow

Invoke = Callable[..., Result]


@pytest.fixture
def sales_agent(
    monkeypatch: pytest.MonkeyPatch, database_url: URL, tmp_path: Path
) -> Iterator[Invoke]:
    """The CLI as a user runs it, on this worker's database."""
    for name in ("HUBSPOT_PORTAL_ID", "HUBSPOT_CLIENT_ID", "ENVIRONMENT", "SECRETS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", libpq_dsn(database_url))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SECRETS_ENCRYPTION_KEYS", generate_key())

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        return CliRunner().invoke(cli, ["dlq", *args], catch_exceptions=False)

    yield invoke
    get_settings.cache_clear()


@pytest.fixture
def tenant(engine: Engine) -> Tenant:
    return make_tenant(engine, SecretBox([generate_key()]), webhook_secret=None)


def dead_letter(engine: Engine, tenant: Tenant, **values: Any) -> uuid.UUID:
    return add_workflow(
        engine,
        tenant,
        f"lead.{uuid.uuid4().hex[:8]}@acme.example",
        status="dead_letter",
        error_class="transient",
        failure_reason="step 2 resolve_contact: still failing after 4 retries: HubSpot 503",
        **values,
    )


def last_json(result: Result) -> Any:
    """The JSON document a command printed (its last line: logs may come before it)."""
    return json.loads(result.stdout.strip().splitlines()[-1])


def status(engine: Engine, workflow_id: uuid.UUID) -> str:
    with Session(engine) as session:
        return session.get_one(Workflow, workflow_id).status


def test_list_shows_the_tenants_dead_letters_as_json(
    sales_agent: Invoke, engine: Engine, tenant: Tenant
) -> None:
    due = dead_letter(engine, tenant, redrives=1, next_redrive_at=func.now())
    stays = dead_letter(engine, tenant, redrives=8)
    add_workflow(engine, tenant, "ok@acme.example", status="succeeded")

    result = sales_agent("list", "--tenant", str(tenant.portal_id), "--json")

    assert result.exit_code == 0, result.output
    listed = {item["workflow_id"]: item for item in last_json(result)}
    assert set(listed) == {str(due), str(stays)}
    assert listed[str(due)]["redrives"] == 1
    assert listed[str(due)]["next_redrive_at"]
    assert listed[str(stays)]["next_redrive_at"] is None
    assert listed[str(stays)]["error_class"] == "transient"
    assert "HubSpot 503" in listed[str(stays)]["failure_reason"]
    text = sales_agent("list", "--tenant", str(tenant.portal_id))
    assert f"{stays}  portal {tenant.portal_id}" in text.output
    assert "waits for a person" in text.output


def test_replay_queues_the_named_dead_letters(
    sales_agent: Invoke, engine: Engine, tenant: Tenant
) -> None:
    first, second, left = (dead_letter(engine, tenant) for _ in range(3))

    result = sales_agent("replay", str(first), str(second), "--json")

    assert result.exit_code == 0, result.output
    assert set(last_json(result)["replayed"]) == {str(first), str(second)}
    assert (status(engine, first), status(engine, second)) == ("queued", "queued")
    assert status(engine, left) == "dead_letter"


def test_replay_all_of_a_tenant_leaves_other_tenants_alone(
    sales_agent: Invoke, engine: Engine, tenant: Tenant
) -> None:
    mine = {dead_letter(engine, tenant) for _ in range(2)}
    other = make_tenant(engine, SecretBox([generate_key()]), webhook_secret=None)
    theirs = dead_letter(engine, other)

    result = sales_agent("replay", "--all", "--tenant", str(tenant.portal_id), "--json")

    assert result.exit_code == 0, result.output
    assert set(last_json(result)["replayed"]) == {str(i) for i in mine}
    assert status(engine, theirs) == "dead_letter"


def test_a_workflow_that_is_not_a_dead_letter_is_refused_naming_its_status(
    sales_agent: Invoke, engine: Engine, tenant: Tenant
) -> None:
    letter = dead_letter(engine, tenant)
    done = add_workflow(engine, tenant, "done@acme.example", status="succeeded")

    result = sales_agent("replay", str(letter), str(done))

    assert result.exit_code == 2
    assert f"workflow {done} is succeeded, not a dead letter" in result.output
    assert status(engine, letter) == "dead_letter"
    unknown = uuid.uuid4()
    missing = sales_agent("discard", str(unknown))
    assert missing.exit_code == 2
    assert f"no such workflow: {unknown}" in missing.output
    neither = sales_agent("replay")
    assert neither.exit_code == 2
    assert "--all" in neither.output


def test_discard_fails_the_dead_letter_with_the_reason(
    sales_agent: Invoke, engine: Engine, tenant: Tenant
) -> None:
    letter = dead_letter(engine, tenant)

    result = sales_agent("discard", str(letter), "--reason", "a test submission", "--json")

    assert result.exit_code == 0, result.output
    assert last_json(result) == {"discarded": [str(letter)]}
    with Session(engine) as session:
        row = session.get_one(Workflow, letter)
        assert row.status == "failed"
        assert row.failure_reason is not None
        assert row.failure_reason.startswith("discarded from the dead-letter queue by cli (")
        assert row.failure_reason.endswith("): a test submission")
