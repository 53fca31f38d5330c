"""A tenant's secrets and the vendor checks of what it saves: shared by the CLI's and the
API's changes and by the single-portal path at start-up."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import SecretStr
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import tenant_secrets
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind
from sales_agent_pipeline.domain.errors import PipelineError
from sales_agent_pipeline.secretbox import SecretBox
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases import tenant_input
from sales_agent_pipeline.usecases.tenant_input import TenantInputError, parse_google_credentials

T = TypeVar("T")

# Human names of what a change touched, in the order reports list them.
SECRET_NAMES = {
    SecretKind.HUBSPOT_TOKEN: "HubSpot token",
    SecretKind.WEBHOOK_SECRET: "webhook secret",
    SecretKind.GOOGLE_CREDENTIALS: "Google credentials",
}


def clean_secrets(
    hubspot_token: SecretStr | str | None,
    webhook_secret: SecretStr | str | None,
    google_credentials: SecretStr | str | None,
) -> tuple[SecretStr | None, SecretStr | None, SecretStr | None]:
    """The three secrets checked: one-line token and signing secret, a usable Google file."""
    return (
        None
        if hubspot_token is None
        else tenant_input.single_line_secret(
            hubspot_token, field="hubspot_token", what="HubSpot token"
        ),
        None
        if webhook_secret is None
        else tenant_input.single_line_secret(
            webhook_secret, field="webhook_secret", what="webhook secret"
        ),
        None
        if google_credentials is None
        else SecretStr(parse_google_credentials(google_credentials)),
    )


def needs_sender(google: SecretStr | None, sender: str | None) -> None:
    """A service-account key needs the mailbox it acts for (the sender)."""
    if google is None or sender:
        return
    if tenant_input.google_credential_type(google.get_secret_value()) == "service_account":
        raise TenantInputError(
            "a Google service-account key acts for a mailbox: give the tenant's sender too",
            field="sender_email",
        )


def _checked(call: Callable[[], T], notes: list[str], what: str, field: str) -> T | None:
    """A vendor check's answer; refusals become input errors, the rest a note (unreachable,
    no credentials to check with, or an answer that proves nothing either way)."""
    from sales_agent_pipeline.connectors.checks import CredentialRejected

    try:
        return call()
    except CredentialRejected as exc:
        raise TenantInputError(exc.message, field=field) from None
    except PipelineError as exc:
        notes.append(f"{what} not checked: {exc.message}")
    return None


def verify(
    settings: Settings,
    credentials: TenantCredentials,
    *,
    token_given: bool,
    form_ids: Sequence[str] | None = None,
    drive_folder_ids: Sequence[str] | None = None,
) -> list[str]:
    """Check a new token, forms and Drive folders with the tenant's credentials; the notes
    say what could not be checked. Raises TenantInputError naming what the vendor refused."""
    # The SDKs load only when something is checked: `up` and the CLI's other commands start
    # faster without them.
    from sales_agent_pipeline.connectors.checks import (
        check_drive_folders,
        check_forms,
        check_hubspot_token,
    )

    notes: list[str] = []
    portal = credentials.portal_id
    if token_given:
        _checked(
            lambda: check_hubspot_token(settings, credentials),
            notes,
            "HubSpot token",
            "hubspot_token",
        )
    if form_ids:
        missing = _checked(
            lambda: check_forms(settings, credentials, form_ids), notes, "forms", "allowed_form_ids"
        )
        if missing:
            raise TenantInputError(
                f"not forms of portal {portal}: {', '.join(missing)}", field="allowed_form_ids"
            )
    if drive_folder_ids:
        invisible = _checked(
            lambda: check_drive_folders(settings, credentials, drive_folder_ids),
            notes,
            "Drive folders",
            "drive_folder_ids",
        )
        if invisible:
            raise TenantInputError(
                f"Drive folders that {credentials.google_subject or 'the Google user'} cannot "
                f"see (or that are not folders): {', '.join(invisible)}",
                field="drive_folder_ids",
            )
    return notes


def store_secrets(
    session: Session,
    box: SecretBox,
    tenant: Tenant,
    secrets: dict[SecretKind, SecretStr | None],
) -> list[str]:
    """Write the given secrets that differ from the stored ones; their human names.

    A HubSpot token given makes the tenant a private app's (an OAuth grant's tokens go).
    """
    changed: list[str] = []
    for kind, value in secrets.items():
        if value is None:
            continue
        stored = tenant_secrets.get_secret(session, box, tenant.id, kind)
        if stored is not None and stored.get_secret_value() == value.get_secret_value():
            continue
        tenant_secrets.put_secret(session, box, tenant.id, kind, value.get_secret_value())
        changed.append(SECRET_NAMES[kind])
    if secrets.get(SecretKind.HUBSPOT_TOKEN) is not None:
        # A private app's token replaces an OAuth grant: its tokens would only mislead.
        if tenant.hubspot_auth == HubSpotAuth.OAUTH:
            tenant_secrets.delete_secret(session, tenant.id, SecretKind.HUBSPOT_REFRESH_TOKEN)
            tenant_secrets.delete_secret(session, tenant.id, SecretKind.HUBSPOT_ACCESS_TOKEN)
        tenant.hubspot_auth = HubSpotAuth.PRIVATE_APP.value
        tenant.auth_error = None
        tenant.auth_error_at = None
    session.flush()
    return changed
