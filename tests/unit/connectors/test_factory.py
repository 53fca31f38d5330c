"""Pure rules of the per-tenant connectors: budgets by app kind, and which HubSpot token a
tenant's calls carry (never another's, never the environment's)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from sales_agent_pipeline.connectors.factory import (
    SANDBOX_HUBSPOT_TOKEN,
    hubspot_requests_per_10s,
    hubspot_token,
)
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.enums import HubSpotAuth
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.settings import Settings


def test_budgets_follow_the_app_kind() -> None:
    settings = Settings(_env_file=None)
    private = TenantCredentials(portal_id=1, hubspot_auth=HubSpotAuth.PRIVATE_APP)
    public = TenantCredentials(portal_id=2, hubspot_auth=HubSpotAuth.OAUTH)
    assert hubspot_requests_per_10s(settings, private) == 190
    assert hubspot_requests_per_10s(settings, public) == 110
    assert hubspot_requests_per_10s(settings) == 190


def test_a_tenant_uses_its_own_token_or_fails_closed() -> None:
    own = TenantCredentials(portal_id=7, hubspot_token=SecretStr("pat-seven"))
    bare = TenantCredentials(portal_id=8)
    live = Settings(_env_file=None, hubspot_access_token="pat-environment", sandbox=False)
    assert hubspot_token(live, own) == "pat-seven"
    with pytest.raises(ConfigurationError, match="portal 8 has no HubSpot token stored"):
        hubspot_token(live, bare)
    # Only sandbox mode lends the sandbox's token to a tenant that stores none.
    assert hubspot_token(Settings(_env_file=None, sandbox=True), bare) == SANDBOX_HUBSPOT_TOKEN
    # Without a tenant, a single-tenant process keeps the environment's token.
    assert hubspot_token(live) == "pat-environment"
