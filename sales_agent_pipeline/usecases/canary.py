"""The synthetic canary: a lead posted through the real webhook, signed exactly as HubSpot
signs (v3) and marked synthetic with the portal's own secret (connectors/synthetic_marker).

It runs only where it cannot reach a real prospect: in sandbox mode on the sandbox's portal
(the demo tenant), or on CANARY_PORTAL_ID with CANARY_INBOX as the lead's address (a test
mailbox: its plus-address, so each canary is a lead of its own and no repeat-submitter
throttle holds it). Its workflow runs like any other, drafted only, and is left out of usage
and reconciliation. Nothing here waits for the lead: the alerts read how it ends.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session

from sales_agent_pipeline.connectors import synthetic_marker
from sales_agent_pipeline.connectors.hubspot_signature import sign_v3
from sales_agent_pipeline.db.repositories.intake import intake_tenant
from sales_agent_pipeline.secretbox import SecretDecryptError, secret_box
from sales_agent_pipeline.settings import Settings

# The sandbox's default portal, the demo tenant's (cli/demo.py's DEMO_PORTAL; the CLI sits
# above this layer, so the number is repeated here).
SANDBOX_PORTAL = 1000
# The lead's address in sandbox mode without CANARY_INBOX: a domain nothing delivers to.
SANDBOX_INBOX = "canary@canary.example.com"
# The form a tenant without a form allowlist gets the canary's lead on.
CANARY_FORM = "sales-agent-canary"
WEBHOOK_PATH = "/webhook/formlead"


class CanaryFailed(Exception):
    """The webhook did not accept the canary's lead; the message says how (no secret)."""


@dataclass(frozen=True)
class CanaryTarget:
    """Where the canary may post: the portal, the lead's address, the API's webhook."""

    portal_id: int
    inbox: str
    webhook_url: str


@dataclass(frozen=True)
class CanaryLead:
    """One canary lead ready to post: its body, its headers (signed, marked), where to."""

    url: str
    body: bytes
    headers: dict[str, str]
    submission_id: str
    email: str
    portal_id: int


@dataclass(frozen=True)
class CanaryPosted:
    """The webhook's receipt for the canary's lead."""

    workflow_id: uuid.UUID
    submission_id: str
    status: str
    portal_id: int


def api_url(settings: Settings) -> str:
    """Where the canary reaches the API: API_PUBLIC_URL when set (the way HubSpot comes in),
    else API_HOST:API_PORT."""
    if settings.api_public_url:
        return settings.api_public_url.rstrip("/")
    host = settings.api_host
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 (recognised, never bound)
        # A bind-all address is no address to call.
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}"


def target(settings: Settings) -> CanaryTarget | str:
    """Where the canary runs under these settings, or why it does not (a SkipReason's text)."""
    if not settings.canary_enabled:
        return "the canary is off (CANARY_ENABLED=false)"
    webhook = api_url(settings) + WEBHOOK_PATH
    if settings.sandbox_mode:
        return CanaryTarget(
            settings.canary_portal_id or SANDBOX_PORTAL,
            settings.canary_inbox or SANDBOX_INBOX,
            webhook,
        )
    missing = [
        name
        for name, value in (
            ("CANARY_PORTAL_ID", settings.canary_portal_id),
            ("CANARY_INBOX", settings.canary_inbox),
        )
        if not value
    ]
    if missing:
        return (
            "not in sandbox mode and "
            + " and ".join(missing)
            + (" is" if len(missing) == 1 else " are")
            + " not set: the canary posts only to the sandbox or to a test portal whose lead "
            "is a test inbox"
        )
    assert settings.canary_portal_id is not None
    assert settings.canary_inbox is not None
    return CanaryTarget(settings.canary_portal_id, settings.canary_inbox, webhook)


def lead_address(inbox: str, tag: str) -> str:
    """The inbox's plus-address for one canary (mail to it lands in the inbox)."""
    local, _, domain = inbox.strip().rpartition("@")
    local = local.split("+", 1)[0]
    return f"{local}+canary-{tag}@{domain}"


def prepare(
    session: Session, settings: Settings, where: CanaryTarget, now_ms: int | None = None
) -> CanaryLead | str:
    """The canary's lead for the portal's tenant, signed with its webhook secret and marked
    synthetic; or why there is none (no such tenant, disabled, no secret)."""
    tenant = intake_tenant(session, where.portal_id)
    if tenant is None:
        return f"portal {where.portal_id} is not a tenant here"
    if tenant.disabled:
        return f"portal {where.portal_id} is disabled"
    if tenant.webhook_secret is None:
        return f"portal {where.portal_id} has no webhook secret to sign the canary's lead with"
    try:
        secret = secret_box(settings).decrypt(tenant.webhook_secret)
    except SecretDecryptError:
        return f"the webhook secret of portal {where.portal_id} cannot be decrypted"
    tag = uuid.uuid4().hex[:12]
    submission_id = f"canary-{tag}"
    email = lead_address(where.inbox, tag)
    stamp = now_ms if now_ms is not None else int(time.time() * 1000)
    document = {
        "portalId": where.portal_id,
        "formId": tenant.allowed_form_ids[0] if tenant.allowed_form_ids else CANARY_FORM,
        "formSubmissionId": submission_id,
        "submittedAt": stamp,
        "fieldValues": [
            {"name": "email", "value": email},
            {"name": "firstname", "value": "Canary"},
            {"name": "lastname", "value": "Synthetic"},
            {"name": "company", "value": "Sales Agent Canary"},
            {"name": "message", "value": "A synthetic lead checking the pipeline end to end."},
        ],
    }
    body = json.dumps(document).encode()
    headers = {
        **sign_v3(secret, "POST", where.webhook_url, body, stamp),
        synthetic_marker.HEADER: synthetic_marker.mark(secret, body),
        "Content-Type": "application/json",
    }
    return CanaryLead(where.webhook_url, body, headers, submission_id, email, where.portal_id)


def post(lead: CanaryLead, client: httpx.Client) -> CanaryPosted:
    """Post the lead to the webhook; CanaryFailed unless it is accepted (202)."""
    try:
        response = client.post(lead.url, content=lead.body, headers=lead.headers)
    except httpx.HTTPError as exc:
        raise CanaryFailed(f"the webhook at {lead.url} did not answer: {exc}") from exc
    if response.status_code != 202:
        # The error body names a code and a reason, never a secret or the lead's fields.
        raise CanaryFailed(
            f"the webhook answered {response.status_code} to the canary's lead: "
            f"{response.text[:300]}"
        )
    receipt = response.json()
    return CanaryPosted(
        uuid.UUID(receipt["workflow_id"]), lead.submission_id, receipt["status"], lead.portal_id
    )
