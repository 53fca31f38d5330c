"""HubSpot's delivery variants, normalised into what the outbox stores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sales_agent_api.errors import ApiError
from sales_agent_pipeline.domain.errors import LeadRejected
from sales_agent_pipeline.steps.validate_payload import extract_fields, normalise_email


@dataclass(frozen=True)
class Delivery:
    """One form submission as HubSpot delivered it."""

    portal_id: int
    form_id: str
    submission_id: str
    email: str
    fields: dict[str, str]
    submitted_at: datetime | None
    payload: dict[str, Any]


def _first(obj: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = obj.get(name)
        if value not in (None, ""):
            return value
    return None


def _timestamp(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float) or str(value).isdigit():
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None


def parse_delivery(obj: Any, where: str = "") -> Delivery:
    """A delivery from the form webhook body, a workflow webhook's contact, or the legacy
    contact format with its `form-submissions`; a 400 names what is missing or wrong."""
    if not isinstance(obj, Mapping):
        raise ApiError(400, "invalid_body", f"{where or 'body'} must be a JSON object")
    # The legacy contact format keeps its latest form submission in a list.
    legacy = obj.get("form-submissions")
    latest: Mapping[str, Any] = legacy[-1] if isinstance(legacy, list) and legacy else {}
    latest = latest if isinstance(latest, Mapping) else {}
    portal = _first(obj, "portalId", "portal_id", "portal-id") or _first(latest, "portal-id")
    form = _first(obj, "formId", "formGuid", "form_id") or _first(latest, "form-id")
    submission = _first(obj, "formSubmissionId", "conversionId", "submissionId") or _first(
        latest, "conversion-id"
    )
    missing = [
        f"{where}{name}"
        for name, value in (
            ("portalId", portal),
            ("formId", form),
            ("formSubmissionId", submission),
        )
        if value is None
    ]
    if missing:
        raise ApiError(400, "missing_fields", f"missing: {', '.join(missing)}", missing)
    try:
        portal_id = int(portal)
    except (TypeError, ValueError):
        raise ApiError(
            400, "invalid_field", "portalId must be a number", [f"{where}portalId"]
        ) from None
    fields = extract_fields(obj)
    if "email" not in fields:
        raise ApiError(400, "missing_email", "the submission has no email", [f"{where}email"])
    try:
        email = normalise_email(fields["email"])
    except LeadRejected as exc:
        raise ApiError(400, "invalid_email", str(exc), [f"{where}email"]) from None
    return Delivery(
        portal_id=portal_id,
        form_id=str(form),
        submission_id=str(submission),
        email=email,
        fields=fields,
        submitted_at=_timestamp(
            _first(obj, "submittedAt", "timestamp") or _first(latest, "timestamp")
        ),
        payload=dict(obj),
    )
