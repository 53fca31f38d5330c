"""A form submission as the outbox stores it, and the field names and email form every
source of one (webhook, HubSpot's listing, a CSV import) and step 1 agree on."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from sales_agent_pipeline.domain.errors import LeadRejected

# HubSpot's internal property names first, then what hand-built forms and imports use.
ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "workemail", "businessemail", "e-mail"),
    "first_name": ("firstname", "first_name", "fname", "givenname"),
    "last_name": ("lastname", "last_name", "lname", "surname", "familyname"),
    "company": ("company", "companyname", "organization", "organisation"),
    "job_title": ("jobtitle", "job_title", "title", "role", "position"),
    "phone": ("phone", "phonenumber", "mobilephone", "mobile", "telephone"),
    "website": ("website", "companywebsite", "url", "domain"),
    "industry": ("industry", "companyindustry", "sector"),
    "interest": ("message", "interest", "comments", "howcanwehelp", "whatareyouinterestedin"),
}
_CANONICAL = {_key: canon for canon, keys in ALIASES.items() for _key in keys}


@dataclass(frozen=True)
class Submission:
    """One lead's submission, normalised: what the outbox stores for it."""

    portal_id: int
    form_id: str
    # HubSpot's formSubmissionId or conversionId, or an import's own row id.
    submission_id: str
    email: str
    fields: dict[str, str]
    submitted_at: datetime | None
    payload: dict[str, Any]


# HubSpot's form and submission ids as we store them (the seed's example form id has 73).
MAX_ID_LENGTH = 255


class InvalidSubmission(ValueError):
    """A delivery that cannot be a submission: `code` says why, `fields` name what is at fault."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or []


def _key(name: str) -> str:
    # "First Name", "first_name" and "firstname" are one field.
    return re.sub(r"[^a-z0-9]", "", name.strip().lower())


def canonical_field(name: str) -> str:
    """Our name for a form field or CSV header ("E-mail", "First Name"...); else its own key."""
    return _CANONICAL.get(_key(name), name.strip().lower())


def field_text(value: Any) -> str:
    """A submitted value as text: lists joined with ";", `{"value": ...}` objects unwrapped."""
    # HubSpot sends multi-select values as "a;b"; imports and some variants send lists.
    if isinstance(value, list | tuple):
        return ";".join(field_text(item) for item in value if item is not None)
    if isinstance(value, Mapping):
        return field_text(value.get("value"))
    return "" if value is None else str(value).strip()


def _pairs(items: Iterable[Any]) -> Iterable[tuple[str, Any]]:
    for item in items:
        if isinstance(item, Mapping) and "name" in item:
            yield str(item["name"]), item.get("value", item.get("values"))


def extract_fields(payload: Mapping[str, Any]) -> dict[str, str]:
    """Every submitted field by its canonical name, from any HubSpot payload variant.

    Handles the form webhook's `fieldValues`, the Forms API's `fields`, the submissions
    listing's `values`, and a workflow webhook's contact `properties` (plain values or the
    legacy `{"value": ...}` objects). Unknown fields keep their own (lower-case) name.
    """
    raw: list[tuple[str, Any]] = []
    for key in ("fieldValues", "fields", "values", "submissionValues"):
        value = payload.get(key)
        if isinstance(value, Sequence) and not isinstance(value, str):
            raw.extend(_pairs(value))
        elif isinstance(value, Mapping):
            raw.extend(value.items())
    properties = payload.get("properties")
    if isinstance(properties, Mapping):
        raw.extend(properties.items())
    fields: dict[str, str] = {}
    for name, value in raw:
        text = field_text(value)
        if not text:
            continue
        fields.setdefault(canonical_field(name), text)
    return fields


def normalise_email(address: str) -> str:
    """The address in canonical form; LeadRejected when its syntax is wrong."""
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise LeadRejected(f"email {address!r} is not valid: {exc}", field="email") from exc
    return checked.normalized.lower()


# How deep a delivery's JSON may nest: HubSpot's deepest (the legacy contact format) is 5.
MAX_DEPTH = 32
# PostgreSQL's bigint, the portal id's column.
MAX_PORTAL_ID = 2**63 - 1


def check_storable(value: Any, path: str = "body", depth: int = 0) -> None:
    """Refuse what PostgreSQL cannot store as sent (InvalidSubmission naming where).

    A JSONB document holds no NUL character, no lone UTF-16 surrogate (JSON's `\\ud800`
    escapes decode to one in Python) and no NaN or infinity (a number like 1e400 parses to
    one), and nesting is bounded before anything walks it.
    """
    if depth > MAX_DEPTH:
        raise InvalidSubmission("too_deep", f"{path} nests deeper than {MAX_DEPTH} levels", [path])
    if isinstance(value, str):
        _check_text(value, path)
    elif isinstance(value, float) and not math.isfinite(value):
        raise InvalidSubmission("invalid_number", f"{path} is not a finite number", [path])
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_text(str(key), path)
            check_storable(item, f"{path}.{key}"[:200], depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{path}[{index}]"[:200], depth + 1)


def _check_text(text: str, path: str) -> None:
    if "\x00" in text:
        raise InvalidSubmission("invalid_text", f"{path} contains a NUL character", [path])
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidSubmission(
            "invalid_text", f"{path} is not valid Unicode (a lone surrogate)", [path]
        ) from None


def check_portal_id(value: Any, name: str) -> int:
    """A portal id: an integer from 1 to PostgreSQL's bigint, sent as a number or as ASCII
    digits; never a truncated fraction, a boolean or another script's digits."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        digits = value.strip()
        # At most bigint's 19 digits: int() of thousands of digits is slow, then refused.
        if digits.isascii() and digits.isdigit() and len(digits) <= len(str(MAX_PORTAL_ID)):
            number = int(digits)
    if number is None:
        raise InvalidSubmission("invalid_field", f"{name} must be a whole number", [name])
    if not 0 < number <= MAX_PORTAL_ID:
        raise InvalidSubmission("invalid_field", f"{name} is out of range", [name])
    return number


def check_id(value: Any, name: str) -> str:
    """A HubSpot id as text: a string or an integer, at most MAX_ID_LENGTH characters."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidSubmission("invalid_field", f"{name} must be a string", [name])
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise InvalidSubmission(
            "invalid_field", f"{name} is longer than {MAX_ID_LENGTH} characters", [name]
        )
    return text
