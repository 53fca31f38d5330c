"""GET /api/admin/breakers: the key's own tenant's breakers per vendor (an open one with its
failures, until and last error; the others closed), never another tenant's; admin only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.breakers import PostgresBreakerStore
from sales_agent_pipeline.domain.breaker import Breaker
from sales_agent_pipeline.domain.enums import BreakerState
from sales_agent_pipeline.secretbox import SecretBox
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import bearer, key_for


def test_an_admin_sees_its_tenants_breakers_and_no_one_elses(
    client: TestClient, engine: Engine, box: SecretBox
) -> None:
    mine, theirs = make_tenant(engine, box), make_tenant(engine, box)
    store = PostgresBreakerStore(sessionmaker(engine))
    until = datetime.now(UTC) + timedelta(minutes=2)
    store.replace(
        None,
        Breaker(
            "crm",
            mine.id,
            state=BreakerState.OPEN,
            consecutive_failures=5,
            trips=2,
            open_until=until,
            last_error="TransientError: create task failed: HTTP 503",
        ),
    )
    store.replace(None, Breaker("mail", theirs.id, state=BreakerState.OPEN, trips=1,
                                consecutive_failures=7, open_until=until))  # fmt: skip

    answer = client.get("/api/admin/breakers", headers=bearer(key_for(engine, mine, admin=True)))
    assert answer.status_code == 200
    body = answer.json()
    assert body["portal_id"] == mine.portal_id
    by_vendor = {item["vendor"]: item for item in body["items"]}
    assert sorted(by_vendor) == ["calendar", "crm", "drive", "mail"]
    crm = by_vendor["crm"]
    assert (crm["state"], crm["consecutive_failures"], crm["trips"]) == ("open", 5, 2)
    assert datetime.fromisoformat(crm["open_until"]) == until
    assert crm["last_error"].endswith("HTTP 503")
    # The other tenant's open mail breaker is not this tenant's.
    assert by_vendor["mail"]["state"] == "closed"
    assert by_vendor["mail"]["consecutive_failures"] == 0
    assert by_vendor["mail"]["updated_at"] is None

    theirs_answer = client.get(
        "/api/admin/breakers", headers=bearer(key_for(engine, theirs, admin=True))
    ).json()
    states = {item["vendor"]: item["state"] for item in theirs_answer["items"]}
    assert states == {"calendar": "closed", "crm": "closed", "drive": "closed", "mail": "open"}


def test_a_standard_key_or_none_is_refused(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    assert client.get("/api/admin/breakers").status_code == 401
    standard = bearer(key_for(engine, tenant))
    assert client.get("/api/admin/breakers", headers=standard).status_code == 403
