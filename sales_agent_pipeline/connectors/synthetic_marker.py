"""The synthetic canary's marker: an HMAC over the delivery's raw body, keyed by the portal's
webhook secret, in a header of its own. Pure functions, like hubspot_signature.

A lead controls every field of the body, never this header's value: without the portal's
webhook secret no one can compute it, and it is bound to the exact body it came with, so
it cannot be moved onto another delivery (a replay of the same body is a duplicate). The
key is derived from the webhook secret, never the secret itself, so a marker is no HubSpot
signature of anything. Python's hmac is all it takes (no library does less).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

HEADER = "X-Sales-Agent-Synthetic"
# Names the key's purpose: a marker's key differs from every other use of the secret.
_LABEL = b"sales-agent/synthetic-lead/v1"


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()


def mark(secret: str, body: bytes) -> str:
    """The header value that marks this exact body as the canary's synthetic lead."""
    digest = hmac.new(_key(secret), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def is_marked(secret: str, body: bytes, value: str | None) -> bool:
    """True only when `value` is this body's marker under this secret."""
    if not secret or value is None:
        return False
    # compare_digest wants ASCII; a header can hold anything, and "?" never occurs in base64.
    given = value.strip().encode("ascii", "replace")
    return hmac.compare_digest(mark(secret, body).encode("ascii"), given)
