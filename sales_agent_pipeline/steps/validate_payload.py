"""Step 1: normalise HubSpot's field list into a typed lead, and decide whether to go on."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email

from sales_agent_pipeline.domain.errors import LeadRejected
from sales_agent_pipeline.domain.lead import Lead, ValidationOutcome

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


def _key(name: str) -> str:
    # "First Name", "first_name" and "firstname" are one field.
    return re.sub(r"[^a-z0-9]", "", name.strip().lower())


def canonical_field(name: str) -> str:
    """Our name for a form field or CSV header ("E-mail", "First Name"...); else its own key."""
    return _CANONICAL.get(_key(name), name.strip().lower())


def _text(value: Any) -> str:
    # HubSpot sends multi-select values as "a;b"; imports and some variants send lists.
    if isinstance(value, list | tuple):
        return ";".join(_text(item) for item in value if item is not None)
    if isinstance(value, Mapping):
        return _text(value.get("value"))
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
        text = _text(value)
        if not text:
            continue
        canonical = _CANONICAL.get(_key(name), name.strip().lower())
        fields.setdefault(canonical, text)
    return fields


def normalise_email(address: str) -> str:
    """The address in canonical form; LeadRejected when its syntax is wrong."""
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise LeadRejected(f"email {address!r} is not valid: {exc}", field="email") from exc
    return checked.normalized.lower()


def validate_payload(
    payload: Mapping[str, Any],
    *,
    allowed_form_ids: Sequence[str],
    form_id: str | None = None,
    portal_id: int | None = None,
    submission_id: str | None = None,
    submitted_at: datetime | None = None,
    previous_submission_at: datetime | None = None,
    throttle_window: timedelta = timedelta(0),
    now: datetime,
) -> ValidationOutcome:
    """Build the lead; reject what cannot be a lead, skip a repeat submitter in the window."""
    form = form_id or _text(payload.get("formId") or payload.get("formGuid")) or None
    if allowed_form_ids and form not in allowed_form_ids:
        raise LeadRejected(f"form {form!r} is not on this tenant's allowlist", field="formId")
    fields = extract_fields(payload)
    if "email" not in fields:
        raise LeadRejected("the submission has no email field", field="email")
    email = normalise_email(fields["email"])
    fields["email"] = email
    lead = Lead(
        email=email,
        email_domain=email.rsplit("@", 1)[1],
        first_name=fields.get("first_name"),
        last_name=fields.get("last_name"),
        company=fields.get("company"),
        job_title=fields.get("job_title"),
        phone=fields.get("phone"),
        website=fields.get("website"),
        industry=fields.get("industry"),
        interest=fields.get("interest"),
        fields=fields,
        portal_id=portal_id,
        form_id=form,
        submission_id=submission_id,
        submitted_at=submitted_at,
    )
    if previous_submission_at is not None and now - previous_submission_at < throttle_window:
        ago = int((now - previous_submission_at).total_seconds() // 60)
        window = int(throttle_window.total_seconds() // 60)
        return ValidationOutcome(
            lead=lead,
            skip_reason=(
                f"{email} already submitted {ago} min ago (throttle window {window} min): "
                "the earlier workflow follows up"
            ),
        )
    return ValidationOutcome(lead=lead)
