"""The prospect's time zone: HubSpot's contact property, a form field, or their country.

HubSpot's contact property `hs_timezone` is an enumeration whose values spell an IANA name
in lower case with "/" as "_slash_" and "-" as "_hyphen_" ("america_slash_new_york",
"africa_slash_porto_hyphen_novo", "europe_slash_london"), plus a few legacy single names
("eire", "japan"). Every value, whatever its source, is checked against the zone database;
an unknown one is ignored, never an error (a lead's typo must not fail the lead).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import pytz  # type: ignore[import-untyped]  # no stubs installed; two dicts read

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import Contact

HUBSPOT_TIMEZONE_PROPERTY = "hs_timezone"
HUBSPOT_COUNTRY_PROPERTY = "country"
# Form fields, by their key without separators ("Time Zone", "time_zone", "tz").
_ZONE_FIELDS = ("timezone", "tz", "hstimezone")
_COUNTRY_FIELDS = ("country", "countrycode", "countryregion")
# When a country's zones keep the same clock all year (Germany's Berlin and Büsingen), any
# one of them will do; these instants span two years' DST changes.
_PROBES = [
    datetime(year, month, 15, 12, tzinfo=UTC) for year in (2026, 2027) for month in range(1, 13)
]


@cache
def _zones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


@cache
def _countries_by_name() -> dict[str, str]:
    # pytz's ISO 3166 names ("Germany", "United States"), a few common other spellings.
    names = {name.lower(): code for code, name in pytz.country_names.items()}
    names |= {
        "usa": "US",
        "united states of america": "US",
        "uk": "GB",
        "united kingdom": "GB",
        "england": "GB",
        "great britain": "GB",
        "deutschland": "DE",
        "allemagne": "DE",
        "alemania": "DE",
        "france": "FR",
        "frankreich": "FR",
        "francia": "FR",
        "espana": "ES",
        "españa": "ES",
        "spanien": "ES",
        "espagne": "ES",
        "osterreich": "AT",
        "österreich": "AT",
        "schweiz": "CH",
        "suisse": "CH",
        "netherlands": "NL",
        "the netherlands": "NL",
        "holland": "NL",
        "italia": "IT",
        "italien": "IT",
    }
    return names


def valid_zone(value: str | None) -> str | None:
    """An IANA zone name as the zone database spells it, from any casing, or None."""
    if not value:
        return None
    name = _zones_by_lower_name().get(value.strip().lower())
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ValueError, OSError):
        return None
    return name


def hubspot_zone(value: str | None) -> str | None:
    """HubSpot's `hs_timezone` value ("europe_slash_berlin") as an IANA name, or None."""
    if not value:
        return None
    text = value.strip().lower().replace("_slash_", "/").replace("_hyphen_", "-")
    return valid_zone(text)


def country_zone(country: str | None) -> str | None:
    """The zone of a country (ISO code or name) when all of it keeps one clock, else None."""
    if not country:
        return None
    text = country.strip()
    code = text.upper() if len(text) == 2 else _countries_by_name().get(text.lower())
    zones = [z for z in pytz.country_timezones.get(code or "", []) if valid_zone(z)]
    if not zones:
        return None
    first = ZoneInfo(zones[0])
    for other in zones[1:]:
        if any(
            probe.astimezone(first).utcoffset() != probe.astimezone(ZoneInfo(other)).utcoffset()
            for probe in _PROBES
        ):
            return None
    return zones[0]


def _field(fields: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    for name, value in fields.items():
        if re.sub(r"[^a-z0-9]", "", name.lower()) in keys and value and value.strip():
            return value
    return None


def prospect_timezone(lead: Lead | None, contact: Contact | None) -> str | None:
    """The prospect's IANA zone: HubSpot's, the form's, else their country's; None if unknown."""
    props = contact.properties if contact else {}
    fields = lead.fields if lead else {}
    for found in (
        hubspot_zone(props.get(HUBSPOT_TIMEZONE_PROPERTY)),
        valid_zone(_field(fields, _ZONE_FIELDS)),
        # A form field written in HubSpot's own spelling (a form mapped to hs_timezone).
        hubspot_zone(_field(fields, _ZONE_FIELDS)),
        country_zone(_field(fields, _COUNTRY_FIELDS)),
        country_zone(props.get(HUBSPOT_COUNTRY_PROPERTY)),
    ):
        if found:
            return found
    return None
