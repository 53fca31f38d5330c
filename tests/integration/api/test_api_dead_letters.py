"""/api/admin/dead-letters: an admin key lists, replays and discards its tenant's dead
letters only; another tenant's is a 404, a workflow that is not a dead letter a 409, and
either leaves everything as it was."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.secretbox import SecretBox
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import add_workflow, bearer, key_for
from tests.integration.api.test_metrics import sample

PATH = "/api/admin/dead-letters"


def dead_letter(engine: Engine, tenant: Tenant, email: str, **values: Any) -> uuid.UUID:
    return add_workflow(
        engine,
        tenant,
        email,
        status="dead_letter",
        error_class="transient",
        failure_reason="step 12 create_hubspot_task: still failing after 4 retries: 503",
        **values,
    )


def backlog_sample(client: TestClient, state: str) -> float:
    # The pipeline's figures are cached a few seconds per worker: read them afresh.
    collector = getattr(client.app.state, "pipeline_metrics", None)  # type: ignore[attr-defined]
    if collector is not None:
        collector.invalidate()
    return sample(client, "sales_agent_backlog", state=state)


def status_of(engine: Engine, workflow_id: uuid.UUID) -> tuple[str, str | None]:
    with Session(engine) as session:
        row = session.get_one(Workflow, workflow_id)
        return row.status, row.failure_reason


def test_the_list_shows_the_tenants_dead_letters_only(
    client: TestClient, engine: Engine, tenant: Tenant, box: SecretBox, headers: dict[str, str]
) -> None:
    waiting = dead_letter(engine, tenant, "w@acme.example", redrives=2, next_redrive_at=func.now())
    for_a_person = dead_letter(engine, tenant, "p@acme.example", redrives=8)
    add_workflow(engine, tenant, "ok@acme.example", status="succeeded")
    dead_letter(engine, make_tenant(engine, box), "theirs@acme.example")

    response = client.get(PATH, headers=headers)

    assert response.status_code == 200, response.text
    items = {item["workflow_id"]: item for item in response.json()["items"]}
    assert set(items) == {str(waiting), str(for_a_person)}
    assert items[str(waiting)]["redrives"] == 2
    assert items[str(waiting)]["next_redrive_at"] is not None
    assert items[str(for_a_person)]["next_redrive_at"] is None
    assert items[str(for_a_person)]["error_class"] == "transient"
    assert items[str(for_a_person)]["portal_id"] == tenant.portal_id
    # The workflows' own listing filters and shows them too.
    listed = client.get("/api/workflows", params={"status": "dead_letter"}, headers=headers)
    assert {item["id"] for item in listed.json()["items"]} == set(items)
    assert {item["error_class"] for item in listed.json()["items"]} == {"transient"}


def test_a_replay_queues_the_dead_letters_and_is_audited(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    first = dead_letter(engine, tenant, "a@acme.example")
    second = dead_letter(engine, tenant, "b@acme.example")

    response = client.post(f"{PATH}/replay", json={"all": True}, headers=headers)

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    assert set(response.json()["workflow_ids"]) == {str(first), str(second)}
    # Dagster is unreachable in these tests: the launch was released for the sensor.
    assert status_of(engine, first)[0] == status_of(engine, second)[0] == "queued"
    trail = client.get(f"/api/workflows/{first}/events", headers=headers).json()
    assert trail["events"][-1]["event_type"] == "dead_letter_replayed"
    assert trail["events"][-1]["details"]["requested_by"].startswith("alice (sak_")
    assert client.get(PATH, headers=headers).json()["items"] == []


def test_another_tenants_dead_letter_is_not_found_and_stays(
    client: TestClient, engine: Engine, tenant: Tenant, box: SecretBox, headers: dict[str, str]
) -> None:
    mine = dead_letter(engine, tenant, "m@acme.example")
    theirs = dead_letter(engine, make_tenant(engine, box), "t@acme.example")
    for action, body in (
        ("replay", {"workflow_ids": [str(mine), str(theirs)]}),
        ("discard", {"workflow_ids": [str(theirs)], "reason": "spam"}),
    ):
        response = client.post(f"{PATH}/{action}", json=body, headers=headers)
        assert response.status_code == 404, response.text
        assert str(theirs) in response.json()["error"]["message"]
    assert status_of(engine, theirs)[0] == "dead_letter"
    assert status_of(engine, mine)[0] == "dead_letter"


def test_what_is_not_a_dead_letter_is_a_409_naming_its_status(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    letter = dead_letter(engine, tenant, "l@acme.example")
    done = add_workflow(engine, tenant, "done@acme.example", status="succeeded")
    response = client.post(
        f"{PATH}/replay", json={"workflow_ids": [str(letter), str(done)]}, headers=headers
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "not_dead_letter"
    assert f"{done} is succeeded" in response.json()["error"]["message"]
    assert status_of(engine, letter)[0] == "dead_letter"
    assert status_of(engine, done)[0] == "succeeded"


def test_a_discard_fails_the_dead_letter_with_the_reason(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    letter = dead_letter(engine, tenant, "d@acme.example")
    response = client.post(
        f"{PATH}/discard",
        json={"workflow_ids": [str(letter)], "reason": "a test submission"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"workflow_ids": [str(letter)], "status": "failed"}
    status, reason = status_of(engine, letter)
    assert status == "failed"
    assert reason is not None
    assert reason.endswith(": a test submission")
    again = client.post(
        f"{PATH}/discard", json={"workflow_ids": [str(letter)], "reason": "x"}, headers=headers
    )
    assert again.status_code == 409


def test_bad_bodies_and_keys_are_refused(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    letter = dead_letter(engine, tenant, "b@acme.example")
    for body in (
        {},
        {"all": True, "workflow_ids": [str(letter)]},
        {"workflow_ids": ["not-a-uuid"]},
    ):
        assert client.post(f"{PATH}/replay", json=body, headers=headers).status_code == 400
    no_reason = {"workflow_ids": [str(letter)], "reason": "  "}
    assert client.post(f"{PATH}/discard", json=no_reason, headers=headers).status_code == 400
    standard = bearer(key_for(engine, tenant))
    assert client.get(PATH, headers=standard).status_code == 403
    assert client.post(f"{PATH}/replay", json={"all": True}, headers=standard).status_code == 403
    assert status_of(engine, letter)[0] == "dead_letter"


def test_the_backlog_metric_counts_dead_letters_apart(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    states = ("waiting", "running", "dead_letter_redrive_due", "dead_letter_for_a_person")
    before = {state: backlog_sample(client, state) for state in states}
    dead_letter(engine, tenant, "due@acme.example", next_redrive_at=func.now())
    dead_letter(engine, tenant, "person@acme.example")
    add_workflow(engine, tenant, "run@acme.example", status="running")
    add_workflow(engine, tenant, "done@acme.example", status="succeeded")

    after = {state: backlog_sample(client, state) for state in states}

    assert {state: after[state] - before[state] for state in states} == {
        "waiting": 0,
        "running": 1,
        "dead_letter_redrive_due": 1,
        "dead_letter_for_a_person": 1,
    }
