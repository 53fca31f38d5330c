"""The Dagster entry point: one Definitions for the code location `sales_agent_pipeline`."""

import os

from dagster import Definitions, EnvVar, in_process_executor, mem_io_manager

from sales_agent_pipeline.defs import alerts, canary, sends
from sales_agent_pipeline.defs.approve import approve_and_send_draft
from sales_agent_pipeline.defs.assets import lead_followup, process_formlead
from sales_agent_pipeline.defs.dead_letters import dead_letter_redrive_sensor, replay_dead_letters
from sales_agent_pipeline.defs.imports import import_runs_sensor
from sales_agent_pipeline.defs.mailboxes import mailbox_sync_sensor
from sales_agent_pipeline.defs.probe import dagster_probe, dagster_probe_job
from sales_agent_pipeline.defs.reconciliation import (
    reconcile_submissions,
    reconciliation_schedule,
    submission_coverage,
)
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.sensors import received_leads_sensor, stuck_workflows_sensor
from sales_agent_pipeline.defs.tenants import TenantsResource
from sales_agent_pipeline.defs.vendors import (
    CalendarResource,
    DriveResource,
    GmailResource,
    HubSpotResource,
    WritersResource,
)

_settings = SettingsResource()
# The HubSpot and Gmail resources keep their quotas in the database through the run's own
# engine. Passed "at launch" (every field still set here), Dagster resolves their `database`
# to this top-level resource and sets it up once; a fully configured nested resource would
# get a copy of its own, with a second engine and pool in every run process.
_database = DatabaseResource.configure_at_launch(url=EnvVar("DATABASE_URL"))
# Likewise one TenantsResource per run for the four vendors' resources: each tenant's
# credentials are decrypted once per run, and its usage counted in one place.
_tenants = TenantsResource.configure_at_launch(settings=_settings, database=_database)

# The benchmarks' Dagster-only probe (defs/probe.py), in their stack alone.
_probe = os.environ.get("SALES_AGENT_DAGSTER_PROBE") == "1"

defs = Definitions(
    assets=[lead_followup, submission_coverage, *([dagster_probe] if _probe else [])],
    jobs=[
        process_formlead,
        *([dagster_probe_job] if _probe else []),
        reconcile_submissions,
        approve_and_send_draft,
        replay_dead_letters,
        *canary.JOBS,
        *sends.JOBS,
    ],
    sensors=[
        received_leads_sensor,
        stuck_workflows_sensor,
        import_runs_sensor,
        dead_letter_redrive_sensor,
        mailbox_sync_sensor,
        *alerts.SENSORS,
        *canary.SENSORS,
        *sends.SENSORS,
    ],
    schedules=[reconciliation_schedule(), *canary.SCHEDULES],
    # Backfills and the UI's "Materialize" run the implicit asset job: in process too, like
    # process_formlead (the mem IO manager cannot hand batches across processes).
    executor=in_process_executor,
    resources={
        "database": _database,
        "settings": _settings,
        "tenants": _tenants,
        "hubspot": HubSpotResource(settings=_settings, database=_database, tenants=_tenants),
        "gmail": GmailResource(settings=_settings, database=_database, tenants=_tenants),
        "calendar": CalendarResource(settings=_settings, tenants=_tenants),
        "drive": DriveResource(settings=_settings, tenants=_tenants),
        "writers": WritersResource(settings=_settings, database=_database, tenants=_tenants),
        # The ops hand pydantic batches to each other inside one process: nothing to persist.
        "io_manager": mem_io_manager,
        **alerts.RESOURCES,
        **canary.RESOURCES,
    },
)
