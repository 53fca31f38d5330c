"""Checks of a tenant's credentials and ids against the vendors, before they are saved.

A HubSpot token must be accepted by HubSpot and belong to the tenant's portal; forms must be
the portal's; Drive folders must be visible to the tenant's Google user. Each check is one
call per id through the official SDK, with the tenant's own credentials. When a vendor
cannot be reached the caller decides (the CLI proceeds and says so): VendorUnreachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import hubspot
from urllib3.util.retry import Retry

from sales_agent_pipeline.connectors.errors import vendor_call
from sales_agent_pipeline.connectors.factory import (
    google_base_url,
    google_credentials,
    hubspot_base_url,
    hubspot_token,
)
from sales_agent_pipeline.connectors.google_auth import DRIVE_SCOPES, GoogleApi
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.errors import (
    ConfigurationError,
    PipelineError,
    TransientError,
)
from sales_agent_pipeline.settings import Settings

FOLDER = "application/vnd.google-apps.folder"
# A person waits at the CLI (or an API request): fail over to "unreachable" sooner than a run.
CHECK_TIMEOUT_SECONDS = 10.0


class CredentialRejected(ConfigurationError):
    """The vendor refused the credentials, or they belong to another portal."""


class VendorUnreachable(TransientError):
    """The vendor could not be asked (network, timeout, 5xx, 429): nothing was checked."""


def _not_found(exc: PipelineError, vendor: str, what: str) -> bool:
    """True when the vendor said, in its own error body, that the id is not there; a bare
    "Not Found" (no body of HubSpot's or Google's shape) is a route the server does not
    have (a stand-in without that endpoint): it proves nothing about the id, so nothing is
    refused on it (VendorUnreachable: not checked)."""
    if exc.http_status not in (400, 404):
        return False
    if (exc.vendor_message or "").strip().lower() in ("", "not found", "bad request"):
        raise VendorUnreachable(
            f"{vendor} did not answer the {what} check as documented (HTTP {exc.http_status} "
            "without an error body)"
        ) from None
    return True


def _timeout(configured: float) -> float:
    return min(configured, CHECK_TIMEOUT_SECONDS)


def _scrub(text: str | None, secret: str) -> str:
    # A vendor's message should never quote the token back, but make sure.
    return (text or "").replace(secret, "<token>") if secret else (text or "")


def _refusal(error: PipelineError, portal_id: int, token: str, what: str) -> PipelineError:
    """Our answer to a failed check call: unreachable, refused, or the error itself."""
    vendor = _scrub(error.vendor_message, token)
    detail = f": {vendor}" if vendor else ""
    if isinstance(error, TransientError):
        return VendorUnreachable(f"HubSpot could not be reached to check {what}{detail}")
    if error.http_status == 401:
        return CredentialRejected(
            f"HubSpot refused the token for portal {portal_id} (HTTP 401{detail})",
            http_status=401,
        )
    if error.http_status == 403:
        return CredentialRejected(
            f"HubSpot refused the token for portal {portal_id} to check {what} "
            f"(HTTP 403, a missing scope?{detail})",
            http_status=403,
        )
    return error


def _forms_api(settings: Settings, token: str) -> Any:
    base = hubspot_base_url(settings).rstrip("/")
    # Only a connection that never opened is retried: the request was not sent.
    retry = Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0)
    client = hubspot.Client.create(access_token=token, host=base, base_url=base, retry=retry)
    return client.marketing.forms.forms_api


def check_hubspot_token(settings: Settings, credentials: TenantCredentials) -> None:
    """HubSpot accepts the tenant's token and it belongs to the tenant's portal.

    GET /account-info/v3/details (no generated method in the SDK: the forms client's
    ApiClient makes the call, with its auth, timeout and ApiException errors).
    """
    token = hubspot_token(settings, credentials)
    api_client = _forms_api(settings, token).api_client
    try:
        with vendor_call("HubSpot account-info"):
            details = api_client.call_api(
                "/account-info/v3/details",
                "GET",
                header_params={"Accept": "application/json"},
                response_types_map={200: "object"},
                auth_settings=["oauth2"],
                _return_http_data_only=True,
                _request_timeout=_timeout(settings.hubspot_timeout_seconds),
            )
    except PipelineError as exc:
        raise _refusal(exc, credentials.portal_id, token, "the token") from None
    portal = details.get("portalId") if isinstance(details, dict) else None
    if portal is None:
        raise VendorUnreachable("HubSpot's account details carry no portalId: token not checked")
    if int(portal) != credentials.portal_id:
        raise CredentialRejected(
            f"the HubSpot token belongs to portal {portal}, not {credentials.portal_id}"
        )


def check_forms(
    settings: Settings, credentials: TenantCredentials, form_ids: Sequence[str]
) -> list[str]:
    """The form ids that are not forms of the tenant's portal (GET /marketing/v3/forms/{id})."""
    if not form_ids:
        return []
    token = hubspot_token(settings, credentials)
    forms = _forms_api(settings, token)
    timeout = _timeout(settings.hubspot_timeout_seconds)
    missing: list[str] = []
    for form_id in form_ids:
        try:
            with vendor_call("HubSpot forms get"):
                # The raw answer: a form's full definition is not needed, only that it exists.
                response = forms.get_by_id(
                    form_id, _preload_content=False, _request_timeout=timeout
                )
                response.drain_conn()
        except PipelineError as exc:
            if _not_found(exc, "HubSpot", "forms"):
                missing.append(form_id)
                continue
            raise _refusal(exc, credentials.portal_id, token, "its forms") from None
    return missing


def _drive(settings: Settings, credentials: TenantCredentials) -> GoogleApi:
    """The Drive API as the tenant's Google user (the factory's identity rules), one attempt."""
    return GoogleApi(
        "drive",
        "v3",
        google_credentials(settings, credentials, DRIVE_SCOPES),
        base_url=google_base_url(settings),
        timeout_seconds=_timeout(settings.google_timeout_seconds),
        throttle_attempts=1,
    )


def _get_file(service: Any, file_id: str) -> Any:
    return service.files().get(
        fileId=file_id, fields="id, mimeType, trashed", supportsAllDrives=True
    )


def check_drive_folders(
    settings: Settings, credentials: TenantCredentials, folder_ids: Sequence[str]
) -> list[str]:
    """The ids that are not live folders the tenant's Google user can see (Drive files.get)."""
    if not folder_ids:
        return []
    drive = _drive(settings, credentials)
    invisible: list[str] = []
    for folder_id in folder_ids:
        try:
            found = drive.execute("files.get", partial(_get_file, file_id=folder_id))
        except TransientError as exc:
            raise VendorUnreachable(
                f"Google Drive could not be reached to check the folders: {exc.message}"
            ) from None
        except PipelineError as exc:
            if _not_found(exc, "Google Drive", "folders"):
                invisible.append(folder_id)
                continue
            if exc.http_status in (401, 403):
                raise CredentialRejected(
                    f"Google refused portal {credentials.portal_id}'s credentials for Drive "
                    f"(HTTP {exc.http_status}): {exc.vendor_message or exc.message}",
                    http_status=exc.http_status,
                ) from None
            if isinstance(exc, ConfigurationError):
                # google-auth refused the key or the delegation (no HTTP status).
                raise CredentialRejected(exc.message) from None
            raise
        if found.get("mimeType") != FOLDER or found.get("trashed"):
            invisible.append(folder_id)
    return invisible
