"""Run tags operators filter by in the Dagster UI, and the trigger that launched a run.

Shared by the Dagster shell, the launcher and the API (which must not import the shell)."""

TENANT = "sales_agent/tenant"
WORKFLOW_ID = "sales_agent/workflow_id"
EMAIL_DOMAIN = "sales_agent/email_domain"
# The workflow's effective mode (DRAFT_ONLY or SEND), known once step 11 has decided it.
MODE = "sales_agent/mode"
# Lawful sending (issue 20): "true" on a run with a lead that was not mailed (suppressed,
# opted out, stopped); "scheduled" on a run whose SEND email waits for business hours.
SUPPRESSED = "sales_agent/suppressed"
SEND = "sales_agent/send"
LEADS = "sales_agent/leads"
# webhook or sensor: a first run of received work. Anything else (a UI materialisation,
# a backfill, an API retry) is a re-run, which may take over finished workflows.
TRIGGER = "sales_agent/trigger"
# An import's runs are first runs too.
LIVE_TRIGGERS = frozenset({"webhook", "sensor", "import"})
IMPORT_ID = "sales_agent/import_id"
# Runs of one tenant's imports share this tag: dagster.yaml lets one of them run at a time,
# so the process-wide HubSpot and Gmail limiters of that run see all the import's calls.
IMPORT_TENANT = "sales_agent/import_tenant"
# Dagster's queue launches higher priorities first (default 0): live leads go before imports.
PRIORITY = "dagster/priority"
IMPORT_PRIORITY = "-10"
# Every reconciliation run carries it: dagster.yaml runs one at a time (two at once could
# record the same drift twice).
RECONCILIATION = "sales_agent/reconciliation"
# W3C trace context (`traceparent`) of the request that asked for the run: the run's
# spans continue the webhook's trace (tracing.py). Absent when tracing is off.
TRACEPARENT = "sales_agent/traceparent"
# Set on runs of synthetic canary leads (defs/canary.py): the UI can filter them out.
SYNTHETIC = "sales_agent/synthetic"
# Who launched the run from the Dagster UI (the email the sign-in proxy passed) and the
# webserver's signed stamp of it (connectors/ui_identity.py). The approval job sends a draft
# only on a run whose stamp checks out, and records that identity as the approver.
OPERATOR = "sales_agent/operator"
OPERATOR_STAMP = "sales_agent/operator_stamp"
