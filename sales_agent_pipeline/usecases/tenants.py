"""Tenants as people create and change them: input checked, credentials checked against the
vendors, then written in the caller's transaction; on any error nothing is written.

The CLI, the API and start-up (the single-portal path) call these. Vendor checks happen
before the first write; a vendor that cannot be reached does not block the change, the
returned notes say what went unchecked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import tenant_secrets, tenant_settings
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind
from sales_agent_pipeline.secretbox import SecretBox
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases import tenant_input
from sales_agent_pipeline.usecases.environment_tenant import sync_environment_tenant
from sales_agent_pipeline.usecases.tenant_credentials import (
    SECRET_NAMES,
    clean_secrets,
    needs_sender,
    store_secrets,
    verify,
)
from sales_agent_pipeline.usecases.tenant_input import (
    DuplicateTenant,
    TenantInputError,
    UnknownTenant,
    parse_google_credentials,
)

__all__ = [
    "DuplicateTenant",
    "TenantChange",
    "TenantFields",
    "TenantInputError",
    "UnknownTenant",
    "clean_secrets",
    "create_tenant",
    "find_tenant",
    "parse_google_credentials",
    "replace_credentials",
    "set_disabled",
    "store_secrets",
    "sync_environment_tenant",
    "update_tenant",
    "verify",
]


@dataclass(frozen=True)
class TenantFields:
    """What a create or update gives; None means not given (an update keeps the stored value).

    Secrets are SecretStr: a repr or a traceback shows stars, never the value.
    """

    name: str | None = None
    sender_email: str | None = None
    form_ids: Sequence[str] | None = None
    drive_folder_ids: Sequence[str] | None = None
    timezone: str | None = None
    mode: str | None = None
    hubspot_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    google_credentials: SecretStr | None = None

    def is_empty(self) -> bool:
        """True when nothing at all is given."""
        return all(getattr(self, name) is None for name in self.__dataclass_fields__)


@dataclass
class TenantChange:
    """The tenant after a change, what was written (human names), and what went unchecked."""

    tenant: Tenant
    created: bool = False
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _clean(fields: TenantFields) -> TenantFields:
    token, secret, google = clean_secrets(
        fields.hubspot_token, fields.webhook_secret, fields.google_credentials
    )
    return TenantFields(
        name=None if fields.name is None else tenant_input.name(fields.name),
        sender_email=(
            None if fields.sender_email is None else tenant_input.sender_email(fields.sender_email)
        ),
        form_ids=None if fields.form_ids is None else tenant_input.form_ids(fields.form_ids),
        drive_folder_ids=(
            None
            if fields.drive_folder_ids is None
            else tenant_input.folder_ids(fields.drive_folder_ids)
        ),
        timezone=None if fields.timezone is None else tenant_input.timezone(fields.timezone),
        mode=None if fields.mode is None else tenant_input.mode(fields.mode),
        hubspot_token=token,
        webhook_secret=secret,
        google_credentials=google,
    )


def find_tenant(session: Session, portal_id: int, *, lock: bool = False) -> Tenant:
    """The tenant of a portal; UnknownTenant when there is none."""
    statement = select(Tenant).where(Tenant.portal_id == portal_id)
    tenant = session.scalar(statement.with_for_update() if lock else statement)
    if tenant is None:
        raise UnknownTenant(f"no tenant with portal id {portal_id}", field="portal_id")
    return tenant


def _secrets(fields: TenantFields) -> dict[SecretKind, SecretStr | None]:
    return {
        SecretKind.HUBSPOT_TOKEN: fields.hubspot_token,
        SecretKind.WEBHOOK_SECRET: fields.webhook_secret,
        SecretKind.GOOGLE_CREDENTIALS: fields.google_credentials,
    }


def create_tenant(
    session: Session,
    box: SecretBox,
    settings: Settings,
    portal_id: int,
    fields: TenantFields,
    *,
    check: bool = True,
) -> TenantChange:
    """A new tenant for a portal, with its secrets encrypted; DuplicateTenant if it exists."""
    portal = tenant_input.portal_id(portal_id)
    if fields.name is None:
        raise TenantInputError("a name is required", field="name")
    clean = _clean(fields)
    needs_sender(clean.google_credentials, clean.sender_email)
    if session.scalar(select(Tenant.id).where(Tenant.portal_id == portal)) is not None:
        raise DuplicateTenant(f"a tenant for portal {portal} exists already", field="portal_id")
    notes: list[str] = []
    if check:
        credentials = TenantCredentials(
            portal_id=portal,
            hubspot_auth=HubSpotAuth.PRIVATE_APP if clean.hubspot_token else None,
            hubspot_token=clean.hubspot_token,
            google_credentials=clean.google_credentials,
            google_subject=clean.sender_email,
        )
        notes = verify(
            settings,
            credentials,
            token_given=clean.hubspot_token is not None,
            form_ids=clean.form_ids,
            drive_folder_ids=clean.drive_folder_ids,
        )
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "portal_id": portal,
        "name": clean.name,
        "mode": clean.mode,
        "timezone": clean.timezone or "UTC",
        "sender_email": clean.sender_email,
    }
    if clean.form_ids is not None:
        values["allowed_form_ids"] = list(clean.form_ids)
    if clean.drive_folder_ids is not None:
        values["drive_folder_ids"] = list(clean.drive_folder_ids)
    # The unique portal id decides a race with another create, not the SELECT above.
    created = session.scalar(
        insert(Tenant)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Tenant.portal_id])
        .returning(Tenant.id)
    )
    if created is None:
        raise DuplicateTenant(f"a tenant for portal {portal} exists already", field="portal_id")
    tenant = find_tenant(session, portal)
    store_secrets(session, box, tenant, _secrets(clean))
    described = [name for kind, name in SECRET_NAMES.items() if _secrets(clean)[kind]]
    if clean.form_ids:
        described.append(f"{len(clean.form_ids)} form{'s' if len(clean.form_ids) != 1 else ''}")
    if clean.sender_email:
        described.append(f"sender {clean.sender_email}")
    return TenantChange(tenant, created=True, changed=described, notes=notes)


def update_tenant(
    session: Session,
    box: SecretBox,
    settings: Settings,
    portal_id: int,
    fields: TenantFields,
    *,
    check: bool = True,
    changed_by: str = "cli",
) -> TenantChange:
    """Change what is given; settings changes are audited like the API's (settings_changes)."""
    if fields.is_empty():
        raise TenantInputError("nothing to update: give at least one option")
    tenant = find_tenant(session, tenant_input.portal_id(portal_id))
    clean = _clean(fields)
    needs_sender(
        clean.google_credentials,
        clean.sender_email or tenant.sender_email,
    )
    notes: list[str] = []
    if check:
        current = tenant_secrets.load_credentials(session, box, tenant)
        given = clean.hubspot_token is not None
        credentials = current.model_copy(
            update={
                "hubspot_auth": HubSpotAuth.PRIVATE_APP if given else current.hubspot_auth,
                "hubspot_token": clean.hubspot_token or current.hubspot_token,
                "google_credentials": clean.google_credentials or current.google_credentials,
                "google_subject": clean.sender_email or current.google_subject,
            }
        )
        form_ids = clean.form_ids
        if current.hubspot_auth is HubSpotAuth.OAUTH and not given and form_ids:
            # The stored access token may have expired since (the runs refresh it): a check
            # would only report a stale token as a refusal.
            notes.append(
                "forms not checked: the tenant signs in through OAuth and its stored access "
                "token may have expired (PUT /api/admin/settings checks them with a fresh one)"
            )
            form_ids = None
        notes += verify(
            settings,
            credentials,
            token_given=given,
            form_ids=form_ids,
            drive_folder_ids=clean.drive_folder_ids,
        )
    wanted = {
        name: value
        for name, value in (
            ("mode", clean.mode),
            ("allowed_form_ids", None if clean.form_ids is None else list(clean.form_ids)),
            (
                "drive_folder_ids",
                None if clean.drive_folder_ids is None else list(clean.drive_folder_ids),
            ),
        )
        if value is not None
    }
    # Locks the row, and writes the same audit rows as PUT /api/admin/settings.
    tenant, audit = tenant_settings.update_settings(
        session, tenant.id, wanted, changed_by=changed_by, api_key_id=None
    )
    changed = list(audit.new) if audit is not None else []
    for column, value in (
        ("name", clean.name),
        ("sender_email", clean.sender_email),
        ("timezone", clean.timezone),
    ):
        if value is not None and getattr(tenant, column) != value:
            setattr(tenant, column, value)
            changed.append(column)
    changed += store_secrets(session, box, tenant, _secrets(clean))
    session.flush()
    return TenantChange(tenant, changed=changed, notes=notes)


def set_disabled(session: Session, portal_id: int, disabled: bool) -> TenantChange:
    """Disable (deliveries 403, schedules skip it; nothing deleted) or enable a tenant."""
    tenant = find_tenant(session, tenant_input.portal_id(portal_id), lock=True)
    changed: list[str] = []
    if disabled and tenant.disabled_at is None:
        tenant.disabled_at = utcnow()
        changed.append("disabled")
    elif not disabled and tenant.disabled_at is not None:
        tenant.disabled_at = None
        changed.append("enabled")
    session.flush()
    return TenantChange(tenant, changed=changed)


def replace_credentials(
    session: Session,
    box: SecretBox,
    tenant: Tenant,
    *,
    hubspot_token: SecretStr | str | None = None,
    webhook_secret: SecretStr | str | None = None,
    google_credentials: SecretStr | str | None = None,
    settings: Settings | None = None,
) -> TenantChange:
    """Replace some of a tenant's secrets (write-only). With settings, a new HubSpot token is
    first checked with HubSpot (refused: TenantInputError; unreachable: a note)."""
    token, secret, google = clean_secrets(hubspot_token, webhook_secret, google_credentials)
    if token is None and secret is None and google is None:
        raise TenantInputError("no credentials given")
    needs_sender(google, tenant.sender_email)
    notes: list[str] = []
    if settings is not None and token is not None:
        credentials = TenantCredentials(
            portal_id=tenant.portal_id, hubspot_auth=HubSpotAuth.PRIVATE_APP, hubspot_token=token
        )
        notes = verify(settings, credentials, token_given=True)
    given = TenantFields(hubspot_token=token, webhook_secret=secret, google_credentials=google)
    changed = store_secrets(session, box, tenant, _secrets(given))
    return TenantChange(tenant, changed=changed, notes=notes)
