"""Is Dagster up: its daemons' heartbeats and our code location, asked of the webserver's
GraphQL API (the instance's own view, as the UI's "Deployment" page shows it).

Issue 18's contract; the body is filled in by its readiness work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DagsterHealth:
    """What the webserver said: each daemon's health, each code location's, or why it
    could not be asked."""

    daemons: Mapping[str, bool] = field(default_factory=dict)
    code_locations: Mapping[str, bool] = field(default_factory=dict)
    error: str | None = None

    @property
    def daemon_ok(self) -> bool:
        """Every required daemon's heartbeat is recent."""
        return self.error is None and bool(self.daemons) and all(self.daemons.values())

    @property
    def code_server_ok(self) -> bool:
        """Every code location loaded."""
        return (
            self.error is None and bool(self.code_locations) and all(self.code_locations.values())
        )


def dagster_health(webserver_url: str, timeout_seconds: float = 2.0) -> DagsterHealth:
    """Ask the webserver (cached a few seconds per process)."""
    raise NotImplementedError
