"""The Dagster entry point: one Definitions for the code location `sales_agent_pipeline`."""

from dagster import Definitions, EnvVar

from sales_agent_pipeline.defs.resources import DatabaseResource

defs = Definitions(
    resources={
        "database": DatabaseResource(url=EnvVar("DATABASE_URL")),
    },
)
