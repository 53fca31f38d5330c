"""A tenant's input checked before anything is written: one clear message per mistake.

Messages name the field and what is wrong, never a secret's content: a key file that is not
JSON is reported by line and column only.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterable
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import SecretStr

from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.errors import PermanentError
from sales_agent_pipeline.domain.submission import MAX_ID_LENGTH

MAX_PORTAL_ID = 2**63 - 1
MAX_NAME = 255
MAX_FORM_ID = MAX_ID_LENGTH
MAX_FOLDER_ID = 128
MAX_TIMEZONE = 64
# A HubSpot token is ~45 characters and a client secret 36; a Google key file ~2.3 KB.
MAX_TOKEN = 4096
# A Google service account key is about 2.3 KB: ample, and three of these fit the API's
# 64 KiB body limit (API_MAX_BODY_BYTES).
MAX_GOOGLE_CREDENTIALS = 16 * 1024

SERVICE_ACCOUNT = "service_account"
AUTHORIZED_USER = "authorized_user"
_REQUIRED = {
    SERVICE_ACCOUNT: ("client_email", "private_key", "token_uri"),
    AUTHORIZED_USER: ("client_id", "client_secret", "refresh_token"),
}


class TenantInputError(PermanentError):
    """Input a tenant cannot take; `field` names it. Nothing was written."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownTenant(TenantInputError):
    """No tenant has this portal id."""


class DuplicateTenant(TenantInputError):
    """A tenant for this portal id exists already."""


def portal_id(value: int) -> int:
    """A HubSpot portal (hub) id: a positive integer."""
    if value <= 0 or value > MAX_PORTAL_ID:
        raise TenantInputError(
            f"portal id must be a positive integer, got {value}", field="portal_id"
        )
    return value


def name(value: str) -> str:
    """The tenant's display name, trimmed, not empty."""
    cleaned = value.strip()
    if not cleaned:
        raise TenantInputError("name must not be empty", field="name")
    if len(cleaned) > MAX_NAME or "\n" in cleaned:
        raise TenantInputError(
            f"name must be one line of at most {MAX_NAME} characters", field="name"
        )
    return cleaned


def sender_email(value: str) -> str:
    """The mailbox drafts are written in, normalised (domain lower-cased)."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise TenantInputError(
            f"sender {value.strip()!r} is not an email address: {exc}", field="sender_email"
        ) from None


def timezone(value: str) -> str:
    """An IANA time zone name that this machine's zoneinfo knows."""
    cleaned = value.strip()
    try:
        if not cleaned or len(cleaned) > MAX_TIMEZONE:
            raise ValueError(cleaned)
        zoneinfo.ZoneInfo(cleaned)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TenantInputError(
            f"unknown time zone {cleaned!r} (an IANA name such as Europe/Berlin)",
            field="timezone",
        ) from None
    return cleaned


def mode(value: str) -> str:
    """DRAFT_ONLY or SEND (any case)."""
    try:
        return WorkflowMode(value.strip().upper()).value
    except ValueError:
        allowed = " or ".join(WorkflowMode)
        raise TenantInputError(f"mode must be {allowed}, got {value!r}", field="mode") from None


def _ids(values: Iterable[str], *, field: str, what: str, longest: int) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        item = value.strip()
        if not item or len(item) > longest or any(c.isspace() for c in item):
            raise TenantInputError(
                f"{what} {value!r} is not an id (1 to {longest} characters, no spaces)",
                field=field,
            )
        if item not in cleaned:
            cleaned.append(item)
    return cleaned


def form_ids(values: Iterable[str]) -> list[str]:
    """Form guids, trimmed, without repeats."""
    return _ids(values, field="allowed_form_ids", what="form", longest=MAX_FORM_ID)


def folder_ids(values: Iterable[str]) -> list[str]:
    """Drive folder ids, trimmed, without repeats."""
    return _ids(values, field="drive_folder_ids", what="Drive folder", longest=MAX_FOLDER_ID)


def single_line_secret(value: SecretStr | str, *, field: str, what: str) -> SecretStr:
    """A token or signing secret: one line, surrounding whitespace (a file's newline) dropped."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    cleaned = raw.strip()
    if not cleaned:
        raise TenantInputError(f"the {what} is empty", field=field)
    if len(cleaned) > MAX_TOKEN:
        raise TenantInputError(f"the {what} is longer than {MAX_TOKEN} characters", field=field)
    if any(c.isspace() for c in cleaned):
        raise TenantInputError(
            f"the {what} spans several lines or holds spaces (one token expected)", field=field
        )
    return SecretStr(cleaned)


def _google_info(raw: str) -> dict[str, Any]:
    if not raw.strip():
        raise TenantInputError("the Google credentials are empty", field="google_credentials")
    if len(raw) > MAX_GOOGLE_CREDENTIALS:
        raise TenantInputError(
            "the Google credentials are larger than a key file can be", field="google_credentials"
        )
    try:
        info = json.loads(raw)
    except json.JSONDecodeError as exc:
        # exc's message carries no content, but say only where, to be sure.
        raise TenantInputError(
            f"the Google credentials are not JSON (line {exc.lineno}, column {exc.colno})",
            field="google_credentials",
        ) from None
    if not isinstance(info, dict):
        raise TenantInputError(
            "the Google credentials are not a JSON object", field="google_credentials"
        )
    return info


def google_credential_type(text: str) -> str:
    """`service_account` or `authorized_user` for text that parse_google_credentials accepted."""
    return str(json.loads(text)["type"])


def parse_google_credentials(text: SecretStr | str) -> str:
    """A service-account key or an authorized-user token file, checked, as compact JSON.

    Refused with a message that names the missing field or the problem, never a value.
    """
    raw = text.get_secret_value() if isinstance(text, SecretStr) else text
    info = _google_info(raw)
    kind = info.get("type")
    if kind not in _REQUIRED:
        raise TenantInputError(
            'the Google credentials must be a service-account key ("type": '
            '"service_account") or an authorized-user token ("type": "authorized_user")',
            field="google_credentials",
        )
    missing = [
        key for key in _REQUIRED[kind] if not isinstance(info.get(key), str) or not info[key]
    ]
    if missing:
        raise TenantInputError(
            f"the Google {kind} credentials lack {', '.join(missing)}",
            field="google_credentials",
        )
    if kind == SERVICE_ACCOUNT:
        # Imported here: google-auth loads only when a key is checked.
        import google.auth.exceptions
        from google.oauth2 import service_account

        try:
            # Loads the RSA key: a truncated or altered private_key is caught here, not in a run.
            service_account.Credentials.from_service_account_info(info)
        except (ValueError, TypeError, google.auth.exceptions.GoogleAuthError):
            raise TenantInputError(
                "the service-account key's private_key is not a readable PEM private key",
                field="google_credentials",
            ) from None
    return json.dumps(info, separators=(",", ":"))
