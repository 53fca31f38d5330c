"""What both model writers share: the request quota, and reading the structured answer."""

from __future__ import annotations

import importlib
import json
import threading
from typing import Any, Protocol

from pydantic import ValidationError

from sales_agent_pipeline.connectors.ratelimit import SlidingWindows, UnitQuota, fingerprint
from sales_agent_pipeline.domain.drafting import DraftAnswer
from sales_agent_pipeline.domain.effects import NotSent
from sales_agent_pipeline.domain.errors import PermanentError, TransientError
from sales_agent_pipeline.domain.quotas import QUOTA_WINDOW_SECONDS

# A draft never waits long for a request slot: the template writer stands in sooner.
QUOTA_MAX_WAIT_SECONDS = 5.0
# The providers count requests per minute; the margin covers the time between our stamp
# and the server's, as for the other vendors' windows.
MINUTE_SECONDS = QUOTA_WINDOW_SECONDS


class Quota(Protocol):
    """A requests-per-minute window (db.quota.PostgresQuota across processes, or one
    process's MinuteWindow)."""

    def acquire(self, units: int, max_wait_seconds: float = ...) -> None:
        """Block until `units` fit in the window, then take them."""
        ...


class MinuteWindow:
    """Requests per minute inside one process: the fallback where no database is at hand
    (connector tests, the bench); the pipeline shares a PostgresQuota instead."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows = SlidingWindows({"requests": (max(1, per_minute), MINUTE_SECONDS)})

    def acquire(self, units: int, max_wait_seconds: float = QUOTA_MAX_WAIT_SECONDS) -> None:
        """Take `units` request slots, waiting at most `max_wait_seconds` for each."""
        for _ in range(max(1, units)):
            self._windows.acquire(("requests",), max_wait_seconds)


_windows: dict[tuple[str, int], MinuteWindow] = {}
_windows_lock = threading.Lock()


def minute_window(key: str, per_minute: int) -> MinuteWindow:
    """The process-wide window of one provider and key, named by its quota key."""
    with _windows_lock:
        found = _windows.get((key, per_minute))
        if found is None:
            found = _windows[(key, per_minute)] = MinuteWindow(per_minute)
        return found


def take_slot(quota: UnitQuota | Quota, operation: str) -> None:
    """One request slot, or NotSent: a full window means no request left (nothing to undo,
    and not the provider's fault, so its breaker does not count it)."""
    try:
        quota.acquire(1, QUOTA_MAX_WAIT_SECONDS)
    except TransientError as exc:
        if isinstance(exc, NotSent):
            raise
        raise NotSent(
            f"{operation} not sent: {exc}", retry_after_seconds=exc.retry_after_seconds
        ) from exc


def parse_answer(raw: Any, operation: str) -> DraftAnswer:
    """The structured answer from the model's JSON text (OpenAI) or tool input (Anthropic);
    PermanentError("malformed answer ...") when it is not one."""
    text = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PermanentError(f"{operation}: malformed answer: not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise PermanentError(f"{operation}: malformed answer: not an object")
    try:
        # Strict JSON validation: a string where a list belongs (or a number for a string)
        # is a wrong shape, not something to coerce.
        return DraftAnswer.model_validate_json(text, strict=True)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) or "answer" for e in exc.errors()})
        raise PermanentError(
            f"{operation}: malformed answer: wrong shape ({', '.join(fields)})"
        ) from exc


# What a draft with each SDK imports, all of it: the SDK, the resource it calls and what
# that imports on its first request (the HTTP transport, its TLS trust store, the JSON
# parser, tracing propagation). The code server's run workers fork from a process that
# imported these for the writers in use (codeserver.py), so a run pays none of it (~0.8 s
# for openai, ~2.3 s for anthropic on this machine, against a ~5 ms call to a local
# model). tests/integration/connectors/test_llm_writers.py checks a draft imports nothing
# more of the SDK.
SDK_MODULES: dict[str, tuple[str, ...]] = {
    "openai": (
        "openai",
        "openai._resource",
        "openai.resources.chat.chat",
        "openai.resources.chat.completions.completions",
        "openai.resources.chat.completions.messages",
        "openai.types.chat.completions.message_list_params",
        "openai.lib._chat_completion_resources",
        "openai.lib.streaming",
        "openai.pagination",
        "httpcore2",
        "truststore",
        "jiter",
    ),
    "anthropic": (
        "anthropic",
        "anthropic.resources.messages",
        "httpcore2",
        "truststore",
        "opentelemetry.propagate",
    ),
}

_clients: dict[tuple[str, str, str, float], Any] = {}
_clients_lock = threading.Lock()


def sdk_client(sdk: str, api_key: str, base_url: str, timeout_seconds: float) -> Any:
    """One SDK client (`openai.OpenAI`, `anthropic.Anthropic`) per base URL, key and timeout
    in the process: its connection pool is thread-safe and reused by every draft. The SDK
    is imported here, on first use, not at the top (see connectors/errors._loaded); the
    SDK never retries on its own (our quota and the template fallback decide)."""
    key = (sdk, base_url, fingerprint(api_key), timeout_seconds)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            module = importlib.import_module(sdk)
            factory = module.OpenAI if sdk == "openai" else module.Anthropic
            client = factory(
                api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=0
            )
            _clients[key] = client
        return client
