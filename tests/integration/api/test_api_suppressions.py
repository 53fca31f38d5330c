"""/api/suppressions through the real app and PostgreSQL: admin keys only, the key's tenant
only; add (201), a repeat a no-op (200), remove (404 when absent), list with filters and
pages; bad input a named 400 with nothing written. Workflow and draft answers show why a
lead was not mailed or was stopped, and its scheduled send."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import ScheduledSend, Suppression, Tenant, Workflow
from sales_agent_pipeline.secretbox import SecretBox
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import add_draft, add_workflow, bearer, key_for

PATH = "/api/suppressions"


def count(engine: Engine, tenant: Tenant) -> int:
    with Session(engine) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Suppression)
                .where(Suppression.tenant_id == tenant.id)
            )
            or 0
        )


def test_add_then_repeat_then_remove_then_404(
    client: TestClient, tenant: Tenant, headers: dict[str, str], engine: Engine
) -> None:
    added = client.post(
        PATH, json={"value": "Ana@Example.com", "note": "asked by phone"}, headers=headers
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["status"] == "suppressed"
    entry = body["suppression"]
    assert (entry["kind"], entry["value"], entry["reason"], entry["source"]) == (
        "address",
        "ana@example.com",
        "manual",
        "asked by phone",
    )
    assert entry["created_by"].startswith("alice (")

    again = client.post(
        PATH, json={"value": "ana@example.com", "reason": "bounce"}, headers=headers
    )
    assert again.status_code == 200
    assert again.json()["status"] == "already_suppressed"
    assert "already suppressed" in again.json()["message"]
    assert again.json()["suppression"]["reason"] == "manual"
    assert count(engine, tenant) == 1

    removed = client.delete(f"{PATH}/ANA@example.com", headers=headers)
    assert removed.status_code == 200
    assert removed.json()["status"] == "removed"
    assert count(engine, tenant) == 0
    missing = client.delete(f"{PATH}/ana@example.com", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert "not suppressed" in missing.json()["error"]["message"]


def test_domains(client: TestClient, tenant: Tenant, headers: dict[str, str]) -> None:
    added = client.post(PATH, json={"value": "@Blocked.example"}, headers=headers)
    assert added.status_code == 201
    assert (added.json()["suppression"]["kind"], added.json()["suppression"]["value"]) == (
        "domain",
        "blocked.example",
    )
    assert client.post(PATH, json={"value": "blocked.example"}, headers=headers).status_code == 200
    # The address kind of a domain's value is not the domain.
    assert client.delete(f"{PATH}/blocked.example?kind=address", headers=headers).status_code == 400
    assert client.delete(f"{PATH}/blocked.example", headers=headers).status_code == 200


def test_bad_input_is_a_named_400_and_writes_nothing(
    client: TestClient, tenant: Tenant, headers: dict[str, str], engine: Engine
) -> None:
    for document in (
        {"value": "nodot"},
        {"value": "ana@"},
        {"value": "ana@localhost"},
        {"value": "a b@example.com"},
        {"value": "x" * 300 + "@example.com"},
        {"value": ""},
        {"value": "ana@example.com", "reason": "because"},
        {"value": "ana@example.com", "kind": "person"},
        {"value": "ana@example.com", "extra": 1},
        {"value": "ana@example.com", "note": "n" * 501},
        {},
    ):
        answer = client.post(PATH, json=document, headers=headers)
        assert answer.status_code == 400, (document, answer.text)
        assert answer.json()["error"]["fields"], answer.text
    assert client.post(PATH, content=b"not json", headers=headers).status_code == 400
    assert client.delete(f"{PATH}/nodot", headers=headers).status_code == 400
    assert count(engine, tenant) == 0


def test_list_filters_and_pages(
    client: TestClient, tenant: Tenant, headers: dict[str, str]
) -> None:
    for n in range(3):
        client.post(PATH, json={"value": f"m{n}@example.com"}, headers=headers)
    client.post(PATH, json={"value": "b@example.com", "reason": "bounce"}, headers=headers)
    client.post(PATH, json={"value": "whole.example"}, headers=headers)
    page = client.get(PATH, params={"limit": 2}, headers=headers)
    assert page.status_code == 200
    assert len(page.json()["items"]) == 2
    assert page.json()["next_cursor"]
    seen = [item["value"] for item in page.json()["items"]]
    cursor = page.json()["next_cursor"]
    while cursor:
        more = client.get(PATH, params={"limit": 2, "cursor": cursor}, headers=headers).json()
        seen += [item["value"] for item in more["items"]]
        cursor = more["next_cursor"]
    assert sorted(seen) == sorted(
        ["m0@example.com", "m1@example.com", "m2@example.com", "b@example.com", "whole.example"]
    )
    bounces = client.get(PATH, params={"reason": "bounce"}, headers=headers).json()["items"]
    assert [item["value"] for item in bounces] == ["b@example.com"]
    domains = client.get(PATH, params={"kind": "domain"}, headers=headers).json()["items"]
    assert [item["value"] for item in domains] == ["whole.example"]
    matching = client.get(PATH, params={"address": "Anyone@Whole.example"}, headers=headers)
    assert [item["value"] for item in matching.json()["items"]] == ["whole.example"]
    own = client.get(PATH, params={"address": "b@example.com"}, headers=headers).json()["items"]
    assert [item["value"] for item in own] == ["b@example.com"]
    none = client.get(PATH, params={"address": "nobody@else.example"}, headers=headers)
    assert none.json()["items"] == []
    assert client.get(PATH, params={"reason": "nope"}, headers=headers).status_code == 400
    assert client.get(PATH, params={"cursor": "zzz"}, headers=headers).status_code == 400


def test_admin_keys_only(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    standard = bearer(key_for(engine, tenant, admin=False))
    assert client.get(PATH, headers=standard).status_code == 403
    assert client.post(PATH, json={"value": "a@example.com"}, headers=standard).status_code == 403
    assert client.delete(f"{PATH}/a@example.com", headers=standard).status_code == 403
    assert client.get(PATH).status_code == 401
    assert client.post(PATH, json={"value": "a@example.com"}).status_code == 401
    assert count(engine, tenant) == 0


def test_a_tenant_never_sees_or_removes_anothers_entries(
    client: TestClient, tenant: Tenant, headers: dict[str, str], engine: Engine, box: SecretBox
) -> None:
    other = make_tenant(engine, box)
    theirs = bearer(key_for(engine, other, admin=True, name="bob"))
    assert (
        client.post(PATH, json={"value": "shared@example.com"}, headers=theirs).status_code == 201
    )
    assert client.get(PATH, headers=headers).json()["items"] == []
    assert client.delete(f"{PATH}/shared@example.com", headers=headers).status_code == 404
    assert count(engine, other) == 1
    # The same address is the tenant's own entry to add.
    assert (
        client.post(PATH, json={"value": "shared@example.com"}, headers=headers).status_code == 201
    )


def test_adding_cancels_what_is_scheduled_and_the_answers_show_it(
    client: TestClient, tenant: Tenant, headers: dict[str, str], engine: Engine
) -> None:
    workflow_id = add_workflow(engine, tenant, "lead@target.example", mailbox="owner@ours.example")
    draft_id = add_draft(engine, workflow_id, "lead@target.example")
    due = datetime.now(UTC) + timedelta(hours=10)
    with Session(engine) as session, session.begin():
        session.add(
            ScheduledSend(
                workflow_id=workflow_id,
                tenant_id=tenant.id,
                mailbox="owner@ours.example",
                to_email="lead@target.example",
                gmail_draft_id="draft-1",
                due_at=due,
                time_zone="America/New_York",
                zone_of="recipient",
            )
        )
    detail = client.get(f"/api/workflows/{workflow_id}", headers=headers).json()
    assert detail["mailbox"] == "owner@ours.example"
    assert detail["scheduled_send"]["status"] == "scheduled"
    assert detail["scheduled_send"]["time_zone"] == "America/New_York"
    assert detail["scheduled_send"]["zone_of"] == "recipient"
    assert detail["stopped_reason"] is None

    assert client.post(PATH, json={"value": "target.example"}, headers=headers).status_code == 201
    detail = client.get(f"/api/workflows/{workflow_id}", headers=headers).json()
    assert detail["stopped_reason"] == "suppressed"
    assert detail["stopped_at"] is not None
    assert detail["scheduled_send"]["status"] == "cancelled"
    assert detail["scheduled_send"]["reason"] == "suppressed (manual)"
    draft = client.get(f"/api/drafts/{draft_id}", headers=headers).json()
    assert draft["scheduled_send"]["status"] == "cancelled"
    trail = client.get(f"/api/workflows/{workflow_id}/events", headers=headers).json()
    assert [e["event_type"] for e in trail["events"]][-1] == "stopped"


def test_the_answers_show_a_suppressed_draft(
    client: TestClient, tenant: Tenant, headers: dict[str, str], engine: Engine
) -> None:
    reason = "suppressed (unsubscribe: one-click)"
    workflow_id = add_workflow(engine, tenant, "quiet@target.example", suppressed_reason=reason)
    draft_id = add_draft(engine, workflow_id, "quiet@target.example", suppressed_reason=reason)
    detail = client.get(f"/api/workflows/{workflow_id}", headers=headers).json()
    assert detail["suppressed_reason"] == reason
    assert detail["draft"]["suppressed_reason"] == reason
    assert detail["scheduled_send"] is None
    listed = client.get("/api/drafts", headers=headers).json()["items"]
    assert [d["suppressed_reason"] for d in listed if d["id"] == str(draft_id)] == [reason]
    summaries = client.get("/api/workflows", headers=headers).json()["items"]
    assert [w["suppressed_reason"] for w in summaries if w["id"] == str(workflow_id)] == [reason]
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow).where(Workflow.id == workflow_id).values(stopped_reason="replied")
        )
    assert (
        client.get(f"/api/workflows/{workflow_id}", headers=headers).json()["stopped_reason"]
        == "replied"
    )
    assert client.get(f"/api/workflows/{uuid.uuid4()}", headers=headers).status_code == 404
