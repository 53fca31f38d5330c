"""Google credentials and per-thread API services, and the one path every Google call takes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.auth.credentials import AnonymousCredentials, Credentials
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import Resource, build

from sales_agent_pipeline.connectors.errors import vendor_call
from sales_agent_pipeline.connectors.metering import (
    GMAIL_QUOTA_UNITS,
    GOOGLE_CALLS,
    UsageMeter,
    request_metric,
    request_status,
)
from sales_agent_pipeline.connectors.ratelimit import UnitQuota, retry_throttled
from sales_agent_pipeline.domain.errors import ConfigurationError

GMAIL_SCOPES = ("https://www.googleapis.com/auth/gmail.modify",)
CALENDAR_SCOPES = ("https://www.googleapis.com/auth/calendar.freebusy",)
DRIVE_SCOPES = ("https://www.googleapis.com/auth/drive.readonly",)

# api_endpoint replaces the root URL *and* the service path: Gmail's discovery paths
# already start with gmail/v1/, Calendar's and Drive's are relative to their service path.
_SERVICE_PATHS = {"gmail": "/", "calendar": "/calendar/v3/", "drive": "/drive/v3/"}


def load_credentials(
    scopes: Sequence[str],
    *,
    service_account_file: Path | None,
    delegated_user: str | None,
    oauth_token_file: Path | None,
    base_url: str | None,
) -> Credentials:
    """Service account with delegation, else an OAuth user token, else (emulator) anonymous."""
    if service_account_file is not None:
        if not delegated_user:
            raise ConfigurationError(
                "GOOGLE_DELEGATED_USER must name the mailbox a service account acts for"
            )
        try:
            creds = service_account.Credentials.from_service_account_file(
                str(service_account_file), scopes=list(scopes)
            )
        except (OSError, ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            raise ConfigurationError(
                f"GOOGLE_SERVICE_ACCOUNT_FILE is missing or not a service account key: "
                f"{type(exc).__name__}"
            ) from exc
        return creds.with_subject(delegated_user)
    if oauth_token_file is not None:
        try:
            return user_credentials.Credentials.from_authorized_user_file(
                str(oauth_token_file), scopes=list(scopes)
            )
        except (OSError, ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            raise ConfigurationError(
                f"GOOGLE_OAUTH_TOKEN_FILE is missing or not an authorized-user token: "
                f"{type(exc).__name__}"
            ) from exc
    if base_url:
        # Only an emulator (the sandbox) takes requests without credentials.
        return AnonymousCredentials()
    raise ConfigurationError(
        "Google credentials missing: set GOOGLE_SERVICE_ACCOUNT_FILE (with "
        "GOOGLE_DELEGATED_USER) or GOOGLE_OAUTH_TOKEN_FILE"
    )


def credentials_from_info(
    text: str,
    scopes: Sequence[str],
    *,
    subject: str | None,
    owner: str,
    emulator_url: str | None = None,
) -> Credentials:
    """A tenant's stored Google credentials (the JSON of a service-account key, acting for
    `subject` by domain-wide delegation, or of an authorized-user token).

    `owner` names whose credentials they are in errors (the portal); the JSON itself, a
    private key, never appears in one.
    """
    try:
        info = json.loads(text)
    except ValueError:
        raise ConfigurationError(f"{owner}: the stored Google credentials are not JSON") from None
    kind = info.get("type") if isinstance(info, dict) else None
    try:
        if kind == "service_account":
            if not subject:
                raise ConfigurationError(
                    f"{owner}: a Google service account needs the mailbox it acts for "
                    "(the tenant's sender email)"
                )
            account = service_account.Credentials.from_service_account_info(
                info, scopes=list(scopes)
            )
            return account.with_subject(subject)
        if kind == "authorized_user":
            user = user_credentials.Credentials.from_authorized_user_info(info, scopes=list(scopes))
            token_uri = str(info.get("token_uri") or "")
            if emulator_url and token_uri.startswith(emulator_url.rstrip("/") + "/"):
                # google-auth always refreshes at Google's endpoint, never at a file's
                # token_uri (a file must not send a refresh token elsewhere); the one
                # exception we make is the emulator GOOGLE_API_BASE_URL names.
                user = user.with_token_uri(token_uri)
            return user
    except (ValueError, KeyError, google.auth.exceptions.GoogleAuthError) as exc:
        raise ConfigurationError(
            f"{owner}: the stored Google credentials are not a usable {kind} file: "
            f"{type(exc).__name__}"
        ) from None
    raise ConfigurationError(
        f"{owner}: the stored Google credentials are neither a service-account key nor an "
        f"authorized-user token (type {kind!r})"
    )


class Collections:
    """A discovery `Resource` whose collections (`users()`, `files()`, `messages()`) are
    built once and kept, instead of at every call.

    google-api-python-client builds a collection's methods from the discovery document each
    time it is called (`service.files()` makes all sixteen of Drive's file methods anew):
    ~2 ms of CPU per request, more than a request to a local server takes. The client has no
    option to keep them; this keeps them for one thread's service (a Resource is not shared
    across threads, like its Http). A call with arguments, or one that does not return a
    collection (an API method such as `list()`), goes through unchanged.
    """

    def __init__(self, resource: Any) -> None:
        self._resource = resource
        self._children: dict[str, Collections] = {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._resource, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if args or kwargs:
                return attribute(*args, **kwargs)
            child = self._children.get(name)
            if child is None:
                made = attribute()
                if not isinstance(made, Resource):
                    return made
                child = self._children[name] = Collections(made)
            return child

        return call


class GoogleApi:
    """One Google API (gmail, calendar or drive) for one user.

    httplib2 is not thread-safe, so each thread builds its own service over its own
    authorized Http (kept in a thread-local, so keep-alive connections are reused).
    """

    def __init__(
        self,
        name: str,
        version: str,
        credentials: Credentials,
        *,
        base_url: str | None,
        timeout_seconds: float,
        quota: UnitQuota | None = None,
        throttle_attempts: int = 3,
        meter: UsageMeter | None = None,
    ) -> None:
        self.name = name
        self._version = version
        self._credentials = credentials
        self._options = (
            {"api_endpoint": base_url.rstrip("/") + _SERVICE_PATHS[name]} if base_url else None
        )
        self._timeout = timeout_seconds
        self._quota = quota
        self._attempts = throttle_attempts
        self._meter = meter
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"GoogleApi({self.name!r}, <credentials hidden>)"

    def service(self) -> Any:
        """This thread's service object."""
        service = getattr(self._local, "service", None)
        if service is None:
            http = httplib2.Http(timeout=self._timeout)
            if not isinstance(self._credentials, AnonymousCredentials):
                # Anonymous credentials have nothing to add, and on a 401 AuthorizedHttp
                # would try to refresh them and hide the status behind a refresh error.
                http = google_auth_httplib2.AuthorizedHttp(self._credentials, http=http)
            with vendor_call(f"Google {self.name} client"):
                service = build(
                    self.name,
                    self._version,
                    http=http,
                    client_options=self._options,
                    static_discovery=True,
                    cache_discovery=False,
                )
            service = Collections(service)
            self._local.service = service
        return service

    def execute(self, operation: str, make: Callable[[Any], Any], units: int = 0) -> Any:
        """Build a request from this thread's service and run it (quota, 429s, errors);
        each request sent is counted by its answer (`operation` is the API method's name,
        e.g. drafts.create: a bounded metric label)."""

        def attempt() -> Any:
            if self._quota is not None and units:
                self._quota.acquire(units)
            if self._meter is None:
                with vendor_call(f"Google {self.name} {operation}"):
                    return self._send(make)[0]
            self._meter.add(GOOGLE_CALLS)
            if self.name == "gmail":
                self._meter.add(GMAIL_QUOTA_UNITS, units)
            try:
                with vendor_call(f"Google {self.name} {operation}"):
                    answer, status = self._send(make)
            except Exception as exc:
                self._meter.add(request_metric(self.name, operation, request_status(exc)))
                raise
            self._meter.add(request_metric(self.name, operation, status))
            return answer

        return retry_throttled(attempt, self._attempts)

    def _send(self, make: Callable[[Any], Any]) -> tuple[Any, str]:
        """The answer's body and its HTTP status."""
        try:
            return _execute(make(self.service()))
        except BrokenPipeError:
            # The server closed this thread's idle keep-alive connection (a run's quiet
            # spell between its Gmail steps outlasts a server's idle timeout) and the write
            # failed: the request never reached it. httplib2 retries that only for reads,
            # so once more here, on a new connection.
            self._local.service = None
            return _execute(make(self.service()))


def _execute(request: Any) -> tuple[Any, str]:
    """Run a googleapiclient HttpRequest; its body and the status it was answered with.

    `execute()` returns only the body; the status is read where the SDK hands the
    response to the request's `postproc` (a status >= 300 raises HttpError before it).
    """
    statuses: list[int] = []
    postproc = getattr(request, "postproc", None)
    if callable(postproc):

        def recorded(response: Any, content: Any) -> Any:
            statuses.append(int(response.status))
            return postproc(response, content)

        request.postproc = recorded
    # num_retries=0: the SDK's own retry ignores Retry-After; ours honours it.
    answer = request.execute(num_retries=0)
    # Every success goes through postproc; "2xx" only if a request type ever did not.
    return answer, str(statuses[-1]) if statuses else "2xx"
