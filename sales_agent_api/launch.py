"""After the 202: ask Dagster for runs, off the request path. Failure loses nothing."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.db.repositories import outbox
from sales_agent_pipeline.launcher import DagsterLauncher, LaunchError

log = structlog.get_logger(__name__)


def request_runs(
    sessions: sessionmaker[Session],
    launcher: DagsterLauncher,
    workflow_ids: list[uuid.UUID],
    tags: dict[str, str],
) -> None:
    """Claim each workflow's launch and launch it; what fails is left to the sensor."""
    with sessions.begin() as session:
        claimed = outbox.claim_launch(session, workflow_ids)
    for workflow_id in claimed:
        try:
            run_id = launcher.launch(
                [str(workflow_id)],
                trigger="webhook",
                tags={**tags, run_tags.WORKFLOW_ID: str(workflow_id)},
            )
        except LaunchError as exc:
            log.warning("webhook.launch_failed", workflow_id=str(workflow_id), error=str(exc))
            with sessions.begin() as session:
                outbox.release_launch(session, workflow_id)
            continue
        with sessions.begin() as session:
            outbox.record_run(session, workflow_id, run_id)
        log.info("webhook.launched", workflow_id=str(workflow_id), run_id=run_id)
