"""`sales-agent tenant create|update|list|show|disable|enable`: tenants, one HubSpot portal
each, with their credentials. Secrets come from files or `-` (standard input), never from the
command line, where shell history and `ps` would keep them."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.context import errors, read_secret, settings, transaction
from sales_agent_pipeline.db.models import Tenant, TenantSecret
from sales_agent_pipeline.db.repositories.tenant_secrets import secret_states
from sales_agent_pipeline.secretbox import secret_box
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.tenants import (
    TenantChange,
    TenantFields,
    create_tenant,
    find_tenant,
    set_disabled,
    update_tenant,
)

tenant_app = typer.Typer(help="Tenants: one HubSpot portal each, with its own credentials.")

PORTAL = typer.Argument(..., help="the HubSpot portal (hub) id")
JSON = typer.Option(False, "--json", help="print JSON")
SENDER = typer.Option(None, "--sender", help="the mailbox drafts are written in (and sent from)")
FORMS = typer.Option(None, "--form", help="an allowed form guid (repeat for more; replaces)")
FOLDERS = typer.Option(
    None, "--drive-folder", help="a Drive folder id for assets (repeat for more; replaces)"
)
TOKEN_FILE = typer.Option(
    None, "--hubspot-token-file", help="file with the private app's token, or - for stdin"
)
WEBHOOK_FILE = typer.Option(
    None, "--webhook-secret-file", help="file with the webhook signing secret, or - for stdin"
)
GOOGLE_FILE = typer.Option(
    None,
    "--google-credentials-file",
    help="service-account key or authorized-user token (JSON), or - for stdin",
)
TIMEZONE = typer.Option(None, "--timezone", help="IANA time zone, e.g. Europe/Berlin")
MODE = typer.Option(None, "--mode", help="DRAFT_ONLY or SEND (unset: WORKFLOW_MODE applies)")
NO_CHECK = typer.Option(
    False, "--no-check", help="do not ask HubSpot and Google about the token, forms and folders"
)


# A create or an update in the command's transaction: (session, settings, portal, fields, check).
Save = Callable[[Session, Settings, int, TenantFields, bool], TenantChange]


def _report(verb: str, change: TenantChange) -> None:
    tenant = change.tenant
    what = ", ".join(change.changed) if change.changed else "nothing changed"
    typer.echo(f"{verb} tenant {tenant.portal_id} ({tenant.name}): {what}")
    for note in change.notes:
        typer.secho(f"warning: {note}", fg="yellow", err=True)


def _create(
    session: Session, config: Settings, portal_id: int, fields: TenantFields, check: bool
) -> TenantChange:
    return create_tenant(session, secret_box(config), config, portal_id, fields, check=check)


def _update(
    session: Session, config: Settings, portal_id: int, fields: TenantFields, check: bool
) -> TenantChange:
    return update_tenant(
        session,
        secret_box(config),
        config,
        portal_id,
        fields,
        check=check,
        changed_by=f"cli:{getpass.getuser()}",
    )


def _command(save: Save, verb: str, name_option: Any) -> Callable[..., None]:
    """Create and update take the same options, read the same way; only the write differs."""

    def command(
        portal_id: int = PORTAL,
        name: str | None = name_option,
        sender: str | None = SENDER,
        form: list[str] | None = FORMS,
        drive_folder: list[str] | None = FOLDERS,
        hubspot_token_file: str | None = TOKEN_FILE,
        webhook_secret_file: str | None = WEBHOOK_FILE,
        google_credentials_file: str | None = GOOGLE_FILE,
        timezone: str | None = TIMEZONE,
        mode: str | None = MODE,
        no_check: bool = NO_CHECK,
    ) -> None:
        stdin: list[str] = []
        fields = TenantFields(
            name=name,
            sender_email=sender,
            form_ids=form or None,
            drive_folder_ids=drive_folder or None,
            timezone=timezone,
            mode=mode,
            hubspot_token=read_secret(
                hubspot_token_file, "--hubspot-token-file", stdin_taken=stdin
            ),
            webhook_secret=read_secret(
                webhook_secret_file, "--webhook-secret-file", stdin_taken=stdin
            ),
            google_credentials=read_secret(
                google_credentials_file, "--google-credentials-file", stdin_taken=stdin
            ),
        )
        config = settings()
        with errors(), transaction(config) as session:
            change = save(session, config, portal_id, fields, not no_check)
        # Printed once committed: "created" is never said of a rolled-back tenant.
        _report(verb, change)

    return command


tenant_app.command(
    "create", help="Create a tenant; checks everything first and writes nothing on any error."
)(_command(_create, "created", typer.Option(..., "--name", help="the tenant's name")))
tenant_app.command(
    "update", help="Change what is given, keep the rest; writes nothing on any error."
)(_command(_update, "updated", typer.Option(None, "--name", help="the tenant's name")))


def _toggle(portal_id: int, disabled: bool) -> None:
    with errors(), transaction() as session:
        change = set_disabled(session, portal_id, disabled)
    verb = "disabled" if disabled else "enabled"
    state = verb if change.changed else f"already {verb}"
    typer.echo(f"tenant {portal_id} ({change.tenant.name}) {state}")


@tenant_app.command("disable")
def disable(portal_id: int = PORTAL) -> None:
    """Disable a tenant: deliveries get 403, schedules skip it; nothing is deleted."""
    _toggle(portal_id, True)


@tenant_app.command("enable")
def enable(portal_id: int = PORTAL) -> None:
    """Enable a disabled tenant again."""
    _toggle(portal_id, False)


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _status(tenant: Tenant) -> str:
    if tenant.disabled_at is not None:
        return "disabled"
    if tenant.auth_error:
        return "needs re-authorisation"
    return "active"


def _summary(tenant: Tenant, secrets_set: set[str], config: Settings) -> dict[str, Any]:
    return {
        "portal_id": tenant.portal_id,
        "name": tenant.name,
        "status": _status(tenant),
        "hubspot_auth": tenant.hubspot_auth,
        "mode": tenant.mode,
        "effective_mode": tenant.mode or config.workflow_mode.value,
        "sender_email": tenant.sender_email,
        "timezone": tenant.timezone,
        "allowed_form_ids": list(tenant.allowed_form_ids),
        "drive_folder_ids": list(tenant.drive_folder_ids),
        "secrets_set": sorted(secrets_set),
    }


def _details(session: Session, tenant: Tenant, config: Settings) -> dict[str, Any]:
    states = secret_states(session, tenant.id)
    summary = _summary(tenant, {s.kind.value for s in states if s.set}, config)
    del summary["secrets_set"]
    return {
        **summary,
        "disabled_at": _when(tenant.disabled_at),
        "needs_reauthorisation": tenant.auth_error is not None,
        "auth_error": tenant.auth_error,
        "auth_error_at": _when(tenant.auth_error_at),
        "kill_switch": tenant.send_kill_switch,
        "daily_send_cap": tenant.daily_send_cap,
        "secrets": {
            state.kind.value: {"set": state.set, "updated_at": state.updated_at} for state in states
        },
        "created_at": _when(tenant.created_at),
        "updated_at": _when(tenant.updated_at),
    }


@tenant_app.command("list")
def list_(as_json: bool = JSON) -> None:
    """Every tenant: portal, name, status, auth kind, mode, forms, sender, secrets set."""
    config = settings()
    with errors(), transaction(config) as session:
        tenants = session.scalars(select(Tenant).order_by(Tenant.portal_id)).all()
        kinds: dict[Any, set[str]] = {}
        for tenant_id, kind in session.execute(select(TenantSecret.tenant_id, TenantSecret.kind)):
            kinds.setdefault(tenant_id, set()).add(kind)
        rows = [_summary(t, kinds.get(t.id, set()), config) for t in tenants]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no tenants (create one: sales-agent tenant create PORTAL_ID --name NAME)")
        return
    header = ("PORTAL", "NAME", "STATUS", "AUTH", "MODE", "FORMS", "SENDER", "SECRETS")
    table = [header] + [
        (
            str(row["portal_id"]),
            row["name"],
            row["status"],
            row["hubspot_auth"] or "-",
            row["effective_mode"] + ("" if row["mode"] else " (global)"),
            str(len(row["allowed_form_ids"])),
            row["sender_email"] or "-",
            ",".join(row["secrets_set"]) or "-",
        )
        for row in rows
    ]
    widths = [max(len(line[n]) for line in table) for n in range(len(header))]
    for line in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


@tenant_app.command("show")
def show(portal_id: int = PORTAL, as_json: bool = JSON) -> None:
    """One tenant; its secrets only as set or unset and when they changed."""
    config = settings()
    with errors(), transaction(config) as session:
        details = _details(session, find_tenant(session, portal_id), config)
    if as_json:
        typer.echo(json.dumps(details, indent=2))
        return
    mode = details["mode"] or f"{details['effective_mode']} (WORKFLOW_MODE)"
    auth = details["hubspot_auth"] or "none"
    if details["needs_reauthorisation"]:
        auth += (
            f": needs re-authorisation since {details['auth_error_at']} "
            f"({details['auth_error']}; open /oauth/hubspot/install)"
        )
    lines = [
        ("portal", str(details["portal_id"])),
        ("name", details["name"]),
        ("status", details["status"]),
        ("disabled at", details["disabled_at"] or "-"),
        ("HubSpot auth", auth),
        ("mode", mode),
        ("kill switch", "on" if details["kill_switch"] else "off"),
        ("sender", details["sender_email"] or "-"),
        ("time zone", details["timezone"]),
        ("forms", ", ".join(details["allowed_form_ids"]) or "- (any form)"),
        ("Drive folders", ", ".join(details["drive_folder_ids"]) or "-"),
    ]
    for kind, state in details["secrets"].items():
        lines.append((kind, f"set, changed {state['updated_at']}" if state["set"] else "not set"))
    lines += [("created", details["created_at"]), ("updated", details["updated_at"])]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        typer.echo(f"{label.ljust(width)}  {value}")
