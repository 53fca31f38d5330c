"""Ids a tenant saves in its settings, checked with its own credentials before they are kept.

A form must be one of the tenant's portal's, a Drive folder one its Google user can see;
otherwise a tenant could point its runs at another company's forms or files. Only ids new
to the list are asked about (the others were checked when they were saved). When a vendor
cannot be reached the ids are kept and the answer says they went unchecked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api.errors import ApiError
from sales_agent_pipeline.connectors.checks import (
    CredentialRejected,
    check_drive_folders,
    check_forms,
)
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.hubspot_grants import GrantTokens
from sales_agent_pipeline.db.repositories.tenant_secrets import load_credentials
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.enums import HubSpotAuth
from sales_agent_pipeline.domain.errors import PipelineError
from sales_agent_pipeline.secretbox import SecretBox, SecretDecryptError
from sales_agent_pipeline.settings import Settings


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
            raise ApiError(
                503, "secret_unreadable", "the tenant's credentials cannot be decrypted"
            ) from None
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
        sessions, box, settings, tenant_id=tenant_id, portal_id=credentials.portal_id
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
        raise ApiError(400, "credential_rejected", exc.message, [check.field]) from None
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
        raise ApiError(
            400,
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

    ApiError 400 naming the ids (and their positions) that the vendor says are not the
    tenant's; nothing is written by this function."""
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
