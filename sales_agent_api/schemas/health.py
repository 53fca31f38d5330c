"""What GET /healthz and GET /readyz answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    """The process is alive."""

    status: Literal["ok"] = "ok"


class Check(BaseModel):
    """One dependency's verdict and why, for a person reading the probe's body."""

    ok: bool
    detail: str = Field(
        description="what was checked and its answer; on failure, why (never a credential)"
    )


class Readiness(BaseModel):
    """Whether the pipeline can take a lead through to a draft now: the app database
    answers at the newest schema, Dagster's daemon heartbeats are recent and the code
    location is loaded. 503 when any one is not."""

    status: Literal["ready", "not_ready"]
    accepting_leads: bool = Field(
        description=(
            "the webhook stores leads (the database is ok): with Dagster down they wait "
            "and the sensor launches them once it is back"
        )
    )
    database: Check = Field(description="the app database answers, migrated to head")
    dagster_daemon: Check = Field(
        description="every required Dagster daemon sent a heartbeat within the last 120 s"
    )
    code_server: Check = Field(
        description="the Dagster webserver has the pipeline's code location loaded"
    )
    schema_revision: str | None = Field(description="the database's Alembic revision")
    expected_revision: str | None = Field(description="the newest revision the code knows")


class IntakeReadiness(BaseModel):
    """Whether this API process can take webhooks now: the app database answers at the
    newest schema (Dagster may be down: stored leads wait for it). What a load balancer's
    readiness probe asks, so a Dagster outage never takes the webhook away."""

    status: Literal["ready", "not_ready"]
    database: Check = Field(description="the app database answers, migrated to head")
