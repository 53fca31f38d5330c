"""Alerts from Dagster itself: a run-failure sensor and a condition sensor (breakers, dead
letters, reconciliation, the backlog, the canary) that notify Slack and PagerDuty.

Neither SLACK_BOT_TOKEN nor PAGERDUTY_ROUTING_KEY set: both sensors still evaluate, keep
alert_states and say what they saw on each tick in the UI; nothing is sent.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from dagster import (
    ConfigurableResource,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.connectors.alerting import notifiers_from
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.ports.alerts import Notifier
from sales_agent_pipeline.settings import Settings, get_settings
from sales_agent_pipeline.usecases import alerts as usecase
from sales_agent_pipeline.usecases.alerting import Alerting, Report
from sales_agent_pipeline.usecases.alerts import Links, Thresholds

log = structlog.get_logger(__name__)


class AlertNotifiersResource(ConfigurableResource):
    """The notifiers the settings configure (Slack, PagerDuty), built for each tick."""

    settings: SettingsResource

    def notifiers(self) -> list[Notifier]:
        """Slack with SLACK_BOT_TOKEN, PagerDuty with PAGERDUTY_ROUTING_KEY; else none."""
        return list(notifiers_from(self.settings.get()))


def links(settings: Settings) -> Links:
    """Links to the Dagster UI as its users reach it (DAGSTER_UI_PUBLIC_URL), else as
    this deployment reaches it."""
    return Links(settings.dagster_ui_public_url or settings.resolved_dagster_webserver_url)


def _report(context: Any, report: Report) -> str:
    """Say on the tick (and in the process log) what was sent and what was not."""
    for failure in report.failed:
        context.log.warning(f"alert not delivered, sent again next tick: {failure}")
        log.warning("alert.not_delivered", failure=failure)
    for sent in report.sent:
        context.log.info(f"alert sent: {sent}")
    return report.line()


@run_failure_sensor(
    name="run_failure_alerts",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches this code location's runs for failures: each failed run raises "
    "the alert run-failed:<job>:<portal> (one per job and tenant, 'all' when the run's "
    "leads were of several tenants) with a link to the run. alert_conditions clears it "
    "once a later run of that job for that tenant succeeds. Sends to Slack/PagerDuty "
    "when configured.",
)
def run_failure_alerts(
    context: RunFailureSensorContext,
    database: DatabaseResource,
    settings: SettingsResource,
    alert_notifiers: AlertNotifiersResource,
) -> None:
    """Fire the failed run's alert (None: Dagster's run-status loop goes on to the next
    failed run in the same tick)."""
    run = context.dagster_run
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record is not None and record.end_time else None
    failed_at = datetime.fromtimestamp(ended, UTC) if ended else datetime.now(UTC)
    alert = usecase.run_failed(
        job=run.job_name,
        tenant=run.tags.get(tags.TENANT) or run.tags.get(tags.IMPORT_TENANT),
        run_id=run.run_id,
        failed_at=failed_at,
        message=context.failure_event.message,
        links=links(settings.get()),
    )
    report = Alerting(database.sessions, alert_notifiers.notifiers()).fire(alert)
    context.log.info(f"{alert.key}: {_report(context, report)}")


def succeeded_since(
    instance: DagsterInstance, job: str, tenant: str | None, after: datetime
) -> str | None:
    """A run of `job` (for `tenant`'s leads; None: any) created after `after` that
    succeeded: its id, or None."""
    filters = RunsFilter(
        job_name=job,
        statuses=[DagsterRunStatus.SUCCESS],
        created_after=after,
        tags={tags.TENANT: tenant} if tenant else {},
    )
    records = instance.get_run_records(filters=filters, limit=1)
    return records[0].dagster_run.run_id if records else None


def canary_expected(settings: Settings) -> bool:
    """Whether the canary's schedule posts leads here: on, and in sandbox mode or with its
    test portal and inbox set (otherwise each of its ticks skips, saying why)."""
    configured = settings.canary_portal_id is not None and bool(settings.canary_inbox)
    return settings.canary_enabled and (settings.sandbox_mode or configured)


def thresholds(settings: Settings) -> Thresholds:
    """The settings' alert thresholds."""
    expected = canary_expected(settings)
    interval = usecase.cron_interval(settings.canary_cron) if expected else None
    return Thresholds(
        oldest_pending=timedelta(minutes=settings.alert_oldest_pending_minutes),
        canary_goal=timedelta(seconds=settings.canary_latency_goal_seconds),
        canary_interval=interval,
    )


def _cursor(raw: str | None, now: datetime) -> tuple[datetime, dict[int, int]]:
    """(when these ticks began, each tenant's dead letters at the last tick)."""
    try:
        saved = json.loads(raw) if raw else {}
        since = datetime.fromisoformat(saved["since"]) if "since" in saved else now
        counts = {int(portal): int(n) for portal, n in saved.get("dead_letters", {}).items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return now, {}
    return since, counts


def evaluate_conditions(
    context: SensorEvaluationContext,
    database: DatabaseResource,
    settings: SettingsResource,
    alert_notifiers: AlertNotifiersResource,
) -> SkipReason:
    """One tick of alert_conditions (the sensor's body, shared with tests)."""
    config = settings.get()
    now = datetime.now(UTC)
    since, previous = _cursor(context.cursor, now)
    alerting = Alerting(database.sessions, alert_notifiers.notifiers())
    limits = thresholds(config)
    if canary_expected(config) and limits.canary_interval is None:
        context.log.warning(
            f"CANARY_CRON {config.canary_cron!r} has no fixed interval: the 'no canary "
            "lately' check is off (the latency check still runs)"
        )
    firing = alerting.firing_keys()
    with database.session() as session:
        evaluation = usecase.evaluate(
            session,
            now=now,
            thresholds=limits,
            links=links(config),
            previous_dead_letters=previous,
            firing=firing,
            watching_since=since,
        )
    report = alerting.apply(evaluation)
    report.merge(
        alerting.settle_run_failures(
            lambda job, tenant, after: succeeded_since(context.instance, job, tenant, after)
        )
    )
    # Counts move on whatever was delivered: an undelivered alert is firing, and a firing
    # dead-letter alert stays active while the tenant has any.
    context.update_cursor(
        json.dumps(
            {
                "since": since.isoformat(),
                "dead_letters": {str(k): v for k, v in evaluation.dead_letters.items()},
            }
        )
    )
    active = ", ".join(alert.key for alert in evaluation.active) or "none"
    return SkipReason(f"{_report(context, report)}; holding now: {active}")


def alert_conditions_sensor() -> Any:
    """The condition sensor, every ALERT_CHECK_INTERVAL_SECONDS (read when the code
    location loads: a sensor's interval has to be known then)."""
    return sensor(
        name="alert_conditions",
        minimum_interval_seconds=get_settings().alert_check_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Watches, in the app database: circuit breakers not closed "
        "(breaker:<vendor>:<portal>), dead letters growing (dead-letters:<portal>, until "
        "none is left), reconciliation's latest reports missing submissions "
        "(reconciliation-missing:<portal>), the oldest waiting lead past "
        "ALERT_OLDEST_PENDING_MINUTES (backlog-stale), the synthetic canary late or absent "
        "(canary-late); and clears run-failed alerts after a later successful run. Each "
        "alert is sent once to Slack/PagerDuty when configured, resolved when it clears, "
        "and a delivery that failed is sent again on the next tick.",
    )(evaluate_conditions)


SENSORS: list[Any] = [run_failure_alerts, alert_conditions_sensor()]
RESOURCES: dict[str, Any] = {"alert_notifiers": AlertNotifiersResource(settings=SettingsResource())}
