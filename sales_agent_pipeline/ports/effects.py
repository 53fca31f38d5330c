"""Exactly-once external writes: what the effect steps need besides the vendors."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class Effects(Protocol):
    """Runs an external write at most once per (scope, key), remembering its result."""

    def once(
        self,
        scope: str,
        key: str,
        action: Callable[[], M],
        *,
        model: type[M],
        recover: Callable[[], M | None] | None = None,
    ) -> M:
        """The stored result when the write already happened, else the action's result.

        A record left pending by a crash is resolved with `recover` (looking the object up
        by a marker the write set) before the action runs again.
        """
        ...


class EffectStore(Protocol):
    """Where the effects' records are kept: one workflow's, or a batch's at once."""

    def for_workflow(self, workflow_id: uuid.UUID) -> Effects:
        """The effects of one workflow."""
        ...

    def once_many(
        self,
        scope: str,
        items: Mapping[uuid.UUID, T],
        action: Callable[[list[T]], list[M]],
        *,
        model: type[M],
    ) -> dict[uuid.UUID, M]:
        """One write per workflow (key: its id) for many at once, in one `action` call.

        Workflows whose write already completed get the stored result; those a crashed
        attempt left pending are not written here (the per-workflow `once` recovers them
        first). When `action` fails the records stay pending and nothing is returned for
        them: some writes may have landed.
        """
        ...
