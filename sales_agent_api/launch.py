"""After the 202: ask Dagster for runs, off the request path. Failure loses nothing.

One `LaunchQueue` per API process: requests hand it the new workflow ids and return at once;
one thread launches them. The thread waits `linger_seconds` (50 ms) after the first id for
others, then launches what it has as one run over a range of partitions (at most
`batch_size` leads); ids that arrive while a launch is in flight go out together next. A lone
lead thus starts 50 ms later, and 300 deliveries a second become a few runs a second instead
of 300 (each run and each GraphQL call costs the Dagster webserver ~2-5 ms of CPU, a run
worker far more), while the request path does no launch work at all. When Dagster
does not answer, the queue stops asking for `pause_seconds` and leaves the work, unclaimed,
to the sensor (nothing is lost: the rows are committed before the 202).

Hand-written rather than a task library: the queue lives inside the API process, holds no
state that is not already in PostgreSQL, and a restart loses only launch requests that the
sensor makes anyway.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api import metrics
from sales_agent_pipeline import run_tags, tracing
from sales_agent_pipeline.connectors.dagster_launcher import DagsterLauncher, LaunchError
from sales_agent_pipeline.db.repositories import outbox

log = structlog.get_logger(__name__)


def request_runs(
    sessions: sessionmaker[Session],
    launcher: DagsterLauncher,
    workflow_ids: list[uuid.UUID],
    tags: dict[str, str],
    *,
    trigger: str = "webhook",
    traceparents: Mapping[uuid.UUID, str] | None = None,
) -> bool:
    """Claim the workflows' launch and launch them in one run; False if Dagster failed.

    What another launcher claimed first is left alone; what fails is released for the sensor.
    With tracing on, the run's tags carry the trace its steps continue: the requests' that
    accepted the leads (`traceparents`, from the launch queue), else the current request's.
    """
    with sessions.begin() as session:
        claimed = outbox.claim_launch(session, workflow_ids)
    if not claimed:
        return True
    keys = [str(workflow_id) for workflow_id in claimed]
    run_tags_ = dict(tags)
    if len(keys) == 1:
        run_tags_[run_tags.WORKFLOW_ID] = keys[0]
        lines = {"workflow_id": keys[0]}
    else:
        run_tags_[run_tags.LEADS] = str(len(keys))
        lines = {"workflow_ids": ",".join(keys)}
    with structlog.contextvars.bound_contextvars(**lines):
        return _launch(sessions, launcher, claimed, keys, run_tags_, trigger, traceparents)


def _parents(claimed: list[uuid.UUID], traceparents: Mapping[uuid.UUID, str] | None) -> list[str]:
    if traceparents is None:
        current = tracing.current_traceparent()
        if current is not None:
            tracing.annotate_workflows(claimed)
        return [current] if current else []
    return [traceparents[w] for w in claimed if w in traceparents]


def _launch(
    sessions: sessionmaker[Session],
    launcher: DagsterLauncher,
    claimed: list[uuid.UUID],
    keys: list[str],
    tags: dict[str, str],
    trigger: str,
    traceparents: Mapping[uuid.UUID, str] | None,
) -> bool:
    parents = _parents(claimed, traceparents) if tracing.enabled() else []
    try:
        with tracing.launch_span(parents, keys) as traceparent:
            if traceparent is not None:
                tags[run_tags.TRACEPARENT] = traceparent
            run_id = launcher.launch(keys, trigger=trigger, tags=tags)
    except LaunchError as exc:
        metrics.LAUNCHES.labels("failed").inc()
        log.warning("launch.failed", leads=len(keys), error=str(exc))
        with sessions.begin() as session:
            outbox.release_launch(session, claimed)
        return False
    with sessions.begin() as session:
        outbox.record_run(session, claimed, run_id)
    metrics.LAUNCHES.labels("launched").inc()
    metrics.LAUNCHED_LEADS.inc(len(keys))
    log.info("launch.launched", leads=len(keys), run_id=run_id, trigger=trigger)
    return True


def _ids(items: list[_Item]) -> str:
    return ",".join(str(item.workflow_id) for item in items)


@dataclass(frozen=True)
class _Item:
    workflow_id: uuid.UUID
    tenant: str
    # The accepting request's trace (None: tracing is off).
    traceparent: str | None = None


class LaunchQueue:
    """Launches accepted workflows from one background thread, coalescing bursts."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        launcher: DagsterLauncher,
        *,
        batch_size: int = 100,
        linger_seconds: float = 0.05,
        pause_seconds: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._launcher = launcher
        self._batch_size = batch_size
        self._linger_seconds = linger_seconds
        self._pause_seconds = pause_seconds
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._paused_until = 0.0
        self._pending = 0  # submitted, not yet launched or left to the sensor
        self._done = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="launch-queue", daemon=True)

    def start(self) -> None:
        """Start the launching thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued (or leave it to the sensor if Dagster is paused), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def submit(self, workflow_ids: list[uuid.UUID], tenant: int) -> None:
        """Queue new workflows for launch; never blocks.

        The webhook calls it as it accepts the leads: the rest of the request's log lines
        carry their workflow id, and (tracing on) its span names them and their runs
        continue its trace."""
        if len(workflow_ids) == 1:
            structlog.contextvars.bind_contextvars(workflow_id=str(workflow_ids[0]))
        else:
            structlog.contextvars.bind_contextvars(
                workflow_ids=",".join(str(w) for w in workflow_ids)
            )
        traceparent = None
        if tracing.enabled():
            tracing.annotate_workflows(workflow_ids)
            traceparent = tracing.current_traceparent()
        with self._done:
            self._pending += len(workflow_ids)
        metrics.QUEUED.inc(len(workflow_ids))
        for workflow_id in workflow_ids:
            self._queue.put(_Item(workflow_id, str(tenant), traceparent))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until everything submitted so far was launched or left (tests, shutdown)."""
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)

    def _take(self) -> tuple[list[_Item], bool]:
        """The next burst: block for one item, then take what else arrives within the linger."""
        first = self._queue.get()
        if first is None:
            return [], True
        items, stop = [first], False
        until = time.monotonic() + self._linger_seconds
        while len(items) < self._batch_size * 10:
            try:
                item = self._queue.get(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            items.append(item)
        return items, stop

    def _run(self) -> None:
        stop = False
        while not stop:
            items, stop = self._take()
            try:
                self._launch(items)
            except Exception:  # the thread must outlive any one failure; the sensor covers
                log.exception("launch.queue_error", leads=len(items), workflow_ids=_ids(items))
            metrics.QUEUED.dec(len(items))
            with self._done:
                self._pending -= len(items)
                self._done.notify_all()

    def _launch(self, items: list[_Item]) -> None:
        if not items:
            return
        if time.monotonic() < self._paused_until:
            metrics.LAUNCHES.labels("left_to_sensor").inc()
            log.info("launch.left_to_sensor", leads=len(items), workflow_ids=_ids(items))
            return
        by_tenant: dict[str, list[uuid.UUID]] = defaultdict(list)
        traceparents = {i.workflow_id: i.traceparent for i in items if i.traceparent}
        for item in items:
            by_tenant[item.tenant].append(item.workflow_id)
        for tenant, workflow_ids in by_tenant.items():
            for start in range(0, len(workflow_ids), self._batch_size):
                chunk = workflow_ids[start : start + self._batch_size]
                tags = {run_tags.TENANT: tenant}
                if not request_runs(
                    self._sessions, self._launcher, chunk, tags, traceparents=traceparents
                ):
                    self._paused_until = time.monotonic() + self._pause_seconds
                    return
