"""The send kill switches over the admin API: a tenant's admin key reads both and sets only
its own (through its settings); the global switch takes the operator's key, every change
kept with who made it and why."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_api.app import create_app
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.send_switches import kill_switch, set_kill_switch
from tests.conftest import free_port
from tests.integration.api.conftest import app_settings
from tests.integration.api.operator_support import bearer

OPERATOR = secrets.token_urlsafe(32)
SWITCH = "/api/admin/switches/send-kill-switch"


@pytest.fixture(scope="module")
def settings(database_url: URL) -> Settings:
    return app_settings(database_url, f"http://127.0.0.1:{free_port()}", operator_api_key=OPERATOR)


@pytest.fixture(autouse=True)
def switch_off(engine: Engine, settings: Settings) -> Iterator[None]:
    """The switch stops every tenant's sends in this database: never leave it on."""
    yield
    with Session(engine) as session, session.begin():
        set_kill_switch(session, settings, on=False, changed_by="test", reason="cleanup")


def test_the_operator_turns_the_global_switch_on_and_off_with_a_reason(
    client: TestClient, engine: Engine, settings: Settings, headers: dict[str, str]
) -> None:
    answer = client.put(
        SWITCH, json={"on": True, "reason": "incident 42"}, headers=bearer(OPERATOR)
    )
    assert answer.status_code == 200, answer.text
    assert {k: answer.json()[k] for k in ("on", "stored", "changed_by", "reason")} == {
        "on": True, "stored": True, "changed_by": "operator-api", "reason": "incident 42",
    }  # fmt: skip
    with Session(engine) as session:
        assert kill_switch(session, settings).on is True
    # A tenant's admin sees it (and its own switch) but cannot change it.
    seen = client.get("/api/admin/switches", headers=headers)
    assert seen.status_code == 200
    assert seen.json()["global_send_kill_switch"]["reason"] == "incident 42"
    assert seen.json()["tenant_send_kill_switch"] is False
    tenant_settings = client.get("/api/admin/settings", headers=headers).json()
    assert tenant_settings["global_kill_switch"] is True
    off = client.put(SWITCH, json={"on": False, "reason": "resolved"}, headers=bearer(OPERATOR))
    assert (off.status_code, off.json()["on"]) == (200, False)


def test_no_tenant_key_sets_the_global_switch(
    client: TestClient, engine: Engine, settings: Settings, headers: dict[str, str]
) -> None:
    refused = client.put(SWITCH, json={"on": True, "reason": "mine"}, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "operator_key_required"
    missing = client.put(SWITCH, json={"on": True, "reason": "x"})
    assert missing.status_code == 401
    with Session(engine) as session:
        assert kill_switch(session, settings).on is False


def test_a_tenant_admin_sets_its_own_switch_through_its_settings(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    changed = client.put("/api/admin/settings", json={"kill_switch": True}, headers=headers)
    assert changed.status_code == 200
    seen = client.get("/api/admin/switches", headers=headers).json()
    assert (seen["tenant_send_kill_switch"], seen["global_send_kill_switch"]["on"]) == (True, False)


@pytest.mark.parametrize(
    "body",
    [{"on": True}, {"on": True, "reason": " "}, {"on": "maybe", "reason": "x"},
     {"on": True, "reason": "x" * 501}, {"on": True, "reason": "x", "extra": 1}],
)  # fmt: skip
def test_a_bad_change_is_a_400_and_changes_nothing(
    client: TestClient, engine: Engine, settings: Settings, body: dict[str, object]
) -> None:
    answer = client.put(SWITCH, json=body, headers=bearer(OPERATOR))
    assert answer.status_code == 400, answer.text
    with Session(engine) as session:
        assert kill_switch(session, settings).on is False


def test_without_an_operator_key_configured_the_global_switch_is_the_clis_only(
    database_url: URL,
) -> None:
    plain = app_settings(database_url, f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(plain), base_url="http://testserver") as other:
        answer = other.put(SWITCH, json={"on": True, "reason": "x"}, headers=bearer(OPERATOR))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "operator_key_not_configured"
