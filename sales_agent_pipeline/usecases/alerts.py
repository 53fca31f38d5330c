"""The alert conditions: `evaluate` reads the database and says which conditions hold now
(pure over those reads), each as an Alert under a stable, bounded key; `run_failed` is the
alert of a failed Dagster run. usecases/alerting.py delivers them."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from sales_agent_pipeline.db.repositories import alerts as repo
from sales_agent_pipeline.db.repositories.breakers import every_tenants_breakers
from sales_agent_pipeline.domain import alerts as kinds
from sales_agent_pipeline.domain.alerts import Alert
from sales_agent_pipeline.domain.enums import BreakerState, WorkflowStatus

# The sources `evaluate` decides on every tick: a firing key of one of them that is not
# active any more has cleared. Run failures clear by a later successful run instead.
CONDITION_SOURCES = (
    kinds.BREAKER,
    kinds.DEAD_LETTERS,
    kinds.RECONCILIATION_MISSING,
    kinds.BACKLOG_STALE,
    kinds.CANARY_LATE,
)
# The Dagster code location (workspace.yaml), for links to its sensors and jobs.
LOCATION = "sales_agent_pipeline"
LEAD_ASSET = "lead_followup"
COVERAGE_ASSET = "submission_coverage"
CANARY_SCHEDULE = "canary_schedule"
# A vendor's message can be long: the start says what happened.
_ERROR_CHARS = 200


@dataclass(frozen=True)
class Links:
    """Where an alert points: pages of the Dagster UI as its users reach it."""

    base: str

    def _url(self, path: str) -> str:
        return f"{self.base.rstrip('/')}/{path}"

    def run(self, run_id: str) -> str:
        """A run's page (its event log and failed steps)."""
        return self._url(f"runs/{quote(run_id)}")

    def workflow(self, workflow_id: object) -> str:
        """A lead's partition of the lead asset: its runs and materialisations."""
        return self._url(f"assets/{LEAD_ASSET}?view=partitions&partition={workflow_id}")

    def sensor(self, name: str) -> str:
        """A sensor's page (its ticks say what it saw)."""
        return self._url(f"locations/{LOCATION}/sensors/{name}")

    def schedule(self, name: str) -> str:
        """A schedule's page (its ticks say what it did or why it skipped)."""
        return self._url(f"locations/{LOCATION}/schedules/{name}")

    def job(self, name: str) -> str:
        """A job's page (the launchpad an operator starts it from)."""
        return self._url(f"locations/{LOCATION}/jobs/{name}")

    def asset_checks(self, asset: str) -> str:
        """An asset's checks."""
        return self._url(f"assets/{asset}?view=checks")


@dataclass(frozen=True)
class Thresholds:
    """When a condition becomes an alert."""

    oldest_pending: timedelta
    canary_goal: timedelta
    # The canary's schedule interval; None when no canary is expected (no canary alert).
    canary_interval: timedelta | None


@dataclass
class Evaluation:
    """One tick's verdict: the conditions holding now, and what the next tick compares."""

    active: list[Alert]
    dead_letters: dict[int, int]
    sources: tuple[str, ...] = CONDITION_SOURCES


def evaluate(
    session: Session,
    *,
    now: datetime,
    thresholds: Thresholds,
    links: Links,
    previous_dead_letters: Mapping[int, int],
    firing: Collection[str],
    watching_since: datetime,
) -> Evaluation:
    """The conditions that hold now. `previous_dead_letters`: each tenant's count at the
    last tick (a tenant absent had none); `firing`: the keys firing now (a dead-letter
    alert stays until the tenant has none); `watching_since`: when these ticks began (no
    canary at all is late only once they have watched for two of its intervals)."""
    active: list[Alert] = []
    active += _breakers(session, links)
    counts = repo.dead_letters_by_portal(session)
    active += dead_letter_alerts(counts, previous_dead_letters, firing, links)
    active += _missing(session, links)
    active += _backlog(session, now, thresholds, links)
    active += _canary(session, now, thresholds, links, watching_since)
    return Evaluation(active, counts)


def _breakers(session: Session, links: Links) -> list[Alert]:
    found = []
    for portal_id, breaker in every_tenants_breakers(session):
        # Open, or half-open: not closed until a probe has proven the vendor back.
        if breaker.state == BreakerState.CLOSED:
            continue
        since = breaker.opened_at.isoformat() if breaker.opened_at else "unknown"
        found.append(
            Alert(
                key=kinds.key(kinds.BREAKER, breaker.vendor, portal_id),
                source=kinds.BREAKER,
                severity="error",
                summary=(
                    f"{breaker.vendor} circuit breaker {breaker.state.value} for portal "
                    f"{portal_id} since {since}: the tenant's leads wait for the vendor"
                ),
                link=links.sensor("received_leads_sensor"),
                component=breaker.vendor,
                details={
                    "portal_id": portal_id,
                    "vendor": breaker.vendor,
                    "state": breaker.state.value,
                    "opened_at": since,
                    "open_until": breaker.open_until.isoformat() if breaker.open_until else None,
                    "trips": breaker.trips,
                    "last_error": (breaker.last_error or "")[:_ERROR_CHARS],
                },
            )
        )
    return found


def dead_letter_alerts(
    counts: Mapping[int, int],
    previous: Mapping[int, int],
    firing: Collection[str],
    links: Links,
) -> list[Alert]:
    """A tenant's dead letters alert once their count rose since the last tick, and stay
    alerting (already firing) until the tenant has none."""
    found = []
    for portal_id, count in sorted(counts.items()):
        alert_key = kinds.key(kinds.DEAD_LETTERS, portal_id)
        grew = count > previous.get(portal_id, 0)
        if count <= 0 or not (grew or alert_key in firing):
            continue
        found.append(
            Alert(
                key=alert_key,
                source=kinds.DEAD_LETTERS,
                severity="warning",
                summary=(
                    f"portal {portal_id}: {count} dead letter(s) (leads whose retries ran "
                    "out); replay them once the cause is fixed"
                ),
                link=links.job("replay_dead_letters"),
                component="dead_letters",
                details={
                    "portal_id": portal_id,
                    "dead_letters": count,
                    "previous": previous.get(portal_id, 0),
                },
            )
        )
    return found


def _missing(session: Session, links: Links) -> list[Alert]:
    found = []
    for missing in repo.reconciliation_missing(session):
        found.append(
            Alert(
                key=kinds.key(kinds.RECONCILIATION_MISSING, missing.portal_id),
                source=kinds.RECONCILIATION_MISSING,
                severity="error",
                summary=(
                    f"portal {missing.portal_id}: reconciliation found {missing.missing} "
                    "submission(s) HubSpot has and we have no workflow for"
                ),
                link=(
                    links.run(missing.run_id)
                    if missing.run_id
                    else links.asset_checks(COVERAGE_ASSET)
                ),
                component="reconciliation",
                details={
                    "portal_id": missing.portal_id,
                    "missing": missing.missing,
                    "forms": list(missing.forms),
                    "run_id": missing.run_id,
                    "checked_at": missing.checked_at.isoformat(),
                },
            )
        )
    return found


def _backlog(session: Session, now: datetime, thresholds: Thresholds, links: Links) -> list[Alert]:
    oldest = repo.oldest_pending(session)
    if oldest is None:
        return []
    waited = now - oldest.created_at
    if waited <= thresholds.oldest_pending:
        return []
    minutes = waited.total_seconds() / 60
    return [
        Alert(
            key=kinds.BACKLOG_STALE,
            source=kinds.BACKLOG_STALE,
            severity="critical",
            summary=(
                f"the oldest waiting lead has waited {minutes:.0f} min for a run (over "
                f"{thresholds.oldest_pending.total_seconds() / 60:g} min): leads are not "
                "being launched"
            ),
            link=links.workflow(oldest.workflow_id),
            component="launch",
            details={
                "portal_id": oldest.portal_id,
                "workflow_id": str(oldest.workflow_id),
                "waiting_since": oldest.created_at.isoformat(),
                "waited_minutes": round(minutes, 1),
            },
        )
    ]


def _canary(
    session: Session,
    now: datetime,
    thresholds: Thresholds,
    links: Links,
    watching_since: datetime,
) -> list[Alert]:
    interval = thresholds.canary_interval
    if interval is None:
        return []
    goal = thresholds.canary_goal
    details: dict[str, Any] = {"latency_goal_seconds": goal.total_seconds()}
    reasons: list[str] = []
    link: str | None = None
    # The newest canary whose verdict is in: a younger one still has time.
    decided = repo.newest_decided_canary(session, now - goal)
    if decided is not None:
        took = (decided.completed_at or now) - decided.created_at
        on_time = decided.status == WorkflowStatus.SUCCEEDED.value and took <= goal
        if not on_time:
            verb = (
                "finished"
                if decided.status == WorkflowStatus.SUCCEEDED.value
                else f"is {decided.status}"
            )
            reasons.append(
                f"the canary of {decided.created_at:%H:%M} UTC {verb} after "
                f"{took.total_seconds():.0f} s (goal {goal.total_seconds():g} s)"
            )
            link = (
                links.run(decided.run_id) if decided.run_id else links.workflow(decided.workflow_id)
            )
            details |= {
                "workflow_id": str(decided.workflow_id),
                "portal_id": decided.portal_id,
                "status": decided.status,
                "seconds": round(took.total_seconds(), 1),
            }
    newest = repo.newest_canary(session)
    last = newest.created_at if newest is not None else watching_since
    if now - last > 2 * interval:
        reasons.append(
            "no canary lead since "
            + (f"{last:%Y-%m-%d %H:%M} UTC" if newest is not None else "these checks began")
            + f" (its schedule runs every {interval.total_seconds() / 60:g} min)"
        )
        link = link or links.schedule(CANARY_SCHEDULE)
        details["last_canary_at"] = newest.created_at.isoformat() if newest else None
    if not reasons:
        return []
    return [
        Alert(
            key=kinds.CANARY_LATE,
            source=kinds.CANARY_LATE,
            severity="error",
            summary="canary late: " + "; ".join(reasons),
            link=link,
            component="canary",
            details=details,
        )
    ]


def run_failed(
    *,
    job: str,
    tenant: str | None,
    run_id: str,
    failed_at: datetime,
    message: str | None,
    links: Links,
) -> Alert:
    """The alert of a failed run: one per job and tenant (portal id, or 'all' when the
    run's leads were not of one tenant), whatever the number of failed runs."""
    portal = tenant or kinds.ALL_TENANTS
    who = f"portal {portal}" if tenant else "several or unknown tenants"
    return Alert(
        key=kinds.key(kinds.RUN_FAILED, job, portal),
        source=kinds.RUN_FAILED,
        severity="error",
        summary=f"Dagster run of {job} failed ({who})"
        + (f": {message[:_ERROR_CHARS]}" if message else ""),
        link=links.run(run_id),
        component=job,
        details={
            "job": job,
            "tenant": portal,
            "run_id": run_id,
            "failed_at": failed_at.isoformat(),
        },
    )


def _cron_values(spec: str, low: int, high: int) -> set[int] | None:
    values: set[int] = set()
    for part in spec.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, last = body.split("-", 1)
            start, end = int(first), int(last)
        else:
            start = int(body)
            end = high if step_text else start
        if step < 1 or not low <= start <= end <= high:
            return None
        values.update(range(start, end + 1, step))
    return values


def cron_interval(cron: str) -> timedelta | None:
    """The longest gap between two ticks of a daily-repeating cron (minute and hour fields,
    any day); None for anything else (a day-of-week, a month, a name).

    Dagster's own cron iterator is private (defs/dagster_internals.py keeps those) and no
    cron library is locked; the canary's schedules are of this simple kind.
    """
    fields = cron.split()
    if len(fields) != 5 or fields[2:] != ["*", "*", "*"]:
        return None
    try:
        minutes = _cron_values(fields[0], 0, 59)
        hours = _cron_values(fields[1], 0, 23)
    except ValueError:
        return None
    if not minutes or not hours:
        return None
    ticks = sorted(hour * 60 + minute for hour in hours for minute in minutes)
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    gaps.append(ticks[0] + 24 * 60 - ticks[-1])  # from the day's last tick to the next first
    return timedelta(minutes=max(gaps))
