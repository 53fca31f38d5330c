"""Run tags operators filter by in the Dagster UI, and the trigger that launched a run.

Shared by the Dagster shell, the launcher and the API (which must not import the shell)."""

TENANT = "sales_agent/tenant"
WORKFLOW_ID = "sales_agent/workflow_id"
EMAIL_DOMAIN = "sales_agent/email_domain"
# The workflow's effective mode (DRAFT_ONLY or SEND), known once step 11 has decided it.
MODE = "sales_agent/mode"
LEADS = "sales_agent/leads"
# webhook or sensor: a first run of received work. Anything else (a UI materialisation,
# a backfill, an API retry) is a re-run, which may take over finished workflows.
TRIGGER = "sales_agent/trigger"
LIVE_TRIGGERS = frozenset({"webhook", "sensor"})
