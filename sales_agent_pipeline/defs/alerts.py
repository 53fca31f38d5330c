"""Alerts from Dagster itself: a run-failure sensor and condition sensors (breakers,
dead letters, reconciliation, the canary, the backlog) that notify Slack and PagerDuty.

Filled in by issue 18; the lists below are what definitions.py wires.
"""

from typing import Any

SENSORS: list[Any] = []
RESOURCES: dict[str, Any] = {}
