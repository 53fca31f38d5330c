"""HubSpot-style rate limits, fault injection and call counting (the gate applies them).

A fault rule (POST /_sandbox/faults, or SANDBOX_FAULTS at start) matches requests by
`pathPattern` (a glob over the path) and `method`, and applies to every vendor path alike:
- `status`: answer this error instead (a vendor-shaped body: HubSpot's, Google's, OpenAI's
  or Anthropic's), with `retryAfter` as a Retry-After header (and, on the model paths, the
  vendor's rate-limit headers at zero for a 429) and `message` as the error's text;
- `delayMs`: answer this much later (a slow server); alone, the answer is the real one;
- `timeoutSeconds`: hold the request this long (longer than the client waits), then 504;
  nothing is written: the request never got past the (emulated) gateway;
- `afterCommit`: the endpoint runs and its write commits, then the client gets the failure
  (`status`, 500 by default) or, with `timeoutSeconds`, the silence: what a client must
  resolve as an uncertain write;
- which requests: `count` of them (default 1; null for every one), a `probability` share,
  and an outage window: `forSeconds` from `startAfterSeconds` (default 0) after the rule
  is added (a window without a count applies to every matching request in it), e.g.
  {"pathPattern": "/crm/*", "status": 503, "forSeconds": 60}: HubSpot is down for a minute.

On the model paths (/v1/chat/completions, /v1/messages) three more keys shape a 200 answer
instead of an error (one of them per rule; not with `status` or `afterCommit`):
- `malformed: true`: the structured answer is not valid for its schema: cut-off JSON in
  the content or function arguments (OpenAI, Anthropic JSON output), or a tool input
  missing its required properties (Anthropic tool_use);
- `refusal: true`: the model declines: OpenAI `message.refusal` set and `content` null;
  Anthropic `stop_reason: "refusal"` with a text block;
- `compromised: true`: the model obeys the lead's text (prompt injection): every URL and
  email address of the brief's untrusted fields in a paragraph, a slot id and an asset id
  the brief never offered, and the system prompt's first line in the text.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import Response

from .errors import GoogleError, HubSpotError, is_google_path, llm_vendor
from .gmail_quota import GmailQuota
from .llm_cache import PromptCache
from .llm_faults import model_fault_response


@dataclass
class FaultRule:
    """Make matching requests fail or slow down, a given number of times or a share of them."""

    id: str
    pattern: str
    method: str | None = None
    status: int | None = None
    remaining: int | None = 1
    probability: float = 1.0
    retry_after: float | None = None
    delay_ms: int = 0
    after_commit: bool = False
    message: str | None = None
    # A timeout: hold the request this long (longer than the client waits), then answer.
    timeout_seconds: float = 0.0
    # An outage window, in epoch seconds: the rule applies from `starts_at` until `ends_at`.
    starts_at: float | None = None
    ends_at: float | None = None
    hits: int = 0
    # A 200 the model paths shape: "malformed", "refusal" or "compromised" (None: none).
    answer: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Tell whether this rule applies to a request."""
        if self.method and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.pattern)

    def in_window(self, now: float) -> bool:
        """True while the rule's outage window (if it has one) is open."""
        if self.starts_at is not None and now < self.starts_at:
            return False
        return self.ends_at is None or now < self.ends_at

    @property
    def fault_status(self) -> int | None:
        """The error the client gets: the rule's, else 500 for a failure after commit (a
        rule whose write commits must fail somehow), else none (only a delay)."""
        if self.status is not None:
            return self.status
        return 500 if self.after_commit and not self.timeout_seconds else None


ANSWER_KINDS = ("malformed", "refusal", "compromised")
_MODEL_PATHS = ("/v1/chat/completions", "/v1/messages")

RULE_KEYS = {
    "pathPattern",
    "method",
    "status",
    "count",
    "probability",
    "retryAfter",
    "delayMs",
    "afterCommit",
    "message",
    "timeoutSeconds",
    "forSeconds",
    "startAfterSeconds",
    *ANSWER_KINDS,
}


class FaultSpecError(ValueError):
    """A fault rule the sandbox cannot apply."""


def _check_spec(spec: dict[str, Any]) -> None:
    # A misspelt key would silently make a fault that never fires: refuse it.
    if not isinstance(spec, dict):
        raise FaultSpecError(f"a fault rule is a JSON object, not {type(spec).__name__}")
    unknown = sorted(set(spec) - RULE_KEYS)
    if unknown:
        raise FaultSpecError(f"unknown fault rule keys {unknown}; known: {sorted(RULE_KEYS)}")
    if not spec.get("pathPattern"):
        raise FaultSpecError("pathPattern is required")
    status = spec.get("status")
    if status is not None and not (isinstance(status, int) and 400 <= status <= 599):
        raise FaultSpecError(f"status must be an HTTP error code, not {status!r}")
    if not 0.0 <= float(spec.get("probability", 1.0)) <= 1.0:
        raise FaultSpecError("probability must be between 0 and 1")
    if float(spec.get("timeoutSeconds", 0)) < 0 or int(spec.get("delayMs", 0)) < 0:
        raise FaultSpecError("timeoutSeconds and delayMs must not be negative")
    if "forSeconds" in spec and not float(spec["forSeconds"]) > 0:
        raise FaultSpecError("forSeconds must be positive")
    if float(spec.get("startAfterSeconds", 0)) < 0:
        raise FaultSpecError("startAfterSeconds must not be negative")
    kinds = [kind for kind in ANSWER_KINDS if spec.get(kind)]
    if len(kinds) > 1:
        raise FaultSpecError(f"one of {list(ANSWER_KINDS)} per rule, not {kinds}")
    if kinds and (spec.get("status") is not None or spec.get("afterCommit")):
        raise FaultSpecError(f"{kinds[0]} shapes a 200 answer: not with status or afterCommit")
    if kinds and not any(fnmatch.fnmatchcase(p, str(spec["pathPattern"])) for p in _MODEL_PATHS):
        raise FaultSpecError(f"{kinds[0]} applies to the model paths only: {list(_MODEL_PATHS)}")


def check_rules(specs: list[Any]) -> None:
    """Validate fault rules without registering them (FaultSpecError names the bad one)."""
    for index, spec in enumerate(specs):
        try:
            _check_spec(spec)
        except (TypeError, ValueError) as exc:
            raise FaultSpecError(f"fault rule {index}: {exc}") from exc


class Faults:
    """Rate-limit windows, fault rules and call counters, shared by all request threads."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        # Fault shares only need to be repeatable, not unpredictable.
        self._random = random.Random(seed)  # noqa: S311
        self._rule_ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        """Drop every rule, window and counter."""
        with self._lock:
            self.rules: list[FaultRule] = []
            self.calls: Counter[str] = Counter()
            # Windows are per portal ("1000"), and per portal and app for OAuth ("1000/4000001").
            self._windows: dict[str, deque[float]] = {}
            self._search_windows: dict[str, deque[float]] = {}
            self.peak_in_window: dict[str, int] = {}
            self.rejected: Counter[str] = Counter()
            # Every HubSpot call, admitted or not: what a client-side limiter let through.
            self._attempts: dict[str, deque[float]] = {}
            self.peak_attempts: dict[str, int] = {}
            # Gmail's units per user (and its per-minute budget, when one is configured).
            self.gmail = GmailQuota()
            # The model paths' remembered prompt prefixes (prompt caching).
            self.prompt_cache = PromptCache()
            # Held (timeout) requests end early when this changes: reset frees them.
            self.generation = getattr(self, "generation", 0) + 1

    def add_rule(self, spec: dict[str, Any]) -> FaultRule:
        """Register a fault rule from its JSON description (FaultSpecError when invalid)."""
        _check_spec(spec)
        starts_at = time.time() + float(spec.get("startAfterSeconds", 0))
        windowed = "forSeconds" in spec
        rule = FaultRule(
            id=str(next(self._rule_ids)),
            pattern=str(spec["pathPattern"]),
            method=spec.get("method"),
            status=spec.get("status"),
            # A window is an outage: every matching request in it, unless a count is given.
            remaining=spec.get("count", None if windowed else 1),
            probability=float(spec.get("probability", 1.0)),
            retry_after=spec.get("retryAfter"),
            delay_ms=int(spec.get("delayMs", 0)),
            after_commit=bool(spec.get("afterCommit", False)),
            message=spec.get("message"),
            timeout_seconds=float(spec.get("timeoutSeconds", 0)),
            starts_at=starts_at if windowed or "startAfterSeconds" in spec else None,
            ends_at=starts_at + float(spec["forSeconds"]) if windowed else None,
            answer=next((kind for kind in ANSWER_KINDS if spec.get(kind)), None),
        )
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        """Remove every fault rule."""
        with self._lock:
            self.rules.clear()
            self.generation += 1

    async def hold(self, seconds: float) -> None:
        """Sleep like a stuck server, but give up as soon as rules are reset or cleared."""
        generation = self.generation
        deadline = time.monotonic() + seconds
        while self.generation == generation:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.05))

    def observe(self, key: str, interval_ms: int) -> None:
        """Record a HubSpot call attempt in its window's rolling record of attempts."""
        now = time.monotonic()
        with self._lock:
            window = self._attempts.setdefault(key, deque())
            while window and now - window[0] >= interval_ms / 1000:
                window.popleft()
            window.append(now)
            self.peak_attempts[key] = max(self.peak_attempts.get(key, 0), len(window))

    def take(self, method: str, path: str) -> FaultRule | None:
        """Return the first live rule matching the request, consuming one of its uses."""
        now = time.time()
        with self._lock:
            for rule in self.rules:
                if rule.remaining == 0 or not rule.in_window(now) or not rule.matches(method, path):
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.hits += 1
                return rule
        return None

    def count(self, key: str) -> None:
        """Count one call to an endpoint."""
        with self._lock:
            self.calls[key] += 1

    def admit(
        self, key: str, max_calls: int, interval_ms: int, search_limit: int | None
    ) -> tuple[dict[str, str], HubSpotError | None]:
        """Apply the rolling window (and the search limit); return headers and any 429."""
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and now - window[0] >= interval_ms / 1000:
                window.popleft()
            if len(window) >= max_calls:
                self.rejected["TEN_SECONDLY_ROLLING"] += 1
                headers = _limit_headers(max_calls, 0, interval_ms)
                return headers, _rate_limit_error(
                    f"You have reached your ten_secondly_rolling limit. ({max_calls})",
                    "TEN_SECONDLY_ROLLING",
                    headers,
                )
            if search_limit is not None:
                searches = self._search_windows.setdefault(key, deque())
                while searches and now - searches[0] >= 1.0:
                    searches.popleft()
                if len(searches) >= search_limit:
                    self.rejected["SECONDLY"] += 1
                    return {}, _rate_limit_error(
                        "You have reached your secondly limit.", "SECONDLY", {}
                    )
                searches.append(now)
            window.append(now)
            self.peak_in_window[key] = max(self.peak_in_window.get(key, 0), len(window))
            return _limit_headers(max_calls, max_calls - len(window), interval_ms), None

    def snapshot(self) -> dict[str, Any]:
        """Return rules, counters and window peaks for inspection."""
        with self._lock:
            return {
                "rules": [asdict(rule) for rule in self.rules],
                "calls": dict(self.calls),
                "peakInWindow": dict(self.peak_in_window),
                "peakAttemptsInWindow": dict(self.peak_attempts),
                "rejected": dict(self.rejected),
            }


def _limit_headers(max_calls: int, remaining: int, interval_ms: int) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Max": str(max_calls),
        "X-HubSpot-RateLimit-Remaining": str(max(remaining, 0)),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
    }


def _rate_limit_error(message: str, policy: str, headers: dict[str, str]) -> HubSpotError:
    return HubSpotError(
        429,
        message,
        "RATE_LIMITS",
        extra={"errorType": "RATE_LIMIT", "policyName": policy},
        headers=headers,
    )


def fault_response(rule: FaultRule, path: str) -> Response:
    """Build the vendor-shaped error a fault rule asks for."""
    # A request held past the client's timeout ends as a gateway would end it.
    status = rule.fault_status or (504 if rule.timeout_seconds else 500)
    headers = {"Retry-After": f"{rule.retry_after:g}"} if rule.retry_after is not None else {}
    vendor = llm_vendor(path)
    if vendor is not None:
        return model_fault_response(vendor, status, rule.message, rule.retry_after)
    if is_google_path(path):
        message = rule.message or _google_fault_message(status)
        domain = "usageLimits" if status == 429 else "global"
        return GoogleError(status, message, domain=domain, headers=headers).response()
    if status == 429:
        error = _rate_limit_error(
            rule.message or "You have reached your ten_secondly_rolling limit.",
            "TEN_SECONDLY_ROLLING",
            headers,
        )
        return error.response()
    message = rule.message or "internal error"
    return HubSpotError(status, message, headers=headers).response()


def _google_fault_message(status: int) -> str:
    if status == 429:
        return "Rate Limit Exceeded"
    if status >= 500:
        return "Backend Error"
    return "Injected fault"
