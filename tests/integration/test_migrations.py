"""The migration creates exactly the schema the models describe, and removes it again."""

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import DateTime, inspect
from sqlalchemy.engine import URL

from sales_agent_pipeline.db import migrate
from sales_agent_pipeline.db.models import Base
from sales_agent_pipeline.db.session import make_engine

TABLES = {
    "tenants",
    "api_keys",
    "form_submissions",
    "workflows",
    "draft_emails",
    "draft_revisions",
    "hubspot_tasks",
    "workflow_events",
    "workflow_errors",
    "idempotency_keys",
    "settings_changes",
    "form_cursors",
    "reconciliation_reports",
    "lead_imports",
    "quota_buckets",
    "quota_usage",
    "tenant_secrets",
    "tenant_usage",
    "send_reservations",
    "global_switches",
    "circuit_breakers",
    "alert_states",
    "operator_grants",
    "suppressions",
    "scheduled_sends",
    "mailbox_cursors",
    "inbound_messages",
}

# The seed's columns (roadmap 4.1), which outside tools and reports rely on.
SEED_COLUMNS = {
    "workflows": {"id", "status", "mode", "form_submission_id", "prospect_email",
                  "prospect_company", "created_at", "updated_at", "started_at",
                  "completed_at", "duration_ms"},
    "form_submissions": {"id", "form_id", "portal_id", "email", "company", "first_name",
                         "last_name", "raw_payload", "received_at"},
    "draft_emails": {"id", "workflow_id", "to_email", "subject", "body", "assets_included",
                     "gmail_draft_id", "sent", "sent_at", "created_at"},
    "hubspot_tasks": {"id", "workflow_id", "hubspot_task_id", "contact_id", "status",
                      "due_date", "created_at"},
    "workflow_events": {"id", "workflow_id", "event_type", "step_number", "step_name",
                        "status", "details", "duration_ms", "created_at"},
    "workflow_errors": {"id", "workflow_id", "step_number", "error_type", "error_message",
                        "error_traceback", "created_at"},
}  # fmt: skip


def test_upgrade_creates_the_schema_and_downgrade_removes_it(
    fresh_database: Callable[[str], URL],
) -> None:
    url = fresh_database("migrations")
    engine = make_engine(url, pool_size=1)
    try:
        migrate.upgrade(url)
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == TABLES | {"alembic_version"}

        for table, seed_columns in SEED_COLUMNS.items():
            columns = {column["name"] for column in inspector.get_columns(table)}
            assert seed_columns <= columns, f"{table} lacks {seed_columns - columns}"
            model_columns = set(Base.metadata.tables[table].columns.keys())
            assert columns == model_columns

        for column in inspector.get_columns("workflows"):
            if column["name"].endswith("_at"):
                assert isinstance(column["type"], DateTime)
                assert column["type"].timezone, f"workflows.{column['name']} is not tz-aware"

        uniques = {
            tuple(unique["column_names"])
            for unique in inspector.get_unique_constraints("form_submissions")
        }
        assert ("portal_id", "hubspot_submission_id") in uniques
        assert ("scope", "key") in {
            tuple(u["column_names"]) for u in inspector.get_unique_constraints("idempotency_keys")
        }
        checks = {check["name"] for check in inspector.get_check_constraints("workflows")}
        assert {"ck_workflows_status", "ck_workflows_mode"} <= checks
        workflow_indexes = {
            tuple(index["column_names"]) for index in inspector.get_indexes("workflows")
        }
        assert ("status", "created_at") in workflow_indexes
        assert ("workflow_id", "created_at") in {
            tuple(index["column_names"]) for index in inspector.get_indexes("workflow_events")
        }
        fks = inspector.get_foreign_keys("workflow_events")
        assert [(fk["referred_table"], fk["constrained_columns"]) for fk in fks] == [
            ("workflows", ["workflow_id"])
        ]

        migrate.downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()


def test_models_and_migration_agree(database_url: URL) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == migrate.head_revision()
    finally:
        engine.dispose()
