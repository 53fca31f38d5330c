"""The demo tenant's admin API key that `sales-agent up` prints."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import ApiKey
from sales_agent_pipeline.db.repositories.api_keys import hash_key, issue_key

KEY_FILE = "demo-api-key"


def demo_api_key(sessions: sessionmaker[Session], data_dir: Path, tenant_id: uuid.UUID) -> str:
    """The demo tenant's admin key, kept in the data dir so it survives a restart.

    A user pastes the key into curl or a client once; a new key on every start would break
    that and pile up admin keys. The file holds the only plaintext (the database keeps the
    hash), like the demo's webhook secret; a revoked key, or a database reset under the
    same data dir, gets a fresh key.
    """
    path = data_dir / KEY_FILE
    if path.exists():
        key = path.read_text().strip()
        with sessions() as session:
            live = session.scalar(
                select(ApiKey.id).where(
                    ApiKey.key_hash == hash_key(key),
                    ApiKey.tenant_id == tenant_id,
                    ApiKey.is_admin.is_(True),
                    ApiKey.revoked_at.is_(None),
                )
            )
        if live is not None:
            return key
    with sessions.begin() as session:
        issued = issue_key(session, tenant_id, name="demo admin (sales-agent up)", admin=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    # Created owner-only: never readable by others, not even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(issued.key)
    return issued.key
