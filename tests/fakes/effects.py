"""Exactly-once writes in memory, with the pending, completed and failed records
PostgresEffects keeps, and a way to die between a write and its record."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel

from sales_agent_pipeline.domain.errors import PermanentError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class Crash(Exception):
    """The process died after the write and before its record was completed."""


class Status(StrEnum):
    """The state of one (scope, key) record."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class FakeEffects:
    """The Effects and EffectStore ports over a dict of (scope, key) -> record.

    Mirrors PostgresEffects: a record is pending from before the write until its result
    is stored; a stored result is returned (read back from JSON) instead of writing again;
    a record left pending is first resolved with `recover`; a PermanentError marks it
    failed (nothing was written) and the next attempt writes again; any other error leaves
    it pending (the write may have landed). All workflows share the records, as they
    share the table.
    """

    def __init__(self) -> None:
        self.status: dict[tuple[str, str], Status] = {}
        self.results: dict[tuple[str, str], dict[str, Any]] = {}
        self._crashes: set[str] = set()

    def crash_after_next(self, scope: str) -> None:
        """The next write of `scope` happens, then the process dies (Crash) before its
        record is completed: the record stays pending."""
        self._crashes.add(scope)

    def result(self, scope: str, key: str) -> dict[str, Any] | None:
        """The stored result of a completed write, as JSON."""
        return self.results.get((scope, key))

    def _begin(self, record: tuple[str, str]) -> tuple[Status | None, bool]:
        """The record's status before this attempt and whether this attempt made it."""
        before = self.status.get(record)
        if before is None or before is Status.FAILED:
            self.status[record] = Status.PENDING
        return before, before is None

    def _complete(self, record: tuple[str, str], result: BaseModel) -> None:
        self.status[record] = Status.COMPLETED
        self.results[record] = result.model_dump(mode="json")

    def once(
        self,
        scope: str,
        key: str,
        action: Callable[[], M],
        *,
        model: type[M],
        recover: Callable[[], M | None] | None = None,
    ) -> M:
        """The stored result when the write already happened, else the action's result."""
        record = (scope, key)
        before, created = self._begin(record)
        if before is Status.COMPLETED:
            return model.model_validate(self.results[record])
        if not created and before is Status.PENDING and recover is not None:
            found = recover()
            if found is not None:
                self._complete(record, found)
                return found
        try:
            result = action()
        except PermanentError:
            self.status[record] = Status.FAILED
            raise
        if scope in self._crashes:
            self._crashes.discard(scope)
            raise Crash(f"died after {scope} {key} and before its record")
        self._complete(record, result)
        return result

    def for_workflow(self, workflow_id: uuid.UUID) -> FakeEffects:
        """The effects of one workflow (the records are shared, as in the table)."""
        return self

    def once_many(
        self,
        scope: str,
        items: Mapping[uuid.UUID, T],
        action: Callable[[list[T]], list[M]],
        *,
        model: type[M],
    ) -> dict[uuid.UUID, M]:
        """One write per workflow for many at once; pending ones are left to `once`."""
        done: dict[uuid.UUID, M] = {}
        fresh: list[uuid.UUID] = []
        for workflow_id in items:
            record = (scope, str(workflow_id))
            before, created = self._begin(record)
            if before is Status.COMPLETED:
                done[workflow_id] = model.model_validate(self.results[record])
            elif created or before is Status.FAILED:
                fresh.append(workflow_id)
        if not fresh:
            return done
        results = action([items[workflow_id] for workflow_id in fresh])
        for workflow_id, result in zip(fresh, results, strict=True):
            self._complete((scope, str(workflow_id)), result)
            done[workflow_id] = result
        return done
