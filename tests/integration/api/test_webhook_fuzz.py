"""Whatever a sender puts in a delivery, the answer is never a 5xx and nothing half-written."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from sales_agent_pipeline.db.models import Tenant
from tests.integration.api.conftest import URL_PATH, rows, signed

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
headers = st.dictionaries(
    st.sampled_from(
        ["Content-Type", "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp",
         "X-HubSpot-Signature", "X-HubSpot-Signature-Version", "X-Forwarded-Host"]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    max_size=4,
)  # fmt: skip


def near_miss(portal_id: int) -> st.SearchStrategy[Any]:
    """Bodies shaped like a delivery for this tenant, with parts missing or wrong."""
    return st.fixed_dictionaries(
        {},
        optional={
            "portalId": st.just(portal_id) | json_values,
            "formId": st.just("not-allowed") | json_values,
            "formSubmissionId": json_values,
            "fieldValues": json_values
            | st.lists(st.fixed_dictionaries({"name": st.just("email"), "value": json_values})),
        },
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_input_gives_a_5xx_or_writes_a_row(
    client: TestClient, tenant: Tenant, engine: Engine, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(["raw", "json", "near-miss"]))
    if kind == "raw":
        body = data.draw(st.binary(max_size=600))
    elif kind == "json":
        body = json.dumps(data.draw(json_values)).encode()
    else:
        body = json.dumps(data.draw(near_miss(tenant.portal_id))).encode()
    sent = data.draw(headers)
    if data.draw(st.booleans()):
        sent = {**signed(body), **sent}  # correctly signed, headers possibly overridden
    response = client.post(URL_PATH, content=body, headers=sent)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}
    assert rows(engine, tenant) == (0, 0)
