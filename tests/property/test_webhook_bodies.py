"""Mutated HubSpot bodies, most signed as HubSpot signs them so they reach every check up to
the insert: never a 5xx, and no row for any rejected request."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from sales_agent_pipeline.db.models import Tenant
from tests.property.conftest import Ledger, fuzz_settings, send
from tests.property.deliveries import deliveries


@fuzz_settings(max_examples=5_000)
@given(data=st.data())
def test_mutated_bodies_never_get_a_5xx_nor_a_row_when_refused(
    app_client: TestClient, portal: Tenant, ledger: Ledger, data: st.DataObject
) -> None:
    send(app_client, ledger, data.draw(deliveries(portal.portal_id, mostly_valid_headers=True)))
