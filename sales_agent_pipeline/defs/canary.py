"""The synthetic canary: a signed synthetic lead through the webhook on a schedule.

Filled in by issue 18; the lists below are what definitions.py wires.
"""

from typing import Any

JOBS: list[Any] = []
SCHEDULES: list[Any] = []
SENSORS: list[Any] = []
RESOURCES: dict[str, Any] = {}
