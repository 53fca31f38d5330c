"""Is Dagster up: its daemons' heartbeats and our code location, asked of the webserver's
GraphQL API (the instance's own view, as the UI's "Deployment" page shows it).

One POST per process every CACHE_SECONDS at most, whoever asks (/readyz, /metrics, the
CLI). The API already knows the webserver (DAGSTER_WEBSERVER_URL, for launches), so no
other address or credential is needed; the daemon and the code server need not be
reachable from the API.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from cachetools import TTLCache, cached

from sales_agent_pipeline.connectors.dagster_launcher import LOCATION

# Dagster calls a daemon healthy until 30 s + 1,800 s after its last heartbeat
# (dagster._daemon.controller: DEFAULT_HEARTBEAT_INTERVAL_SECONDS +
# DEFAULT_DAEMON_HEARTBEAT_TOLERANCE_SECONDS), so its own `healthy` stays true for half an
# hour after the daemon stopped. A daemon writes a heartbeat when it yields and 30 s have
# passed since the last one: measured on an idle stack the gap reaches ~60 s (the
# scheduler's and the run queue's loops); twice that is a daemon gone or hung.
HEARTBEAT_STALE_SECONDS = 120.0
CACHE_SECONDS = 5.0
_MESSAGE_CHARS = 200

QUERY = """
query SalesAgentDagsterHealth {
  instance {
    daemonHealth {
      allDaemonStatuses {
        daemonType
        required
        healthy
        lastHeartbeatTime
        lastHeartbeatErrors { message }
      }
    }
  }
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True)
class DagsterHealth:
    """What the webserver said: each daemon's health, each code location's, or why it
    could not be asked."""

    daemons: Mapping[str, bool] = field(default_factory=dict)
    code_locations: Mapping[str, bool] = field(default_factory=dict)
    error: str | None = None
    # Each required daemon's last heartbeat (Unix seconds; None: it never sent one) and how
    # many errors it reported in it (Dagster keeps a daemon's errors for 5 minutes).
    heartbeats: Mapping[str, float | None] = field(default_factory=dict)
    daemon_errors: Mapping[str, int] = field(default_factory=dict)
    # Why a code location is not loaded ("workspace" when the workspace itself failed).
    location_errors: Mapping[str, str] = field(default_factory=dict)
    checked_at: float = 0.0
    stale_after_seconds: float = HEARTBEAT_STALE_SECONDS

    @property
    def daemon_ok(self) -> bool:
        """Every required daemon's heartbeat is recent."""
        return self.error is None and bool(self.daemons) and all(self.daemons.values())

    @property
    def code_server_ok(self) -> bool:
        """Every code location loaded."""
        return (
            self.error is None and bool(self.code_locations) and all(self.code_locations.values())
        )

    def heartbeat_age(self, daemon_type: str) -> float | None:
        """Seconds between the daemon's last heartbeat and the check (None: never sent)."""
        beat = self.heartbeats.get(daemon_type)
        return None if beat is None else max(0.0, self.checked_at - beat)

    @property
    def daemon_detail(self) -> str:
        """One line for a person: why the daemon check failed, or how fresh it is."""
        if self.error is not None:
            return self.error
        if not self.daemons:
            return "the webserver reports no required daemon"
        never = [name for name in sorted(self.daemons) if self.heartbeats.get(name) is None]
        stale = [name for name in sorted(self.daemons) if not self.daemons[name]]
        if stale:
            parts = [
                f"{name} never sent one"
                if name in never
                # Rounded up: a stale age never reads as the threshold itself.
                else f"{name} {math.ceil(self.heartbeat_age(name) or 0)} s ago"
                for name in stale
            ]
            return (
                f"no recent heartbeat (stale after {self.stale_after_seconds:.0f} s): "
                f"{', '.join(parts)}; is dagster-daemon running?"
            )
        oldest = max(age for name in self.daemons if (age := self.heartbeat_age(name)) is not None)
        errors = sum(self.daemon_errors.values())
        line = f"{len(self.daemons)} daemons, oldest heartbeat {oldest:.0f} s ago"
        if errors:
            line += f"; {errors} daemon errors in the last 5 minutes (see the Dagster UI)"
        return line

    @property
    def code_server_detail(self) -> str:
        """One line for a person: each code location that did not load and why."""
        if self.error is not None:
            return self.error
        if not self.code_locations:
            why = self.location_errors.get("workspace", "the workspace has no code location")
            return f"no code location: {why}"
        failed = [name for name, ok in sorted(self.code_locations.items()) if not ok]
        if failed:
            return "; ".join(
                f"{name}: {self.location_errors.get(name, 'not loaded')}" for name in failed
            )
        return ", ".join(f"{name} loaded" for name in sorted(self.code_locations))


def short_message(message: str) -> str:
    """The first line of an error message, without URL credentials, cut to a readable size
    (what a probe's body or a terminal line may show)."""
    line = _CREDENTIALS.sub("***@", (message.strip().splitlines() or [""])[0])
    return line if len(line) <= _MESSAGE_CHARS else line[: _MESSAGE_CHARS - 1] + "…"


def parse_health(
    body: Mapping[str, Any], *, now: float, stale_after_seconds: float = HEARTBEAT_STALE_SECONDS
) -> DagsterHealth:
    """The health in the webserver's answer to QUERY, as of `now` (Unix seconds)."""
    if body.get("errors"):
        message = short_message(str(body["errors"][0].get("message", body["errors"][0])))
        return DagsterHealth(error=f"the Dagster webserver refused the query: {message}")
    data = body["data"]
    daemons: dict[str, bool] = {}
    heartbeats: dict[str, float | None] = {}
    errors: dict[str, int] = {}
    for status in data["instance"]["daemonHealth"]["allDaemonStatuses"]:
        if not status["required"]:
            continue
        name, beat = status["daemonType"], status["lastHeartbeatTime"]
        heartbeats[name] = beat
        errors[name] = len(status["lastHeartbeatErrors"])
        # Dagster's own verdict (false when it never beat) and ours on the heartbeat's age.
        daemons[name] = (
            status["healthy"] is not False
            and beat is not None
            and now - beat <= stale_after_seconds
        )
    locations: dict[str, bool] = {}
    location_errors: dict[str, str] = {}
    workspace = data["workspaceOrError"]
    if workspace["__typename"] != "Workspace":
        location_errors["workspace"] = short_message(
            workspace.get("message", workspace["__typename"])
        )
    else:
        for entry in workspace["locationEntries"]:
            name, loaded = entry["name"], entry["locationOrLoadError"]
            if entry["loadStatus"] != "LOADED":
                location_errors[name] = "still loading"
            elif loaded is None or loaded["__typename"] != "RepositoryLocation":
                why = (loaded or {}).get("message") or "failed to load"
                location_errors[name] = short_message(why)
            locations[name] = name not in location_errors
        if locations and LOCATION not in locations:
            # Launches name this location: another one loading is not ours loading.
            locations[LOCATION] = False
            location_errors[LOCATION] = "not in the webserver's workspace"
    return DagsterHealth(
        daemons=daemons,
        code_locations=locations,
        heartbeats=heartbeats,
        daemon_errors=errors,
        location_errors=location_errors,
        checked_at=now,
        stale_after_seconds=stale_after_seconds,
    )


def _origin(url: httpx.URL) -> str:
    """scheme://host:port, never the credentials, path or query of the configured URL."""
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}"


_client_lock = threading.Lock()
_client: httpx.Client | None = None


def _shared_client() -> httpx.Client:
    # One pooled client per process: a new client builds an SSL context (~26 ms of CPU).
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client()
        return _client


def _ask(
    webserver_url: str,
    timeout_seconds: float,
    stale_after_seconds: float,
    headers: tuple[tuple[str, str], ...] = (),
) -> DagsterHealth:
    try:
        url = httpx.URL(webserver_url.rstrip("/") + "/graphql")
        where = _origin(url)
    except (httpx.InvalidURL, TypeError):
        return DagsterHealth(error="the Dagster webserver URL is not a valid URL")
    try:
        response = _shared_client().post(
            url, json={"query": QUERY}, headers=dict(headers), timeout=timeout_seconds
        )
    except httpx.TimeoutException:
        return DagsterHealth(
            error=f"the Dagster webserver at {where} did not answer within {timeout_seconds:g} s"
        )
    except httpx.HTTPError as exc:
        # A connection error's text is the OS's ("[Errno 111] Connection refused"), never
        # the URL; _short strips credentials anyway.
        reason = short_message(str(exc)) or type(exc).__name__
        return DagsterHealth(error=f"cannot reach the Dagster webserver at {where}: {reason}")
    if response.status_code != httpx.codes.OK:
        return DagsterHealth(
            error=f"the Dagster webserver at {where} answered HTTP {response.status_code}"
        )
    try:
        return parse_health(
            response.json(), now=time.time(), stale_after_seconds=stale_after_seconds
        )
    except ValueError:
        return DagsterHealth(
            error=f"{where} answered something that is not JSON: is it the Dagster webserver?"
        )
    except (KeyError, TypeError, AttributeError) as exc:
        return DagsterHealth(
            error=f"unexpected answer from the Dagster webserver at {where} "
            f"({type(exc).__name__}: {short_message(str(exc))}): is it Dagster 1.13?"
        )


@cached(TTLCache(maxsize=16, ttl=CACHE_SECONDS), condition=threading.Condition())
def _cached_ask(
    webserver_url: str,
    timeout_seconds: float,
    stale_after_seconds: float,
    headers: tuple[tuple[str, str], ...],
) -> DagsterHealth:
    # The condition makes concurrent callers wait for the one request in flight rather
    # than each send their own (a readiness probe per worker plus a scrape).
    return _ask(webserver_url, timeout_seconds, stale_after_seconds, headers)


def dagster_health(
    webserver_url: str,
    timeout_seconds: float = 2.0,
    *,
    stale_after_seconds: float = HEARTBEAT_STALE_SECONDS,
    headers: dict[str, str] | None = None,
) -> DagsterHealth:
    """Ask the webserver (cached a few seconds per process); `headers` carry the service
    token a gated webserver asks for."""
    return _cached_ask(
        webserver_url, timeout_seconds, stale_after_seconds, tuple(sorted((headers or {}).items()))
    )


def forget_cached_health() -> None:
    """Drop the cached answers: the next call asks the webserver again."""
    _cached_ask.cache_clear()
