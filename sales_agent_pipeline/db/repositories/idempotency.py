"""Idempotency records of external writes: opened (and leased) before the call, settled
after it. The moves are judged in domain/effects.py; these statements apply them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import IdempotencyKey
from sales_agent_pipeline.domain.effects import Found, Move, Opened, judge
from sales_agent_pipeline.domain.enums import IdempotencyStatus

_TABLE = cast(Table, IdempotencyKey.__table__)


def _lease(seconds: float) -> ColumnElement[datetime]:
    return func.now() + timedelta(seconds=seconds)


def _found(record: IdempotencyKey) -> Found:
    return Found(
        status=IdempotencyStatus(record.status),
        lease_owner=record.lease_owner,
        lease_expires_at=record.lease_expires_at,
        write_attempts=record.write_attempts,
        uncertain_since=record.uncertain_since,
        last_change=record.updated_at,
    )


def _take(session: Session, ids: list[int], move: Move, owner: str, lease: float) -> None:
    """Apply WRITE (lease, count the call, nothing uncertain yet) or LOOK (lease, and
    remember since when the write is uncertain: a crashed call's, from its count)."""
    if not ids or move not in (Move.WRITE, Move.LOOK):
        return
    values: dict[str, Any] = {"lease_owner": owner, "lease_expires_at": _lease(lease)}
    if move is Move.WRITE:
        values.update(
            status=IdempotencyStatus.PENDING.value,
            write_attempts=IdempotencyKey.write_attempts + 1,
            uncertain_since=None,
        )
    else:
        values["uncertain_since"] = func.coalesce(
            IdempotencyKey.uncertain_since, IdempotencyKey.updated_at
        )
    session.execute(update(IdempotencyKey).where(IdempotencyKey.id.in_(ids)).values(**values))


def _insert_leased(
    session: Session, scope: str, keys: Mapping[str, uuid.UUID | None], owner: str, lease: float
) -> dict[str, tuple[int, datetime]]:
    """Create the records that do not exist yet, leased and counted for their first call
    (one statement: the happy path's whole opening)."""
    rows = session.execute(
        insert(IdempotencyKey)
        .values(
            [
                {
                    "scope": scope,
                    "key": key,
                    "workflow_id": workflow_id,
                    "lease_owner": owner,
                    "lease_expires_at": _lease(lease),
                    "write_attempts": 1,
                }
                for key, workflow_id in keys.items()
            ]
        )
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(IdempotencyKey.key, IdempotencyKey.id, func.now())
    ).all()
    return {key: (record_id, now) for key, record_id, now in rows}


def _lock(
    session: Session, scope: str, keys: Iterable[str]
) -> list[tuple[IdempotencyKey, datetime]]:
    rows = session.execute(
        select(IdempotencyKey, func.now())
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key.in_(list(keys)))
        .order_by(IdempotencyKey.key)
        .with_for_update()
    ).all()
    return [(record, now) for record, now in rows]


def open_one(
    session: Session,
    scope: str,
    key: str,
    workflow_id: uuid.UUID | None,
    owner: str,
    lease: float,
) -> tuple[int, Opened]:
    """The (scope, key) record, created or locked, with the move judged and applied."""
    inserted = _insert_leased(session, scope, {key: workflow_id}, owner, lease)
    if key in inserted:
        record_id, now = inserted[key]
        return record_id, Opened(Move.WRITE, now)
    ((record, now),) = _lock(session, scope, [key])
    opened = judge(_found(record), owner, now)
    _take(session, [record.id], opened.move, owner, lease)
    return record.id, Opened(
        opened.move, now, record.result, lease_left=opened.lease_left, since=opened.since
    )


def open_many(
    session: Session,
    scope: str,
    keys: Mapping[str, uuid.UUID | None],
    owner: str,
    lease: float,
) -> dict[str, tuple[int, Opened]]:
    """Many records at once, for a batch write: only WRITE records are leased (and counted);
    the others are left as found (an uncertain one is for the per-workflow look-up)."""
    if not keys:
        return {}
    opened: dict[str, tuple[int, Opened]] = {
        key: (record_id, Opened(Move.WRITE, now))
        for key, (record_id, now) in _insert_leased(session, scope, keys, owner, lease).items()
    }
    writes: list[int] = []
    for record, now in _lock(session, scope, [k for k in keys if k not in opened]):
        judged = judge(_found(record), owner, now)
        opened[record.key] = (record.id, Opened(judged.move, now, record.result))
        if judged.move is Move.WRITE:
            writes.append(record.id)
    _take(session, writes, Move.WRITE, owner, lease)
    return opened


def attempt(session: Session, record_id: int, lease: float) -> None:
    """Count one more call for a leased record, whose earlier write was not found."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == record_id)
        .values(
            write_attempts=IdempotencyKey.write_attempts + 1,
            lease_expires_at=_lease(lease),
            uncertain_since=None,
        )
    )


def complete(session: Session, results: Mapping[int, dict[str, Any]]) -> None:
    """Store the writes' results (later attempts reuse them) and free their leases."""
    if not results:
        return
    session.execute(
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("record_id"))
        .values(
            status=IdempotencyStatus.COMPLETED.value,
            result=bindparam("stored"),
            error_message=None,
            completed_at=utcnow(),
            lease_expires_at=None,
        ),
        [{"record_id": record_id, "stored": result} for record_id, result in results.items()],
    )


def fail(session: Session, ids: Iterable[int], message: str) -> None:
    """Nothing was written (a refusal): a later attempt writes again without looking."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id.in_(list(ids)))
        .values(
            status=IdempotencyStatus.FAILED.value,
            error_message=message[:2000],
            uncertain_since=None,
            lease_expires_at=None,
        )
    )


def uncertain(session: Session, ids: Iterable[int]) -> None:
    """The calls ended without a trustworthy answer (a timeout, a 5xx): the objects may
    exist, and are looked for before any new write."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id.in_(list(ids)))
        .values(uncertain_since=func.now(), lease_expires_at=None)
    )


def release(session: Session, record_id: int) -> None:
    """Free a lease without settling the record."""
    session.execute(
        update(IdempotencyKey).where(IdempotencyKey.id == record_id).values(lease_expires_at=None)
    )


def claim(session: Session, scope: str, key: str) -> bool:
    """Use (scope, key) up once, with no external write behind it (an OAuth state's nonce):
    True the first time, False ever after."""
    inserted = session.execute(
        insert(IdempotencyKey)
        .values(
            scope=scope,
            key=key,
            status=IdempotencyStatus.COMPLETED.value,
            completed_at=func.now(),
        )
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(IdempotencyKey.id)
    ).scalar()
    return inserted is not None
