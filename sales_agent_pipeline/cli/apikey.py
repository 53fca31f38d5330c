"""`sales-agent apikey create|list|revoke`: the REST API's per-tenant keys."""

from __future__ import annotations

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.context import transaction
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import api_keys

apikey_app = typer.Typer(help="API keys of the REST API, one tenant (HubSpot portal) each.")

TENANT = typer.Option(..., "--tenant", help="the tenant's HubSpot portal id")


def _tenant(session: Session, portal_id: int) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.portal_id == portal_id))
    if tenant is None:
        typer.secho(f"no tenant with portal id {portal_id}", fg="red", err=True)
        raise typer.Exit(2)
    return tenant


@apikey_app.command("create")
def create(
    tenant: int = TENANT,
    admin: bool = typer.Option(False, "--admin", help="may approve drafts and change settings"),
    name: str = typer.Option("cli", "--name", help="who or what uses the key (shown in audits)"),
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    with transaction() as session:
        issued = api_keys.issue_key(session, _tenant(session, tenant).id, name=name, admin=admin)
    kind = "admin key" if admin else "key"
    typer.secho(
        f"{kind} {issued.prefix}... for portal {tenant} (shown once, store it now):",
        err=True,
    )
    typer.echo(issued.key)


@apikey_app.command("list")
def list_(tenant: int = TENANT) -> None:
    """The tenant's keys: prefix, name, admin or not, created, last used, revoked."""
    with transaction() as session:
        keys = api_keys.list_keys(session, _tenant(session, tenant).id)
        for key in keys:
            typer.echo(
                f"{key.key_prefix}  {key.name}  {'admin' if key.is_admin else 'standard'}  "
                f"created {key.created_at:%Y-%m-%d %H:%M}  "
                f"last used {key.last_used_at or '-'}  "
                f"{'REVOKED ' + str(key.revoked_at) if key.revoked_at else 'active'}"
            )
        if not keys:
            typer.echo("no keys")


@apikey_app.command("revoke")
def revoke(
    prefix: str = typer.Argument(..., help="the key's prefix, as `apikey list` shows it"),
    tenant: int = TENANT,
) -> None:
    """Revoke a key at once: the next request with it gets 401."""
    with transaction() as session:
        count = api_keys.revoke(session, _tenant(session, tenant).id, prefix)
    if count == 0:
        typer.secho(f"no active key {prefix} for portal {tenant}", fg="red", err=True)
        raise typer.Exit(2)
    typer.echo(f"revoked {prefix}")
