"""Owner routing: which mailbox a lead's mail is written in and sent from, and the owner's
working hours.

With routing on (the tenant's route_by_owner, else ROUTE_BY_OWNER) the lead's mail goes
in its HubSpot owner's mailbox when the tenant's Google identity may act for it
(domain-wide delegation for the owner's domain); otherwise, and for a lead without an
owner, in the tenant's sender's mailbox, as before.
"""

from __future__ import annotations

from sales_agent_pipeline.domain.models import Owner
from sales_agent_pipeline.domain.workflow import OwnerHours, TenantSettings
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadState


def routes_by_owner(tenant: TenantSettings, settings: Settings) -> bool:
    """Whether the tenant's leads go to their owners' mailboxes (its own setting first)."""
    return settings.route_by_owner if tenant.route_by_owner is None else tenant.route_by_owner


def tenant_sender(tenant: TenantSettings, settings: Settings) -> str | None:
    """The tenant's sending mailbox (its sender, else the environment's)."""
    found = tenant.sender_email or settings.resolved_sender_email
    return found.strip().lower() if found else None


def hours_of(tenant: TenantSettings, owner: Owner | None) -> OwnerHours | None:
    """The owner's working hours from the tenant's owner_hours, when it has them."""
    if owner is None or not owner.email:
        return None
    return tenant.owner_hours.get(owner.email.strip().lower())


def with_hours(owner: Owner | None, hours: OwnerHours | None) -> Owner | None:
    """The owner with the time zone of their hours (HubSpot gives owners none)."""
    if owner is None or hours is None or not hours.time_zone:
        return owner
    return owner.model_copy(update={"time_zone": hours.time_zone})


def choose_mailbox(
    services: Services, tenant: TenantSettings, owner: Owner | None
) -> tuple[str | None, str | None]:
    """The owner's mailbox (None: the tenant's sender) and, when routing was asked for but
    the sender stands in, why."""
    if not routes_by_owner(tenant, services.settings):
        return None, None
    if owner is None or not owner.email or owner.archived:
        return None, None
    address = owner.email.strip().lower()
    if address == tenant_sender(tenant, services.settings):
        return None, None
    if not services.delegated(tenant.tenant_id, address):
        return None, (
            f"the tenant's Google identity may not act for {address} (no domain-wide "
            "delegation): the tenant's sender writes the mail"
        )
    return address, None


def lead_mailbox(state: LeadState) -> str | None:
    """The mailbox step 2 chose for the lead (None: the tenant's sender)."""
    return state.contact.mailbox if state.contact is not None else None


def sending_address(state: LeadState, settings: Settings) -> str | None:
    """The address the lead's mail is in: its owner's, else the tenant's sender."""
    return lead_mailbox(state) or tenant_sender(state.item.tenant, settings)
