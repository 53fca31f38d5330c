"""Exactly-once external writes: what the effect steps need besides the vendors."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from pydantic import BaseModel

from sales_agent_pipeline.domain.effects import BatchWrite

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

        A write that may have landed (a timeout, a 5xx, a crash) is looked up with
        `recover` (by a marker the write set) before the action runs again; while the
        vendor's search may still lag behind it, a miss raises WriteInProgress (retry
        later) instead of writing. So does a record another live attempt holds.
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
        action: Callable[[Mapping[str, T]], BatchWrite[M]],
        *,
        model: type[M],
    ) -> dict[uuid.UUID, M]:
        """One write per workflow (key: its id) for many at once, in one `action` call.

        `action` gets the items by key (each input's trace id) and answers what it
        created and what was refused, by key. Workflows whose write already completed get
        the stored result; those whose write may have landed earlier are not written here.
        Inputs with no matched result (a timeout, a 5xx, a result without its trace id)
        become uncertain: the per-workflow `once` looks them up before writing.
        """
        ...
