"""HubSpot request signatures (v3, v2, v1): pure functions over the raw request, no framework.

Below the shells, so the API's webhook verifies with them and the CLI's demo signs its leads
with them without either shell importing the other.

HubSpot's rules, as documented under "Validating requests" and as the official SDK computes them:
- v3: base64(HMAC-SHA256(secret, method + uri + body + timestamp)); the timestamp (ms) comes in
  X-HubSpot-Request-Timestamp and requests older than 5 minutes are to be refused;
- v2: hex(SHA-256(secret + method + uri + body)), X-HubSpot-Signature-Version "v2";
- v1: hex(SHA-256(secret + body)), X-HubSpot-Signature-Version "v1".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping

V3_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
LEGACY_HEADER = "X-HubSpot-Signature"
VERSION_HEADER = "X-HubSpot-Signature-Version"

# The escapes HubSpot decodes before signing a v3 URI; every other escape (%20, %25, %3D, %26...)
# stays as sent, so a general unquote() would break signatures on URLs that carry them.
_DECODED = {
    "3A": ":",
    "2F": "/",
    "3F": "?",
    "40": "@",
    "21": "!",
    "24": "$",
    "27": "'",
    "28": "(",
    "29": ")",
    "2A": "*",
    "2C": ",",
    "3B": ";",
}
_ESCAPE = re.compile("%(" + "|".join(_DECODED) + ")", re.IGNORECASE)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class SignatureError(Exception):
    """A request whose signature cannot be accepted; `reason` is safe to show the sender."""

    def __init__(self, reason: str) -> None:
        # Only fixed phrases go here: never the secret, the expected digest or header values.
        super().__init__(reason)
        self.reason = reason


def canonical_uri(url: str) -> str:
    """The URL as HubSpot signs it for v3: its listed percent-escapes decoded, nothing else."""
    # One regex pass: no decoded character is "%", so no escape can be created and re-decoded.
    return _ESCAPE.sub(lambda match: _DECODED[match.group(1).upper()], url)


def _first(value: str | None) -> str | None:
    # Proxies chained behind each other append ", next"; the first entry is the client-facing one.
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None


def _has_port(host: str) -> bool:
    # "[::1]:8443" has a port, "[::1]" has none: IPv6 literals carry colons of their own.
    if host.startswith("["):
        return "]:" in host
    return ":" in host


def public_url(
    scheme: str,
    host: str,
    path_and_query: str,
    headers: Mapping[str, str],
    *,
    trust_forwarded: bool,
) -> str:
    """The URL the sender called, rebuilt from X-Forwarded-* only when the proxy is trusted."""
    if trust_forwarded:
        lowered = _lowered(headers)
        forwarded_scheme = _first(lowered.get("x-forwarded-proto"))
        forwarded_host = _first(lowered.get("x-forwarded-host"))
        scheme = forwarded_scheme or scheme
        host = forwarded_host or host
        port = _first(lowered.get("x-forwarded-port"))
        # The webhook URL HubSpot signs names no default port (":443"), so adding one would
        # change the signed string.
        if port and not _has_port(host) and port != _DEFAULT_PORTS.get(scheme.lower()):
            host = f"{host}:{port}"
    if not path_and_query.startswith("/"):
        path_and_query = "/" + path_and_query
    return f"{scheme.lower()}://{host}{path_and_query}"


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    # HTTP header names are case-insensitive; callers pass plain dicts as well as Starlette's.
    return {name.lower(): value for name, value in headers.items()}


def _v3_digest(secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    # Raw body bytes: for a UTF-8 body these equal the SDK's f-string encoded as UTF-8, and a body
    # that is not UTF-8 cannot collide with another through a lossy decode.
    message = f"{method.upper()}{canonical_uri(url)}".encode() + body + timestamp.encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def sign_v3(secret: str, method: str, url: str, body: bytes, timestamp_ms: int) -> dict[str, str]:
    """The v3 headers HubSpot would send for this request, for demos and tests."""
    timestamp = str(timestamp_ms)
    return {
        V3_HEADER: _v3_digest(secret, method, url, body, timestamp),
        TIMESTAMP_HEADER: timestamp,
    }


def _check_timestamp(raw: str | None, now_ms: int, tolerance_ms: int) -> str:
    if raw is None or not raw.strip():
        raise SignatureError("missing timestamp")
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit():
        raise SignatureError("invalid timestamp")
    stamp = int(raw)
    if now_ms - stamp > tolerance_ms:
        raise SignatureError("stale timestamp")
    # HubSpot only asks to refuse old requests; refusing far-future ones too stops a captured
    # request signed with a forged future stamp from being replayable for days.
    if stamp - now_ms > tolerance_ms:
        raise SignatureError("timestamp in the future")
    return raw


def _same(expected: str, given: str) -> bool:
    # compare_digest on bytes: it refuses non-ASCII str, and a header can hold anything; "?" never
    # occurs in hex or base64, so replacing what cannot be encoded cannot make a match.
    return hmac.compare_digest(expected.encode(), given.strip().encode("utf-8", "replace"))


def verify(
    *,
    secret: str,
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    now_ms: int,
    tolerance_ms: int = 300_000,
) -> str:
    """Check the request's HubSpot signature; return "v3", "v2" or "v1" or raise SignatureError."""
    lowered = _lowered(headers)
    if not secret:
        # An empty key would make every v1/v2 digest computable by anyone.
        raise SignatureError("no secret configured")
    v3 = lowered.get(V3_HEADER.lower())
    if v3 is not None:
        # No fallback to v2/v1 when v3 is present: the older versions carry no timestamp, so
        # falling back would let a captured request be replayed forever.
        timestamp = _check_timestamp(lowered.get(TIMESTAMP_HEADER.lower()), now_ms, tolerance_ms)
        if not _same(_v3_digest(secret, method, url, body, timestamp), v3):
            raise SignatureError("signature mismatch")
        return "v3"
    legacy = lowered.get(LEGACY_HEADER.lower())
    if legacy is None or not legacy.strip():
        raise SignatureError("missing signature")
    # HubSpot's v1 senders (webhook subscriptions) set "v1"; an absent header is read as v1.
    version = lowered.get(VERSION_HEADER.lower(), "v1").strip().lower() or "v1"
    if version == "v2":
        # v2 signs the URI exactly as called: HubSpot lists no escapes to decode for it.
        source = f"{secret}{method.upper()}{url}".encode() + body
    elif version == "v1":
        source = secret.encode() + body
    else:
        raise SignatureError("unsupported signature version")
    if not _same(hashlib.sha256(source).hexdigest(), legacy.lower()):
        raise SignatureError("signature mismatch")
    return version
