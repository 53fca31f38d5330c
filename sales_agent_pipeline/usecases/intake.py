"""Lead intake: a webhook delivery, a submission HubSpot lists that we lack, or an imported
CSV row becomes one `Submission` (fields by our names, the email normalised, the payload
kept as step 1 reads it), accepted once through the outbox.

The callers own their transactions; nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.repositories import outbox
from sales_agent_pipeline.db.repositories.intake import intake_tenant
from sales_agent_pipeline.db.repositories.outbox import Accepted, TenantRef
from sales_agent_pipeline.db.repositories.synthetic import mark_synthetic
from sales_agent_pipeline.domain.enums import SubmissionSource
from sales_agent_pipeline.domain.errors import LeadRejected
from sales_agent_pipeline.domain.models import UpstreamSubmission
from sales_agent_pipeline.domain.submission import (
    MAX_ID_LENGTH,
    InvalidSubmission,
    Submission,
    check_id,
    check_portal_id,
    check_storable,
    extract_fields,
    normalise_email,
)

# The fields kept in their own columns (255 characters each) besides the payload.
STORED_FIELDS = ("first_name", "last_name", "company")


class SubmissionRefused(Exception):
    """The portal's tenant does not take this delivery: unknown, disabled, or a form off its
    allowlist. `code` names which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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


def parse_delivery(obj: Any, where: str = "") -> Submission:
    """A submission from the form webhook body, a workflow webhook's contact, or the legacy
    contact format with its `form-submissions`; InvalidSubmission names what is missing or
    wrong (`where` prefixes the field names: a batch's "[2].")."""
    if not isinstance(obj, Mapping):
        raise InvalidSubmission("invalid_body", f"{where or 'body'} must be a JSON object")
    check_storable(obj, where.rstrip(".") or "body")
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
        raise InvalidSubmission("missing_fields", f"missing: {', '.join(missing)}", missing)
    portal_id = check_portal_id(portal, f"{where}portalId")
    form_id = check_id(form, f"{where}formId")
    submission_id = check_id(submission, f"{where}formSubmissionId")
    fields = extract_fields(obj)
    _check_stored_fields(fields, where)
    if "email" not in fields:
        raise InvalidSubmission("missing_email", "the submission has no email", [f"{where}email"])
    try:
        email = normalise_email(fields["email"])
    except LeadRejected as exc:
        raise InvalidSubmission("invalid_email", str(exc), [f"{where}email"]) from None
    return Submission(
        portal_id=portal_id,
        form_id=form_id,
        submission_id=submission_id,
        email=email,
        fields=fields,
        submitted_at=_timestamp(
            _first(obj, "submittedAt", "timestamp") or _first(latest, "timestamp")
        ),
        payload=dict(obj),
    )


def _check_stored_fields(fields: Mapping[str, str], where: str) -> None:
    for name in STORED_FIELDS:
        if len(fields.get(name) or "") > MAX_ID_LENGTH:
            raise InvalidSubmission(
                "invalid_field",
                f"{name} is longer than {MAX_ID_LENGTH} characters",
                [f"{where}{name}"],
            )


def parse_deliveries(document: Any) -> list[Submission]:
    """One delivery or a batch of them (a JSON list), all of one portal."""
    if isinstance(document, list):
        if not document:
            raise InvalidSubmission("empty_batch", "the batch has no events")
        submissions = [parse_delivery(item, f"[{i}].") for i, item in enumerate(document)]
    else:
        submissions = [parse_delivery(document)]
    if len({s.portal_id for s in submissions}) != 1:
        raise InvalidSubmission("mixed_portals", "one delivery carries one portal's events")
    return submissions


def from_listing(portal_id: int, listed: UpstreamSubmission) -> Submission:
    """A submission of HubSpot's listing; LeadRejected when its email is missing or invalid,
    or when it cannot be stored as listed (an id or a name too long, a NUL character): the
    checks a webhook delivery gets, so one such entry is skipped, not a failed insert.

    The payload keeps the listing's own names, plus the portal and form a webhook body
    carries, so step 1 reads both alike.
    """
    payload = {
        "portalId": portal_id,
        "formId": listed.form_id,
        "conversionId": listed.conversion_id,
        "submittedAt": int(listed.submitted_at.timestamp() * 1000),
        "pageUrl": listed.page_url,
        "values": [{"name": name, "value": value} for name, value in listed.values.items()],
    }
    try:
        check_storable(payload, "listing")
        check_id(listed.form_id, "formId")
        check_id(listed.conversion_id, "conversionId")
        fields = extract_fields(payload)
        _check_stored_fields(fields, "")
    except InvalidSubmission as exc:
        raise LeadRejected(exc.message, field=next(iter(exc.fields), None)) from None
    return Submission(
        portal_id=portal_id,
        form_id=listed.form_id,
        submission_id=listed.conversion_id,
        email=normalise_email(fields.get("email", "")),
        fields=fields,
        submitted_at=listed.submitted_at,
        payload=payload,
    )


def from_fields(
    portal_id: int, form_id: str, submission_id: str, fields: dict[str, str], email: str
) -> Submission:
    """A submission of fields already by our names (an imported row) and its normalised email.

    The payload takes the form webhook's own shape, so step 1 reads it like any other.
    """
    payload = {
        "portalId": portal_id,
        "formId": form_id,
        "formSubmissionId": submission_id,
        "fieldValues": [{"name": name, "value": value} for name, value in fields.items()],
    }
    return Submission(portal_id, form_id, submission_id, email, fields, None, payload)


def accept(
    session: Session | Connection,
    tenant: TenantRef,
    submission: Submission,
    source: SubmissionSource,
) -> Accepted:
    """Store the submission and its workflow unless the portal's id is already held."""
    return outbox.accept_submission(
        session,
        tenant,
        form_id=submission.form_id,
        hubspot_submission_id=submission.submission_id,
        payload=submission.payload,
        email=submission.email,
        first_name=submission.fields.get("first_name"),
        last_name=submission.fields.get("last_name"),
        company=submission.fields.get("company"),
        submitted_at=submission.submitted_at,
        source=source,
    )


def receive(
    connection: Session | Connection,
    submissions: Sequence[Submission],
    authenticate: Callable[[bytes | None], bool | None],
) -> list[Accepted]:
    """Accept one delivery's submissions (all of one portal) for the portal's tenant.

    `authenticate` gets the ciphertext of the tenant's webhook secret (None: it has none)
    and raises to refuse the delivery; it runs before anything else is told or written, so
    a forged delivery learns nothing more than that the portal is a tenant here. Then
    SubmissionRefused for a disabled tenant or a form off its own allowlist (empty: any
    form of its portal, the signature already proves the portal).

    `authenticate` returns True when it also verified the canary's synthetic marker (made
    with the same secret): the new workflows are then marked synthetic, in this transaction.
    """
    portal_id = submissions[0].portal_id
    tenant = intake_tenant(connection, portal_id)
    if tenant is None:
        raise SubmissionRefused("unknown_portal", f"portal {portal_id} is not a tenant here")
    synthetic = authenticate(tenant.webhook_secret) is True
    if tenant.disabled:
        raise SubmissionRefused("tenant_disabled", f"portal {portal_id} is disabled here")
    allowed = tenant.allowed_form_ids
    refused = [s.form_id for s in submissions if allowed and s.form_id not in allowed]
    if refused:
        raise SubmissionRefused("form_not_allowed", f"form {refused[0]} is not on the allowlist")
    accepted = [accept(connection, tenant, s, SubmissionSource.WEBHOOK) for s in submissions]
    if synthetic:
        mark_synthetic(connection, [a.workflow_id for a in accepted if not a.duplicate])
    return accepted


def recover(session: Session, tenant: TenantRef, listed: UpstreamSubmission) -> Accepted:
    """Accept a submission HubSpot lists (source reconciliation); LeadRejected when no lead
    can come of it. A webhook delivery that landed first keeps it (a duplicate)."""
    return accept(
        session, tenant, from_listing(tenant.portal_id, listed), SubmissionSource.RECONCILIATION
    )


def accept_imported(
    session: Session,
    tenant: TenantRef,
    import_id: uuid.UUID,
    submissions: Sequence[Submission],
) -> list[uuid.UUID]:
    """Store an import's submissions, whose ids are its own and new, in bulk; their workflow
    ids in order."""
    return outbox.accept_new(
        session, tenant, submissions, source=SubmissionSource.IMPORT, import_id=import_id
    )
