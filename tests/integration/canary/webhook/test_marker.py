"""The synthetic marker through the real webhook: only the portal's secret makes a lead
synthetic; whatever a lead types, and any forged marker, leaves it an ordinary lead."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.connectors import synthetic_marker
from sales_agent_pipeline.db.models import Tenant, Workflow
from tests.integration.api.conftest import SECRET, URL_PATH, body_for, signed
from tests.integration.api.operator_support import bearer, key_for


def deliver(client: TestClient, document: Any, marker: str | None, **sign: Any) -> Any:
    raw = json.dumps(document).encode()
    extra = {synthetic_marker.HEADER: marker} if marker is not None else {}
    return client.post(URL_PATH, content=raw, headers={**signed(raw, **sign), **extra})


def marker_for(document: Any, secret: str = SECRET) -> str:
    return synthetic_marker.mark(secret, json.dumps(document).encode())


def is_synthetic(engine: Engine, response: Any) -> bool:
    with Session(engine) as session:
        return session.get_one(Workflow, response.json()["workflow_id"]).synthetic


def test_a_delivery_marked_with_the_portals_secret_is_stored_synthetic(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    document = body_for(tenant.portal_id, "canary-1")
    response = deliver(client, document, marker_for(document))
    assert response.status_code == 202
    assert is_synthetic(engine, response)


def test_the_same_payload_without_the_marker_is_an_ordinary_lead(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    response = deliver(client, body_for(tenant.portal_id, "plain-1"), None)
    assert response.status_code == 202
    assert not is_synthetic(engine, response)


@pytest.mark.parametrize(
    "forge",
    [
        # Another secret (e.g. another tenant's, or HUBSPOT_CLIENT_SECRET's guess).
        lambda document: marker_for(document, secret="someone-elses-secret"),
        # The right secret over another body: a marker cannot be moved onto a lead.
        lambda document: marker_for({**document, "formSubmissionId": "other"}),
        # The webhook secret itself, a HubSpot-style digest, or words a lead might try.
        lambda document: base64.b64encode(SECRET.encode()).decode(),
        lambda document: "synthetic",
        lambda document: "true",
        lambda document: "",
        lambda document: ("é" * 44).encode("latin-1"),
    ],
)
def test_a_forged_marker_leaves_the_lead_ordinary(
    client: TestClient, tenant: Tenant, engine: Engine, forge: Any, request: Any
) -> None:
    document = body_for(tenant.portal_id, f"forged-{request.node.callspec.id}")
    response = deliver(client, document, forge(document))
    assert response.status_code == 202
    assert not is_synthetic(engine, response)


def test_a_lead_typing_synthetic_anywhere_changes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    document = body_for(
        tenant.portal_id,
        "typed-1",
        synthetic=True,
        fieldValues=[
            {"name": "email", "value": "synthetic@acme-robotics.example"},
            {"name": "firstname", "value": "synthetic"},
            {"name": "synthetic", "value": "true"},
            {"name": synthetic_marker.HEADER, "value": marker_for({"x": 1})},
        ],
    )
    raw = json.dumps(document).encode()
    url = f"http://testserver{URL_PATH}?synthetic=true"
    response = client.post(f"{URL_PATH}?synthetic=true", content=raw, headers=signed(raw, url=url))
    assert response.status_code == 202
    assert not is_synthetic(engine, response)


def test_a_marked_delivery_with_a_bad_signature_is_the_usual_401(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    document = body_for(tenant.portal_id, "canary-bad-signature")
    response = deliver(client, document, marker_for(document), secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    with Session(engine) as session:
        assert session.query(Workflow).filter(Workflow.tenant_id == tenant.id).count() == 0


def test_a_redelivery_of_the_canarys_lead_is_a_duplicate_that_stays_synthetic(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    document = body_for(tenant.portal_id, "canary-twice")
    first = deliver(client, document, marker_for(document))
    again = deliver(client, document, None)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["workflow_id"] == first.json()["workflow_id"]
    assert is_synthetic(engine, again)


def test_the_workflow_list_leaves_synthetic_workflows_out_unless_asked(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    canary_doc = body_for(tenant.portal_id, "canary-listed")
    canary = deliver(client, canary_doc, marker_for(canary_doc)).json()["workflow_id"]
    plain = deliver(client, body_for(tenant.portal_id, "plain-listed"), None).json()["workflow_id"]
    auth = bearer(key_for(engine, tenant, name="lister"))

    listed = client.get("/api/workflows", headers=auth)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [plain]
    synthetic = client.get("/api/workflows", params={"synthetic": "true"}, headers=auth)
    assert [item["id"] for item in synthetic.json()["items"]] == [canary]
    assert (
        client.get("/api/workflows", params={"synthetic": "maybe"}, headers=auth).status_code == 400
    )
