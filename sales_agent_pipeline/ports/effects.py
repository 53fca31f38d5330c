"""What the steps need from the outside besides the vendors: exactly-once effects, history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


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
