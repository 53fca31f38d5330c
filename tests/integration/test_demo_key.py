"""The admin key `sales-agent up` prints for the demo tenant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.cli.demo import ensure_demo_tenant
from sales_agent_pipeline.cli.demo_key import KEY_FILE, demo_api_key
from sales_agent_pipeline.db.repositories.api_keys import authenticate, revoke


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions whose commits are savepoints of one transaction that is rolled back."""
    with engine.connect() as connection:
        outer = connection.begin()
        try:
            yield sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        finally:
            outer.rollback()


def test_the_demo_key_works_survives_a_restart_and_is_replaced_once_revoked(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    tenant = ensure_demo_tenant(sessions)

    key = demo_api_key(sessions, tmp_path, tenant.id)
    with sessions.begin() as session:
        found = authenticate(session, key)
        assert found is not None
        assert (found.tenant_id, found.is_admin) == (tenant.id, True)
        prefix = found.key_prefix
    stored = tmp_path / KEY_FILE
    assert stored.read_text() == key
    assert stored.stat().st_mode & 0o777 == 0o600

    assert demo_api_key(sessions, tmp_path, tenant.id) == key  # a warm restart

    with sessions.begin() as session:
        assert revoke(session, tenant.id, prefix) == 1
    fresh = demo_api_key(sessions, tmp_path, tenant.id)
    assert fresh != key
    assert stored.read_text() == fresh
    with sessions.begin() as session:
        assert authenticate(session, fresh) is not None
