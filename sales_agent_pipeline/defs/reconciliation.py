"""The reconciliation job: recover missed submissions, sweep stuck work, note drift, and
materialise `submission_coverage` with two asset checks an operator sees fail in the UI."""

from datetime import UTC, datetime, timedelta
from functools import partial

import structlog
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSelection,
    Config,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
    in_process_executor,
)
from pydantic import Field

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import reconciliation as repo
from sales_agent_pipeline.db.repositories.backlog import backlog
from sales_agent_pipeline.db.repositories.workflows import blocked_tenant_reason
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.stuck import sweep_stuck
from sales_agent_pipeline.defs.vendors import GmailResource, HubSpotResource
from sales_agent_pipeline.settings import get_settings
from sales_agent_pipeline.usecases.reconciliation.drift import DriftSummary, check_drift
from sales_agent_pipeline.usecases.reconciliation.recover import (
    FormCoverage,
    Window,
    forms_of,
    reconcile_form,
)

log = structlog.get_logger(__name__)

NO_MISSING = "no_missing_submissions"
BACKLOG_NOT_GROWING = "backlog_not_growing"


class ReconcileConfig(Config):
    """Which tenants a run covers; the schedule covers them all."""

    portal_ids: list[int] = Field(
        default_factory=list, description="HubSpot portal ids to reconcile; empty: every tenant."
    )


def _table(coverages: list[FormCoverage]) -> str:
    lines = [
        "| portal | form | upstream | via webhook | recovered | missing | backlog | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in coverages:
        lines.append(
            f"| {c.portal_id} | {c.form_id} | {c.upstream_seen} | {c.via_webhook} | "
            f"{c.recovered} | {c.missing} | {c.backlog} | {c.error or ''} |"
        )
    return "\n".join(lines)


@asset(
    group_name="reconciliation",
    description="Per tenant and form: submissions seen upstream in HubSpot's listing, how "
    "many came by webhook, how many this run recovered, how many are still missing, and "
    "the backlog of work waiting past the threshold.",
    check_specs=[
        AssetCheckSpec(
            NO_MISSING,
            asset="submission_coverage",
            description="Every upstream submission has a workflow after the run (and every "
            "form could be listed).",
        ),
        AssetCheckSpec(
            BACKLOG_NOT_GROWING,
            asset="submission_coverage",
            description="No form's backlog grew since the previous run.",
        ),
    ],
)
def submission_coverage(
    context: AssetExecutionContext,
    config: ReconcileConfig,
    database: DatabaseResource,
    settings: SettingsResource,
    hubspot: HubSpotResource,
    gmail: GmailResource,
) -> MaterializeResult:
    """Reconcile every tenant's allowlisted forms, then stuck work and drift; each tenant
    with its own credentials, a disabled tenant or one needing re-authorisation not at all."""
    cfg = settings.get()
    now = datetime.now(UTC)
    window = Window(
        overlap=timedelta(minutes=cfg.reconciliation_overlap_minutes),
        lookback=timedelta(days=cfg.reconciliation_lookback_days),
        stuck_after=timedelta(minutes=cfg.reconciliation_stuck_minutes),
    )
    with database.session() as session:
        every = repo.tenants(session, config.portal_ids)
    skipped = {t.portal_id: reason for t in every if (reason := blocked_tenant_reason(t))}
    for portal_id, reason in skipped.items():
        context.log.warning(f"portal {portal_id} skipped: {reason}")
    tenants = [t for t in every if t.portal_id not in skipped]
    # A run for some portals sweeps and checks only their tenants (None: every tenant; the
    # sweep itself leaves disabled and unauthorised tenants' work alone).
    scope = {tenant.id for tenant in tenants} if config.portal_ids else None

    # Stuck work first: what it re-queues counts in this run's backlog.
    with database.session() as session:
        swept = sweep_stuck(
            session,
            context.instance,
            older_than=window.stuck_after,
            lost_after=window.stuck_after,
            max_attempts=cfg.max_run_attempts,
            tenant_ids=scope,
        )
        # Dead letters are not stuck (the re-drive sensor owns them): reported apart.
        unfinished = backlog(session, scope)
    if unfinished.dead_letter_for_a_person:
        context.log.warning(
            f"{unfinished.dead_letter_for_a_person} dead letter(s) have no automatic re-drive "
            "left and wait for a person: `sales-agent dlq list`"
        )

    coverages: list[FormCoverage] = []
    for tenant in tenants:
        with database.session() as session:
            forms = forms_of(session, tenant)
        if not forms:
            context.log.warning(
                f"portal {tenant.portal_id} has no allowlisted form and no delivery yet: "
                "nothing to list"
            )
        for form_id in forms:
            coverages.append(
                reconcile_form(
                    database.sessions,
                    partial(hubspot.for_tenant, tenant.id),
                    tenant,
                    form_id,
                    window=window,
                    now=now,
                    run_id=context.run.run_id,
                )
            )
        hubspot.tenants.flush_usage()

    drift = _drift(
        context,
        database,
        hubspot,
        gmail,
        tenants,
        now - timedelta(days=cfg.reconciliation_drift_days),
    )
    hubspot.tenants.flush_usage()

    unproven = [c for c in coverages if c.missing or c.error]
    grown: list[str] = []
    with database.session() as session:
        for c in coverages:
            if c.report_id is None:  # its report could not be written: an error, logged
                continue
            before = repo.previous_report(session, c.tenant_id, c.form_id, c.report_id)
            if before is not None and c.backlog > before.backlog:
                grown.append(f"{c.portal_id}/{c.form_id}: {before.backlog} -> {c.backlog}")
    # The alerts: an error in the process log (structlog) and in the run's event log.
    for c in unproven:
        log.error(
            "reconciliation.alert",
            portal_id=c.portal_id,
            form_id=c.form_id,
            missing=c.missing,
            error=c.error,
        )
        context.log.error(
            f"portal {c.portal_id} form {c.form_id}: {c.missing} missing"
            + (f", not listed: {c.error}" if c.error else "")
        )
    if grown:
        log.error("reconciliation.alert", backlog_grew=grown)
        context.log.error(f"backlog grew: {'; '.join(grown)}")

    totals = {
        "upstream_seen": sum(c.upstream_seen for c in coverages),
        "via_webhook": sum(c.via_webhook for c in coverages),
        "recovered": sum(c.recovered for c in coverages),
        "missing": sum(c.missing for c in coverages),
        "backlog": sum(c.backlog for c in coverages),
    }
    return MaterializeResult(
        metadata={
            **totals,
            "forms": len(coverages),
            "forms_not_listed": len([c for c in coverages if c.error]),
            "stuck_requeued": swept.requeued,
            "stuck_failed": swept.failed,
            "dead_letters_redrive_due": unfinished.dead_letter_redrive_due,
            "dead_letters_for_a_person": unfinished.dead_letter_for_a_person,
            "drift_checked": drift.checked,
            "drift_found": MetadataValue.json(drift.found),
            "drift_check_errors": drift.errors,
            "coverage": MetadataValue.md(_table(coverages)),
            "tenants_skipped": MetadataValue.json(
                [{"portal": portal, "reason": reason} for portal, reason in skipped.items()]
            ),
        },
        check_results=[
            AssetCheckResult(
                check_name=NO_MISSING,
                passed=not unproven,
                severity=AssetCheckSeverity.ERROR,
                metadata={
                    "missing": totals["missing"],
                    "unproven_forms": MetadataValue.json(
                        [
                            {"portal": c.portal_id, "form": c.form_id, "error": c.error}
                            for c in unproven
                        ]
                    ),
                },
            ),
            AssetCheckResult(
                check_name=BACKLOG_NOT_GROWING,
                passed=not grown,
                severity=AssetCheckSeverity.ERROR,
                metadata={"backlog": totals["backlog"], "grown": MetadataValue.json(grown)},
            ),
        ],
    )


def _drift(
    context: AssetExecutionContext,
    database: DatabaseResource,
    hubspot: HubSpotResource,
    gmail: GmailResource,
    tenants: list[Tenant],
    since: datetime,
) -> DriftSummary:
    """Each tenant's outputs checked with its own HubSpot and Gmail connectors."""
    total = DriftSummary()
    for tenant in tenants:
        one = check_drift(
            database.sessions,
            partial(hubspot.for_tenant, tenant.id),
            partial(gmail.for_tenant, tenant.id),
            since=since,
            tenant_ids={tenant.id},
            run_id=context.run.run_id,
        )
        total.checked += one.checked
        total.errors += one.errors
        for kind, count in one.found.items():
            total.found[kind] = total.found.get(kind, 0) + count
    return total


# in_process: one op, and a process per op would only add start-up time.
reconcile_submissions = define_asset_job(
    "reconcile_submissions",
    selection=AssetSelection.assets(submission_coverage),
    executor_def=in_process_executor,
    tags={run_tags.RECONCILIATION: "1"},
    description="Recover form submissions no webhook brought, re-queue or fail stuck work, "
    "note tasks and drafts changed by hand, and report coverage.",
)


def reconciliation_schedule() -> ScheduleDefinition:
    """The hourly (RECONCILIATION_CRON) schedule, running by default.

    A cron has to be known when the code location loads, so this one setting is read then.
    """
    return ScheduleDefinition(
        name="reconcile_submissions_schedule",
        job=reconcile_submissions,
        cron_schedule=get_settings().reconciliation_cron,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Reconciliation: no submission missed, no work stuck, drift noted.",
    )
