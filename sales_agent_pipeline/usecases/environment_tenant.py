"""The single-portal path: with HUBSPOT_PORTAL_ID set, that portal's tenant is created or
updated from the environment when `sales-agent up` (and the API) start.

What the environment sets wins; what it leaves unset keeps the stored value (a tenant admin
may have changed it). The mode is never touched: NULL, so WORKFLOW_MODE applies. Callers that
start at once (`up`, each API worker) take turns on a transaction-scoped advisory lock, so
the second finds nothing left to change and writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import tenant_secrets
from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.secretbox import secret_box
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases import tenant_input
from sales_agent_pipeline.usecases.tenant_credentials import store_secrets, verify
from sales_agent_pipeline.usecases.tenant_input import TenantInputError

T = TypeVar("T")

# Which variable to name when a checked value is refused.
VARIABLES = {
    "hubspot_token": "HUBSPOT_ACCESS_TOKEN",
    "webhook_secret": "HUBSPOT_CLIENT_SECRET",
    "allowed_form_ids": "ALLOWED_FORM_IDS",
}


def _from(variable: str, make: Callable[[], T]) -> T:
    """A value checked like the CLI's, its error naming the variable instead."""
    try:
        return make()
    except TenantInputError as exc:
        raise ConfigurationError(f"{variable}: {exc.message}") from None


def _secret(value: SecretStr | None, variable: str, what: str) -> SecretStr | None:
    if value is None or not value.get_secret_value().strip():
        return None
    return _from(
        variable, lambda: tenant_input.single_line_secret(value, field=variable, what=what)
    )


def _google(settings: Settings) -> SecretStr | None:
    files = (
        ("GOOGLE_SERVICE_ACCOUNT_FILE", settings.google_service_account_file),
        ("GOOGLE_OAUTH_TOKEN_FILE", settings.google_oauth_token_file),
    )
    for variable, path in files:
        if path is None:
            continue
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ConfigurationError(f"{variable} {path} cannot be read: {reason}") from None
        try:
            return SecretStr(tenant_input.parse_google_credentials(text))
        except TenantInputError as exc:
            raise ConfigurationError(f"{variable} {path}: {exc.message}") from None
    return None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _lock(session: Session, portal: int) -> None:
    key = func.hashtextextended(f"sales_agent.environment_tenant:{portal}", 0)
    session.execute(select(func.pg_advisory_xact_lock(key)))


def _tenant_row(session: Session, portal: int, columns: dict[str, object]) -> tuple[Tenant, bool]:
    """The portal's tenant, locked; created from `columns` when there is none."""
    created = session.scalar(
        insert(Tenant)
        .values(id=uuid.uuid4(), portal_id=portal, **columns)
        .on_conflict_do_nothing(index_elements=[Tenant.portal_id])
        .returning(Tenant.id)
    )
    tenant = session.scalar(select(Tenant).where(Tenant.portal_id == portal).with_for_update())
    if tenant is None:  # deleted between the two statements: nothing to sync into
        raise ConfigurationError(f"the tenant for portal {portal} vanished while syncing")
    return tenant, created is not None


def sync_environment_tenant(sessions: sessionmaker[Session], settings: Settings) -> str | None:
    """Create or update the HUBSPOT_PORTAL_ID tenant from the environment (idempotent; safe
    when `up` and the API start at once); the one line to log, None without a portal id."""
    portal = settings.hubspot_portal_id
    if portal is None:
        return None
    given = settings.model_fields_set
    token = _secret(settings.hubspot_access_token, "HUBSPOT_ACCESS_TOKEN", "HubSpot token")
    secret = _secret(settings.hubspot_client_secret, "HUBSPOT_CLIENT_SECRET", "webhook secret")
    google = _google(settings)
    raw_sender = settings.resolved_sender_email
    sender = (
        _from(
            "SENDER_EMAIL" if settings.sender_email else "GOOGLE_DELEGATED_USER",
            lambda: tenant_input.sender_email(raw_sender),
        )
        if raw_sender
        else None
    )
    if (
        google is not None
        and not sender
        and tenant_input.google_credential_type(google.get_secret_value()) == "service_account"
    ):
        raise ConfigurationError(
            "GOOGLE_SERVICE_ACCOUNT_FILE needs the mailbox it acts as: set SENDER_EMAIL "
            "or GOOGLE_DELEGATED_USER"
        )
    timezone = _from("TENANT_TIMEZONE", lambda: tenant_input.timezone(settings.tenant_timezone))
    forms = _from("ALLOWED_FORM_IDS", lambda: tenant_input.form_ids(settings.allowed_form_ids))
    name = (
        _from("TENANT_NAME", lambda: tenant_input.name(settings.tenant_name or ""))
        if settings.tenant_name
        else None
    )
    box = secret_box(settings)
    with sessions.begin() as session:
        _lock(session, portal)
        tenant, created = _tenant_row(
            session,
            portal,
            {
                "name": name or f"HubSpot portal {portal}",
                "timezone": timezone,
                "sender_email": sender,
                "allowed_form_ids": forms,
            },
        )
        wanted: dict[str, object] = {}
        if name is not None:
            wanted["name"] = name
        if "tenant_timezone" in given:
            wanted["timezone"] = timezone
        if "allowed_form_ids" in given:
            wanted["allowed_form_ids"] = forms
        if sender is not None:
            wanted["sender_email"] = sender
        columns = {c: v for c, v in wanted.items() if getattr(tenant, c) != v}
        stored = tenant_secrets.load_credentials(session, box, tenant)
        token_changed = token is not None and (
            stored.hubspot_token is None
            or stored.hubspot_token.get_secret_value() != token.get_secret_value()
            or tenant.hubspot_auth != HubSpotAuth.PRIVATE_APP
        )
        forms_to_check = forms if (created or "allowed_form_ids" in columns) and forms else None
        notes: list[str] = []
        if token_changed or forms_to_check:
            credentials = stored.model_copy(
                update={
                    "hubspot_auth": HubSpotAuth.PRIVATE_APP if token else stored.hubspot_auth,
                    "hubspot_token": token or stored.hubspot_token,
                }
            )
            try:
                notes = verify(settings, credentials, token_given=token_changed)
            except TenantInputError as exc:
                variable = VARIABLES.get(exc.field or "", "the environment")
                raise ConfigurationError(f"{variable}: {exc.message}") from None
            if forms_to_check:
                try:
                    notes += verify(
                        settings, credentials, token_given=False, form_ids=forms_to_check
                    )
                except TenantInputError as exc:
                    # A refused token would fail every lead: that stops the start. A form
                    # HubSpot does not list for the portal only means its deliveries will not
                    # come (or the portal's forms API is not answering as documented): the
                    # start goes on and the line says so.
                    notes.append(f"ALLOWED_FORM_IDS: {exc.message}")
        for column, value in columns.items():
            setattr(tenant, column, value)
        secrets = store_secrets(
            session,
            box,
            tenant,
            {
                SecretKind.HUBSPOT_TOKEN: token,
                SecretKind.WEBHOOK_SECRET: secret,
                SecretKind.GOOGLE_CREDENTIALS: google,
            },
        )
        described = list(secrets)
        if created:
            described += [_plural(len(forms), "form")] if forms else []
            described += [f"sender {sender}"] if sender else []
        else:
            described += [_describe(column, value) for column, value in columns.items()]
        if token is None and stored.hubspot_token is None and not settings.sandbox_mode:
            notes.append("it has no HubSpot token: set HUBSPOT_ACCESS_TOKEN")
        if tenant.disabled_at is not None:
            notes.append(f"it is disabled (`sales-agent tenant enable {portal}`)")
    if created:
        line = f"tenant for portal {portal} created from the environment ({', '.join(described)})"
    elif described:
        line = f"tenant for portal {portal} updated from the environment ({', '.join(described)})"
    else:
        line = f"tenant for portal {portal} matches the environment"
    return "; ".join([line, *notes])


def _describe(column: str, value: object) -> str:
    """A changed column as the log line names it (never a secret: those are not columns)."""
    if column == "allowed_form_ids" and isinstance(value, list):
        return _plural(len(value), "form")
    if column == "sender_email":
        return f"sender {value}"
    if column == "timezone":
        return f"time zone {value}"
    return column
