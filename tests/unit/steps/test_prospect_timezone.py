"""Step 8: the prospect's zone from HubSpot's hs_timezone, a form field, or their country."""

import pytest

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import Contact
from sales_agent_pipeline.steps.prospect_timezone import (
    country_zone,
    hubspot_zone,
    prospect_timezone,
)


def lead(**fields: str) -> Lead:
    return Lead(email="jo@acme.example", email_domain="acme.example", fields=fields)


def contact(**properties: str | None) -> Contact:
    return Contact(id="1", properties=properties)


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("america_slash_new_york", "America/New_York"),
        ("europe_slash_berlin", "Europe/Berlin"),
        ("africa_slash_porto_hyphen_novo", "Africa/Porto-Novo"),
        ("america_slash_argentina_slash_buenos_aires", "America/Argentina/Buenos_Aires"),
        ("us_slash_eastern", "US/Eastern"),
        ("not_a_zone", None),
        ("", None),
    ],
)
def test_hubspot_values_become_iana_names(value: str, zone: str | None) -> None:
    assert hubspot_zone(value) == zone


@pytest.mark.parametrize(
    ("country", "zone"),
    [
        ("DE", "Europe/Berlin"),  # Berlin and Büsingen keep one clock
        ("Germany", "Europe/Berlin"),
        ("fr", "Europe/Paris"),
        ("United Kingdom", "Europe/London"),
        ("Japan", "Asia/Tokyo"),
        ("US", None),  # several zones: not guessed
        ("Spain", None),  # the Canaries are an hour behind Madrid
        ("Narnia", None),
        ("", None),
    ],
)
def test_a_country_with_one_clock_gives_its_zone(country: str, zone: str | None) -> None:
    assert country_zone(country) == zone


def test_hubspot_property_comes_first() -> None:
    found = prospect_timezone(
        lead(timezone="Asia/Tokyo", country="France"),
        contact(hs_timezone="america_slash_chicago", country="Germany"),
    )
    assert found == "America/Chicago"


def test_a_form_field_comes_before_the_country() -> None:
    assert prospect_timezone(lead(time_zone="asia/tokyo", country="FR"), None) == "Asia/Tokyo"
    assert prospect_timezone(lead(tz="Europe/Madrid"), contact()) == "Europe/Madrid"


def test_the_country_is_the_last_resort() -> None:
    assert prospect_timezone(lead(country="Deutschland"), None) == "Europe/Berlin"
    assert prospect_timezone(lead(), contact(country="Japan")) == "Asia/Tokyo"


def test_unknown_values_are_ignored_never_an_error() -> None:
    found = prospect_timezone(
        lead(timezone="Mars/Olympus_Mons; DROP TABLE", country="Atlantis"),
        contact(hs_timezone="nowhere_slash_land", country="??"),
    )
    assert found is None
    assert prospect_timezone(None, None) is None
    assert prospect_timezone(lead(timezone="bogus"), contact(country="JP")) == "Asia/Tokyo"
