"""Idempotency records of external writes: claimed before the call, completed after it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import IdempotencyKey
from sales_agent_pipeline.domain.enums import IdempotencyStatus


def begin(
    session: Session, scope: str, key: str, workflow_id: uuid.UUID | None
) -> tuple[IdempotencyKey, bool]:
    """The record for (scope, key), locked, and whether this call created it."""
    inserted = session.execute(
        insert(IdempotencyKey)
        .values(scope=scope, key=key, workflow_id=workflow_id)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(IdempotencyKey.id)
    ).scalar()
    record = session.execute(
        select(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        .with_for_update()
    ).scalar_one()
    return record, inserted is not None


def complete(session: Session, record_id: int, result: dict[str, Any]) -> None:
    """Store the write's result: later attempts reuse it instead of writing again."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == record_id)
        .values(
            status=IdempotencyStatus.COMPLETED.value,
            result=result,
            error_message=None,
            completed_at=utcnow(),
        )
    )


def fail(session: Session, record_id: int, message: str) -> None:
    """The write was refused (a 4xx): nothing happened upstream, a later attempt may retry."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == record_id)
        .values(status=IdempotencyStatus.FAILED.value, error_message=message[:2000])
    )


def reopen(session: Session, record_id: int) -> None:
    """Mark a failed record pending again before a new attempt."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == record_id)
        .values(status=IdempotencyStatus.PENDING.value)
    )
