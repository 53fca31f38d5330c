"""The HubSpot SDK client, built once, and the one path every HubSpot call takes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import hubspot
from urllib3.util.retry import Retry

from sales_agent_pipeline.connectors.errors import vendor_call
from sales_agent_pipeline.connectors.ratelimit import HubSpotLimits, retry_throttled
from sales_agent_pipeline.domain.errors import ConfigurationError

T = TypeVar("T")

# Enough pooled connections for the 8-16 threads a process runs; beyond the pool
# urllib3 opens and throws away extra connections.
_POOL_SIZE = 16


class HubSpotTransport:
    """Holds the generated API clients (one connection pool each) and runs every call
    through the rate limiter, the 429 retry and the error classification."""

    def __init__(
        self,
        *,
        access_token: str,
        base_url: str,
        limits: HubSpotLimits,
        timeout_seconds: float,
        throttle_attempts: int = 3,
    ) -> None:
        if not access_token:
            raise ConfigurationError("HUBSPOT_ACCESS_TOKEN is not set")
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
        # api_request(), which we do not use (see list_form_page).
        client = hubspot.Client.create(
            access_token=access_token,
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
        self._limits = limits
        self._timeout = timeout_seconds
        self._attempts = throttle_attempts

    def call(
        self, operation: str, method: Callable[..., T], *args: Any, search: bool = False, **kw: Any
    ) -> T:
        """Call one SDK method: wait for a slot, classify errors, honour 429s."""

        def attempt() -> T:
            self._limits.acquire(search=search)
            with vendor_call(f"HubSpot {operation}"):
                return method(*args, _request_timeout=self._timeout, **kw)

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
        api_client = self.owners.api_client

        def attempt() -> dict[str, Any]:
            self._limits.acquire()
            with vendor_call("HubSpot list form submissions"):
                body = api_client.call_api(
                    "/form-integrations/v1/submissions/forms/{formGuid}",
                    "GET",
                    path_params={"formGuid": form_id},
                    query_params=query,
                    header_params={"Accept": "application/json"},
                    response_types_map={200: "object"},
                    auth_settings=["oauth2"],
                    _return_http_data_only=True,
                    _request_timeout=self._timeout,
                )
            return body if isinstance(body, dict) else {}

        return retry_throttled(attempt, self._attempts)
