"""Exactly-once external writes backed by idempotency records in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.repositories import idempotency
from sales_agent_pipeline.domain.enums import IdempotencyStatus
from sales_agent_pipeline.domain.errors import PermanentError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def _open(
    session: Session, scope: str, key: str, workflow_id: uuid.UUID
) -> tuple[int, str, dict[str, Any] | None, bool]:
    """The (scope, key) record, made pending when new and reopened when it failed: its id,
    status as found, stored result and whether it is new."""
    record, created = idempotency.begin(session, scope, key, workflow_id)
    record_id, status, stored = record.id, record.status, record.result
    if status == IdempotencyStatus.FAILED.value:
        idempotency.reopen(session, record_id)
    return record_id, status, stored, created


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
            record_id, status, stored, created = _open(session, scope, key, self._workflow_id)
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


class PostgresEffectStore:
    """The effects' records in PostgreSQL: per workflow, or a batch of workflows at once."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def for_workflow(self, workflow_id: uuid.UUID) -> PostgresEffects:
        """The effects of one workflow."""
        return PostgresEffects(self._sessions, workflow_id)

    def once_many(
        self,
        scope: str,
        items: Mapping[uuid.UUID, T],
        action: Callable[[list[T]], list[M]],
        *,
        model: type[M],
    ) -> dict[uuid.UUID, M]:
        """Write what no earlier attempt wrote, in one `action` call, once per workflow.

        Each workflow's record is written (pending) before the call and completed with its
        result after it, as `once` does. A record left pending by a crash is not written
        here: the per-workflow `once` looks for that object by its marker first. When the
        call fails, the records stay pending (some writes may have landed).
        """
        done: dict[uuid.UUID, M] = {}
        fresh: list[tuple[uuid.UUID, int]] = []
        with self._sessions.begin() as session:
            for workflow_id in items:
                record_id, status, stored, created = _open(
                    session, scope, str(workflow_id), workflow_id
                )
                if status == IdempotencyStatus.COMPLETED.value and stored is not None:
                    done[workflow_id] = model.model_validate(stored)
                elif created or status == IdempotencyStatus.FAILED.value:
                    fresh.append((workflow_id, record_id))
        if not fresh:
            return done
        results = action([items[workflow_id] for workflow_id, _ in fresh])
        with self._sessions.begin() as session:
            for (workflow_id, record_id), result in zip(fresh, results, strict=True):
                idempotency.complete(session, record_id, result.model_dump(mode="json"))
                done[workflow_id] = result
        return done
