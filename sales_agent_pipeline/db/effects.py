"""Exactly-once external writes backed by idempotency records in PostgreSQL.

Each record is opened (and leased to its owner) in one short transaction before the vendor
call and settled in another after it; no row lock is held across the call. The rules of
what an attempt may do are in domain/effects.py.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.repositories import idempotency
from sales_agent_pipeline.domain.effects import (
    BatchWrite,
    EffectPolicy,
    Move,
    Opened,
    nothing_written,
    run_once,
)
from sales_agent_pipeline.settings import Settings

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def process_owner() -> str:
    """The lease owner of callers outside a Dagster run (the API, the CLI): this process."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def effect_policy(settings: Settings) -> EffectPolicy:
    """The lease and lag window the settings ask for."""
    return EffectPolicy(
        lease_seconds=settings.idempotency_lease_seconds,
        lag_window_seconds=settings.search_lag_window_seconds,
    )


class _Record:
    """One (scope, key) record for one attempt; each method is its own transaction."""

    def __init__(
        self, effects: PostgresEffects, scope: str, key: str, workflow_id: uuid.UUID
    ) -> None:
        self._effects = effects
        self._scope, self._key, self._workflow_id = scope, key, workflow_id
        self._id = 0

    def _session(self) -> AbstractContextManager[Session]:
        return self._effects.sessions.begin()

    def open(self) -> Opened:
        with self._session() as session:
            self._id, opened = idempotency.open_one(
                session,
                self._scope,
                self._key,
                self._workflow_id,
                self._effects.owner,
                self._effects.policy.lease_seconds,
            )
        return opened

    def attempt(self) -> None:
        with self._session() as session:
            idempotency.attempt(session, self._id, self._effects.policy.lease_seconds)

    def complete(self, result: dict[str, Any]) -> None:
        with self._session() as session:
            idempotency.complete(session, {self._id: result})

    def fail(self, message: str) -> None:
        with self._session() as session:
            idempotency.fail(session, [self._id], message)

    def uncertain(self) -> None:
        with self._session() as session:
            idempotency.uncertain(session, [self._id])

    def release(self) -> None:
        with self._session() as session:
            idempotency.release(session, self._id)


class PostgresEffects:
    """Effects for one workflow, leased to `owner` (a run's id; this process by default)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        workflow_id: uuid.UUID,
        *,
        owner: str | None = None,
        policy: EffectPolicy | None = None,
    ) -> None:
        self.sessions = sessions
        self.owner = owner or process_owner()
        self.policy = policy or EffectPolicy()
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
        """Run `action` unless (scope, key) already completed; look up an uncertain write
        first; WriteInProgress while another owner's attempt holds the record."""
        return run_once(
            _Record(self, scope, key, self._workflow_id),
            action,
            model=model,
            recover=recover,
            policy=self.policy,
            what=f"{scope} {key}",
        )


class PostgresEffectStore:
    """The effects' records in PostgreSQL: per workflow, or a batch of workflows at once."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        owner: str | None = None,
        policy: EffectPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._owner = owner or process_owner()
        self._policy = policy or EffectPolicy()

    def for_workflow(self, workflow_id: uuid.UUID) -> PostgresEffects:
        """The effects of one workflow."""
        return PostgresEffects(self._sessions, workflow_id, owner=self._owner, policy=self._policy)

    def once_many(
        self,
        scope: str,
        items: Mapping[uuid.UUID, T],
        action: Callable[[Mapping[str, T]], BatchWrite[M]],
        *,
        model: type[M],
    ) -> dict[uuid.UUID, M]:
        """Write what no earlier attempt may have written, in one `action` call keyed by
        each workflow's id (the trace id of its input).

        Records are opened in one transaction and settled in one after the call: results
        complete theirs, refusals fail theirs, and every other input (unmatched, a server
        error, a timeout) is uncertain: the per-workflow `once` looks it up before writing.
        Records already uncertain or leased by another owner are not written here.
        """
        workflows = {str(workflow_id): workflow_id for workflow_id in items}
        with self._sessions.begin() as session:
            opened = idempotency.open_many(
                session, scope, workflows, self._owner, self._policy.lease_seconds
            )
        done = {
            workflows[key]: model.model_validate(found.stored)
            for key, (_, found) in opened.items()
            if found.move is Move.DONE
        }
        fresh = {key: rid for key, (rid, found) in opened.items() if found.move is Move.WRITE}
        if not fresh:
            return done
        try:
            written = action({key: items[workflows[key]] for key in fresh})
        except Exception as exc:
            with self._sessions.begin() as session:
                if nothing_written(exc):
                    idempotency.fail(session, fresh.values(), str(exc))
                else:
                    idempotency.uncertain(session, fresh.values())
            raise
        created = {key: result for key, result in written.created.items() if key in fresh}
        refused = {key: reason for key, reason in written.refused.items() if key in fresh}
        unsettled = [rid for key, rid in fresh.items() if key not in created and key not in refused]
        with self._sessions.begin() as session:
            idempotency.complete(
                session, {fresh[key]: r.model_dump(mode="json") for key, r in created.items()}
            )
            for key, reason in refused.items():
                idempotency.fail(session, [fresh[key]], reason)
            if unsettled:
                idempotency.uncertain(session, unsettled)
        done.update({workflows[key]: result for key, result in created.items()})
        return done
