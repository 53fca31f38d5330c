"""The code server `sales-agent up` runs: Dagster's own gRPC server, with warm run workers.

Dagster's code server starts every run in a freshly *spawned* Python process, which on this
2-core machine spends ~4.5 s importing Dagster and our code before the first op (the 13
ops themselves take ~0.6 s). Here the server uses a multiprocessing *forkserver* that has
imported them once, so a run worker is a fork of an already-warm process. Everything else
(the run queue, run monitoring, re-execution from the UI) is Dagster's, unchanged. The
private Dagster calls this takes are in defs/dagster_internals.py.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sales_agent_pipeline.connectors.llm_call import SDK_MODULES
from sales_agent_pipeline.defs.dagster_internals import (
    RUN_WORKER_MODULES,
    run_dagster_cli,
    warm_run_workers,
)
from sales_agent_pipeline.observability import configure_logging, log_format
from sales_agent_pipeline.settings import Settings, get_settings

# Imported once in the forkserver: Dagster, its PostgreSQL storage (the run worker opens
# the instance first thing), our definitions with the SDKs they use, and the holidays
# package's country calendars (it imports a country lazily: ~0.3 s of step 8 in every run).
# Then what the SDKs and Dagster's storage import lazily during a run (read off a run
# worker's sys.modules against the forkserver's: 220 modules, the HubSpot client's APIs
# behind its discovery properties the most). A name that no longer imports is skipped by
# the forkserver: the worker then imports it itself, as before.
LAZY_IN_RUNS = [
    "hubspot.discovery.crm.discovery",
    "hubspot.discovery.crm.contacts.discovery",
    "hubspot.discovery.crm.companies.discovery",
    "hubspot.discovery.crm.owners.discovery",
    "hubspot.discovery.crm.associations.discovery",
    "hubspot.discovery.crm.associations.v4.discovery",
    "hubspot.discovery.crm.objects.notes.discovery",
    "hubspot.discovery.crm.objects.tasks.discovery",
    "hubspot.discovery.communication_preferences.discovery",
    "hubspot.crm.associations",
    "hubspot.crm.associations.v4",
    "hubspot.crm.owners",
    "hubspot.communication_preferences",
    "hubspot.utils.objects",
    "googleapiclient.discovery_cache",
    "psycopg2.extras",
    "upath",
    "fsspec.implementations.local",
    "watchdog.observers.polling",
    "encodings.idna",
]
PRELOAD = [
    *RUN_WORKER_MODULES,
    "psycopg2",
    "holidays.countries",
    "sales_agent_pipeline.definitions",
    *LAZY_IN_RUNS,
]


def writer_sdks(settings: Settings) -> list[str]:
    """The model SDKs a run may draft with: the default writer's, and any provider with a
    key in the environment (a tenant's own settings may pick it). The template writer's
    runs import none."""
    sdks = {settings.draft_writer.value} & set(SDK_MODULES)
    if settings.openai_api_key is not None:
        sdks.add("openai")
    if settings.anthropic_api_key is not None:
        sdks.add("anthropic")
    return sorted(sdks)


def preload(settings: Settings) -> Sequence[str]:
    """What the run workers' forkserver imports once: PRELOAD and the writers' SDKs."""
    extra = [module for sdk in writer_sdks(settings) for module in SDK_MODULES[sdk]]
    return [*PRELOAD, *dict.fromkeys(extra)]


def main() -> None:
    """`python -m sales_agent_pipeline.codeserver ARGS` is `dagster api grpc ARGS`, warm."""
    settings = get_settings()
    # The sensors' and schedules' own lines (structlog) in the format of every process.
    configure_logging(settings.log_level, log_format(settings))
    warm_run_workers(preload(settings))
    run_dagster_cli(["api", "grpc", *sys.argv[1:]])


if __name__ == "__main__":
    main()
