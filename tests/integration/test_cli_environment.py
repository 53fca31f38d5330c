"""The single-portal path: HUBSPOT_PORTAL_ID and its variables make (and keep up to date) that
portal's tenant when `sales-agent up` or the API start, idempotently, once even when both
start at the same moment; the vendor checks go through the SDKs to the sandbox."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.cli.main import _prepare_tenants
from sales_agent_pipeline.db.models import Tenant, TenantSecret
from sales_agent_pipeline.db.provision import Databases
from sales_agent_pipeline.db.repositories.tenant_secrets import load_credentials
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.tenants import sync_environment_tenant
from tests.integration.test_cli_tenants import FOLDER, Cli, run  # noqa: F401
from tests.sandbox.conftest import Admin, admin, admin_client, sandbox_url  # noqa: F401

KEY = generate_key()


@dataclass
class Environment:
    """A portal in the sandbox and the variables a single-portal user sets for it."""

    portal: int
    token: str
    secret: str
    form: str
    sender: str
    key_file: Path
    values: dict[str, Any]

    def settings(self, **changes: Any) -> Settings:
        """Settings as the environment would give them (only what is set counts as set)."""
        values = {**self.values, **changes}
        return Settings(_env_file=None, **{k: v for k, v in values.items() if v is not None})


@pytest.fixture
def environment(
    admin: Admin,  # noqa: F811
    sandbox_url: str,  # noqa: F811
    tmp_path: Path,
) -> Callable[[], Environment]:
    def make() -> Environment:
        portal = random.randint(10**8, 10**9)
        domain = f"env{portal}.example"
        token = admin.register_token(f"pat-eu1-{portal}-{random.getrandbits(64):x}", portal)
        form = f"env-form-{portal}"
        admin.seed(portalId=portal, forms=[form])
        key_file = tmp_path / f"sa-{portal}.json"
        key_file.write_text(json.dumps(admin.service_account([domain])))
        secret = f"client-secret-{random.getrandbits(64):x}"
        values: dict[str, Any] = {
            "hubspot_portal_id": portal,
            "hubspot_access_token": token,
            "hubspot_client_secret": secret,
            "allowed_form_ids": [form],
            "google_service_account_file": key_file,
            "sender_email": f"sales@{domain}",
            "tenant_timezone": "Europe/Berlin",
            "secrets_encryption_keys": KEY,
            "hubspot_api_base_url": sandbox_url,
            "google_api_base_url": sandbox_url,
            "data_dir": tmp_path / "data",
        }
        return Environment(portal, token, secret, form, f"sales@{domain}", key_file, values)

    return make


def tenant_of(engine: Engine, portal: int) -> Tenant | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.scalars(select(Tenant).where(Tenant.portal_id == portal)).one_or_none()


def secrets_of(engine: Engine, portal: int) -> dict[str, Any]:
    """Each stored secret's change time, by kind."""
    with Session(engine) as session:
        return dict(
            session.execute(
                select(TenantSecret.kind, TenantSecret.updated_at)
                .join(Tenant, Tenant.id == TenantSecret.tenant_id)
                .where(Tenant.portal_id == portal)
            ).all()
        )


def test_the_environment_creates_the_tenant_once_and_then_only_keeps_it_in_step(
    engine: Engine, environment: Callable[[], Environment]
) -> None:
    env = environment()
    sessions = sessionmaker(engine)
    line = sync_environment_tenant(sessions, env.settings())
    assert line == (
        f"tenant for portal {env.portal} created from the environment (HubSpot token, "
        f"webhook secret, Google credentials, 1 form, sender {env.sender})"
    )
    tenant = tenant_of(engine, env.portal)
    assert tenant is not None
    assert (tenant.name, tenant.timezone, tenant.mode) == (
        f"HubSpot portal {env.portal}",
        "Europe/Berlin",
        None,  # WORKFLOW_MODE applies
    )
    assert (tenant.allowed_form_ids, tenant.sender_email) == ([env.form], env.sender)
    with Session(engine) as session:
        credentials = load_credentials(session, SecretBox([KEY]), tenant)
    assert credentials.hubspot_auth == "private_app"
    assert credentials.hubspot_token == SecretStr(env.token)
    assert credentials.webhook_secret == SecretStr(env.secret)
    assert credentials.google_credentials is not None
    assert json.loads(credentials.google_credentials.get_secret_value()) == json.loads(
        env.key_file.read_text()
    )

    written = secrets_of(engine, env.portal)
    again = sync_environment_tenant(sessions, env.settings())
    assert again == f"tenant for portal {env.portal} matches the environment"
    assert secrets_of(engine, env.portal) == written  # nothing rewritten

    # The tenant admin's own choices stay where the environment says nothing.
    with Session(engine) as session, session.begin():
        row = session.scalars(select(Tenant).where(Tenant.portal_id == env.portal)).one()
        row.mode, row.timezone = "SEND", "Asia/Tokyo"
    rotated = f"pat-eu1-{env.portal}-new"
    Admin(env.values["hubspot_api_base_url"]).register_token(rotated, env.portal)
    changed = sync_environment_tenant(
        sessions, env.settings(hubspot_access_token=rotated, tenant_timezone=None)
    )
    assert changed == f"tenant for portal {env.portal} updated from the environment (HubSpot token)"
    tenant = tenant_of(engine, env.portal)
    assert tenant is not None
    assert (tenant.mode, tenant.timezone) == ("SEND", "Asia/Tokyo")
    for said in (line, again, changed):
        assert env.token not in said
        assert env.secret not in said


def test_up_and_the_api_starting_together_create_one_tenant(
    engine: Engine, environment: Callable[[], Environment]
) -> None:
    env = environment()
    lines: list[str | None] = []
    start = threading.Barrier(4)

    def start_up() -> None:
        start.wait()
        lines.append(sync_environment_tenant(sessionmaker(engine), env.settings()))

    threads = [threading.Thread(target=start_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    verbs = sorted(str(line).split()[4] for line in lines)  # "tenant for portal N <verb>"
    assert verbs == ["created", "matches", "matches", "matches"]
    with Session(engine) as session:
        count = session.scalar(select(func.count()).where(Tenant.portal_id == env.portal))
    assert count == 1


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"tenant_timezone": "Europe/Atlantis"}, "TENANT_TIMEZONE: unknown time zone"),
        ({"sender_email": "nobody"}, "SENDER_EMAIL: sender 'nobody' is not an email address"),
        ({"hubspot_access_token": "two\nlines"}, "HUBSPOT_ACCESS_TOKEN: the HubSpot token spans"),
        ({"hubspot_access_token": "pat-unknown"}, "HUBSPOT_ACCESS_TOKEN: HubSpot refused"),
        ({"google_service_account_file": "/nonexistent/sa.json"}, "cannot be read"),
        ("broken key file", "GOOGLE_SERVICE_ACCOUNT_FILE"),
        ({"sender_email": None}, "needs the mailbox it acts as"),
    ],
    ids=["timezone", "sender", "token lines", "refused token", "no file", "bad key", "no sender"],
)  # fmt: skip
def test_a_bad_environment_stops_the_start_naming_the_variable_and_writes_nothing(
    engine: Engine,
    environment: Callable[[], Environment],
    change: dict[str, Any] | str,
    says: str,
) -> None:
    env = environment()
    if isinstance(change, str):
        env.key_file.write_text('{"type": "service_account", "client_email": "x@y"}')
        change = {}
    with pytest.raises(ConfigurationError, match=says) as excinfo:
        sync_environment_tenant(sessionmaker(engine), env.settings(**change))
    assert env.token not in str(excinfo.value)
    assert tenant_of(engine, env.portal) is None


def test_a_token_of_another_portal_stops_the_start(
    engine: Engine,
    environment: Callable[[], Environment],
) -> None:
    mine, theirs = environment(), environment()
    with pytest.raises(ConfigurationError, match=f"belongs to portal {theirs.portal}"):
        sync_environment_tenant(
            sessionmaker(engine), mine.settings(hubspot_access_token=theirs.token)
        )
    assert tenant_of(engine, mine.portal) is None


def test_a_form_the_portal_does_not_list_is_a_warning_not_a_stop(
    engine: Engine, environment: Callable[[], Environment]
) -> None:
    env = environment()
    line = sync_environment_tenant(
        sessionmaker(engine), env.settings(allowed_form_ids=[env.form, "not-my-form"])
    )
    assert line is not None
    assert line.startswith(f"tenant for portal {env.portal} created from the environment")
    assert f"ALLOWED_FORM_IDS: not forms of portal {env.portal}: not-my-form" in line
    tenant = tenant_of(engine, env.portal)
    assert tenant is not None
    assert tenant.allowed_form_ids == [env.form, "not-my-form"]


def test_unreachable_hubspot_does_not_stop_the_start(
    engine: Engine, environment: Callable[[], Environment]
) -> None:
    env = environment()
    line = sync_environment_tenant(
        sessionmaker(engine), env.settings(hubspot_api_base_url="http://127.0.0.1:9")
    )
    assert line is not None
    assert line.startswith(f"tenant for portal {env.portal} created from the environment")
    assert "HubSpot token not checked: HubSpot could not be reached" in line


def test_without_a_portal_id_nothing_is_synced(engine: Engine, tmp_path: Path) -> None:
    assert sync_environment_tenant(sessionmaker(engine), Settings(_env_file=None)) is None


def test_up_prints_the_line_and_apikey_finds_the_tenant(
    run: Cli,  # noqa: F811
    database_url: URL,
    environment: Callable[[], Environment],
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = environment()
    settings = env.settings(secrets_encryption_keys=run.key)
    databases = Databases(app=database_url, dagster=database_url)
    assert _prepare_tenants(settings, databases) is None  # no demo key outside the sandbox
    assert f"tenant for portal {env.portal} created" in capsys.readouterr().out
    issued = run("apikey", "create", "--tenant", str(env.portal), "--admin")
    assert issued.exit_code == 0, issued.output
    assert issued.stdout.strip().startswith("sak_")
