"""HubSpot email subscription state: the portal's subscription types, each address's
explicit statuses, and a contact's opt-out of all email (`hs_email_optout`).

An address's statuses list the types it has a status for (SUBSCRIBED or NOT_SUBSCRIBED,
sourceOfStatus SUBSCRIPTION_STATUS); a contact opted out of all email is NOT_SUBSCRIBED
to every type (PORTAL_WIDE_STATUS). A type it never had a status for is left out.
"""

from __future__ import annotations

from typing import Any

from .state import CrmObject, Portal, SubscriptionStatus

SUBSCRIBED = "SUBSCRIBED"
NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
STATUSES = (SUBSCRIBED, NOT_SUBSCRIBED)
# PublicUpdateSubscriptionStatusRequest's legalBasis values.
LEGAL_BASES = (
    "LEGITIMATE_INTEREST_PQL",
    "LEGITIMATE_INTEREST_CLIENT",
    "PERFORMANCE_OF_CONTRACT",
    "CONSENT_WITH_NOTICE",
    "NON_GDPR",
    "PROCESS_AND_STORE",
    "LEGITIMATE_INTEREST_OTHER",
)
OPTOUT = "hs_email_optout"
# Read-only contact properties a seed may set (HubSpot's API refuses writes to them).
SEEDABLE = frozenset({OPTOUT})


def _contact(portal: Portal, email: str) -> CrmObject | None:
    wanted = email.lower()
    for obj in portal.table("contacts").values():
        if not obj.archived and (obj.properties.get("email") or "").lower() == wanted:
            return obj
    return None


def opted_out_of_all(portal: Portal, email: str) -> bool:
    """Whether the address's contact unsubscribed from all email."""
    contact = _contact(portal, email)
    return contact is not None and (contact.properties.get(OPTOUT) or "").lower() == "true"


def status_of(portal: Portal, email: str, sub_id: str) -> tuple[SubscriptionStatus, str] | None:
    """The address's status for one type and its source; None when it has none."""
    if opted_out_of_all(portal, email):
        return SubscriptionStatus(NOT_SUBSCRIBED), "PORTAL_WIDE_STATUS"
    found = portal.email_statuses.get(email.lower(), {}).get(sub_id)
    return (found, "SUBSCRIPTION_STATUS") if found is not None else None


def status_json(
    definition: dict[str, Any], status: SubscriptionStatus, source: str
) -> dict[str, Any]:
    """A PublicSubscriptionStatus."""
    return {
        "id": definition["id"],
        "name": definition["name"],
        "description": definition["description"],
        "status": status.status,
        "sourceOfStatus": source,
        "brandId": None,
        "preferenceGroupName": None,
        "legalBasis": status.legal_basis,
        "legalBasisExplanation": status.legal_basis_explanation,
    }


def statuses(portal: Portal, email: str) -> list[dict[str, Any]]:
    """Every status the address has, one per active subscription type."""
    found = []
    for sub_id, definition in portal.subscription_types.items():
        current = status_of(portal, email, sub_id) if definition.get("isActive", True) else None
        if current is not None:
            found.append(status_json(definition, *current))
    return found


def optout_property(portal: Portal, obj: CrmObject, name: str) -> str | None:
    """A contact's `hs_email_optout_<subscription id>`: "true" when not subscribed,
    "false" when subscribed, None when it has no status for that type."""
    sub_id = name.removeprefix(f"{OPTOUT}_")
    email = obj.properties.get("email")
    if not email or sub_id not in portal.subscription_types:
        return None
    current = status_of(portal, email, sub_id)
    if current is None:
        return None
    return "true" if current[0].status == NOT_SUBSCRIBED else "false"


def is_optout_property(portal: Portal, name: str) -> bool:
    """Whether `name` is one of the per-type opt-out properties of the portal's types."""
    return name.startswith(f"{OPTOUT}_") and name.removeprefix(f"{OPTOUT}_") in (
        portal.subscription_types
    )


def seed_types(portal: Portal, items: list[dict[str, Any]]) -> list[str]:
    """Add (or replace) subscription types: id, name, description, purpose, isActive."""
    ids = []
    for item in items:
        sub_id = str(item["id"])
        if not sub_id.isdigit():
            raise ValueError(f"subscription type id must be numeric: {sub_id}")
        base = dict(next(iter(portal.subscription_types.values()), {}))
        base.update(
            id=sub_id,
            name=str(item["name"]),
            description=str(item.get("description", "")),
            purpose=str(item.get("purpose", "Marketing")),
            isActive=bool(item.get("isActive", True)),
            isDefault=bool(item.get("isDefault", False)),
        )
        portal.subscription_types[sub_id] = base
        ids.append(sub_id)
    return ids


def seed_statuses(portal: Portal, doc: dict[str, Any]) -> int:
    """Set addresses' statuses: {email: {subscription id: status or {status, legalBasis,
    legalBasisExplanation}}}; answer how many were set."""
    count = 0
    for email, by_type in doc.items():
        if "@" not in str(email) or not isinstance(by_type, dict):
            raise ValueError(f"emailSubscriptions wants {{email: {{id: status}}}}: {email}")
        for sub_id, value in by_type.items():
            item = value if isinstance(value, dict) else {"status": value}
            status = str(item.get("status", "")).upper()
            if str(sub_id) not in portal.subscription_types or status not in STATUSES:
                raise ValueError(f"unknown subscription {sub_id} or status {status!r}")
            basis = item.get("legalBasis")
            if basis is not None and basis not in LEGAL_BASES:
                raise ValueError(f"unknown legalBasis {basis!r}")
            portal.email_statuses.setdefault(str(email).lower(), {})[str(sub_id)] = (
                SubscriptionStatus(status, basis, item.get("legalBasisExplanation"))
            )
            count += 1
    return count
