"""The gate every vendor request passes, as one HTTP middleware: who the caller is (a
HubSpot token bound to a portal, a Google token bound to a subject), what it may reach,
rate limits and Gmail's quota, fault injection, call counting and the request log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.routing import Match

from .errors import GoogleError, HubSpotError, is_google_path, llm_auth_error, llm_key, llm_vendor
from .faults import Faults, fault_response
from .gmail_quota import gmail_cost
from .hubspot_auth import MISSING_AUTH, fingerprint
from .state import Store

_UNCHECKED_PREFIXES = ("/_sandbox", "/docs", "/openapi.json", "/redoc")
# Token endpoints take no bearer token: they issue them.
_HUBSPOT_OAUTH = "/oauth/"
_GOOGLE_TOKEN = "/token"  # noqa: S105 (a path, not a secret)
# Paths that carry a token: logged with its fingerprint instead.
_TOKEN_PATHS = ("/oauth/v1/access-tokens/", "/oauth/v1/refresh-tokens/")
_SERVICE_ACCOUNT = ".iam.gserviceaccount.com"
_MISSING_GOOGLE_AUTH = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class _Call:
    """What the request log records of one request, filled in as the gate learns it."""

    __slots__ = ("admitted", "identity", "touched", "vendor")

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.identity: Any = None
        # Nothing is touched unless the request got past the gate to its endpoint.
        self.admitted = False
        self.touched: dict[str, list[Any]] | None = None


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _route_key(app: FastAPI, request: Request) -> str:
    # Count by route template (one key per endpoint, whatever the ids), even for requests
    # the middleware answers before routing; unknown paths are counted as sent.
    partial = None
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return f"{request.method} {getattr(route, 'path', request.url.path)}"
        if match is Match.PARTIAL and partial is None:
            partial = getattr(route, "path", None)
    return f"{request.method} {partial or request.url.path}"


def _logged_path(path: str) -> str:
    for prefix in _TOKEN_PATHS:
        if path.startswith(prefix):
            return prefix + fingerprint(path[len(prefix) :])
    return path


def _hubspot(
    store: Store, faults: Faults, request: Request, call: _Call
) -> tuple[Response | None, dict[str, str]]:
    """Authenticate a HubSpot call and apply its portal's (or app's) window."""
    token = _bearer(request)
    if not token:
        return HubSpotError(401, MISSING_AUTH, "INVALID_AUTHENTICATION").response(), {}
    try:
        identity = store.hubspot_auth.identity(token)
    except HubSpotError as exc:
        call.identity = (None, fingerprint(token), None)
        return exc.response(), {}
    call.identity = (identity.portal_id, identity.fingerprint, identity.app_id)
    request.state.portal_id = identity.portal_id
    config = store.config
    faults.observe(identity.window, config.rate_limit_interval_ms)
    headers: dict[str, str] = {}
    if config.rate_limits_enabled:
        if identity.app_id is None:
            # A plain read: the store's lock may be held by a long search in a worker thread.
            portal = store.portals.get(identity.portal_id) or store.portal(identity.portal_id)
            limit = portal.rate_limit_max or config.rate_limit_max
        else:
            limit = store.hubspot_auth.app_limit(identity.app_id)
        is_search = request.method == "POST" and request.url.path.endswith("/search")
        headers, error = faults.admit(
            identity.window,
            limit,
            config.rate_limit_interval_ms,
            config.search_per_second if is_search else None,
        )
        if error is not None:
            return error.response(), {}
    call.touched = {"portals": [identity.portal_id]}
    return None, headers


def _google(store: Store, faults: Faults, request: Request, call: _Call) -> Response | None:
    """Authenticate a Google call; Gmail: only the subject's own mailbox, and its quota."""
    token = _bearer(request)
    config = store.config
    subject: str | None = None
    if token:
        try:
            subject = store.google_auth.subject(token)
        except GoogleError as exc:
            return exc.response()
    elif config.google_require_auth:
        return GoogleError(
            401,
            _MISSING_GOOGLE_AUTH,
            "required",
            location="Authorization",
            location_type="header",
            headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        ).response()
    call.identity = subject
    request.state.google_subject = subject
    cost = gmail_cost(request.method, request.url.path)
    if cost is None:
        return None
    user, units = cost
    if subject is not None and subject.endswith(_SERVICE_ACCOUNT):
        # A service account acting as itself has no mailbox (no delegated user given).
        return GoogleError(
            400, "Precondition check failed.", "failedPrecondition", status="FAILED_PRECONDITION"
        ).response()
    if subject is not None and user != "me" and user.lower() != subject:
        return GoogleError(403, f"Delegation denied for {subject}", "forbidden").response()
    mailbox = (subject or config.default_google_user) if user == "me" else user.lower()
    budget = config.gmail_units_per_minute if config.rate_limits_enabled else None
    if not faults.gmail.admit(mailbox.lower(), units, budget):
        return GoogleError(
            429, "Rate Limit Exceeded", "rateLimitExceeded", domain="usageLimits"
        ).response()
    call.touched = {"mailboxes": [mailbox.lower()]}
    return None


async def _through(
    app: FastAPI,
    store: Store,
    faults: Faults,
    request: Request,
    call_next: Callable[[Request], Awaitable[Response]],
    call: _Call,
) -> Response:
    path = request.url.path
    key = _route_key(app, request)
    limit_headers: dict[str, str] = {}
    refused: Response | None
    if call.vendor in ("openai", "anthropic"):
        # The model APIs: any non-empty key is accepted; the log names it by fingerprint.
        error = llm_auth_error(call.vendor, request.headers)
        refused = error.response() if error is not None else None
        key_of_call = llm_key(call.vendor, request.headers)
        call.identity = fingerprint(key_of_call) if key_of_call else None
        call.touched = {}
    elif call.vendor == "google" and path != _GOOGLE_TOKEN:
        refused = _google(store, faults, request, call)
    elif call.vendor == "hubspot" and not path.startswith(_HUBSPOT_OAUTH):
        refused, limit_headers = _hubspot(store, faults, request, call)
    else:
        refused = None
    faults.count(key)
    if refused is not None:
        return refused
    rule = faults.take(request.method, path)
    if rule is not None and rule.delay_ms:
        await asyncio.sleep(rule.delay_ms / 1000)
    if rule is not None and not rule.after_commit:
        if rule.timeout_seconds:
            # Nothing is written: the request never got past the (emulated) gateway.
            await faults.hold(rule.timeout_seconds)
            return fault_response(rule, path)
        if rule.fault_status:
            return fault_response(rule, path)
    call.admitted = True
    # The model paths shape their 200 by the rule (malformed, refusal, compromised answers).
    request.state.fault_rule = rule
    response = await call_next(request)
    if rule is not None and rule.after_commit:
        # Generic over every endpoint: the endpoint has run and its write is in the store
        # (it holds the store's lock until done); the client only sees the failure or the
        # silence. The endpoint's own answer is dropped unread.
        if rule.timeout_seconds:
            await faults.hold(rule.timeout_seconds)
        if rule.fault_status:
            return fault_response(rule, path)
    response.headers.update(limit_headers)
    return response


def install(app: FastAPI, store: Store, faults: Faults) -> None:
    """Add the middleware that authenticates, limits, counts, injects faults and logs."""

    @app.middleware("http")
    async def sandbox_gate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if path.startswith(_UNCHECKED_PREFIXES):
            return await call_next(request)
        started = time.time()
        google = path == _GOOGLE_TOKEN or is_google_path(path)
        call = _Call(llm_vendor(path) or ("google" if google else "hubspot"))
        response = await _through(app, store, faults, request, call_next, call)
        state = request.state
        # Token endpoints and OAuth metadata name their caller once they know it.
        identity = getattr(state, "identity", None)
        if identity is not None:
            call.identity = (identity.portal_id, identity.fingerprint, identity.app_id)
        elif call.vendor == "google" and getattr(state, "subject", None):
            call.identity = state.subject
        # The endpoint knows best what it read (calendars, Drive owners); else the gate's.
        touched = getattr(state, "touched", None) if call.admitted else None
        if call.admitted and touched is not None:
            call.touched = touched
        store.requests.append(
            started,
            call.vendor,
            request.method,
            _logged_path(path),
            response.status_code,
            call.identity,
            call.touched if call.admitted else None,
        )
        return response
