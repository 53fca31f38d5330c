"""The HubSpot SDK client, built once, and the one path every HubSpot call takes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Protocol, TypeVar

import hubspot
from urllib3.util.retry import Retry

from sales_agent_pipeline.connectors.errors import vendor_call
from sales_agent_pipeline.connectors.metering import (
    HUBSPOT_CALLS,
    UsageMeter,
    request_metric,
    request_status,
)
from sales_agent_pipeline.connectors.ratelimit import HubSpotLimits, retry_throttled
from sales_agent_pipeline.domain.effects import NotSent
from sales_agent_pipeline.domain.errors import ConfigurationError, TransientError

T = TypeVar("T")

# Enough pooled connections for the 8-16 threads a process runs; beyond the pool
# urllib3 opens and throws away extra connections.
_POOL_SIZE = 16
# The legacy form submissions listing (no generated method), as its request metric names it.
FORM_SUBMISSIONS_LIST = "forms.submissions.list"
SUBSCRIPTION_STATUSES_BATCH = "communication_preferences.statuses.batch_read"
# Module path parts that say nothing of the operation (hubspot.crm.objects.tasks.api...).
_NOISE = frozenset({"hubspot", "crm", "objects", "api", "v3", "v4", "basic"})

# A request's answer: the body and its HTTP status (None when the SDK did not say).
Answer = tuple[T, int | None]


class TokenSource(Protocol):
    """Where a transport gets the bearer token of each call: a private app's static token,
    or an OAuth grant's access token, refreshed as it nears expiry."""

    def token(self) -> str:
        """The token to send now (cheap: no I/O unless it is about to expire)."""
        ...

    def refresh(self, stale: str) -> str | None:
        """A token to try instead of `stale`, which HubSpot refused with a 401; None when
        there is none (a static token), and the 401 stands."""
        ...


class StaticToken:
    """A private app's token: the same for every call, nothing to refresh."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ConfigurationError("HUBSPOT_ACCESS_TOKEN is not set")
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"

    def token(self) -> str:
        """The token."""
        return self._token

    def refresh(self, stale: str) -> str | None:
        """Nothing to refresh: the 401 stands."""
        return None


def _bearer(token: str) -> dict[str, str]:
    # The generated clients' per-request auth override: the token of this call, whatever
    # the shared Configuration holds (another thread may be using an older one).
    return {"type": "oauth2", "in": "header", "key": "Authorization", "value": f"Bearer {token}"}


def _unauthorised(exc: ConfigurationError) -> bool:
    return exc.http_status == 401


@cache
def _operation_name(module: str, method: str) -> str:
    parts = [part.removesuffix("_api") for part in module.split(".")]
    kept = [part for part in parts if part not in _NOISE]
    # owners_api of owners says "owners" once; search_api's do_search is one "search".
    names = [part for i, part in enumerate(kept) if i == 0 or part != kept[i - 1]]
    verb = method.removeprefix("do_")
    if not names or names[-1] != verb:
        names.append(verb)
    return ".".join(names)


def operation_name(method: Callable[..., Any]) -> str:
    """A bounded name for an SDK method, for the request metric: the object, the API and
    the method, as `contacts.batch.upsert`, `companies.search`, `tasks.create` (never a
    URL or an id)."""
    owner = getattr(method, "__self__", None)
    module = type(owner).__module__ if owner is not None else ""
    return _operation_name(module, getattr(method, "__name__", "call"))


def _with_status(method: Callable[..., T]) -> Callable[..., Answer[T]]:
    """The generated client's `<method>_with_http_info` twin, which returns the status
    beside the body (the method itself returns only the body); the method when it has none."""
    owner = getattr(method, "__self__", None)
    twin = getattr(owner, f"{getattr(method, '__name__', '')}_with_http_info", None)
    if twin is None:
        return lambda *args, **kw: (method(*args, **kw), None)

    def call(*args: Any, **kw: Any) -> Answer[T]:
        body, status, _headers = twin(*args, _return_http_data_only=False, **kw)
        return body, status

    return call


class HubSpotTransport:
    """Holds the generated API clients (one connection pool each) and runs every call
    through the rate limiter, the 429 retry, the token refresh and the error
    classification."""

    def __init__(
        self,
        *,
        access_token: str | TokenSource,
        base_url: str,
        limits: HubSpotLimits,
        timeout_seconds: float,
        throttle_attempts: int = 3,
        meter: UsageMeter | None = None,
    ) -> None:
        self._tokens = StaticToken(access_token) if isinstance(access_token, str) else access_token
        base = base_url.rstrip("/")
        # urllib3 may retry a connection that never opened (the request was not sent);
        # everything else (reads, statuses) is ours to decide, so those retries are off.
        retry = Retry(
            total=2,
            connect=2,
            read=0,
            status=0,
            other=0,
            redirect=0,
            respect_retry_after_header=False,
        )
        # `host` points every generated API client at `base`; `base_url` is for
        # api_request(), which we do not use (see list_form_page). The token of each call
        # goes with the call (_request_auth), so a refreshed one needs no new client.
        client = hubspot.Client.create(
            host=base,
            base_url=base,
            retry=retry,
            connection_pool_maxsize=_POOL_SIZE,
        )
        # Each discovery property builds a new ApiClient with its own pool: take them once.
        self.contacts_batch = client.crm.contacts.batch_api
        self.contacts = client.crm.contacts.basic_api
        self.companies = client.crm.companies.basic_api
        self.companies_search = client.crm.companies.search_api
        self.associations = client.crm.associations.v4.basic_api
        self.owners = client.crm.owners.owners_api
        self.tasks = client.crm.objects.tasks.basic_api
        self.tasks_batch = client.crm.objects.tasks.batch_api
        self.tasks_search = client.crm.objects.tasks.search_api
        self.notes = client.crm.objects.notes.basic_api
        self.subscriptions = client.communication_preferences.status_api
        self._limits = limits
        self._timeout = timeout_seconds
        self._attempts = throttle_attempts
        self._meter = meter

    def __repr__(self) -> str:
        return "HubSpotTransport(<token hidden>)"

    def _authorised(
        self,
        operation: str,
        name: str,
        send: Callable[[dict[str, str]], Answer[T]],
        *,
        search: bool = False,
    ) -> T:
        """One call with the current token; after a 401, once more with a refreshed one
        (at most one refresh per call: a second 401 stands)."""
        token = self._tokens.token()
        try:
            return self._send(operation, name, send, token, search)
        except ConfigurationError as exc:
            if not _unauthorised(exc):
                raise
            fresh = self._tokens.refresh(token)
            if fresh is None or fresh == token:
                raise
        return self._send(operation, name, send, fresh, search)

    def _send(
        self,
        operation: str,
        name: str,
        send: Callable[[dict[str, str]], Answer[T]],
        token: str,
        search: bool,
    ) -> T:
        try:
            self._limits.acquire(search=search)
        except TransientError as exc:
            # No request left: an external write cannot have happened (domain/effects.py).
            if isinstance(exc, NotSent):
                raise
            raise NotSent(str(exc), retry_after_seconds=exc.retry_after_seconds) from exc
        if self._meter is None:
            with vendor_call(f"HubSpot {operation}"):
                return send(_bearer(token))[0]
        self._meter.add(HUBSPOT_CALLS)
        try:
            with vendor_call(f"HubSpot {operation}"):
                body, status = send(_bearer(token))
        except Exception as exc:
            self._meter.add(request_metric("hubspot", name, request_status(exc)))
            raise
        self._meter.add(request_metric("hubspot", name, str(status) if status else "2xx"))
        return body

    def call(
        self, operation: str, method: Callable[..., T], *args: Any, search: bool = False, **kw: Any
    ) -> T:
        """Call one SDK method: wait for a slot, classify errors, honour 429s and 401s."""
        name = operation_name(method)
        send = _with_status(method)

        def attempt() -> T:
            return self._authorised(
                operation,
                name,
                lambda auth: send(*args, _request_timeout=self._timeout, _request_auth=auth, **kw),
                search=search,
            )

        return retry_throttled(attempt, self._attempts)

    def list_form_page(self, form_id: str, after: str | None, limit: int) -> dict[str, Any]:
        """GET the legacy form submissions listing, which has no generated method.

        Not `Client.api_request()`: it goes through `requests` with no timeout and
        prints errors to stdout. The generated ApiClient's generic call_api reaches the
        same path with our timeout, pooling, auth and ApiException errors.
        """
        query: list[tuple[str, Any]] = [("limit", limit)]
        if after:
            query.append(("after", after))
        return self._call_path(
            "list form submissions",
            FORM_SUBMISSIONS_LIST,
            "GET",
            "/form-integrations/v1/submissions/forms/{formGuid}",
            path_params={"formGuid": form_id},
            query=query,
        )

    def batch_subscription_statuses(self, emails: Sequence[str]) -> dict[str, Any]:
        """POST communication preferences v4's batch read of EMAIL subscription statuses
        (up to 100 addresses a call), which hubspot-api-client 12 has no method for."""
        return self._call_path(
            "read subscription statuses",
            SUBSCRIPTION_STATUSES_BATCH,
            "POST",
            "/communication-preferences/v4/statuses/batch/read",
            query=[("channel", "EMAIL")],
            body={"inputs": list(emails)},
        )

    def _call_path(
        self,
        operation: str,
        name: str,
        method: str,
        path: str,
        *,
        path_params: dict[str, str] | None = None,
        query: list[tuple[str, Any]] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One call of a path the SDK has no generated method for, through the generated
        ApiClient's call_api: our timeout, pooling, auth, limits and ApiException errors."""
        api_client = self.owners.api_client
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"

        def send(auth: dict[str, str]) -> Answer[Any]:
            answer, status, _headers = api_client.call_api(
                path,
                method,
                path_params=path_params or {},
                query_params=query or [],
                header_params=headers,
                body=body,
                response_types_map={200: "object", 207: "object"},
                auth_settings=["oauth2"],
                _return_http_data_only=False,
                _request_timeout=self._timeout,
                _request_auth=auth,
            )
            return answer, status

        def attempt() -> dict[str, Any]:
            answer = self._authorised(operation, name, send)
            return answer if isinstance(answer, dict) else {}

        return retry_throttled(attempt, self._attempts)
