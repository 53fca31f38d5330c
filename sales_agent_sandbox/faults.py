"""HubSpot-style rate limits, fault injection and call counting, as one HTTP middleware."""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import FastAPI, Request, Response

from .errors import GoogleError, HubSpotError, is_google_path
from .state import Store

_UNCHECKED_PREFIXES = ("/_sandbox", "/docs", "/openapi.json", "/redoc")
_MISSING_AUTH = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


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
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Tell whether this rule applies to a request."""
        if self.method and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.pattern)


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
            self._windows: dict[int, deque[float]] = {}
            self._search_windows: dict[int, deque[float]] = {}
            self.peak_in_window: dict[int, int] = {}
            self.rejected: Counter[str] = Counter()

    def add_rule(self, spec: dict[str, Any]) -> FaultRule:
        """Register a fault rule from its JSON description."""
        rule = FaultRule(
            id=str(next(self._rule_ids)),
            pattern=str(spec["pathPattern"]),
            method=spec.get("method"),
            status=spec.get("status"),
            remaining=spec.get("count", 1),
            probability=float(spec.get("probability", 1.0)),
            retry_after=spec.get("retryAfter"),
            delay_ms=int(spec.get("delayMs", 0)),
            after_commit=bool(spec.get("afterCommit", False)),
            message=spec.get("message"),
        )
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        """Remove every fault rule."""
        with self._lock:
            self.rules.clear()

    def take(self, method: str, path: str) -> FaultRule | None:
        """Return the first live rule matching the request, consuming one of its uses."""
        with self._lock:
            for rule in self.rules:
                if rule.remaining == 0 or not rule.matches(method, path):
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
        self, portal_id: int, max_calls: int, interval_ms: int, search_limit: int | None
    ) -> tuple[dict[str, str], HubSpotError | None]:
        """Apply the rolling window (and the search limit); return headers and any 429."""
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(portal_id, deque())
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
                searches = self._search_windows.setdefault(portal_id, deque())
                while searches and now - searches[0] >= 1.0:
                    searches.popleft()
                if len(searches) >= search_limit:
                    self.rejected["SECONDLY"] += 1
                    return {}, _rate_limit_error(
                        "You have reached your secondly limit.", "SECONDLY", {}
                    )
                searches.append(now)
            window.append(now)
            self.peak_in_window[portal_id] = max(self.peak_in_window.get(portal_id, 0), len(window))
            return _limit_headers(max_calls, max_calls - len(window), interval_ms), None

    def snapshot(self) -> dict[str, Any]:
        """Return rules, counters and window peaks for inspection."""
        with self._lock:
            return {
                "rules": [asdict(rule) for rule in self.rules],
                "calls": dict(self.calls),
                "peakInWindow": {str(k): v for k, v in self.peak_in_window.items()},
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
    status = rule.status or 500
    headers = {"Retry-After": f"{rule.retry_after:g}"} if rule.retry_after is not None else {}
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


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _route_key(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    return f"{request.method} {path}"


def install(app: FastAPI, store: Store, faults: Faults) -> None:
    """Add the middleware that authenticates, rate-limits, counts and injects faults."""

    @app.middleware("http")
    async def sandbox_gate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if path.startswith(_UNCHECKED_PREFIXES):
            return await call_next(request)
        limit_headers: dict[str, str] = {}
        if not is_google_path(path):
            token = _bearer(request)
            if not token:
                return HubSpotError(401, _MISSING_AUTH, "INVALID_AUTHENTICATION").response()
            portal = store.portal_for_token(token)
            request.state.portal_id = portal.id
            config = store.config
            if config.rate_limits_enabled:
                is_search = request.method == "POST" and path.endswith("/search")
                limit_headers, error = faults.admit(
                    portal.id,
                    portal.rate_limit_max or config.rate_limit_max,
                    config.rate_limit_interval_ms,
                    config.search_per_second if is_search else None,
                )
                if error is not None:
                    return error.response()
        rule = faults.take(request.method, path)
        if rule is not None and rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule is not None and rule.status and not rule.after_commit:
            faults.count(f"{request.method} {path}")
            return fault_response(rule, path)
        response = await call_next(request)
        faults.count(_route_key(request))
        if rule is not None and rule.status and rule.after_commit:
            # The write has happened; the client only sees the failure.
            return fault_response(rule, path)
        response.headers.update(limit_headers)
        return response
