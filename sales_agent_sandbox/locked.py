"""Sandbox state kept apart from the store: the running config, a lock of its own, a reset.

The credential registries and the request log are read on every request; with a lock of
their own they never wait behind a long search that holds the store's.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import SandboxConfig


class LockedState:
    """State behind its own lock, emptied by `reset` (the sandbox's reset calls it)."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything `_clear` sets up, under the lock."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        # Each kind says what it starts from (its empty tables, its fixed entries).
        raise NotImplementedError
