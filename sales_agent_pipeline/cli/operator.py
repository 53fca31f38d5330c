"""`sales-agent operator grant|revoke|list`: who may act for which tenant in the Dagster UI.

The UI's approval job sends a draft only for an operator (signed in through the proxy)
with a grant for the draft's tenant: one portal, or every portal with --all-tenants. A
subject is an email, or `@domain` for everyone the proxy signs in from that domain.
"""

from __future__ import annotations

import getpass
import uuid

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.context import fail, transaction
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import operator_grants

operator_app = typer.Typer(help="Who may act for which tenant in the Dagster UI.")

SUBJECT = typer.Argument(..., help="an email as the sign-in proxy passes it, or @domain")
PORTAL = typer.Option(None, "--portal", help="the tenant's HubSpot portal id")
ALL = typer.Option(False, "--all-tenants", help="every tenant, present and future")


def _tenant_id(session: Session, portal: int | None, every: bool) -> uuid.UUID | None:
    if (portal is None) == (not every):
        raise fail("name one tenant with --portal, or every tenant with --all-tenants")
    if every:
        return None
    tenant_id = session.scalar(select(Tenant.id).where(Tenant.portal_id == portal))
    if tenant_id is None:
        raise fail(f"no tenant with portal id {portal}")
    return tenant_id


def _subject(subject: str) -> str:
    try:
        return operator_grants.normalise_subject(subject)
    except operator_grants.BadSubject as exc:
        raise fail(str(exc)) from None


@operator_app.command("grant")
def grant(subject: str = SUBJECT, portal: int | None = PORTAL, every: bool = ALL) -> None:
    """Let the operator act for the tenant (approve its drafts from the UI)."""
    who = _subject(subject)
    with transaction() as session:
        tenant_id = _tenant_id(session, portal, every)
        added = operator_grants.grant(session, who, tenant_id, f"cli ({getpass.getuser()})")
    where = "every tenant" if every else f"portal {portal}"
    typer.echo(f"{who} may act for {where}" + ("" if added else " (already could)"))


@operator_app.command("revoke")
def revoke(subject: str = SUBJECT, portal: int | None = PORTAL, every: bool = ALL) -> None:
    """Withdraw a grant; the operator's next approval of that tenant is refused."""
    who = _subject(subject)
    with transaction() as session:
        removed = operator_grants.revoke(session, who, _tenant_id(session, portal, every))
    if removed == 0:
        raise fail(f"{who} had no such grant")
    typer.echo(f"revoked: {who} for {'every tenant' if every else f'portal {portal}'}")


@operator_app.command("list")
def list_() -> None:
    """Every grant: subject, tenant, who granted it and when."""
    with transaction() as session:
        rows = operator_grants.list_grants(session)
    for row in rows:
        where = "every tenant" if row.portal_id is None else f"portal {row.portal_id}"
        typer.echo(f"{row.subject}  {where}  by {row.granted_by}  {row.created_at:%Y-%m-%d %H:%M}")
    if not rows:
        typer.echo("no grants: only a UI without sign-in (UI_AUTH=none) can approve")
