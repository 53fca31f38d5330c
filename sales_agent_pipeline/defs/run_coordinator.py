"""Dagster's run queue with a dequeue interval under a second.

`QueuedRunCoordinator` takes `dequeue_interval_seconds` as a whole number, so its shortest
interval is 1 s, and the daemon's loop then waits twice its 0.5 s granularity between two
dequeues: a live lead waited ~0.6 s in the queue (median, single leads). This subclass is
Dagster's coordinator, unchanged, but for accepting a fraction there; the daemon reads the
interval from the coordinator's public property. At 0.5 (the loop's own granularity, the
floor without replacing Dagster's daemon) a lead waits ~0.3 s, for one more look at the
queue a second (a query on the runs table: ~2 ms of the daemon's CPU).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import Field, QueuedRunCoordinator


class SubSecondQueuedRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator whose `dequeue_interval_seconds` may be a fraction (Dagster's
    `from_config_value` passes it to this constructor, which keeps it from the base's
    whole-number check)."""

    def __init__(self, *args: Any, dequeue_interval_seconds: float | None = None, **kw: Any):
        super().__init__(*args, **kw)
        # Dagster's default when unset: 5 s.
        self._interval = (
            5.0 if dequeue_interval_seconds is None else float(dequeue_interval_seconds)
        )
        if self._interval <= 0:
            raise ValueError("dequeue_interval_seconds must be above 0")

    @property
    def dequeue_interval_seconds(self) -> float:  # type: ignore[override]
        return self._interval

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        base = super().config_type()
        assert isinstance(base, Mapping)  # Dagster's is a dict of fields
        schema = dict(base)
        schema["dequeue_interval_seconds"] = Field(
            float,
            is_required=False,
            description="Seconds between two looks of the daemon at the run queue (a fraction "
            "is fine; the daemon's loop waits in steps of 0.5 s).",
        )
        return schema
