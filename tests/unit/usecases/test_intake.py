"""Lead intake's pure parts: each source of a submission becomes the same Submission, and a
delivery that cannot be one is refused naming the fields at fault."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sales_agent_pipeline.domain.errors import LeadRejected
from sales_agent_pipeline.domain.models import UpstreamSubmission
from sales_agent_pipeline.domain.submission import InvalidSubmission
from sales_agent_pipeline.steps.validate_payload import validate_payload
from sales_agent_pipeline.usecases.intake import (
    from_fields,
    from_listing,
    parse_deliveries,
    parse_delivery,
)

PORTAL = 4242
AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
AT_MS = int(AT.timestamp() * 1000)


def form_webhook(**extra: Any) -> dict[str, Any]:
    """The form webhook's body for one submission of Jane at Acme."""
    return {
        "portalId": PORTAL,
        "formId": "f-1",
        "formSubmissionId": "s-1",
        "submittedAt": AT_MS,
        "fieldValues": [
            {"name": "email", "value": "Jane.Doe@Acme-Robotics.example"},
            {"name": "firstname", "value": "Jane"},
            {"name": "company", "value": "Acme"},
        ],
        **extra,
    }


def test_a_form_webhook_body_becomes_a_submission_keeping_its_payload() -> None:
    body = form_webhook()
    submission = parse_delivery(body)
    assert (submission.portal_id, submission.form_id, submission.submission_id) == (
        PORTAL,
        "f-1",
        "s-1",
    )
    assert submission.email == "jane.doe@acme-robotics.example"
    assert submission.fields == {
        "email": "Jane.Doe@Acme-Robotics.example",
        "first_name": "Jane",
        "company": "Acme",
    }
    assert submission.submitted_at == AT
    assert submission.payload == body
    assert submission.payload is not body


def test_the_legacy_contact_variant_reads_its_latest_form_submission() -> None:
    submission = parse_delivery(
        {
            "vid": 101,
            "properties": {"email": {"value": "legacy@acme-robotics.example"}},
            "form-submissions": [
                {"conversion-id": "old", "form-id": "f-0", "portal-id": 1, "timestamp": 1},
                {"conversion-id": "conv-1", "form-id": "f-1", "portal-id": PORTAL,
                 "timestamp": AT_MS},
            ],
        }
    )  # fmt: skip
    assert (submission.portal_id, submission.form_id, submission.submission_id) == (
        PORTAL,
        "f-1",
        "conv-1",
    )
    assert (submission.email, submission.submitted_at) == ("legacy@acme-robotics.example", AT)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-24T12:00:00Z", AT),
        (str(AT_MS), AT),
        ("yesterday", None),
        (10**30, None),
    ],
)
def test_the_submission_time_is_milliseconds_or_iso_and_unreadable_is_none(
    value: Any, expected: datetime | None
) -> None:
    assert parse_delivery(form_webhook(submittedAt=value)).submitted_at == expected


@pytest.mark.parametrize(
    ("body", "code", "fields"),
    [
        ([], "invalid_body", []),
        ({"portalId": PORTAL, "fieldValues": []}, "missing_fields", ["formId", "formSubmissionId"]),
        (form_webhook(portalId="x"), "invalid_field", ["portalId"]),
        (form_webhook(fieldValues=[{"name": "firstname", "value": "Jo"}]), "missing_email",
         ["email"]),
        (form_webhook(fieldValues=[{"name": "email", "value": "jo@"}]), "invalid_email",
         ["email"]),
    ],
    ids=["not-an-object", "missing", "portal-not-a-number", "no-email", "bad-email"],
)  # fmt: skip
def test_a_body_that_cannot_be_a_submission_names_why_and_where(
    body: Any, code: str, fields: list[str]
) -> None:
    with pytest.raises(InvalidSubmission) as excinfo:
        parse_delivery(body)
    assert (excinfo.value.code, excinfo.value.fields) == (code, fields)


def test_a_batch_names_the_event_at_fault_and_holds_one_portal() -> None:
    good = [form_webhook(formSubmissionId=f"s-{i}") for i in range(3)]
    assert [s.submission_id for s in parse_deliveries(good)] == ["s-0", "s-1", "s-2"]
    assert [s.submission_id for s in parse_deliveries(good[0])] == ["s-0"]
    with pytest.raises(InvalidSubmission) as broken:
        parse_deliveries([*good, {"portalId": PORTAL, "formId": "f-1"}])
    assert (broken.value.code, broken.value.fields) == ("missing_fields", ["[3].formSubmissionId"])
    with pytest.raises(InvalidSubmission) as not_object:
        parse_deliveries([good[0], "x"])
    assert not_object.value.code == "invalid_body"
    with pytest.raises(InvalidSubmission) as empty:
        parse_deliveries([])
    assert empty.value.code == "empty_batch"
    with pytest.raises(InvalidSubmission) as mixed:
        parse_deliveries([good[0], form_webhook(portalId=PORTAL + 1)])
    assert mixed.value.code == "mixed_portals"


def test_a_listed_submission_is_shaped_as_a_webhook_body_step_1_reads_alike() -> None:
    listed = UpstreamSubmission(
        conversion_id="conv-9",
        form_id="f-1",
        submitted_at=AT,
        values={"email": "Lee@Initech.example", "lastname": "Lee"},
        page_url="https://example.com/contact",
    )
    submission = from_listing(PORTAL, listed)
    assert submission.payload == {
        "portalId": PORTAL,
        "formId": "f-1",
        "conversionId": "conv-9",
        "submittedAt": AT_MS,
        "pageUrl": "https://example.com/contact",
        "values": [
            {"name": "email", "value": "Lee@Initech.example"},
            {"name": "lastname", "value": "Lee"},
        ],
    }
    assert (submission.email, submission.submission_id, submission.submitted_at) == (
        "lee@initech.example",
        "conv-9",
        AT,
    )
    assert submission.fields == {"email": "Lee@Initech.example", "last_name": "Lee"}
    lead = validate_payload(submission.payload, allowed_form_ids=["f-1"], now=AT).lead
    assert (lead.email, lead.last_name, lead.form_id) == ("lee@initech.example", "Lee", "f-1")


def test_a_listed_submission_without_a_usable_email_is_rejected() -> None:
    for values in ({"firstname": "Jo"}, {"email": "jo@"}):
        listed = UpstreamSubmission(
            conversion_id="c", form_id="f-1", submitted_at=AT, values=values
        )
        with pytest.raises(LeadRejected, match="not valid"):
            from_listing(PORTAL, listed)


def test_an_imported_row_takes_the_form_webhooks_shape() -> None:
    fields = {"email": "Ana@Acme.example", "first_name": "Ana", "budget": "10k"}
    submission = from_fields(PORTAL, "import", "import:x:1", fields, "ana@acme.example")
    assert submission.payload == {
        "portalId": PORTAL,
        "formId": "import",
        "formSubmissionId": "import:x:1",
        "fieldValues": [
            {"name": "email", "value": "Ana@Acme.example"},
            {"name": "first_name", "value": "Ana"},
            {"name": "budget", "value": "10k"},
        ],
    }
    assert (submission.email, submission.submitted_at) == ("ana@acme.example", None)
    # Parsed back as a delivery, it is the same submission.
    assert parse_delivery(submission.payload) == submission
