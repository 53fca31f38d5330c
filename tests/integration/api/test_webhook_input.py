"""Input the webhook must answer with a 4xx that names the field, storing nothing, and the
seed's own example payload (a 73-character form id) accepted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import FormSubmission, Tenant
from sales_agent_pipeline.secretbox import SecretBox
from tests.integration.api.conftest import URL_PATH, body_for, make_tenant, post, rows, signed

SEED_FORM = "db8b22de-c3d4-4fc6-9a16-011fe322e82c-a139838e-99fa-44bd-9052-2d04b26f8bf4"


def test_the_seeds_example_payload_is_accepted(
    client: TestClient, engine: Engine, box: SecretBox
) -> None:
    tenant = make_tenant(engine, box, allowed_form_ids=[SEED_FORM])
    payload = {
        "portalId": str(tenant.portal_id),
        "formId": SEED_FORM,
        "formSubmissionId": "test-123",
        "fieldValues": [
            {"name": "email", "value": "test@example.com"},
            {"name": "company", "value": "TestCo"},
        ],
    }
    response = post(client, payload)
    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    with Session(engine) as session:
        stored = session.get_one(FormSubmission, response.json()["submission_id"])
    assert (stored.form_id, stored.company) == (SEED_FORM, "TestCo")


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"formId": "f" * 256}, "invalid_field", "formId"),
        ({"formSubmissionId": "s" * 256}, "invalid_field", "formSubmissionId"),
        ({"formSubmissionId": {"id": 1}}, "invalid_field", "formSubmissionId"),
        ({"portalId": 2**70}, "invalid_field", "portalId"),
        ({"portalId": -5}, "invalid_field", "portalId"),
        ({"portalId": 12.5}, "invalid_field", "portalId"),
        ({"portalId": "\u0661\u0662"}, "invalid_field", "portalId"),
        ({"portalId": True}, "invalid_field", "portalId"),
        ({"note": float("nan")}, "invalid_json", None),
        ({"note": "a\x00b"}, "invalid_text", "body.note"),
        ({"note": "\ud800"}, "invalid_text", "body.note"),
        ({"deep": nested(40)}, "too_deep", None),
        (
            {
                "fieldValues": [
                    {"name": "email", "value": "jo@acme.example"},
                    {"name": "company", "value": "C" * 300},
                ]
            },
            "invalid_field",
            "company",
        ),
    ],
    ids=[
        "long-form-id",
        "long-submission-id",
        "object-id",
        "portal-beyond-bigint",
        "negative-portal",
        "fractional-portal",
        "arabic-indic-digits",
        "boolean-portal",
        "nan",
        "nul",
        "lone-surrogate",
        "deep",
        "long-company",
    ],
)
def test_unstorable_input_is_400_naming_the_field_and_stores_nothing(
    client: TestClient,
    tenant: Tenant,
    engine: Engine,
    overrides: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    document = body_for(tenant.portal_id, **overrides)
    # json.dumps escapes a lone surrogate as \\ud800 and NUL as \\u0000, as a sender would.
    response = post(client, document)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error["fields"] == [field]
    assert rows(engine, tenant) == (0, 0)


def test_json_nested_beyond_the_parsers_stack_is_400(client: TestClient, tenant: Tenant) -> None:
    # Small enough for the body limit, deep enough to exhaust Python's recursion limit.
    raw = b'{"portalId": 1, "x": ' + b"[" * 1800 + b"]" * 1800 + b"}"
    response = client.post(URL_PATH, content=raw, headers=signed(raw))
    assert (response.status_code, response.json()["error"]["code"]) == (400, "too_deep")


def test_a_number_beyond_a_double_is_400_naming_it(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    # Python reads 1e400 as infinity, which JSONB cannot hold.
    raw = json.dumps(body_for(tenant.portal_id, note="@")).encode().replace(b'"@"', b"1e400")
    response = client.post(URL_PATH, content=raw, headers=signed(raw))
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["fields"]) == (
        "invalid_number",
        ["body.note"],
    )
    assert rows(engine, tenant) == (0, 0)
