"""Step 2: the lead's HubSpot contact, upserted by email, and the owner HubSpot gave it."""

import pytest

from sales_agent_pipeline.domain.errors import TransientError
from sales_agent_pipeline.ports.vendors import CRM
from sales_agent_pipeline.steps.resolve_contact import resolve_contact, resolve_contacts
from tests.fakes import FakeCRM
from tests.unit.steps.examples import lead


def test_a_new_lead_becomes_a_contact_with_the_form_fields() -> None:
    crm = FakeCRM()
    result = resolve_contact(
        crm, lead("Jane@Acme.example", first_name="Jane", job_title="CTO", industry="Robotics")
    )
    assert result.contact.created is True
    assert result.owner is None
    stored = crm.get_contact(result.contact.id)
    assert (stored.email, stored.first_name, stored.job_title) == (
        "jane@acme.example",
        "Jane",
        "CTO",
    )
    # Only HubSpot's contact properties are written, never our own fields.
    assert "industry" not in stored.properties


def test_the_same_email_again_updates_the_one_contact_without_erasing_it() -> None:
    crm = FakeCRM()
    first = resolve_contact(crm, lead("jane@acme.example", first_name="Jane", phone="555-0100"))
    again = resolve_contact(crm, lead("JANE@acme.example", job_title="CTO", phone=""))
    assert again.contact.id == first.contact.id
    assert again.contact.created is False
    assert len(crm.contacts) == 1
    stored = crm.get_contact(first.contact.id)
    # An empty form field never erases what HubSpot already knows.
    assert (stored.first_name, stored.phone, stored.job_title) == ("Jane", "555-0100", "CTO")


def test_a_contact_hubspot_assigned_comes_with_its_owner() -> None:
    crm = FakeCRM()
    owner = crm.add_owner("alex@ourco.example", "Alex", time_zone="America/New_York")
    crm.upsert_contact("jane@acme.example", {"hubspot_owner_id": owner.id})
    result = resolve_contact(crm, lead("jane@acme.example", first_name="Jane"))
    assert result.owner == owner
    assert result.contact.owner_id == owner.id


def test_a_hubspot_error_reaches_the_caller_with_nothing_written() -> None:
    crm = FakeCRM()
    crm.fail_next("upsert_contact", TransientError("HubSpot 429", http_status=429))
    with pytest.raises(TransientError):
        resolve_contact(crm, lead("jane@acme.example"))
    assert crm.contacts == {}
    assert resolve_contact(crm, lead("jane@acme.example")).contact.created is True


def test_a_batch_of_leads_gets_its_contacts_and_owners_by_lower_case_email() -> None:
    fake = FakeCRM()
    owner = fake.add_owner("alex@ourco.example", "Alex")
    known = fake.upsert_contact("old@acme.example", {"hubspot_owner_id": owner.id})
    crm: CRM = fake
    results = resolve_contacts(
        crm,
        [
            lead("New@Acme.example", first_name="Nia"),
            lead("old@acme.example", job_title="CFO"),
            lead("new@acme.example", job_title="CTO"),
        ],
    )
    assert set(results) == {"new@acme.example", "old@acme.example"}
    assert results["old@acme.example"].contact.id == known.id
    assert results["old@acme.example"].owner == owner
    assert results["new@acme.example"].owner is None
    # One lead submitted twice in the batch is one contact with both forms' values.
    new = fake.get_contact(results["new@acme.example"].contact.id)
    assert (new.first_name, new.job_title) == ("Nia", "CTO")
    assert len(fake.contacts) == 2


def test_a_batch_upserts_100_contacts_a_request() -> None:
    crm = FakeCRM()
    results = resolve_contacts(crm, [lead(f"buyer{n}@acme.example") for n in range(250)])
    assert len(results) == len(crm.contacts) == 250
    assert crm.calls["upsert_contacts"] == 3
