"""Exactly-once external writes backed by idempotency records in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.repositories import idempotency
from sales_agent_pipeline.domain.enums import IdempotencyStatus
from sales_agent_pipeline.domain.errors import PermanentError

M = TypeVar("M", bound=BaseModel)


class PostgresEffects:
    """Effects for one workflow: each record is written in its own short transaction."""

    def __init__(self, sessions: sessionmaker[Session], workflow_id: uuid.UUID) -> None:
        self._sessions = sessions
        self._workflow_id = workflow_id

    def once(
        self,
        scope: str,
        key: str,
        action: Callable[[], M],
        *,
        model: type[M],
        recover: Callable[[], M | None] | None = None,
    ) -> M:
        """Run `action` unless (scope, key) already completed; recover a crashed attempt."""
        with self._sessions.begin() as session:
            record, created = idempotency.begin(session, scope, key, self._workflow_id)
            record_id, status, stored = record.id, record.status, record.result
            if status == IdempotencyStatus.FAILED.value:
                idempotency.reopen(session, record_id)
        if status == IdempotencyStatus.COMPLETED.value and stored is not None:
            return model.model_validate(stored)
        if not created and status == IdempotencyStatus.PENDING.value and recover is not None:
            # An earlier attempt died between the call and its record: did the write land?
            found = recover()
            if found is not None:
                self._complete(record_id, found)
                return found
        try:
            result = action()
        except PermanentError as exc:
            # A refusal means nothing was written upstream; transient errors leave the record
            # pending, since the write may have landed (a 500 after commit).
            with self._sessions.begin() as session:
                idempotency.fail(session, record_id, str(exc))
            raise
        self._complete(record_id, result)
        return result

    def _complete(self, record_id: int, result: BaseModel) -> None:
        with self._sessions.begin() as session:
            idempotency.complete(session, record_id, result.model_dump(mode="json"))
