"""HubSpot communication preferences v3: subscription types, an address's statuses,
subscribe and unsubscribe (hubspot.communication_preferences' DefinitionApi and StatusApi).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body

from . import hubspot_subscriptions as subs
from .deps import PortalDep, StoreDep
from .errors import HubSpotError
from .state import Portal, SubscriptionStatus, iso, utcnow

router = APIRouter(tags=["hubspot-communication-preferences"])

JsonBody = Annotated[dict[str, Any], Body()]
API = "/communication-preferences/v3"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise HubSpotError(400, f"Invalid email address: {value!r}", "VALIDATION_ERROR")
    return value.strip()


def _request(
    portal: Portal, body: dict[str, Any]
) -> tuple[str, dict[str, Any], SubscriptionStatus]:
    """Check a PublicUpdateSubscriptionStatusRequest; answer the address, the subscription
    type and the legal basis given (as an unsaved status)."""
    email = _email(body.get("emailAddress"))
    sub_id = str(body.get("subscriptionId") or "")
    if not sub_id:
        raise HubSpotError(400, "subscriptionId is required", "VALIDATION_ERROR")
    definition = portal.subscription_types.get(sub_id)
    if definition is None or not definition.get("isActive", True):
        raise HubSpotError(
            400, f"Subscription {sub_id} does not exist or is not active", "VALIDATION_ERROR"
        )
    basis = body.get("legalBasis")
    if basis is not None and basis not in subs.LEGAL_BASES:
        raise HubSpotError(
            400, f"legalBasis must be one of {list(subs.LEGAL_BASES)}", "VALIDATION_ERROR"
        )
    explanation = body.get("legalBasisExplanation")
    if explanation is not None and not isinstance(explanation, str):
        raise HubSpotError(400, "legalBasisExplanation must be a string", "VALIDATION_ERROR")
    return email, definition, SubscriptionStatus("", basis, explanation)


def _save(
    portal: Portal, email: str, definition: dict[str, Any], status: SubscriptionStatus
) -> dict[str, Any]:
    portal.email_statuses.setdefault(email.lower(), {})[definition["id"]] = status
    return subs.status_json(definition, status, "SUBSCRIPTION_STATUS")


@router.get(f"{API}/definitions")
def definitions(store: StoreDep, portal: PortalDep) -> dict[str, Any]:
    """The portal's subscription types."""
    with store.locked():
        return {"subscriptionDefinitions": [dict(d) for d in portal.subscription_types.values()]}


@router.get(f"{API}/status/email/{{email_address}}")
def email_status(email_address: str, store: StoreDep, portal: PortalDep) -> dict[str, Any]:
    """The address's subscription statuses (the types it has a status for)."""
    email = _email(email_address)
    with store.locked():
        return {"recipient": email, "subscriptionStatuses": subs.statuses(portal, email)}


@router.post(f"{API}/unsubscribe")
def unsubscribe(body: JsonBody, store: StoreDep, portal: PortalDep) -> dict[str, Any]:
    """Unsubscribe an address from one subscription type (an address already unsubscribed
    is HubSpot's 400)."""
    with store.locked():
        email, definition, wanted = _request(portal, body)
        current = subs.status_of(portal, email, definition["id"])
        if current is not None and current[0].status == subs.NOT_SUBSCRIBED:
            raise HubSpotError(
                400,
                f"{email} is already unsubscribed from subscription {definition['id']}",
                "VALIDATION_ERROR",
            )
        wanted.status = subs.NOT_SUBSCRIBED
        return _save(portal, email, definition, wanted)


@router.post(f"{API}/subscribe")
def subscribe(body: JsonBody, store: StoreDep, portal: PortalDep) -> dict[str, Any]:
    """Subscribe an address to one subscription type; one that opted out cannot be
    resubscribed through v3 (HubSpot's 400). Already subscribed: the status as it is."""
    with store.locked():
        email, definition, wanted = _request(portal, body)
        current = subs.status_of(portal, email, definition["id"])
        if current is not None and current[0].status == subs.NOT_SUBSCRIBED:
            raise HubSpotError(
                400,
                f"{email} has opted out of subscription {definition['id']} and cannot be "
                "resubscribed",
                "VALIDATION_ERROR",
            )
        if current is not None:
            return subs.status_json(definition, *current)
        wanted.status = subs.SUBSCRIBED
        return _save(portal, email, definition, wanted)


V4 = "/communication-preferences/v4"
BATCH_LIMIT = 100


@router.post(f"{V4}/statuses/batch/read")
def batch_statuses(
    body: JsonBody, store: StoreDep, portal: PortalDep, channel: str | None = None
) -> dict[str, Any]:
    """v4's batch read of subscription statuses (channel=EMAIL): per input address, its
    statuses (only the types it has one for), each with subscriptionId, status and source."""
    if channel != "EMAIL":
        raise HubSpotError(400, "channel must be EMAIL", "VALIDATION_ERROR")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise HubSpotError(400, "inputs must be a non-empty list", "VALIDATION_ERROR")
    if len(inputs) > BATCH_LIMIT:
        raise HubSpotError(400, f"at most {BATCH_LIMIT} inputs", "VALIDATION_ERROR")
    emails = [_email(value) for value in inputs]
    started = iso(utcnow())
    with store.locked():
        results = [
            {
                "subscriberIdString": email,
                "statuses": [
                    {
                        "subscriberIdString": email,
                        "subscriptionId": int(status["id"]),
                        "subscriptionName": status["name"],
                        "channel": "EMAIL",
                        "status": status["status"],
                        "source": status["sourceOfStatus"],
                        "legalBasis": status["legalBasis"],
                        "legalBasisExplanation": status["legalBasisExplanation"],
                        "timestamp": started,
                    }
                    for status in subs.statuses(portal, email)
                ],
            }
            for email in emails
        ]
    return {
        "status": "COMPLETE",
        "results": results,
        "requestedAt": started,
        "startedAt": started,
        "completedAt": iso(utcnow()),
    }
