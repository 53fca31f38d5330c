"""What `sales-agent up` prints once the stack answers: where to look, the key, a first call."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from sales_agent_pipeline.cli.demo_key import KEY_FILE
from sales_agent_pipeline.settings import Settings


@dataclass(frozen=True)
class StartTimes:
    """Seconds spent on each part of the start."""

    python: float  # the interpreter and our imports, before any work
    database: float
    processes: float

    @property
    def total(self) -> float:
        """From the command to every process answering."""
        return self.python + self.database + self.processes


def up_summary(
    settings: Settings,
    *,
    database: str,
    log_dir: Path,
    times: StartTimes,
    api_key: str | None,
) -> str:
    """The block printed when everything answers."""
    ui = f"http://{settings.dagster_ui_host}:{settings.dagster_ui_port}"
    api = f"http://{settings.api_host}:{settings.api_port}"
    connectors = (
        f"the sandbox at {settings.sandbox_url} (no credentials set)"
        if settings.sandbox_mode
        else "the real HubSpot and Google APIs"
    )
    lines = [
        "",
        f"Sales Agent Pipeline is up after {times.total:.1f} s (Python {times.python:.1f} s, "
        f"database and migrations {times.database:.1f} s, processes {times.processes:.1f} s)",
        f"  Dagster UI   {ui}/runs  (each lead's draft: {ui}/assets/lead_followup)",
        f"  API docs     {api}/docs",
        f"  database     {database}",
        f"  connectors   {connectors}",
        f"  logs         {log_dir}",
    ]
    if api_key is not None:
        auth = shlex.quote(f"Authorization: Bearer {api_key}")
        lines += [
            f"  API key      {api_key}",
            "               (admin key of the demo tenant, portal 1000; kept in "
            f"{Path(settings.data_dir).resolve() / KEY_FILE})",
            f"  try          curl -s -H {auth} {api}/api/workflows",
        ]
    lines.append("Ctrl-C stops everything.")
    return "\n".join(lines)
