"""Step 1: every HubSpot payload variant becomes the same lead; bad leads are refused."""

from datetime import UTC, datetime, timedelta

import pytest

from sales_agent_pipeline.domain.errors import LeadRejected
from sales_agent_pipeline.steps.validate_payload import validate_payload

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FIELDS = {"email": "Jane.Doe@Acme-Robotics.example", "firstname": "Jane", "lastname": "Doe"}


@pytest.mark.parametrize(
    "payload",
    [
        {"fieldValues": [{"name": k, "value": v} for k, v in FIELDS.items()]},
        {"fields": [{"objectTypeId": "0-1", "name": k, "value": v} for k, v in FIELDS.items()]},
        {"values": [{"name": k, "value": v} for k, v in FIELDS.items()]},
        {"properties": FIELDS},
        {"properties": {k: {"value": v, "versions": []} for k, v in FIELDS.items()}},
        {"fieldValues": [{"name": "Email Address", "value": FIELDS["email"]},
                         {"name": "First Name", "value": "Jane"},
                         {"name": "last_name", "value": "Doe"}]},
    ],
    ids=["form-webhook", "forms-api", "submissions-listing", "contact-v3", "contact-legacy",
         "hand-built-labels"],
)  # fmt: skip
def test_payload_variants_give_one_lead(payload: dict[str, object]) -> None:
    outcome = validate_payload(payload, allowed_form_ids=[], form_id="f-1", now=NOW)
    lead = outcome.lead
    assert (lead.email, lead.email_domain) == (
        "jane.doe@acme-robotics.example",
        "acme-robotics.example",
    )
    assert (lead.first_name, lead.last_name, lead.full_name) == ("Jane", "Doe", "Jane Doe")
    assert outcome.skip_reason is None


def test_no_email_is_rejected_naming_the_field() -> None:
    with pytest.raises(LeadRejected) as excinfo:
        validate_payload(
            {"fieldValues": [{"name": "firstname", "value": "Jo"}]},
            allowed_form_ids=[],
            now=NOW,
        )
    assert excinfo.value.field == "email"


@pytest.mark.parametrize("address", ["not-an-email", "jane@", "jane@localhost", "a b@c.example"])
def test_bad_email_syntax_is_rejected(address: str) -> None:
    with pytest.raises(LeadRejected, match="not valid"):
        validate_payload({"properties": {"email": address}}, allowed_form_ids=[], now=NOW)


def test_a_form_off_the_allowlist_is_rejected() -> None:
    with pytest.raises(LeadRejected, match="allowlist"):
        validate_payload(
            {"formId": "other", "properties": {"email": "a@b.example"}},
            allowed_form_ids=["f-1"],
            now=NOW,
        )
    allowed = validate_payload(
        {"formId": "f-1", "properties": {"email": "a@b.example"}},
        allowed_form_ids=["f-1"],
        now=NOW,
    )
    assert allowed.lead.form_id == "f-1"


def test_a_repeat_submitter_inside_the_window_is_skipped_with_the_reason() -> None:
    payload = {"properties": {"email": "a@b.example"}}
    inside = validate_payload(
        payload,
        allowed_form_ids=[],
        previous_submission_at=NOW - timedelta(minutes=30),
        throttle_window=timedelta(hours=24),
        now=NOW,
    )
    assert inside.skip_reason is not None
    assert "30 min ago" in inside.skip_reason
    outside = validate_payload(
        payload,
        allowed_form_ids=[],
        previous_submission_at=NOW - timedelta(days=2),
        throttle_window=timedelta(hours=24),
        now=NOW,
    )
    assert outside.skip_reason is None
