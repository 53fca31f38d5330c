"""A tenant's connectors with shared windows: a tenant without a HubSpot token fails closed,
naming its portal, before anything is written to the shared windows."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.vendors import tenant_crm


def test_a_tenant_without_a_token_fails_before_its_window_is_written() -> None:
    # Nothing listens on port 1: reaching the database would be an OperationalError.
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    live = Settings(_env_file=None, hubspot_access_token="pat-environment", sandbox=False)
    with pytest.raises(ConfigurationError, match="portal 8 has no HubSpot token stored"):
        tenant_crm(
            engine,
            sessionmaker(engine),
            live,
            TenantCredentials(portal_id=8),
            tenant_id=uuid.uuid4(),
        )
