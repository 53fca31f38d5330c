"""Where alerts go: a notifier per channel (Slack, PagerDuty), each told when a condition
starts and when it clears."""

from __future__ import annotations

from typing import Protocol

from sales_agent_pipeline.domain.alerts import Alert, NotificationFailed

__all__ = ["Alert", "NotificationFailed", "Notifier"]


class Notifier(Protocol):
    """One channel. Both calls raise NotificationFailed when the channel did not take the
    message; the caller keeps the alert's state as it was and tries again on its next tick."""

    @property
    def name(self) -> str:
        """The channel's name as alert_states records it (`slack`, `pagerduty`)."""
        ...

    def trigger(self, alert: Alert) -> str | None:
        """Announce the condition; a reference to answer on when it clears (Slack's
        message `ts`, to thread the resolution on), or None."""
        ...

    def resolve(self, alert: Alert, reference: str | None = None) -> None:
        """Announce that the condition cleared (threaded on `reference` where the channel
        has threads)."""
        ...
