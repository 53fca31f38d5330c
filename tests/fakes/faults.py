"""What every fake vendor shares: a count of its requests and errors queued for the next ones."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sales_agent_pipeline.domain.errors import PipelineError


@dataclass(frozen=True)
class _Fault:
    error: PipelineError
    after_write: bool


class FakeVendor:
    """A vendor's requests, counted per port method, and the faults queued for them."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._faults: dict[str, deque[_Fault]] = {}

    def fail_next(
        self, method: str, error: PipelineError, *, times: int = 1, after_write: bool = False
    ) -> None:
        """Make the next `times` requests of `method` raise `error`.

        With `after_write` the request does its write first and then raises, as a vendor
        that answers 500 after committing, or a connection lost before the answer, does.
        """
        if method.startswith("_") or not callable(getattr(self, method, None)):
            raise AttributeError(f"{type(self).__name__} has no port method {method!r}")
        queue = self._faults.setdefault(method, deque())
        queue.extend(_Fault(error, after_write) for _ in range(times))

    @contextmanager
    def request(self, method: str) -> Iterator[None]:
        """One request to the vendor: counted, and failed before or after its write when a
        fault is queued for it."""
        self.calls[method] += 1
        queue = self._faults.get(method)
        fault = queue.popleft() if queue else None
        if fault is not None and not fault.after_write:
            raise fault.error
        yield
        if fault is not None:
            raise fault.error
