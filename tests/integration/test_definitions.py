"""The Dagster code location loads, the way the webserver and daemon load it."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import Definitions, GraphDefinition, build_resources
from sqlalchemy import text
from sqlalchemy.engine import URL

from sales_agent_pipeline.cli.stack import child_environment
from sales_agent_pipeline.db.provision import Databases
from sales_agent_pipeline.db.urls import DAGSTER_DRIVER, libpq_dsn
from sales_agent_pipeline.defs.resources import DatabaseResource
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.workflow.table import STEPS


def test_the_code_location_validates_with_the_dagster_cli(
    database_url: URL, fresh_database: Callable[[str], URL], tmp_path: Path
) -> None:
    # The instance is the one `sales-agent up` configures: our dagster.yaml on PostgreSQL.
    settings = Settings(_env_file=None, data_dir=tmp_path)
    dagster_database = fresh_database("dagster").set(drivername=DAGSTER_DRIVER)
    databases = Databases(app=database_url, dagster=dagster_database)
    env = child_environment(settings, databases)
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "sales_agent_pipeline.definitions"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_definitions_hold_the_resources() -> None:
    from sales_agent_pipeline.definitions import defs

    Definitions.validate_loadable(defs)
    assert isinstance(defs.resources, dict)
    assert set(defs.resources) >= {"database", "settings", "hubspot", "gmail", "calendar", "drive"}


def test_the_job_runs_the_13_steps_in_order_in_process() -> None:
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("process_formlead")
    graph = job.graph.node_named("lead_followup").definition
    assert isinstance(graph, GraphDefinition)
    # The graph is the step table's rows, in order (the table is the one list of steps).
    assert [node.name for node in graph.nodes_in_topological_order] == list(STEPS)
    assert len(STEPS) == 13
    assert job.executor_def.name == "in_process"
    assert job.partitions_def is not None


def test_the_database_resource_opens_a_transaction(database_url: URL) -> None:
    resource = DatabaseResource(url=libpq_dsn(database_url))
    with build_resources({"database": resource}) as resources:
        database = resources.database
        assert database.ping()

        def fail_inside_a_transaction() -> None:
            with database.session() as session:
                session.execute(text("CREATE TABLE probe (x int)"))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            fail_inside_a_transaction()
        with database.session() as session:
            assert session.execute(text("SELECT to_regclass('probe')")).scalar() is None
