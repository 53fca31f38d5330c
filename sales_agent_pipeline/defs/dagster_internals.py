"""Every use of Dagster beyond its public API, in one place.

Each function says why the public API does not do, and what the public fallback is. A
Dagster upgrade that renames or reshapes one of them fails
tests/unit/defs/test_dagster_internals.py, which names the call; a test there also keeps
every other module of ours off `dagster._*` and the names below.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dagster import AssetExecutionContext, DagsterInstance, RunsFilter
from sqlalchemy import Engine

from sales_agent_pipeline.db.session import PING_AFTER_IDLE_SECONDS, ping_when_idle

# What a run worker imports: Dagster's execution API (a private module) and its PostgreSQL
# storage (the worker opens the instance first thing), then what Dagster imports lazily on
# the way to the first op (the instance factory, the in-process executor, the compute-log
# manager; read off a run worker's sys.modules against the forkserver's): ~0.1-0.4 s a run
# when each worker imports them itself.
RUN_WORKER_MODULES = (
    "dagster_postgres",
    "dagster._core.execution.api",
    "dagster._core.instance.factory",
    "dagster._core.executor.in_process",
    "dagster._core.execution.plan.active",
    "dagster._core.storage.local_compute_log_manager",
    "dagster._core.storage.root",
    "dagster._core.secrets.loader",
    "dagster._core.system_config.composite_descent",
    "dagster._core.utility_ops",
    "dagster._core.workspace.autodiscovery",
    "dagster._core.definitions.repository_definition.repository_data_builder",
)

# Dagster's own run tags (dagster._core.storage.tags, not exported from `dagster`). A run
# request has no public field for a range of partitions: these two tags are how Dagster's
# backfills, and the launcher's GraphQL launch, ask for one. `run_tags.PRIORITY` and the
# launcher (which may not import the Dagster shell) spell them out too; the test checks all.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """The tags that make one run cover the partitions `first` to `last`, in their order."""
    return {PARTITION_RANGE_START_TAG: first, PARTITION_RANGE_END_TAG: last}


def warm_run_workers(preload: Sequence[str]) -> None:
    """Make `dagster api grpc` start each run worker as a fork of a process that imported
    `preload` once, instead of a fresh *spawned* interpreter.

    Dagster exposes no setting for the start method of its code server's run workers: this
    subclasses the private DagsterApiServer to override that one attribute (`_mp_ctx`) and
    nothing else. No public fallback: if an upgrade renames the attribute the server still
    works, only cold (each run pays the imports, ~4.5 s on two cores).
    """
    from dagster._grpc import server

    base: Any = server.DagsterApiServer

    class WarmRunWorkers(base):
        """DagsterApiServer whose run workers fork from a preloaded forkserver."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if hasattr(self, "_mp_ctx"):
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(list(preload))
                self._mp_ctx = context
                # Start the forkserver now, not at the first run: its imports (~3 s) go on
                # beside the code server's own start, so the first lead after `sales-agent
                # up` does not wait for them.
                multiprocessing.forkserver.ensure_running()

    # `dagster api grpc` looks the class up in this module when it runs, so the patch holds.
    server.DagsterApiServer = WarmRunWorkers  # type: ignore[misc]


def run_dagster_cli(args: Sequence[str]) -> None:
    """Run the `dagster` command line in this process with `args` (what the console script
    runs), so a patch such as `warm_run_workers` applies to it.

    The `dagster` console script's entry point is the private `dagster._cli.main`; the public
    fallback is `runpy.run_module("dagster", run_name="__main__")` (`python -m dagster`).
    """
    from dagster._cli import main

    sys.argv = ["dagster", *args]
    main()


def accumulate_partition_metadata(
    context: AssetExecutionContext, by_partition: Mapping[str, Mapping[str, Any]]
) -> bool:
    """Add each partition's materialisation metadata without checking the key; False when
    Dagster's step context has no accumulator to add to (the caller then uses the public call).

    The public `add_asset_metadata(partition_key=...)` checks every key against the run's
    range by loading all the dynamic partitions of the asset from Dagster's database, on a
    new connection, per call: O(partitions ever known) per lead, quadratic over a bulk
    import. The keys here are the run's own partitions, so they go to the step's private
    metadata accumulator directly (what that call does after its check).
    """
    step = context.op_execution_context.get_step_execution_context()
    accumulator = getattr(step, "_metadata_accumulator", None)
    if accumulator is None or not hasattr(accumulator, "with_additional_asset_metadata"):
        return False
    asset_key = context.assets_def.key
    for key, metadata in by_partition.items():
        accumulator = accumulator.with_additional_asset_metadata(
            asset_key=asset_key, metadata=metadata, partition_key=key
        )
    step._metadata_accumulator = accumulator
    return True


def count_runs(instance: DagsterInstance, filters: RunsFilter) -> int:
    """How many runs match `filters`, counted by the run storage.

    `DagsterInstance.get_runs_count` is not marked public; the public fallback,
    `len(instance.get_run_records(filters))`, loads every matching run to count them.
    """
    return instance.get_runs_count(filters)


def tag_run(instance: DagsterInstance, run_id: str, tags: Mapping[str, str]) -> None:
    """Add tags to a run that is already going (e.g. what a step learnt about its lead).

    There is no public way to tag a run after it started: `DagsterInstance.add_run_tags` is
    what Dagster's own UI and daemon call, not marked public. No public fallback.
    """
    instance.add_run_tags(run_id, tags)


def pool_storage_connections(
    instance: DagsterInstance, *, statement_timeout: int, pool_recycle: int, max_overflow: int
) -> None:
    """Let this process's Dagster storage keep its database connections in a pool.

    In a run worker dagster-postgres opens a new connection for every event it stores or
    reads; the webserver's pooled set-up (`DagsterInstance.optimize_for_webserver`, not
    marked public) keeps a few open. No public fallback: without it, a connection per event.
    Its pools do not check a connection before use, so after a PostgreSQL restart an event
    write would fail on a dead one: each storage's engine (`_engine`, private) gets our
    check of connections that sat idle, as the app's engines have.
    """
    instance.optimize_for_webserver(
        statement_timeout=statement_timeout, pool_recycle=pool_recycle, max_overflow=max_overflow
    )
    for storage in (instance._run_storage, instance._event_storage, instance._schedule_storage):
        engine = getattr(storage, "_engine", None)
        if isinstance(engine, Engine):
            ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)


def run_webserver_cli(args: Sequence[str], wrap: Callable[[Any], Any]) -> None:
    """Run `dagster-webserver ARGS` in this process, its ASGI app wrapped by `wrap` (the
    sign-in gate of `sales_agent_pipeline.webserver`).

    dagster-webserver has no option for middleware: its CLI builds the Starlette app with
    `create_app_from_workspace_process_context`, looked up in `dagster_webserver.cli` when
    it serves, so replacing that name there wraps the app and changes nothing else. No
    public fallback: if an upgrade moves it, tests/unit/defs/test_dagster_internals.py fails
    on the name, and tests/integration/webserver shows the gate missing.
    """
    from dagster_webserver import cli

    build = cli.create_app_from_workspace_process_context

    def wrapped(*build_args: Any, **build_kwargs: Any) -> Any:
        return wrap(build(*build_args, **build_kwargs))

    cli.create_app_from_workspace_process_context = wrapped
    sys.argv = ["dagster-webserver", *args]
    cli.main()
