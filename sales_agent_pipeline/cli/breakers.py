"""`sales-agent breakers [--tenant P] [--json]`: the vendors' circuit breakers."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import typer

from sales_agent_pipeline.cli.context import errors, transaction
from sales_agent_pipeline.db.repositories.breakers import every_tenants_breakers, tenant_breakers
from sales_agent_pipeline.domain.breaker import Breaker, every_vendor
from sales_agent_pipeline.usecases.tenants import find_tenant

COLUMNS = ("portal", "vendor", "state", "failures", "trips", "open_until", "last_error")


def _row(portal_id: int, breaker: Breaker) -> dict[str, Any]:
    until = breaker.open_until if breaker.state.value == "open" else breaker.probe_until
    return {
        "portal": portal_id,
        "vendor": breaker.vendor,
        "state": breaker.state.value,
        "failures": breaker.consecutive_failures,
        "trips": breaker.trips,
        "open_until": until.isoformat(timespec="seconds") if until else "",
        "last_error": breaker.last_error or "",
    }


def breakers(
    tenant: int | None = typer.Option(
        None, "--tenant", help="one tenant's HubSpot portal id (default: every tenant's)"
    ),
    as_json: bool = typer.Option(False, "--json", help="one JSON document"),
) -> None:
    """Circuit breakers: state, consecutive failures, until when open, last error. With
    --tenant every vendor of that tenant; without, every breaker that ever failed."""
    with errors(), transaction() as session:
        if tenant is None:
            found = every_tenants_breakers(session)
        else:
            tenant_id = find_tenant(session, tenant).id
            stored = tenant_breakers(session, tenant_id)
            found = [(tenant, breaker) for breaker in every_vendor(tenant_id, stored)]
    if as_json:
        items = [
            {**asdict(b), "portal_id": portal, "tenant_id": str(b.tenant_id)} for portal, b in found
        ]
        typer.echo(json.dumps(items, default=str, indent=2))
        return
    rows = [{k: str(v) for k, v in _row(portal, b).items()} for portal, b in found]
    if not rows:
        typer.echo("no circuit breaker has failed: every vendor's calls flow")
        return
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS}
    typer.echo("  ".join(c.ljust(widths[c]) for c in COLUMNS).rstrip())
    for row in rows:
        typer.echo("  ".join(row[c].ljust(widths[c]) for c in COLUMNS).rstrip())
