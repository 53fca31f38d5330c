"""An operator's change of a tenant's settings, with the ids it saves checked first.

A form must be one of the tenant's portal's, a Drive folder one its Google user can see;
otherwise a tenant could point its runs at another company's forms or files. Only ids new
to the list are asked about (the others were checked when they were saved), with the
tenant's own credentials. When a vendor cannot be reached the ids are kept and the notes
say they went unchecked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.connectors.checks import (
    CredentialRejected,
    check_drive_folders,
    check_forms,
)
from sales_agent_pipeline.connectors.hubspot_oauth import refresh_grant
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import tenant_settings
from sales_agent_pipeline.db.repositories.hubspot_grants import GrantTokens
from sales_agent_pipeline.db.repositories.tenant_secrets import load_credentials
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.enums import HubSpotAuth
from sales_agent_pipeline.domain.errors import PipelineError
from sales_agent_pipeline.secretbox import SecretBox, SecretDecryptError
from sales_agent_pipeline.settings import Settings


class IdsRefused(Exception):
    """A vendor says ids are not the tenant's (or refuses its credentials): nothing saved.

    `code` names the refusal, `fields` the refused ids' positions (`allowed_form_ids.2`)."""

    def __init__(self, code: str, message: str, fields: list[str]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


class CredentialsUnreadable(Exception):
    """The tenant's stored credentials cannot be decrypted with the configured keys."""


@dataclass(frozen=True)
class _Check:
    field: str
    what: str
    code: str
    run: Callable[[Settings, TenantCredentials, Sequence[str]], list[str]]


_FORMS = _Check("allowed_form_ids", "forms", "form_not_in_portal", check_forms)
_FOLDERS = _Check("drive_folder_ids", "Drive folders", "folder_not_visible", check_drive_folders)


def _credentials(
    sessions: sessionmaker[Session], box: SecretBox, tenant_id: uuid.UUID
) -> tuple[Tenant, TenantCredentials]:
    with sessions() as session:
        tenant = session.get_one(Tenant, tenant_id)
        try:
            credentials = load_credentials(session, box, tenant)
        except SecretDecryptError:
            raise CredentialsUnreadable("the tenant's credentials cannot be decrypted") from None
        session.expunge(tenant)
    return tenant, credentials


def _with_current_token(
    sessions: sessionmaker[Session],
    box: SecretBox,
    settings: Settings,
    credentials: TenantCredentials,
    tenant_id: uuid.UUID,
    notes: list[str],
) -> TenantCredentials | None:
    """An OAuth tenant's stored access token may have expired: the grant's current one."""
    if credentials.hubspot_auth is not HubSpotAuth.OAUTH:
        return credentials
    tokens = GrantTokens(
        sessions,
        box,
        partial(refresh_grant, settings),
        tenant_id=tenant_id,
        portal_id=credentials.portal_id,
    )
    try:
        token = tokens.token()
    except PipelineError as exc:
        notes.append(f"forms not checked: {exc.message}")
        return None
    return credentials.model_copy(update={"hubspot_token": SecretStr(token)})


def _ask(
    check: _Check,
    settings: Settings,
    credentials: TenantCredentials,
    given: Sequence[str],
    new: Sequence[str],
    notes: list[str],
) -> None:
    try:
        refused = check.run(settings, credentials, new)
    except CredentialRejected as exc:
        raise IdsRefused("credential_rejected", exc.message, [check.field]) from None
    except PipelineError as exc:
        # Unreachable, or no credentials to ask with: kept, and said so.
        notes.append(f"{check.what} not checked: {exc.message}")
        return
    if refused:
        owner = (
            f"portal {credentials.portal_id}"
            if check is _FORMS
            else credentials.google_subject or "the tenant's Google user"
        )
        reason = "not forms of" if check is _FORMS else "not folders visible to"
        raise IdsRefused(
            check.code,
            f"{check.field}: {reason} {owner}: {', '.join(refused)}",
            [f"{check.field}.{list(given).index(item)}" for item in refused],
        )


def check_new_ids(
    sessions: sessionmaker[Session],
    box: SecretBox,
    settings: Settings,
    tenant_id: uuid.UUID,
    *,
    forms: Sequence[str] | None,
    folders: Sequence[str] | None,
) -> list[str]:
    """Check the ids new to the tenant's lists; the notes of what went unchecked.

    IdsRefused naming the ids (and their positions) that the vendor says are not the
    tenant's; CredentialsUnreadable when its secrets do not decrypt. Writes nothing."""
    if not forms and not folders:
        return []
    tenant, credentials = _credentials(sessions, box, tenant_id)
    notes: list[str] = []
    new_forms = [item for item in dict.fromkeys(forms or ()) if item not in tenant.allowed_form_ids]
    if new_forms:
        current = _with_current_token(sessions, box, settings, credentials, tenant_id, notes)
        if current is not None:
            _ask(_FORMS, settings, current, forms or (), new_forms, notes)
    new_folders = [
        item for item in dict.fromkeys(folders or ()) if item not in tenant.drive_folder_ids
    ]
    if new_folders:
        _ask(_FOLDERS, settings, credentials, folders or (), new_folders, notes)
    return notes


@dataclass(frozen=True)
class SettingsChanged:
    """The tenant as saved (its row, read after the commit: the sessions keep loaded values)
    and the notes of the ids that went unchecked."""

    tenant: Tenant
    notes: list[str]


def change_settings(
    sessions: sessionmaker[Session],
    box: SecretBox,
    settings: Settings,
    tenant_id: uuid.UUID,
    changes: dict[str, Any],
    *,
    forms: Sequence[str] | None,
    folders: Sequence[str] | None,
    changed_by: str,
    api_key_id: uuid.UUID | None,
) -> SettingsChanged:
    """Check the forms and folders new to the lists, then save the given settings with one
    audit row of what changed (in one transaction; nothing when a check refuses).

    `forms` and `folders` are the lists as the operator gave them: a refusal names the
    positions in them."""
    # Asked before the transaction: no row lock is held while a vendor answers.
    notes = check_new_ids(sessions, box, settings, tenant_id, forms=forms, folders=folders)
    with sessions.begin() as session:
        tenant, _ = tenant_settings.update_settings(
            session, tenant_id, changes, changed_by=changed_by, api_key_id=api_key_id
        )
    return SettingsChanged(tenant, notes)
