"""`sales-agent send kill-switch on|off|status` on real PostgreSQL: the global switch that
every send's transaction reads, set with who and why, shown as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from sales_agent_pipeline.cli.main import app as cli
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.settings import Settings, get_settings
from sales_agent_pipeline.usecases.send_switches import kill_switch, set_kill_switch


def send(*args: str) -> Result:
    get_settings.cache_clear()
    return CliRunner().invoke(cli, ["send", *args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def database(monkeypatch: pytest.MonkeyPatch, database_url: URL, engine: Engine) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", libpq_dsn(database_url))
    monkeypatch.delenv("SEND_KILL_SWITCH", raising=False)
    yield
    get_settings.cache_clear()
    # The switch stops every tenant's sends in this database: never leave it on.
    with Session(engine) as session, session.begin():
        set_kill_switch(session, Settings(_env_file=None), on=False, changed_by="t", reason=None)


def stored(engine: Engine) -> bool:
    with Session(engine) as session:
        return kill_switch(session, Settings(_env_file=None)).stored


def test_on_with_a_reason_then_status_then_off(engine: Engine) -> None:
    on = send("kill-switch", "on", "--reason", "bounce storm", "--by", "dana")
    assert on.exit_code == 0, on.output
    assert "ON" in on.stdout
    assert "dana" in on.stdout
    assert stored(engine) is True
    status = send("kill-switch", "status", "--json")
    assert status.exit_code == 0
    shown = json.loads(status.stdout)
    assert (shown["on"], shown["changed_by"], shown["reason"]) == (True, "dana", "bounce storm")
    off = send("kill-switch", "off", "--reason", "storm over", "--json")
    assert json.loads(off.stdout)["on"] is False
    assert json.loads(off.stdout)["changed_by"].startswith("cli:")
    assert stored(engine) is False


def test_on_needs_a_reason_and_a_bad_action_is_refused(engine: Engine) -> None:
    bare = send("kill-switch", "on")
    assert bare.exit_code == 2
    assert "--reason" in bare.stderr
    wrong = send("kill-switch", "maybe")
    assert wrong.exit_code == 2
    assert stored(engine) is False


def test_the_environment_forcing_it_on_is_shown(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    monkeypatch.setenv("SEND_KILL_SWITCH", "true")
    shown = json.loads(send("kill-switch", "--json").stdout)
    assert (shown["on"], shown["stored"], shown["forced_by_environment"]) == (True, False, True)
