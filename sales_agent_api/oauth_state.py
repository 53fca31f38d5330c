"""The OAuth install's `state`: authenticated, expiring and good for one callback.

It is a Fernet token from the process's SecretBox (authenticated encryption with a
timestamp, so no hand-written HMAC): a forged or altered state does not decrypt, a stale
one is older than the TTL, and its random nonce is claimed once in PostgreSQL (an
idempotency record, shared by every API process), so a replayed callback is refused.
"""

from __future__ import annotations

import json
import secrets

from sqlalchemy.orm import Session

from sales_agent_pipeline.db.repositories import idempotency
from sales_agent_pipeline.secretbox import SecretBox, SecretDecryptError

PURPOSE = "hubspot-install"
# Long enough to log in to HubSpot and pick a portal; short enough that a leaked URL dies.
STATE_TTL_SECONDS = 600
CLAIM_SCOPE = "oauth.hubspot.state"


class StateRefused(Exception):
    """A state the callback must refuse; `code` and the message are safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def issue_state(box: SecretBox) -> str:
    """A new state for an install redirect."""
    payload = {"purpose": PURPOSE, "nonce": secrets.token_urlsafe(18)}
    return box.encrypt(json.dumps(payload)).decode("ascii")


def read_state(box: SecretBox, state: str, ttl_seconds: int = STATE_TTL_SECONDS) -> str:
    """The state's nonce; StateRefused when it is forged, altered or stale."""
    restart = "start again at /oauth/hubspot/install"
    token = state.encode("utf-8", "replace")
    try:
        plain = box.decrypt(token, ttl=ttl_seconds)
    except SecretDecryptError:
        try:
            box.decrypt(token)
        except SecretDecryptError:
            raise StateRefused(
                "invalid_state", f"the state was not issued by this app: {restart}"
            ) from None
        raise StateRefused(
            "stale_state", f"the install took longer than {ttl_seconds // 60} minutes: {restart}"
        ) from None
    try:
        payload = json.loads(plain)
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or payload.get("purpose") != PURPOSE:
        # Another of our ciphertexts (a stored secret, say) is no install state.
        raise StateRefused("invalid_state", f"the state is not an install state: {restart}")
    return str(payload["nonce"])


def claim_state(session: Session, nonce: str) -> None:
    """Use the state's nonce up; StateRefused when a callback already used it."""
    if not idempotency.claim(session, CLAIM_SCOPE, nonce):
        raise StateRefused(
            "state_used",
            "this install link was used already: start again at /oauth/hubspot/install",
        )
