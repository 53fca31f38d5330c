"""Unsubscribe tokens: url-safe, opaque (no readable tenant or address), authenticated,
expiring; every bad one named (malformed, forged, expired), never a crash."""

from __future__ import annotations

import base64
import time
import uuid

import pytest

from sales_agent_pipeline.secretbox import (
    MAX_UNSUBSCRIBE_TOKEN,
    BadUnsubscribeToken,
    UnsubscribeTokens,
    generate_key,
    unsubscribe_tokens,
)
from sales_agent_pipeline.settings import Settings

KEY = generate_key()
TENANT = uuid.UUID("6f1c2a52-6a4e-4d59-9d1e-3f3b8e1f0a11")
WORKFLOW = uuid.UUID("0b7f6c1e-2f43-4a8e-8d7a-5c1a6e2b9d33")
URL_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def tokens(*keys: str, days: int = 90) -> UnsubscribeTokens:
    return UnsubscribeTokens(list(keys or [KEY]), ttl_days=days)


def problem(maker: UnsubscribeTokens, token: str, **kwargs: float) -> str:
    with pytest.raises(BadUnsubscribeToken) as caught:
        maker.read(token, **kwargs)
    return caught.value.problem


def test_a_token_reads_back_its_claim_and_reveals_nothing() -> None:
    maker = tokens()
    token = maker.mint(TENANT, "  Ana.Lopez@Example.COM ", WORKFLOW)
    assert set(token) <= URL_SAFE
    assert len(token) < 300
    claim = maker.read(token)
    assert (claim.tenant_id, claim.email, claim.workflow_id) == (
        TENANT,
        "ana.lopez@example.com",
        WORKFLOW,
    )
    assert abs(claim.issued_at.timestamp() - time.time()) < 5
    # Nothing of the claim is readable in the token (nor in the claim's repr).
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"example" not in raw
    assert TENANT.bytes not in raw
    assert "ana" not in repr(claim)


def test_a_token_without_a_workflow() -> None:
    maker = tokens()
    assert maker.read(maker.mint(TENANT, "a@b.example", None)).workflow_id is None


def test_two_tokens_of_one_address_differ() -> None:
    maker = tokens()
    assert maker.mint(TENANT, "a@b.example", None) != maker.mint(TENANT, "a@b.example", None)


def test_expired_after_its_days() -> None:
    maker = tokens(days=30)
    token = maker.mint(TENANT, "a@b.example", WORKFLOW)
    assert maker.read(token, now=time.time() + 29 * 86400).email == "a@b.example"
    assert problem(maker, token, now=time.time() + 31 * 86400) == "expired"


def test_another_keys_token_or_an_altered_one_is_forged() -> None:
    maker = tokens()
    theirs = tokens(generate_key()).mint(TENANT, "a@b.example", None)
    assert problem(maker, theirs) == "forged"
    token = maker.mint(TENANT, "a@b.example", WORKFLOW)
    middle = len(token) // 2
    flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    assert problem(maker, flipped) == "forged"


def test_a_secrets_key_itself_does_not_open_a_token() -> None:
    """The token key is derived (HKDF): a Fernet token made with the secrets key is no token."""
    from cryptography.fernet import Fernet

    made = Fernet(KEY.encode()).encrypt(b"\x01" + TENANT.bytes + bytes(16) + b"a@b.example")
    assert problem(tokens(), made.decode().rstrip("=")) == "forged"


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "not a token!",
        "%%%%",
        "gAAAAAB",
        "A" * 200,
        "A" * (MAX_UNSUBSCRIBE_TOKEN + 1),
        "\u00e9t\u00e9",
    ],
)
def test_malformed(token: str) -> None:
    assert problem(tokens(), token) == "malformed"


def test_a_cut_token_is_malformed() -> None:
    maker = tokens()
    token = maker.mint(TENANT, "a@b.example", WORKFLOW)
    assert problem(maker, token[:-20]) in {"malformed", "forged"}
    assert problem(maker, token[:40]) == "malformed"


def test_a_token_from_the_future_is_refused() -> None:
    maker = tokens()
    token = maker.mint(TENANT, "a@b.example", None, now=time.time() + 3600)
    assert problem(maker, token) == "malformed"


def test_an_old_key_still_opens_tokens_after_a_rotation() -> None:
    old, new = generate_key(), generate_key()
    token = tokens(old).mint(TENANT, "a@b.example", None)
    assert tokens(new, old).read(token).email == "a@b.example"
    assert problem(tokens(new), token) == "forged"


def test_from_the_settings() -> None:
    settings = Settings(_env_file=None, secrets_encryption_keys=KEY, unsubscribe_token_days=7)
    maker = unsubscribe_tokens(settings)
    assert maker.ttl_seconds == 7 * 86400
    assert unsubscribe_tokens(settings).read(maker.mint(TENANT, "a@b.example", None)).email
    assert "KEY" not in repr(maker)
    assert KEY not in repr(maker)


def test_messages_name_the_problem_not_the_content() -> None:
    for name in ("malformed", "forged", "expired"):
        message = str(BadUnsubscribeToken(name))
        assert "unsubscribe link" in message
