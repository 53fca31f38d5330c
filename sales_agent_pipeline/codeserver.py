"""The code server `sales-agent up` runs: Dagster's own gRPC server, with warm run workers.

Dagster's code server starts every run in a freshly *spawned* Python process, which on this
2-core machine spends ~4.5 s importing Dagster and our code before the first op (the 13
ops themselves take ~0.6 s). Here the server uses a multiprocessing *forkserver* that has
imported them once, so a run worker is a fork of an already-warm process. Everything else
(the run queue, run monitoring, re-execution from the UI) is Dagster's, unchanged.

Why a subclass of a private class: Dagster exposes no setting for the start method of its
run workers; this overrides that one attribute and nothing else. If a Dagster upgrade
renames it, the server still works, only cold (see `_warm`).
"""

from __future__ import annotations

import multiprocessing
import sys
from typing import Any

# Imported once in the forkserver: Dagster, its PostgreSQL storage (the run worker opens
# the instance first thing), our definitions with the SDKs they use, and the holidays
# package's country calendars (it imports a country lazily: ~0.3 s of step 8 in every run).
PRELOAD = [
    "dagster_postgres",
    "dagster._core.execution.api",
    "psycopg2",
    "holidays.countries",
    "sales_agent_pipeline.definitions",
]


def _warm() -> None:
    from dagster._grpc import server

    base: Any = server.DagsterApiServer

    class WarmRunWorkers(base):
        """DagsterApiServer whose run workers fork from a preloaded forkserver."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if hasattr(self, "_mp_ctx"):
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)
                self._mp_ctx = context

    server.DagsterApiServer = WarmRunWorkers  # type: ignore[misc]


def main() -> None:
    """`python -m sales_agent_pipeline.codeserver ARGS` is `dagster api grpc ARGS`, warm."""
    _warm()
    from dagster._cli import main as dagster_main

    sys.argv = ["dagster", "api", "grpc", *sys.argv[1:]]
    dagster_main()


if __name__ == "__main__":
    main()
