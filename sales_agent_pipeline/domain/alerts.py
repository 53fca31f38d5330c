"""Alerts the pipeline raises about itself: one condition by a stable, bounded key, sent to
the configured notifiers (Slack, PagerDuty) once when it starts and once when it clears."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["critical", "error", "warning", "info"]

# The sources, each the first part of its keys (`<source>:...`). A key names a condition,
# never an occurrence: no workflow id, run id or email in it, so a condition that lasts for
# hours is one alert, and the number of keys is bounded by jobs x tenants x vendors.
RUN_FAILED = "run-failed"
BREAKER = "breaker"
DEAD_LETTERS = "dead-letters"
RECONCILIATION_MISSING = "reconciliation-missing"
BACKLOG_STALE = "backlog-stale"
CANARY_LATE = "canary-late"
SOURCES = (RUN_FAILED, BREAKER, DEAD_LETTERS, RECONCILIATION_MISSING, BACKLOG_STALE, CANARY_LATE)

# A run whose leads are not of one tenant (a mixed batch, or one that failed before it
# knew its leads) is keyed to every tenant.
ALL_TENANTS = "all"
# PagerDuty's limit for a dedup_key; our keys stay far below it.
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Alert:
    """One condition as a notifier sends it: what, how bad, and where a person looks."""

    key: str
    source: str
    severity: Severity
    summary: str
    link: str | None = None
    # Facts for the person on call (counts, vendor, run id, times): no secret, no lead text.
    details: Mapping[str, Any] = field(default_factory=dict)
    # What the alert is about inside the product (a vendor, a job), PagerDuty's `component`.
    component: str | None = None


class NotificationFailed(Exception):
    """A notifier could not deliver; the alert's state stays as it was and the next tick
    sends again. `retry` is False when the vendor said the event itself is wrong (a 400):
    sending it again unchanged will not help, but it is still tried (it may be fixed)."""

    def __init__(self, channel: str, reason: str, *, retry: bool = True) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason
        self.retry = retry


def key(source: str, *parts: object) -> str:
    """The stable key of a condition: the source and its parts joined by ':'."""
    joined = ":".join([source, *(str(part) for part in parts)])
    return joined[:MAX_KEY_LENGTH]


def source_of(alert_key: str) -> str:
    """The source a key was made for."""
    return alert_key.split(":", 1)[0]
