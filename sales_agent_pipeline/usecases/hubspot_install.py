"""The HubSpot app installed in a portal: its tenant made (or updated) with the grant.

The grant's tokens are encrypted at rest, the tenant switched to OAuth (a re-authorisation
cleared), and the app's client secret kept as the tenant's webhook secret: HubSpot signs an
app's webhooks with it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.hubspot_grants import store_grant
from sales_agent_pipeline.db.repositories.tenant_secrets import delete_secret, put_secret
from sales_agent_pipeline.domain.credentials import OAuthGrant
from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind
from sales_agent_pipeline.secretbox import SecretBox


@dataclass(frozen=True)
class Installed:
    """The portal's tenant after the install."""

    portal_id: int
    tenant_name: str
    created: bool
    disabled: bool


def install_grant(
    sessions: sessionmaker[Session], box: SecretBox, grant: OAuthGrant, *, client_secret: str
) -> Installed:
    """Create or update the grant's portal's tenant with the grant, in one transaction."""
    portal = grant.hub_id
    with sessions.begin() as session:
        # The unique portal id decides a race between two callbacks, not a prior SELECT.
        created = session.scalar(
            insert(Tenant)
            .values(
                id=uuid.uuid4(),
                portal_id=portal,
                name=f"HubSpot portal {portal}",
                hubspot_auth=HubSpotAuth.OAUTH.value,
            )
            .on_conflict_do_nothing(index_elements=[Tenant.portal_id])
            .returning(Tenant.id)
        )
        tenant = session.scalars(
            select(Tenant).where(Tenant.portal_id == portal).with_for_update()
        ).one()
        # Both tokens encrypted, the tenant switched to OAuth, a re-authorisation cleared.
        store_grant(session, box, tenant, grant)
        put_secret(session, box, tenant.id, SecretKind.WEBHOOK_SECRET, client_secret)
        # A private app's token would only mislead now that the grant authenticates.
        delete_secret(session, tenant.id, SecretKind.HUBSPOT_TOKEN)
        return Installed(
            portal_id=portal,
            tenant_name=tenant.name,
            created=created is not None,
            disabled=tenant.disabled_at is not None,
        )
