"""`sales-agent suppress add|remove|list --tenant <portal>`: a tenant's suppression list
(addresses and whole domains it never mails), by hand."""

from __future__ import annotations

import getpass
import json
import uuid

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.context import fail, transaction
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import suppressions
from sales_agent_pipeline.db.repositories.suppressions import BadSuppression
from sales_agent_pipeline.domain.compliance import SuppressionKind, SuppressionReason
from sales_agent_pipeline.usecases.suppression import suppress, unsuppress

suppress_app = typer.Typer(help="A tenant's suppression list: addresses and domains never mailed.")

TENANT = typer.Option(..., "--tenant", help="the tenant's HubSpot portal id")
VALUE = typer.Argument(..., help="an address (ana@example.com) or a domain (example.com)")
KIND = typer.Option(
    None, "--kind", help="address or domain (default: an address when it holds an @)"
)
REASON = typer.Option(SuppressionReason.MANUAL, "--reason", help="why it is never mailed")
ONLY_REASON = typer.Option(None, "--reason", help="only this reason")
MATCHING = typer.Option(
    None, "--address", help="only what suppresses this address (its own entry, its domain's)"
)
MAX_LIST = 1000


def _tenant_id(session: Session, portal: int) -> uuid.UUID:
    tenant_id = session.scalar(select(Tenant.id).where(Tenant.portal_id == portal))
    if tenant_id is None:
        raise fail(f"no tenant with portal id {portal}")
    return tenant_id


def _normalise(value: str, kind: SuppressionKind | None) -> tuple[SuppressionKind, str]:
    try:
        return suppressions.normalise(value, kind)
    except BadSuppression as exc:
        raise fail(str(exc)) from None


@suppress_app.command("add")
def add(
    value: str = VALUE,
    portal: int = TENANT,
    kind: SuppressionKind | None = KIND,
    reason: SuppressionReason = REASON,
    note: str | None = typer.Option(None, "--note", help="why (kept as the entry's source)"),
) -> None:
    """Never mail the address (or any address of the domain) for the tenant; what is
    scheduled to it is cancelled and its workflows marked stopped."""
    kind, clean = _normalise(value, kind)
    if note is not None and len(note) > suppressions.MAX_SOURCE:
        raise fail(f"--note is longer than {suppressions.MAX_SOURCE} characters")
    with transaction() as session:
        tenant_id = _tenant_id(session, portal)
        added = suppress(
            session,
            tenant_id,
            clean,
            reason,
            kind=kind,
            source=note,
            created_by=f"cli ({getpass.getuser()})",
        )
        row = suppressions.get(session, tenant_id, kind, clean)
        existing = row.reason if row is not None else reason.value
    if added:
        typer.echo(f"suppressed: {clean} ({kind.value}, {reason.value}) for portal {portal}")
    else:
        typer.echo(
            f"already suppressed: {clean} ({kind.value}, {existing}) for portal {portal}; "
            "nothing changed"
        )


@suppress_app.command("remove")
def remove(value: str = VALUE, portal: int = TENANT, kind: SuppressionKind | None = KIND) -> None:
    """Mail the address or domain again (workflows already stopped stay stopped)."""
    kind, clean = _normalise(value, kind)
    with transaction() as session:
        removed = unsuppress(session, _tenant_id(session, portal), clean, kind=kind)
    if not removed:
        raise fail(f"{clean} is not suppressed ({kind.value}) for portal {portal}")
    typer.echo(f"removed: {clean} ({kind.value}) may be mailed again by portal {portal}")


@suppress_app.command("list")
def list_(
    portal: int = TENANT,
    reason: SuppressionReason | None = ONLY_REASON,
    kind: SuppressionKind | None = KIND,
    address: str | None = MATCHING,
    limit: int = typer.Option(100, "--limit", min=1, max=MAX_LIST, help="newest first"),
    as_json: bool = typer.Option(False, "--json", help="one JSON document"),
) -> None:
    """The tenant's entries, newest first: value, kind, reason, source, who and when."""
    with transaction() as session:
        rows, more = suppressions.list_(
            session,
            _tenant_id(session, portal),
            reason=reason,
            kind=kind,
            address=address,
            limit=limit,
        )
        entries = [
            {
                "value": row.value,
                "kind": row.kind,
                "reason": row.reason,
                "source": row.source,
                "created_by": row.created_by,
                "workflow_id": str(row.workflow_id) if row.workflow_id else None,
                "created_at": row.created_at.isoformat(),
            }
            for row in rows
        ]
    if as_json:
        typer.echo(json.dumps({"items": entries, "more": more}, indent=2))
        return
    if not entries:
        what = f" matching {address}" if address else ""
        typer.echo(f"nothing suppressed{what} for portal {portal}")
        return
    for entry in entries:
        detail = f" ({entry['source']})" if entry["source"] else ""
        by = f" by {entry['created_by']}" if entry["created_by"] else ""
        typer.echo(
            f"{entry['value']}  {entry['kind']}  {entry['reason']}{detail}{by}  "
            f"{str(entry['created_at'])[:16].replace('T', ' ')}"
        )
    if more:
        typer.echo(f"... more: raise --limit (up to {MAX_LIST}) or filter by --reason")
