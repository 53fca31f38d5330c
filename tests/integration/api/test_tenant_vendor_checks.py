"""What a tenant saves is checked with its own credentials at the vendors (the sandbox,
which binds each HubSpot token to one portal and each Google user to its own Drive): another
portal's form, a folder its Google user cannot see, or a token HubSpot refuses is a 400
naming it, and nothing is written."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.secretbox import SecretBox
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.tenants import TenantFields, create_tenant
from tests.integration.api.conftest import app_settings
from tests.integration.api.operator_support import audit_rows, bearer, key_for, secrets_of
from tests.sandbox.conftest import Admin, admin_client, sandbox_url  # noqa: F401

FOLDER = "application/vnd.google-apps.folder"


@pytest.fixture(scope="module")
def settings(database_url: URL, sandbox_url: str) -> Settings:  # noqa: F811
    """HubSpot and Google are the sandbox, which checks credentials as the vendors do."""
    return app_settings(database_url, sandbox_url)


@dataclass(frozen=True)
class Company:
    """A portal with its private app's token, its form, its mailbox and its Drive folder."""

    portal_id: int
    token: str
    form: str
    mailbox: str
    folder: str


def company(admin: Admin, name: str) -> Company:
    portal = random.randint(10**6, 10**9)
    made = Company(
        portal, f"pat-{name}-{portal}", f"form-{name}", f"owner@{name}.example", f"dir-{name}"
    )
    admin.seed(
        portalId=portal,
        tokens={made.token: portal},
        forms=[made.form],
        driveFiles=[
            {"id": made.folder, "name": f"{name} sales", "mimeType": FOLDER, "owner": made.mailbox}
        ],
    )
    return made


def onboard(
    engine: Engine, box: SecretBox, settings: Settings, admin: Admin, who: Company
) -> Tenant:
    """The tenant as `sales-agent tenant create` makes it: its token, and a service account
    acting for its mailbox by domain-wide delegation."""
    domain = who.mailbox.rsplit("@", 1)[1]
    google = admin.service_account([domain])
    with Session(engine, expire_on_commit=False) as session, session.begin():
        change = create_tenant(
            session,
            box,
            settings,
            who.portal_id,
            TenantFields(
                name=f"Portal {who.portal_id}",
                sender_email=who.mailbox,
                hubspot_token=SecretStr(who.token),
                webhook_secret=SecretStr("signing-secret"),
                google_credentials=SecretStr(json.dumps(google)),
            ),
        )
    assert change.notes == [], change.notes  # everything was checked with the vendors
    return change.tenant


@dataclass(frozen=True)
class Onboarded:
    """Acme's tenant, made as the CLI makes it, with an admin key; Globex, another customer."""

    acme: Company
    globex: Company
    tenant: Tenant
    headers: dict[str, str]


@pytest.fixture
def onboarded(
    engine: Engine,
    box: SecretBox,
    settings: Settings,
    admin_client: Admin,  # noqa: F811
) -> Onboarded:
    """Acme onboarded through create_tenant, Globex seeded beside it, on a fresh sandbox."""
    admin_client.reset()
    acme, globex = company(admin_client, "acme"), company(admin_client, "globex")
    tenant = onboard(engine, box, settings, admin_client, acme)
    return Onboarded(acme, globex, tenant, bearer(key_for(engine, tenant, admin=True)))


def test_another_portals_form_or_an_invisible_folder_is_400_naming_it(
    client: TestClient, engine: Engine, onboarded: Onboarded
) -> None:
    acme, globex, headers = onboarded.acme, onboarded.globex, onboarded.headers
    for body, code, field, named in (
        ({"allowed_form_ids": [acme.form, globex.form]}, "form_not_in_portal",
         "allowed_form_ids.1", globex.form),
        ({"drive_folder_ids": [globex.folder]}, "folder_not_visible", "drive_folder_ids.0",
         globex.folder),
        ({"drive_folder_ids": ["no-such-folder"]}, "folder_not_visible", "drive_folder_ids.0",
         "no-such-folder"),
    ):  # fmt: skip
        response = client.put(
            "/api/admin/settings", json={"daily_send_cap": 9, **body}, headers=headers
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["code"], error["fields"]) == (code, [field])
        assert named in error["message"]
    current = client.get("/api/admin/settings", headers=headers).json()
    assert (current["allowed_form_ids"], current["drive_folder_ids"]) == ([], [])
    assert current["daily_send_cap"] == 50
    assert audit_rows(engine, onboarded.tenant) == 0

    own = client.put(
        "/api/admin/settings",
        json={"allowed_form_ids": [acme.form], "drive_folder_ids": [acme.folder]},
        headers=headers,
    )
    assert own.status_code == 200, own.text
    assert own.json()["notes"] == []
    assert (own.json()["allowed_form_ids"], own.json()["drive_folder_ids"]) == (
        [acme.form], [acme.folder],
    )  # fmt: skip


def test_a_hubspot_token_the_vendor_refuses_is_400_and_nothing_is_written(
    client: TestClient,
    engine: Engine,
    admin_client: Admin,  # noqa: F811
    onboarded: Onboarded,
) -> None:
    acme, globex, headers = onboarded.acme, onboarded.globex, onboarded.headers
    before = secrets_of(engine, acme.portal_id)
    for token, said in ((globex.token, str(globex.portal_id)), ("pat-unknown-token", "")):
        response = client.put(
            "/api/admin/credentials",
            json={"hubspot_token": token, "webhook_secret": "would-be-new"},
            headers=headers,
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["fields"] == ["hubspot_token"]
        assert said in response.json()["error"]["message"]
        assert token not in response.text
    assert secrets_of(engine, acme.portal_id) == before
    fresh = admin_client.register_token(portal_id=acme.portal_id)
    rotated = client.put("/api/admin/credentials", json={"hubspot_token": fresh}, headers=headers)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["changed"] == ["HubSpot token"]
    assert rotated.json()["hubspot_auth"] == "private_app"
