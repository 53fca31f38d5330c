"""The run-failure sensor over real failed runs of this code location's jobs, evaluated as
the daemon evaluates it against a real Dagster instance: one alert per job and tenant with a
link to the run, not sent again for the next failure, and resolved by alert_conditions once
a later run of that job for that tenant succeeded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dagster import DagsterInstance, SkipReason, build_sensor_context
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.defs import alerts as defs_alerts
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from sales_agent_pipeline.settings import get_settings
from tests.integration.alerts.conftest import UI
from tests.integration.alerts.receiver import Receiver
from tests.integration.api.conftest import make_tenant

JOB = "replay_dead_letters"
OP = "replay_chosen_dead_letters"
# Neither workflow ids nor replay_all: the op refuses, the run fails.
BAD = {"ops": {OP: {"config": {"requested_by": "alert test"}}}}


@pytest.fixture
def database_env(database_url: URL, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", libpq_dsn(database_url))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def resources(engine: Engine) -> dict[str, Any]:
    return {
        "database": DatabaseResource(url=libpq_dsn(engine.url)),
        "settings": SettingsResource(),
        "alert_notifiers": defs_alerts.AlertNotifiersResource(settings=SettingsResource()),
    }


class Ticks:
    """Both alert sensors evaluated as the daemon does, each with its own cursor."""

    def __init__(self, instance: DagsterInstance, engine: Engine) -> None:
        self.instance = instance
        self.engine = engine
        self.failures: str | None = None
        self.conditions: str | None = None

    def failure_sensor(self) -> None:
        with build_sensor_context(
            instance=self.instance, cursor=self.failures, resources=resources(self.engine)
        ) as context:
            data = defs_alerts.run_failure_alerts.evaluate_tick(context)
        # A sensor body that raised is reported on the run's reaction, not raised here.
        assert all(reaction.error is None for reaction in data.dagster_run_reactions or [])
        self.failures = data.cursor

    def condition_sensor(self) -> None:
        with build_sensor_context(
            instance=self.instance, cursor=self.conditions, resources=resources(self.engine)
        ) as context:
            assert isinstance(defs_alerts.SENSORS[1](context), SkipReason)
            self.conditions = context.cursor


def test_a_failed_run_alerts_once_per_job_and_tenant_and_clears_after_a_later_success(
    configured: Receiver, database_env: None, engine: Engine
) -> None:
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def(JOB)
    tenant = make_tenant(engine, SecretBox([generate_key()]), webhook_secret=None)
    portal = str(tenant.portal_id)
    good = {
        "ops": {
            OP: {
                "config": {
                    "requested_by": "alert test",
                    "replay_all": True,
                    "portal_id": tenant.portal_id,
                }
            }
        }
    }
    every = f"run-failed:{JOB}:all"
    one = f"run-failed:{JOB}:{portal}"
    with DagsterInstance.ephemeral() as instance:
        ticks = Ticks(instance, engine)
        ticks.failure_sensor()  # the first tick only starts watching, as the daemon's does

        failed = job.execute_in_process(run_config=BAD, instance=instance, raise_on_error=False)
        assert not failed.success
        ticks.failure_sensor()
        assert configured.events_for(every) == ["trigger"]
        [event] = [e for e in configured.pagerduty() if e["dedup_key"] == every]
        assert event["links"][0]["href"] == f"{UI}/runs/{failed.run_id}"
        assert event["payload"]["severity"] == "error"
        assert event["payload"]["custom_details"]["run_id"] == failed.run_id
        assert JOB in event["payload"]["summary"]
        [slack] = configured.slack_for(every)
        assert f"{UI}/runs/{failed.run_id}" in slack.body["text"]

        # Another failure of the job: the same alert, not sent again; one of a tenant's
        # runs is an alert of its own.
        again = job.execute_in_process(run_config=BAD, instance=instance, raise_on_error=False)
        tenants_run = job.execute_in_process(
            run_config=BAD, instance=instance, raise_on_error=False, tags={tags.TENANT: portal}
        )
        assert not again.success
        assert not tenants_run.success
        ticks.failure_sensor()
        ticks.condition_sensor()
        assert configured.events_for(every) == ["trigger"]
        assert configured.events_for(one) == ["trigger"]

        # A later success with no tenant clears the job's 'all' alert, not the tenant's.
        assert job.execute_in_process(run_config=good, instance=instance).success
        ticks.failure_sensor()
        ticks.condition_sensor()
        assert configured.events_for(every) == ["trigger", "resolve"]
        assert configured.events_for(one) == ["trigger"]

        assert job.execute_in_process(
            run_config=good, instance=instance, tags={tags.TENANT: portal}
        ).success
        ticks.condition_sensor()
        ticks.condition_sensor()
        assert configured.events_for(one) == ["trigger", "resolve"]
        assert configured.events_for(every) == ["trigger", "resolve"]
