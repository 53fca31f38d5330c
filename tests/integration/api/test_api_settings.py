"""GET/PUT /api/admin/settings: partial updates, validation naming fields, one audit row per
accepted change, and the next webhook and run see the change."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.workflows import load_work_items
from sales_agent_pipeline.domain.enums import WorkflowMode
from tests.integration.api.conftest import body_for, post
from tests.integration.api.operator_support import add_workflow, audit_rows


def test_get_shows_the_tenant_and_global_settings(
    client: TestClient, tenant: Tenant, headers: dict[str, str]
) -> None:
    body = client.get("/api/admin/settings", headers=headers).json()
    assert body["portal_id"] == tenant.portal_id
    assert body["mode"] is None
    assert body["kill_switch"] is False
    assert body["allowed_form_ids"] == ["form-guid-1"]
    assert body["daily_send_cap"] == 50
    assert body["voice_profile"]["sender_name"] == "The team"
    assert (body["global_mode"], body["global_kill_switch"]) == ("DRAFT_ONLY", False)


def test_put_changes_only_what_is_given_and_audits_it_once(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    changed = client.put(
        "/api/admin/settings",
        json={"mode": "SEND", "daily_send_cap": 10, "kill_switch": False},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["mode"], body["daily_send_cap"], body["throttle_window_seconds"]) == (
        "SEND",
        10,
        86400,
    )
    # The same values again change nothing and write no audit row.
    assert client.put("/api/admin/settings", json={"daily_send_cap": 10}, headers=headers).json()
    assert audit_rows(engine, tenant) == 1

    back = client.put("/api/admin/settings", json={"mode": None}, headers=headers)
    assert back.json()["mode"] is None
    changes = client.get("/api/admin/settings/changes", headers=headers).json()["items"]
    assert [(c["old"], c["new"]) for c in changes] == [
        ({"mode": "SEND"}, {"mode": None}),
        ({"mode": None, "daily_send_cap": 50}, {"mode": "SEND", "daily_send_cap": 10}),
    ]
    assert changes[0]["changed_by"].startswith("alice (sak_")
    assert changes[0]["api_key_id"]
    assert changes[0]["changed_at"] >= changes[1]["changed_at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"daily_send_cap": -1}, "daily_send_cap"),
        ({"daily_send_cap": "many"}, "daily_send_cap"),
        ({"kill_switch": None}, "kill_switch"),
        ({"mode": "YOLO"}, "mode"),
        ({"allowed_form_ids": ["ok", " "]}, "allowed_form_ids.1"),
        ({"throttle_window_seconds": 10**9}, "throttle_window_seconds"),
        ({"voice_profile": {"tone": "angry"}}, "voice_profile.tone"),
        ({"voice_profile": {"sender_nmae": "typo"}}, "voice_profile.sender_nmae"),
        ({"colour": "blue"}, "colour"),
        # What PostgreSQL cannot store: a NUL character.
        ({"drive_folder_ids": ["ok", "a\x00b"]}, "drive_folder_ids"),
        ({"voice_profile": {"sender_name": "Al\x00ex"}}, "voice_profile"),
        ({"route_by_owner": None}, "route_by_owner"),
        ({"owner_hours": {"not-an-email": {}}}, "owner_hours.not-an-email.[key]"),
        (
            {"owner_hours": {"a@x.example": {"time_zone": "Mars/Base"}}},
            "owner_hours.a@x.example.time_zone",
        ),
        ({"owner_hours": {"a@x.example": {"days": [7]}}}, "owner_hours.a@x.example.days"),
        (
            {"owner_hours": {"a@x.example": {"start": "18:00", "end": "09:00"}}},
            "owner_hours.a@x.example",
        ),
        ({"owner_hours": {"a\x00b@x.example": {}}}, "owner_hours"),
    ],
)
def test_invalid_values_are_400_naming_the_field_and_write_nothing(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    headers: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    # A valid change next to the bad one must not land either.
    response = client.put(
        "/api/admin/settings", json={"daily_send_cap": 7, **body}, headers=headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["fields"] == [field]
    assert client.get("/api/admin/settings", headers=headers).json()["daily_send_cap"] == 50
    assert audit_rows(engine, tenant) == 0


def test_a_body_that_is_not_json_is_400(client: TestClient, headers: dict[str, str]) -> None:
    response = client.put(
        "/api/admin/settings",
        content=b"{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_the_next_webhook_and_the_next_run_use_the_new_settings(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    voice = {"sender_name": "Sam Diaz", "company_name": "Acme", "tone": "formal"}
    response = client.put(
        "/api/admin/settings",
        json={"allowed_form_ids": ["form-new", "form-new"], "voice_profile": voice},
        headers=headers,
    )
    assert response.json()["allowed_form_ids"] == ["form-new"]
    # HubSpot is unreachable here: the form is kept, and the answer says it went unchecked.
    assert [note.split(":")[0] for note in response.json()["notes"]] == ["forms not checked"]
    refused = post(client, body_for(tenant.portal_id, "sub-old"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "form_not_allowed"
    accepted = post(client, body_for(tenant.portal_id, "sub-new", formId="form-new"))
    assert accepted.status_code == 202

    workflow_id = add_workflow(engine, tenant, "next@acme.example", status="received")
    client.put("/api/admin/settings", json={"mode": "SEND"}, headers=headers)
    with Session(engine) as session:
        (item,) = load_work_items(session, [workflow_id])
    assert item.tenant.voice.sender_name == "Sam Diaz"
    assert item.tenant.voice.tone.value == "formal"
    assert item.tenant.mode is WorkflowMode.SEND


def test_owner_routing_and_hours_are_settings_the_next_run_uses(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    assert client.get("/api/admin/settings", headers=headers).json()["owner_hours"] == {}
    hours = {"time_zone": "Europe/Paris", "start": "08:30", "end": "16:00", "days": [0, 1, 2, 3]}
    response = client.put(
        "/api/admin/settings",
        json={"route_by_owner": False, "owner_hours": {"Alex.Morgan@Acme.example": hours}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["route_by_owner"] is False
    assert body["owner_hours"] == {
        "alex.morgan@acme.example": {**hours, "start": "08:30:00", "end": "16:00:00"}
    }
    changes = client.get("/api/admin/settings/changes", headers=headers).json()["items"]
    assert changes[0]["new"]["route_by_owner"] is False
    workflow_id = add_workflow(engine, tenant, "next@acme.example", status="received")
    with Session(engine) as session:
        (item,) = load_work_items(session, [workflow_id])
    assert item.tenant.route_by_owner is False
    found = item.tenant.owner_hours["alex.morgan@acme.example"]
    assert (found.time_zone, found.days) == ("Europe/Paris", (0, 1, 2, 3))
