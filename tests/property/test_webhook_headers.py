"""Mutated bodies and raw bytes under every kind of header set: v3 signatures with another
secret, stale, future or garbled; v2 and v1 ones; none; odd content types and forwarded
headers; chunked bodies. Never a 5xx, and no row for any rejected request."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from sales_agent_pipeline.db.models import Tenant
from tests.property.conftest import Ledger, fuzz_settings, send
from tests.property.deliveries import deliveries


@fuzz_settings(max_examples=5_000)
@given(data=st.data())
def test_any_header_set_never_gets_a_5xx_nor_a_row_when_refused(
    app_client: TestClient, portal: Tenant, ledger: Ledger, data: st.DataObject
) -> None:
    send(app_client, ledger, data.draw(deliveries(portal.portal_id, mostly_valid_headers=False)))
