"""POST /webhook/formlead through the real app and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import httpx
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from sales_agent_api.app import create_app
from sales_agent_pipeline.db.models import FormSubmission, Tenant, Workflow
from sales_agent_pipeline.db.repositories.tenant_secrets import put_secret
from sales_agent_pipeline.domain.enums import SecretKind
from sales_agent_pipeline.secretbox import SecretBox
from sales_agent_pipeline.settings import Settings
from tests.conftest import free_port
from tests.integration.api.conftest import (
    FORM,
    SECRET,
    URL_PATH,
    body_for,
    make_tenant,
    post,
    rows,
    signed,
)


def test_a_valid_delivery_is_accepted_and_stored_with_its_raw_payload(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    document = body_for(tenant.portal_id, extra_field="kept")
    response = post(client, document)
    assert response.status_code == 202
    receipt = response.json()
    assert receipt["status"] == "accepted"
    with Session(engine) as session:
        submission = session.get_one(FormSubmission, receipt["submission_id"])
        workflow = session.get_one(Workflow, receipt["workflow_id"])
    assert submission.raw_payload == document
    assert (submission.email, submission.first_name, submission.form_id) == (
        "jane@acme-robotics.example",
        "Jane",
        FORM,
    )
    assert workflow.status == "received"
    assert workflow.email_domain == "acme-robotics.example"
    # Dagster is unreachable here: the launch is released for the sensor, nothing lost.
    assert client.app.state.launches.wait_idle()  # type: ignore[attr-defined]
    with Session(engine) as session:
        assert session.get_one(Workflow, receipt["workflow_id"]).run_requested_at is None


def test_a_repeated_delivery_is_a_200_duplicate_with_the_first_workflow(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    first = post(client, body_for(tenant.portal_id, "sub-dup")).json()
    again = post(client, body_for(tenant.portal_id, "sub-dup"))
    assert again.status_code == 200
    assert again.json() == {**first, "status": "duplicate"}
    assert rows(engine, tenant) == (1, 1)


def test_a_form_off_the_allowlist_is_403_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    response = post(client, body_for(tenant.portal_id, formId="other-form"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "form_not_allowed"
    assert rows(engine, tenant) == (0, 0)


def test_an_unknown_portal_is_403(client: TestClient) -> None:
    response = post(client, body_for(424242))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "unknown_portal"


def test_a_tenant_without_a_secret_of_its_own_is_401_even_with_the_apps_secret_set(
    client: TestClient, settings: Settings, engine: Engine, box: SecretBox
) -> None:
    # The app's HUBSPOT_CLIENT_SECRET equals what the delivery is signed with: fail closed.
    assert settings.hubspot_client_secret is not None
    assert settings.hubspot_client_secret.get_secret_value() == SECRET
    bare = make_tenant(engine, box, webhook_secret=None)
    response = post(client, body_for(bare.portal_id))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "no_secret"
    assert rows(engine, bare) == (0, 0)


def test_one_tenants_secret_does_not_verify_another_tenants_deliveries(
    client: TestClient, engine: Engine, box: SecretBox
) -> None:
    alpha = make_tenant(engine, box, webhook_secret="alpha-secret")
    beta = make_tenant(engine, box, webhook_secret="beta-secret")
    crossed = post(client, body_for(beta.portal_id, "sub-x"), secret="alpha-secret")
    assert (crossed.status_code, crossed.json()["error"]["code"]) == (401, "bad_signature")
    assert (
        post(client, body_for(alpha.portal_id, "sub-a"), secret="alpha-secret").status_code == 202
    )
    assert post(client, body_for(beta.portal_id, "sub-b"), secret="beta-secret").status_code == 202
    assert (rows(engine, alpha), rows(engine, beta)) == ((1, 1), (1, 1))


def test_a_replaced_secret_takes_effect_at_once(
    client: TestClient, engine: Engine, box: SecretBox, tenant: Tenant
) -> None:
    assert post(client, body_for(tenant.portal_id, "sub-old")).status_code == 202
    with Session(engine) as session, session.begin():
        put_secret(session, box, tenant.id, SecretKind.WEBHOOK_SECRET, "rotated-secret")
    stale = post(client, body_for(tenant.portal_id, "sub-stale"))
    assert (stale.status_code, stale.json()["error"]["code"]) == (401, "bad_signature")
    fresh = post(client, body_for(tenant.portal_id, "sub-new"), secret="rotated-secret")
    assert fresh.status_code == 202
    assert rows(engine, tenant) == (2, 2)


def test_a_disabled_tenant_is_403_and_writes_nothing(
    client: TestClient, engine: Engine, box: SecretBox
) -> None:
    disabled = make_tenant(engine, box, disabled_at=datetime.now(UTC))
    response = post(client, body_for(disabled.portal_id))
    assert (response.status_code, response.json()["error"]["code"]) == (403, "tenant_disabled")
    # Its deliveries are still authenticated first: a forged one learns nothing more.
    forged = post(client, body_for(disabled.portal_id), secret="guess")
    assert forged.status_code == 401
    assert rows(engine, disabled) == (0, 0)


def test_the_global_allowlist_does_not_widen_a_tenants_own(
    engine: Engine, box: SecretBox, settings: Settings
) -> None:
    # ALLOWED_FORM_IDS seeds only the single-portal tenant; here it names another form.
    wider = settings.model_copy(update={"allowed_form_ids": ["form-of-another-portal"]})
    tenant = make_tenant(engine, box)
    with TestClient(create_app(wider), base_url="http://testserver") as other_client:
        refused = post(other_client, body_for(tenant.portal_id, formId="form-of-another-portal"))
        accepted = post(other_client, body_for(tenant.portal_id))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "form_not_allowed")
    assert accepted.status_code == 202


def test_bad_signatures_and_timestamps_are_401_and_write_nothing(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    document = body_for(tenant.portal_id)
    now = int(time.time() * 1000)
    for sign in (
        {"secret": "wrong-secret"},
        {"timestamp_ms": now - 6 * 60 * 1000},
        {"timestamp_ms": now + 6 * 60 * 1000},
        {"url": "http://testserver/other"},
    ):
        response = post(client, document, **sign)
        assert response.status_code == 401, sign
        assert response.json()["error"]["code"] == "bad_signature"
    raw = json.dumps(document).encode()
    tampered = raw.replace(b"Jane", b"John")
    response = client.post(URL_PATH, content=tampered, headers=signed(raw))
    assert response.status_code == 401
    unsigned = client.post(URL_PATH, content=raw, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    assert rows(engine, tenant) == (0, 0)


def test_bad_bodies_are_400_naming_the_fields(client: TestClient, tenant: Tenant) -> None:
    raw = b"{not json"
    response = client.post(URL_PATH, content=raw, headers=signed(raw))
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_json")

    response = post(client, {"portalId": tenant.portal_id, "fieldValues": []})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == ["formId", "formSubmissionId"]

    no_email = body_for(tenant.portal_id, fieldValues=[{"name": "firstname", "value": "Jo"}])
    response = post(client, no_email)
    assert (response.status_code, response.json()["error"]["fields"]) == (400, ["email"])

    bad_email = body_for(tenant.portal_id, fieldValues=[{"name": "email", "value": "jo@"}])
    response = post(client, bad_email)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_email")


def test_not_json_is_415_and_too_large_is_413(client: TestClient, tenant: Tenant) -> None:
    raw = json.dumps(body_for(tenant.portal_id)).encode()
    headers = {**signed(raw), "Content-Type": "text/plain"}
    assert client.post(URL_PATH, content=raw, headers=headers).status_code == 415
    big = json.dumps(body_for(tenant.portal_id, padding="x" * 5000)).encode()
    response = client.post(URL_PATH, content=big, headers=signed(big))
    assert (response.status_code, response.json()["error"]["code"]) == (413, "body_too_large")


def test_a_batch_is_stored_in_one_transaction_or_not_at_all(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    good = [body_for(tenant.portal_id, f"batch-{i}") for i in range(3)]
    broken = [*good, {"portalId": tenant.portal_id, "formId": FORM}]
    response = post(client, broken)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == ["[3].formSubmissionId"]
    assert rows(engine, tenant) == (0, 0)

    response = post(client, good)
    assert response.status_code == 202
    assert [r["status"] for r in response.json()["results"]] == ["accepted"] * 3
    assert rows(engine, tenant) == (3, 3)


def test_the_legacy_contact_variant_is_accepted(client: TestClient, tenant: Tenant) -> None:
    document = {
        "vid": 101,
        "portal-id": tenant.portal_id,
        "properties": {"email": {"value": "legacy@acme-robotics.example"}},
        "form-submissions": [
            {"conversion-id": "conv-1", "form-id": FORM, "portal-id": tenant.portal_id,
             "timestamp": 1764000000000},
        ],
    }  # fmt: skip
    response = post(client, document)
    assert response.status_code == 202, response.text


def test_ten_concurrent_deliveries_make_one_submission_and_one_workflow(
    settings: Settings, tenant: Tenant, engine: Engine
) -> None:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    raw = json.dumps(body_for(tenant.portal_id, "sub-race")).encode()
    url = f"http://127.0.0.1:{port}{URL_PATH}"
    statuses: list[int] = []
    barrier = threading.Barrier(10)

    def deliver() -> None:
        barrier.wait()
        response = httpx.post(url, content=raw, headers=signed(raw, url=url), timeout=10)
        statuses.append(response.status_code)

    workers = [threading.Thread(target=deliver) for _ in range(10)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    server.should_exit = True
    thread.join(timeout=10)
    assert sorted(statuses) == [200] * 9 + [202]
    assert rows(engine, tenant) == (1, 1)
    with Session(engine) as session:
        ids = session.scalars(select(Workflow.id).where(Workflow.tenant_id == tenant.id)).all()
    assert len(ids) == 1
