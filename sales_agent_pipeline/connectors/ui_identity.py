"""Who launched a run from the Dagster UI, in a form a job can trust.

Dagster's open-source UI has no users. Behind an authenticating proxy (oauth2-proxy, or an
ingress's auth) it receives the signed-in user's email in a header; our wrapper of the
webserver (`sales_agent_pipeline.webserver`) refuses requests without one and writes it
into the tags of every run the UI launches, with a stamp: an HMAC over the identity and the
time, keyed by a key derived from the deployment's encryption keys. Anyone can type tags in
the launchpad; no one can make a stamp without the key, and a stamp expires, so a run
re-executed later does not carry its first launcher along. Pure functions, like
synthetic_marker: Python's hmac is all it takes.

Internal callers of the webserver's GraphQL (the API's launches, readiness checks) send
`SERVICE_HEADER` with `service_token(keys)` instead of a person's identity.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta

from sales_agent_pipeline.secretbox import encryption_keys
from sales_agent_pipeline.settings import Settings

SERVICE_HEADER = "X-Sales-Agent-Service"
# The identity of runs the UI launched for an internal caller: never an approver.
SERVICE_OPERATOR = "service:sales-agent"
# The identity of runs launched through a webserver with UI_AUTH=none (local development).
LOCAL_OPERATOR = "local:no-sign-in"
# How long after the launch a stamp is honoured: an approval runs within seconds of it.
STAMP_MAX_AGE = timedelta(hours=1)
# A clock a little ahead on the webserver's host is not a forgery.
_CLOCK_SKEW = timedelta(minutes=2)
_STAMP_LABEL = b"sales-agent/ui-operator/v1"
_SERVICE_LABEL = b"sales-agent/ui-service/v1"


def _key(secret: str, label: bytes) -> bytes:
    return hmac.new(secret.encode(), label, hashlib.sha256).digest()


def _mac(secret: str, issued: int, operator: str) -> str:
    message = f"{issued}\n{operator}".encode()
    return hmac.new(_key(secret, _STAMP_LABEL), message, hashlib.sha256).hexdigest()


def stamp(keys: Sequence[str], operator: str, at: datetime) -> str:
    """The stamp of `operator` launching a run at `at`, under the newest key."""
    issued = int(at.timestamp())
    return f"{issued}.{_mac(keys[0], issued, operator)}"


def verify(
    keys: Sequence[str],
    operator: str,
    value: str,
    now: datetime,
    max_age: timedelta = STAMP_MAX_AGE,
) -> bool:
    """True when `value` is a stamp of `operator` under one of `keys` (old keys still
    count while they are being rotated out), made no longer than `max_age` before `now`."""
    issued_text, _, mac = value.partition(".")
    if not issued_text.isdigit() or not mac:
        return False
    issued = int(issued_text)
    age = now.timestamp() - issued
    if age < -_CLOCK_SKEW.total_seconds() or age > max_age.total_seconds():
        return False
    given = mac.encode("ascii", "replace")
    return any(
        hmac.compare_digest(_mac(key, issued, operator).encode("ascii"), given) for key in keys
    )


def _service(secret: str) -> str:
    return hmac.new(_key(secret, _SERVICE_LABEL), b"webserver", hashlib.sha256).hexdigest()


def service_token(keys: Sequence[str]) -> str:
    """The header value that identifies our own processes to the webserver."""
    return _service(keys[0])


def service_headers(settings: Settings) -> dict[str, str]:
    """The headers our own processes send with every request to the webserver."""
    return {SERVICE_HEADER: service_token(encryption_keys(settings))}


def is_service_token(keys: Sequence[str], value: str | None) -> bool:
    """True when `value` is the service token under one of `keys`."""
    if not value:
        return False
    given = value.strip().encode("ascii", "replace")
    return any(hmac.compare_digest(_service(key).encode("ascii"), given) for key in keys)
