"""Exactly-once writes in memory: the records PostgresEffects keeps (status, lease, calls
made, uncertain since), judged by the same rules (domain/effects.py), on a clock the test
moves, with a way to die between a write and its record."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from sales_agent_pipeline.domain.effects import (
    BatchWrite,
    EffectPolicy,
    Found,
    Move,
    Opened,
    judge,
    nothing_written,
    run_once,
)
from sales_agent_pipeline.domain.enums import IdempotencyStatus

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

Status = IdempotencyStatus
START = datetime(2026, 11, 24, 9, tzinfo=UTC)


class Crash(Exception):
    """The process died after the write and before its record was completed."""


@dataclass(frozen=True)
class Record:
    """One (scope, key) record, as the table's row holds it."""

    found: Found
    result: dict[str, Any] | None = None


class _Shared:
    """What every view of the fake shares: the records, the clock, the crashes to come."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], Record] = {}
        self.now = START
        self.crashes: set[str] = set()
        self.lock = threading.RLock()


class _Attempt:
    """One attempt at one record (the EffectRecord the shared flow drives)."""

    def __init__(self, effects: FakeEffects, scope: str, key: str) -> None:
        self._effects, self._record = effects, (scope, key)
        self._shared = effects._shared

    def _set(self, **changes: Any) -> None:
        record = self._shared.records[self._record]
        found = replace(record.found, last_change=self._shared.now, **changes)
        self._shared.records[self._record] = Record(found, record.result)

    def open(self) -> Opened:
        return self._effects._open(self._record)

    def attempt(self) -> None:
        with self._shared.lock:
            found = self._shared.records[self._record].found
            self._set(write_attempts=found.write_attempts + 1, uncertain_since=None)

    def complete(self, result: dict[str, Any]) -> None:
        with self._shared.lock:
            if self._record[0] in self._shared.crashes:
                self._shared.crashes.discard(self._record[0])
                raise Crash(f"died after {self._record} and before its record")
            record = self._shared.records[self._record]
            found = replace(
                record.found,
                status=Status.COMPLETED,
                lease_expires_at=None,
                last_change=self._shared.now,
            )
            self._shared.records[self._record] = Record(found, result)

    def fail(self, message: str) -> None:
        with self._shared.lock:
            self._set(status=Status.FAILED, uncertain_since=None, lease_expires_at=None)

    def uncertain(self) -> None:
        with self._shared.lock:
            self._set(uncertain_since=self._shared.now, lease_expires_at=None)

    def release(self) -> None:
        with self._shared.lock:
            self._set(lease_expires_at=None)


class FakeEffects:
    """The Effects and EffectStore ports over a dict of (scope, key) -> record.

    Mirrors PostgresEffects (the same flow and rules): a stored result is returned (read
    back from JSON) instead of writing again; a write that may have landed is looked up
    with `recover` first, and a miss within the lag window is a WriteInProgress; another
    owner's live lease is a WriteInProgress; a refusal marks the record failed and the
    next attempt writes. All workflows share the records, as they share the table;
    `as_owner` is another run over the same records, `advance` moves the clock.
    """

    def __init__(
        self,
        *,
        owner: str = "run-1",
        policy: EffectPolicy | None = None,
        shared: _Shared | None = None,
    ) -> None:
        self.owner = owner
        self.policy = policy or EffectPolicy()
        self._shared = shared or _Shared()

    def as_owner(self, owner: str) -> FakeEffects:
        """Another run (or process) over the same records and clock."""
        return FakeEffects(owner=owner, policy=self.policy, shared=self._shared)

    def advance(self, seconds: float) -> None:
        """Let time pass for leases and the lag window."""
        self._shared.now += timedelta(seconds=seconds)

    def crash_after_next(self, scope: str) -> None:
        """The next write of `scope` happens, then the process dies (Crash) before its
        record is completed: the record stays pending, under its live lease."""
        self._shared.crashes.add(scope)

    def record(self, scope: str, key: str) -> Found | None:
        """The record of (scope, key) as the table would show it."""
        found = self._shared.records.get((scope, key))
        return None if found is None else found.found

    def result(self, scope: str, key: str) -> dict[str, Any] | None:
        """The stored result of a completed write, as JSON."""
        found = self._shared.records.get((scope, key))
        return None if found is None else found.result

    def _open(self, record: tuple[str, str], *, lease_looks: bool = True) -> Opened:
        shared, now = self._shared, self._shared.now
        with shared.lock:
            existing = shared.records.get(record)
            lease = now + timedelta(seconds=self.policy.lease_seconds)
            if existing is None:
                found = Found(Status.PENDING, self.owner, lease, 1, None, now)
                shared.records[record] = Record(found)
                return Opened(Move.WRITE, now)
            opened = judge(existing.found, self.owner, now)
            taken = replace(existing.found, lease_owner=self.owner, lease_expires_at=lease)
            if opened.move is Move.WRITE:
                taken = replace(
                    taken,
                    status=Status.PENDING,
                    write_attempts=taken.write_attempts + 1,
                    uncertain_since=None,
                    last_change=now,
                )
                shared.records[record] = Record(taken, existing.result)
            elif opened.move is Move.LOOK and lease_looks:
                taken = replace(taken, uncertain_since=opened.since, last_change=now)
                shared.records[record] = Record(taken, existing.result)
            return replace(opened, stored=existing.result)

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
        return run_once(
            _Attempt(self, scope, key),
            action,
            model=model,
            recover=recover,
            policy=self.policy,
            what=f"{scope} {key}",
        )

    def for_workflow(self, workflow_id: uuid.UUID) -> FakeEffects:
        """The effects of one workflow (the records are shared, as in the table)."""
        return self

    def once_many(
        self,
        scope: str,
        items: Mapping[uuid.UUID, T],
        action: Callable[[Mapping[str, T]], BatchWrite[M]],
        *,
        model: type[M],
    ) -> dict[uuid.UUID, M]:
        """One write per workflow for many at once, traced by key; what the batch does not
        settle is uncertain (left to `once`), as in PostgresEffectStore."""
        done: dict[uuid.UUID, M] = {}
        fresh: dict[str, uuid.UUID] = {}
        for workflow_id in items:
            opened = self._open((scope, str(workflow_id)), lease_looks=False)
            if opened.move is Move.DONE:
                done[workflow_id] = model.model_validate(opened.stored)
            elif opened.move is Move.WRITE:
                fresh[str(workflow_id)] = workflow_id
        if not fresh:
            return done
        try:
            written = action({key: items[workflow_id] for key, workflow_id in fresh.items()})
        except Exception as exc:
            for key in fresh:
                self._settle(scope, key, None, str(exc) if nothing_written(exc) else None)
            raise
        for key, workflow_id in fresh.items():
            made = written.created.get(key)
            self._settle(scope, key, made, written.refused.get(key))
            if made is not None:
                done[workflow_id] = made
        return done

    def _settle(self, scope: str, key: str, made: BaseModel | None, refused: str | None) -> None:
        attempt = _Attempt(self, scope, key)
        if made is not None:
            attempt.complete(made.model_dump(mode="json"))
        elif refused is not None:
            attempt.fail(refused)
        else:
            attempt.uncertain()
