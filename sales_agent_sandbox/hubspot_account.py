"""HubSpot's account information: which portal a token belongs to, and its settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter

from .deps import PortalDep
from .state import Portal, utcnow

router = APIRouter(tags=["hubspot-account"])

DEFAULTS: dict[str, Any] = {
    "accountType": "STANDARD",
    "timeZone": "US/Eastern",
    "companyCurrency": "USD",
    "additionalCurrencies": [],
    "uiDomain": "app.hubspot.com",
    "dataHostingLocation": "na1",
}


def _offset(zone_name: str, now: datetime) -> tuple[str, int]:
    try:
        offset = now.astimezone(ZoneInfo(zone_name)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        offset = None
    seconds = int(offset.total_seconds()) if offset is not None else 0
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}", seconds * 1000


def account_details(portal: Portal) -> dict[str, Any]:
    """The account-info body for a portal: HubSpot's defaults, then what was seeded."""
    details: dict[str, Any] = {"portalId": portal.id, **DEFAULTS, **portal.account}
    details["utcOffset"], details["utcOffsetMilliseconds"] = _offset(
        str(details["timeZone"]), utcnow()
    )
    return details


@router.get("/account-info/v3/details")
def details(portal: PortalDep) -> dict[str, Any]:
    """The account the request's token belongs to: portal id, time zone, currency..."""
    return account_details(portal)
