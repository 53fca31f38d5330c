"""Field names and emails as every source of a submission and step 1 agree on them."""

import pytest

from sales_agent_pipeline.domain.errors import LeadRejected
from sales_agent_pipeline.domain.submission import (
    canonical_field,
    extract_fields,
    field_text,
    normalise_email,
)


def test_multi_select_values_and_unknown_fields_are_kept() -> None:
    fields = extract_fields(
        {
            "fieldValues": [
                {"name": "email", "value": "a@b.example"},
                {"name": "products", "value": ["robots", "arms"]},
                {"name": "Budget", "value": " 10k "},
                {"name": "empty", "value": ""},
            ]
        }
    )
    assert fields == {"email": "a@b.example", "products": "robots;arms", "budget": "10k"}


def test_the_first_of_several_spellings_of_a_field_wins() -> None:
    fields = extract_fields(
        {
            "fieldValues": [{"name": "email", "value": "first@b.example"}],
            "properties": {"Work Email": "second@b.example", "Company Name": "Acme"},
        }
    )
    assert fields == {"email": "first@b.example", "company": "Acme"}


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("E-mail", "email"),
        ("First Name", "first_name"),
        ("  last_name ", "last_name"),
        ("Organisation", "company"),
        ("How can we help?", "interest"),
        (" Favourite Colour ", "favourite colour"),
    ],
)
def test_headers_and_labels_map_onto_our_names(header: str, canonical: str) -> None:
    assert canonical_field(header) == canonical


def test_values_become_text() -> None:
    assert field_text(["a", None, {"value": "b"}]) == "a;b"
    assert field_text({"value": " c "}) == "c"
    assert field_text(None) == ""
    assert field_text(42) == "42"


def test_an_email_is_normalised_and_a_bad_one_rejected_naming_the_field() -> None:
    assert normalise_email("Jane.Doe@Acme-Robotics.EXAMPLE") == "jane.doe@acme-robotics.example"
    with pytest.raises(LeadRejected, match="not valid") as excinfo:
        normalise_email("jane@")
    assert excinfo.value.field == "email"
