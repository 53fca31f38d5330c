"""Step 1: normalise HubSpot's field list into a typed lead, and decide whether to go on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sales_agent_pipeline.domain.errors import LeadRejected
from sales_agent_pipeline.domain.lead import Lead, ValidationOutcome
from sales_agent_pipeline.domain.submission import extract_fields, field_text, normalise_email


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
    form = form_id or field_text(payload.get("formId") or payload.get("formGuid")) or None
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
