"""`sales-agent tenant ...` end to end: the CLI on real PostgreSQL, the vendor checks through
the SDKs against the sandbox over HTTP (tokens bound to portals, Google keys to subjects).

Every refused input exits non-zero with one line and leaves no row behind.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from sales_agent_pipeline.cli.main import app as cli
from sales_agent_pipeline.db.models import SettingsChange, Tenant, TenantSecret
from sales_agent_pipeline.db.repositories.tenant_secrets import load_credentials
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from sales_agent_pipeline.settings import get_settings
from tests.sandbox.conftest import Admin, admin, admin_client, sandbox_url  # noqa: F401

FOLDER = "application/vnd.google-apps.folder"
# Variables of the developer's shell that would change what the CLI does.
CLEARED = (
    "HUBSPOT_ACCESS_TOKEN",
    "HUBSPOT_CLIENT_SECRET",
    "HUBSPOT_PORTAL_ID",
    "HUBSPOT_CLIENT_ID",
    "GOOGLE_SERVICE_ACCOUNT_FILE",
    "GOOGLE_OAUTH_TOKEN_FILE",
    "GOOGLE_DELEGATED_USER",
    "SENDER_EMAIL",
    "TENANT_NAME",
    "TENANT_TIMEZONE",
    "ALLOWED_FORM_IDS",
    "WORKFLOW_MODE",
    "SECRETS_ENCRYPTION_KEY_FILE",
    "SECRETS_DIR",
    "ENVIRONMENT",
)


@dataclass
class Cli:
    """The CLI as a user runs it, with this test's environment."""

    env: dict[str, str]
    key: str

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        get_settings.cache_clear()
        return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def cli_environment(
    monkeypatch: pytest.MonkeyPatch, database: URL, sandbox: str, data_dir: Path, key: str
) -> dict[str, str]:
    """Point the CLI at a database, the sandbox (as the real vendors) and a data dir."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    env = {
        "DATABASE_URL": libpq_dsn(database),
        "DATA_DIR": str(data_dir),
        "SECRETS_ENCRYPTION_KEYS": key,
        "HUBSPOT_API_BASE_URL": sandbox,
        "GOOGLE_API_BASE_URL": sandbox,
        "SANDBOX": "false",
        "HUBSPOT_TIMEOUT_SECONDS": "5",
        "GOOGLE_TIMEOUT_SECONDS": "5",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return env


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch,
    database_url: URL,
    sandbox_url: str,  # noqa: F811
    tmp_path: Path,
) -> Iterator[Cli]:
    key = generate_key()
    env = cli_environment(monkeypatch, database_url, sandbox_url, tmp_path / "data", key)
    yield Cli(env, key)
    get_settings.cache_clear()


@dataclass
class Portal:
    """A HubSpot portal in the sandbox with its token, a form, a Google key and a folder."""

    id: int
    token: str
    form: str
    sender: str
    google_key: dict[str, Any]
    folder: str


@pytest.fixture
def portal(admin: Admin) -> Callable[[], Portal]:  # noqa: F811
    """Make a fresh portal (ids at random: the worker's database outlives the test)."""

    def make() -> Portal:
        portal_id = random.randint(10**8, 10**9)
        domain = f"p{portal_id}.example"
        token = admin.register_token(f"pat-na1-{portal_id}-{random.getrandbits(64):x}", portal_id)
        form = f"form-{portal_id}"
        folder = f"folder-{portal_id}"
        sender = f"sales@{domain}"
        admin.seed(portalId=portal_id, forms=[form])
        admin.seed(
            driveFiles=[{"id": folder, "name": "Assets", "mimeType": FOLDER, "owner": sender}]
        )
        return Portal(portal_id, token, form, sender, admin.service_account([domain]), folder)

    return make


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def create_args(tmp_path: Path, p: Portal, *extra: str) -> list[str]:
    """`tenant create` with every option, secrets from files."""
    return [
        "tenant",
        "create",
        str(p.id),
        "--name",
        f"Tenant {p.id}",
        "--sender",
        p.sender,
        "--form",
        p.form,
        "--drive-folder",
        p.folder,
        "--hubspot-token-file",
        write(tmp_path, "token.txt", p.token + "\n"),
        "--webhook-secret-file",
        write(tmp_path, "webhook.txt", f"whsec-{p.id}\n"),
        "--google-credentials-file",
        write(tmp_path, "google.json", json.dumps(p.google_key)),
        "--timezone",
        "Europe/Berlin",
        *extra,
    ]


def rows(engine: Engine, portal_id: int) -> tuple[int, int]:
    """Tenant rows and secret rows of a portal (what a refused command must not leave)."""
    with Session(engine) as session:
        tenants = session.scalar(select(func.count()).where(Tenant.portal_id == portal_id))
        secrets = session.scalar(
            select(func.count())
            .select_from(TenantSecret)
            .join(Tenant, Tenant.id == TenantSecret.tenant_id)
            .where(Tenant.portal_id == portal_id)
        )
    return int(tenants or 0), int(secrets or 0)


def one_error_line(result: Result) -> str:
    """A refused command: exit 1 or 2, and exactly one line saying why, no traceback."""
    assert result.exit_code in (1, 2), result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    return errors[0]


def test_create_stores_everything_and_show_tells_only_which_secrets_are_set(
    run: Cli, portal: Callable[[], Portal], tmp_path: Path, engine: Engine
) -> None:
    p = portal()
    created = run(*create_args(tmp_path, p))
    assert created.exit_code == 0, created.output
    assert f"created tenant {p.id}" in created.stdout
    assert "warning" not in created.stderr  # HubSpot and Google answered: all checked

    shown = run("tenant", "show", str(p.id), "--json")
    assert shown.exit_code == 0, shown.output
    details = json.loads(shown.stdout)
    assert details["status"] == "active"
    assert details["hubspot_auth"] == "private_app"
    assert details["allowed_form_ids"] == [p.form]
    assert details["drive_folder_ids"] == [p.folder]
    assert (details["sender_email"], details["timezone"]) == (p.sender, "Europe/Berlin")
    assert details["mode"] is None
    assert details["effective_mode"] == "DRAFT_ONLY"
    secrets = details["secrets"]
    assert {k for k, v in secrets.items() if v["set"]} == {
        "hubspot_token",
        "webhook_secret",
        "google_credentials",
    }
    assert all(v["updated_at"] for v in secrets.values() if v["set"])

    listed = json.loads(run("tenant", "list", "--json").stdout)
    assert [t["name"] for t in listed if t["portal_id"] == p.id] == [f"Tenant {p.id}"]
    text = run("tenant", "show", str(p.id)).stdout
    assert "hubspot_token" in text
    assert "set, changed" in text

    everything = created.output + shown.output + text + json.dumps(listed)
    for secret in (p.token, f"whsec-{p.id}", p.google_key["private_key"][40:80]):
        assert secret not in everything
    # Stored encrypted with the configured key, and only there readable.
    with Session(engine) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.portal_id == p.id)).one()
        stored = session.scalars(
            select(TenantSecret.ciphertext).where(TenantSecret.tenant_id == tenant.id)
        ).all()
        assert all(p.token.encode() not in bytes(c) for c in stored)
        credentials = load_credentials(session, SecretBox([run.key]), tenant)
    assert credentials.hubspot_token is not None
    assert credentials.hubspot_token.get_secret_value() == p.token

    key = run("apikey", "create", "--tenant", str(p.id), "--admin")
    assert key.exit_code == 0, key.output


def test_a_secret_can_come_from_stdin(
    run: Cli, portal: Callable[[], Portal], engine: Engine
) -> None:
    p = portal()
    result = run(
        "tenant", "create", str(p.id), "--name", "Piped", "--hubspot-token-file", "-",
        stdin=p.token + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert rows(engine, p.id) == (1, 1)
    twice = run(
        "tenant", "update", str(p.id), "--hubspot-token-file", "-", "--webhook-secret-file", "-",
        stdin="x\n",
    )  # fmt: skip
    assert "standard input is already read" in one_error_line(twice)


REFUSALS: list[tuple[str, list[str], dict[str, str], str]] = [
    # (case, options replacing the good ones, files replacing the good ones, the error says)
    ("portal id 0", ["--portal", "0"], {}, "portal id must be a positive integer"),
    ("empty name", ["--name", "  "], {}, "name must not be empty"),
    ("bad sender", ["--sender", "not-an-address"], {}, "is not an email address"),
    ("unknown time zone", ["--timezone", "Mars/Olympus"], {}, "unknown time zone 'Mars/Olympus'"),
    ("bad mode", ["--mode", "YOLO"], {}, "mode must be DRAFT_ONLY or SEND"),
    ("empty token file", [], {"token.txt": "\n"}, "the HubSpot token is empty"),
    ("two-line token file", [], {"token.txt": "a\nb\n"}, "spans several lines"),
    ("key file not JSON", [], {"google.json": "{nope"}, "are not JSON (line 1, column 2)"),
    ("key without its key", [], {"google.json": '{"type": "service_account"}'}, "lack"),
    ("unknown key type", [], {"google.json": '{"type": "x"}'}, "must be a service-account key"),
    ("refused token", [], {"token.txt": "pat-na1-unknown"}, "HubSpot refused the token"),
    ("foreign form", ["--form", "form-of-nobody"], {}, "not forms of portal"),
    ("invisible folder", ["--drive-folder", "folder-of-nobody"], {}, "cannot see"),
]


@pytest.mark.parametrize(
    ("options", "files", "says"), [case[1:] for case in REFUSALS], ids=[c[0] for c in REFUSALS]
)
def test_create_refuses_bad_input_and_writes_nothing(
    run: Cli,
    portal: Callable[[], Portal],
    tmp_path: Path,
    engine: Engine,
    options: list[str],
    files: dict[str, str],
    says: str,
) -> None:
    p = portal()
    args = create_args(tmp_path, p)
    for name, text in files.items():
        write(tmp_path, name, text)
    for option, value in zip(options[::2], options[1::2], strict=True):
        if option == "--portal":
            args[2] = value
        elif option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    result = run(*args)
    assert says in one_error_line(result)
    assert rows(engine, p.id) == (0, 0)
    assert p.token not in result.output


def test_a_token_of_another_portal_is_refused(
    run: Cli, portal: Callable[[], Portal], tmp_path: Path, engine: Engine
) -> None:
    mine, theirs = portal(), portal()
    args = create_args(tmp_path, mine)
    write(tmp_path, "token.txt", theirs.token)
    line = one_error_line(run(*args))
    assert f"belongs to portal {theirs.id}, not {mine.id}" in line
    assert rows(engine, mine.id) == (0, 0)


def test_a_duplicate_portal_is_refused_and_the_first_stays(
    run: Cli, portal: Callable[[], Portal], tmp_path: Path, engine: Engine
) -> None:
    p = portal()
    assert run(*create_args(tmp_path, p)).exit_code == 0
    again = run("tenant", "create", str(p.id), "--name", "Impostor")
    assert f"a tenant for portal {p.id} exists already" in one_error_line(again)
    with Session(engine) as session:
        names = session.scalars(select(Tenant.name).where(Tenant.portal_id == p.id)).all()
    assert names == [f"Tenant {p.id}"]


def test_update_changes_only_what_is_given_and_audits_settings(
    run: Cli,
    portal: Callable[[], Portal],
    tmp_path: Path,
    engine: Engine,
    admin: Admin,  # noqa: F811
) -> None:
    p = portal()
    assert run(*create_args(tmp_path, p)).exit_code == 0
    admin.seed(portalId=p.id, forms=["second-form"])
    result = run(
        "tenant", "update", str(p.id), "--form", p.form, "--form", "second-form", "--mode", "send",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    details = json.loads(run("tenant", "show", str(p.id), "--json").stdout)
    assert details["allowed_form_ids"] == [p.form, "second-form"]
    assert details["mode"] == "SEND"
    assert details["sender_email"] == p.sender  # not given: kept
    with Session(engine) as session:
        change = session.scalars(
            select(SettingsChange)
            .join(Tenant, Tenant.id == SettingsChange.tenant_id)
            .where(Tenant.portal_id == p.id)
        ).one()
    assert change.changed_by.startswith("cli:")
    assert change.new == {"mode": "SEND", "allowed_form_ids": [p.form, "second-form"]}

    unknown = run("tenant", "update", "4", "--name", "Nobody")
    assert "no tenant with portal id 4" in one_error_line(unknown)
    foreign = run("tenant", "update", str(p.id), "--form", "not-theirs", "--name", "Renamed")
    assert "not forms of portal" in one_error_line(foreign)
    assert json.loads(run("tenant", "show", str(p.id), "--json").stdout)["name"] == (
        f"Tenant {p.id}"
    )
