"""API keys: issued once in plaintext, stored as a SHA-256 hash, looked up by that hash."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import ApiKey

# Recognisable in logs, config files and secret scanners.
KEY_PREFIX = "sak_"
# The stored prefix: enough of the key to tell keys apart in a listing, never enough to use.
_SHOWN_CHARS = 12
# last_used_at is informational: rewrite it at most this often, not on every request.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `key` is the plaintext, shown once and never stored."""

    id: uuid.UUID
    key: str
    prefix: str


def hash_key(presented: str) -> str:
    """The stored form of a key (hex SHA-256; see ApiKey for why a fast hash is right)."""
    return hashlib.sha256(presented.encode("utf-8")).hexdigest()


def issue_key(session: Session, tenant_id: uuid.UUID, *, name: str, admin: bool) -> IssuedKey:
    """Create a key for the tenant; the caller commits, then shows `key` once."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        tenant_id=tenant_id,
        name=name,
        key_prefix=key[:_SHOWN_CHARS],
        key_hash=hash_key(key),
        is_admin=admin,
    )
    session.add(row)
    session.flush()
    return IssuedKey(id=row.id, key=key, prefix=row.key_prefix)


def authenticate(session: Session, presented: str) -> ApiKey | None:
    """The live key matching `presented` (its tenant loaded), or None (unknown or revoked)."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 256:
        return None
    key = session.scalar(
        select(ApiKey)
        .where(ApiKey.key_hash == hash_key(presented), ApiKey.revoked_at.is_(None))
        # The caller needs the tenant (its portal) on every request: one query, not two.
        .options(joinedload(ApiKey.tenant))
    )
    if key is None:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
        # At most once a minute per key, so the row lock it takes is rare; the caller
        # commits at once (the API authenticates in a transaction of its own).
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        key.last_used_at = now
    return key


def list_keys(session: Session, tenant_id: uuid.UUID) -> list[ApiKey]:
    """The tenant's keys, oldest first (revoked ones included)."""
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)
        )
    )


def revoke(session: Session, tenant_id: uuid.UUID, prefix: str) -> int:
    """Revoke the tenant's live keys with this prefix; how many were revoked."""
    result = session.execute(
        update(ApiKey)
        .where(
            ApiKey.tenant_id == tenant_id,
            ApiKey.key_prefix == prefix,
            ApiKey.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .returning(ApiKey.id)
    )
    return len(result.all())
