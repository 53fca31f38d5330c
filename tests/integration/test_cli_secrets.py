"""`sales-agent secrets keygen|rotate`, and secrets given to the CLI never showing up in any
output or log line, on real PostgreSQL and the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_pipeline.db import migrate
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.tenant_secrets import load_credentials
from sales_agent_pipeline.db.session import make_engine
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from tests.integration.test_cli_tenants import (
    CLEARED,
    Cli,
    Portal,
    cli_environment,
    create_args,
    one_error_line,
    portal,
)
from tests.sandbox.conftest import Admin, admin, admin_client, sandbox_url  # noqa: F401

__all__ = ["portal"]


@pytest.fixture
def fresh(
    fresh_database: Callable[[str], URL],
    monkeypatch: pytest.MonkeyPatch,
    sandbox_url: str,  # noqa: F811
    tmp_path: Path,
) -> Iterator[tuple[Cli, Engine]]:
    """The CLI on a database of its own: rotation re-encrypts every row there is."""
    url = fresh_database("rotate")
    migrate.upgrade(url)
    key = generate_key()
    env = cli_environment(monkeypatch, url, sandbox_url, tmp_path / "data", key)
    engine = make_engine(url, pool_size=1)
    yield Cli(env, key), engine
    engine.dispose()


def test_keygen_prints_a_fernet_key(fresh: tuple[Cli, Engine]) -> None:
    run, _ = fresh
    result = run("secrets", "keygen")
    assert result.exit_code == 0
    Fernet(result.stdout.strip().encode())  # a usable key, or this raises


def test_rotate_with_two_keys_then_drop_the_old_one(
    fresh: tuple[Cli, Engine],
    portal: Callable[[], Portal],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run, engine = fresh
    p = portal()
    assert run(*create_args(tmp_path, p)).exit_code == 0
    old, new = run.key, generate_key()

    monkeypatch.setenv("SECRETS_ENCRYPTION_KEYS", f"{new},{old}")
    rotated = run("secrets", "rotate")
    assert rotated.exit_code == 0, rotated.output
    assert rotated.stdout.strip() == "re-encrypted 3 secrets with the first key (0 already used it)"
    again = run("secrets", "rotate")
    assert again.stdout.strip() == "re-encrypted 0 secrets with the first key (3 already used it)"

    monkeypatch.setenv("SECRETS_ENCRYPTION_KEYS", new)
    assert run("tenant", "show", str(p.id)).exit_code == 0
    with Session(engine) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.portal_id == p.id)).one()
        credentials = load_credentials(session, SecretBox([new]), tenant)
    assert credentials.hubspot_token is not None
    assert credentials.hubspot_token.get_secret_value() == p.token

    # The old key alone opens nothing any more: a clear error, nothing changed.
    monkeypatch.setenv("SECRETS_ENCRYPTION_KEYS", old)
    line = one_error_line(run("secrets", "rotate"))
    assert "cannot be decrypted with the configured keys" in line
    monkeypatch.setenv("SECRETS_ENCRYPTION_KEYS", "not-a-key")
    assert "key #1 is not a Fernet key" in one_error_line(run("secrets", "rotate"))


def test_no_secret_given_to_the_cli_appears_in_any_output_or_log(
    fresh: tuple[Cli, Engine],
    portal: Callable[[], Portal],
    tmp_path: Path,
    admin: Admin,  # noqa: F811
) -> None:
    run, _ = fresh
    p = portal()
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    # Every log line there is: debug level, JSON, each SDK's logger included.
    env.update(run.env, LOG_LEVEL="DEBUG", LOG_FORMAT="json")
    command = [str(Path(sys.executable).parent / "sales-agent")]
    replacement = f"pat-na1-{p.id}-replaced"
    admin.register_token(replacement, p.id)
    steps: list[tuple[list[str], str | None]] = [
        (create_args(tmp_path, p), None),
        (["tenant", "update", str(p.id), "--hubspot-token-file", "-"], replacement + "\n"),
        (["tenant", "update", str(p.id), "--webhook-secret-file", "-"], "two\nlines\n"),
        (["tenant", "show", str(p.id), "--json"], None),
        (["tenant", "list", "--json"], None),
        (["usage", "--tenant", str(p.id), "--csv"], None),
        (["secrets", "rotate"], None),
    ]
    said = ""
    for args, stdin in steps:
        done = subprocess.run(
            command + args, env=env, input=stdin, capture_output=True, text=True, timeout=120
        )
        said += done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    key = json.loads((tmp_path / "google.json").read_text())
    for secret in (
        p.token,
        replacement,
        f"whsec-{p.id}",
        "two\nlines",
        key["private_key"].splitlines()[1],
        key["private_key_id"],
        run.key,
    ):
        assert secret not in said
    assert "updated tenant" in said  # the commands did run
    assert "spans several lines" in said
