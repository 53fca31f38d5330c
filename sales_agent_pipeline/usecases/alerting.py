"""Alerts delivered: each condition's row in alert_states, and the notifiers told once when
it starts and once when it clears.

A notifier that fails leaves the row's deliveries as they were: the next tick sends again.
Nothing here raises for a failed delivery. Each key is handled in its own short transaction
that holds the row's lock while it is sent, so two sensors (or two ticks) never send one
key twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import AlertState
from sales_agent_pipeline.db.repositories import alerts as repo
from sales_agent_pipeline.domain import alerts as kinds
from sales_agent_pipeline.domain.alerts import Alert, NotificationFailed, Severity
from sales_agent_pipeline.ports.alerts import Notifier
from sales_agent_pipeline.usecases.alerts import Evaluation

# (job, tenant or None for every tenant, after) -> a successful run's id, or None.
SucceededSince = Callable[[str, str | None, datetime], str | None]


@dataclass
class Report:
    """What one call did: alerts opened and cleared, deliveries made and failed."""

    opened: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def merge(self, other: Report) -> None:
        """Add another call's report to this one."""
        self.opened += other.opened
        self.cleared += other.cleared
        self.sent += other.sent
        self.failed += other.failed

    def line(self) -> str:
        """One line for a sensor tick."""
        parts = [
            f"{len(self.opened)} opened",
            f"{len(self.cleared)} cleared",
            f"{len(self.sent)} notification(s) sent",
        ]
        if self.failed:
            parts.append(f"{len(self.failed)} failed (sent again next tick)")
        return ", ".join(parts)


def alert_of(row: AlertState) -> Alert:
    """The alert a stored row describes."""
    # The column is checked to be one of the severities.
    severity = cast(Severity, row.severity)
    return Alert(
        key=row.key,
        source=row.source,
        severity=severity,
        summary=row.summary,
        link=row.link,
        details=dict(row.details.get("facts") or {}),
        component=row.details.get("component"),
    )


class Alerting:
    """Conditions to alert_states rows to notifications. Each key is handled in its own
    short transaction holding its row's lock while it is sent (one sensor and another, or
    two ticks, never send one key twice)."""

    def __init__(self, sessions: sessionmaker[Session], notifiers: Sequence[Notifier]) -> None:
        self._sessions = sessions
        self._notifiers = list(notifiers)

    def fire(self, alert: Alert) -> Report:
        """The condition holds: its row firing, and every notifier not yet told, told."""
        report = Report()
        with self._sessions.begin() as session:
            row, opened = repo.fire(session, alert)
            if opened:
                report.opened.append(alert.key)
            told = repo.channels(row)
            for notifier in self._notifiers:
                state = told.get(notifier.name, {})
                if "trigger" in state and not state.get("resolved"):
                    continue
                try:
                    reference = notifier.trigger(alert)
                except Exception as exc:
                    report.failed.append(_failure(alert.key, notifier.name, "trigger", exc))
                    continue
                repo.record_channel(row, notifier.name, trigger=reference or "", resolved=False)
                report.sent.append(f"{notifier.name} trigger {alert.key}")
        return report

    def clear(self, key: str) -> Report:
        """The condition cleared: every notifier told of it is told it cleared, then the
        row is resolved. A notifier that fails keeps the row firing until it is told."""
        report = Report()
        with self._sessions.begin() as session:
            row = repo.locked(session, key)
            if row is None or row.status != repo.FIRING:
                return report
            alert = alert_of(row)
            pending = False
            for notifier in self._notifiers:
                state = repo.channels(row).get(notifier.name, {})
                if "trigger" not in state or state.get("resolved"):
                    continue  # never told it started: nothing to clear
                try:
                    notifier.resolve(alert, state.get("trigger") or None)
                except Exception as exc:
                    report.failed.append(_failure(key, notifier.name, "resolve", exc))
                    pending = True
                    continue
                repo.record_channel(row, notifier.name, resolved=True)
                report.sent.append(f"{notifier.name} resolve {key}")
            if not pending:
                repo.resolve(session, row)
                report.cleared.append(key)
        return report

    def apply(self, evaluation: Evaluation) -> Report:
        """Fire what holds, clear what no longer does (of the evaluated sources)."""
        report = Report()
        active = {alert.key for alert in evaluation.active}
        for alert in evaluation.active:
            report.merge(self.fire(alert))
        with self._sessions() as session:
            stale = [
                row.key for row in repo.firing(session, evaluation.sources) if row.key not in active
            ]
        for key in stale:
            report.merge(self.clear(key))
        return report

    def settle_run_failures(self, succeeded_since: SucceededSince) -> Report:
        """Clear each run-failure alert a later run of its job and tenant succeeded after;
        send again what could not be sent for the others."""
        report = Report()
        with self._sessions() as session:
            rows = [alert_of(row) for row in repo.firing(session, (kinds.RUN_FAILED,))]
        for alert in rows:
            job = str(alert.details.get("job") or alert.component or "")
            tenant = alert.details.get("tenant")
            failed_at = alert.details.get("failed_at")
            after = datetime.fromisoformat(failed_at) if isinstance(failed_at, str) else None
            scope = None if tenant in (None, kinds.ALL_TENANTS) else str(tenant)
            if job and after is not None and succeeded_since(job, scope, after):
                report.merge(self.clear(alert.key))
            else:
                report.merge(self.fire(alert))
        return report

    def firing_keys(self) -> set[str]:
        """The keys firing now."""
        with self._sessions() as session:
            return {row.key for row in repo.firing(session)}


def _failure(key: str, channel: str, action: str, exc: Exception) -> str:
    # Never str() of an unknown exception: it could carry a request (and a secret).
    reason = exc.reason if isinstance(exc, NotificationFailed) else type(exc).__name__
    return f"{channel} {action} {key}: {reason}"
