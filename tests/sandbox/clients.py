"""Google clients as the product builds them, for tests that talk to the sandbox with
credentials it issued (service-account keys with delegation, authorized-user files)."""

from __future__ import annotations

from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.credentials import AnonymousCredentials, Credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build

GMAIL = ["https://www.googleapis.com/auth/gmail.modify"]
CALENDAR = ["https://www.googleapis.com/auth/calendar.freebusy"]
DRIVE = ["https://www.googleapis.com/auth/drive.readonly"]
_ENDPOINTS = {"gmail": "/", "calendar": "/calendar/v3/", "drive": "/drive/v3/"}
_VERSIONS = {"gmail": "v1", "calendar": "v3", "drive": "v3"}


def service(url: str, name: str, credentials: Credentials) -> Any:
    """A Google API client as the product builds it: AuthorizedHttp over httplib2."""
    http: Any = httplib2.Http(timeout=10)
    if not isinstance(credentials, AnonymousCredentials):
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=http)
    return build(
        name,
        _VERSIONS[name],
        http=http,
        client_options={"api_endpoint": url + _ENDPOINTS[name]},
        static_discovery=True,
        cache_discovery=False,
    )


def delegated(key: dict[str, Any], subject: str, scopes: list[str]) -> Credentials:
    """The key's credentials acting as `subject` (domain-wide delegation)."""
    base = service_account.Credentials.from_service_account_info(key, scopes=scopes)
    return base.with_subject(subject)


def list_files(drive: Any, q: str, **options: Any) -> dict[str, Any]:
    """files.list over every drive the caller sees (as the connector asks); options on top."""
    found: dict[str, Any] = (
        drive.files()
        .list(
            q=q,
            supportsAllDrives=True,
            includeItemsFromAllDrives=True,
            **{"corpora": "allDrives", **options},
        )
        .execute()
    )
    return found
