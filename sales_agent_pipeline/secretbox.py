"""Encryption at rest for the secrets kept in the database (cryptography's MultiFernet).

Keys come from SECRETS_ENCRYPTION_KEYS (comma-separated, the first encrypts, every one
decrypts), else SECRETS_ENCRYPTION_KEY_FILE (one key a line, the same order), else, in
development only, a key generated once under the data dir. `sales-agent secrets rotate`
re-encrypts every row with the first key, after which an old key can be dropped.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.settings import Settings

DEV_KEY_FILE = "secrets.key"


class SecretDecryptError(ConfigurationError):
    """A stored secret was encrypted with none of the configured keys (or was altered)."""


class SecretBox:
    """Encrypts and decrypts one secret at a time; never logs or keeps a plaintext."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ConfigurationError("no secrets encryption key configured")
        fernets: list[Fernet] = []
        for n, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                # Name the position, never the value.
                raise ConfigurationError(
                    f"secrets encryption key #{n} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes; make one with `sales-agent secrets keygen`)"
                ) from None
        self._fernet = MultiFernet(fernets)
        self._primary = fernets[0]

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def encrypt(self, plaintext: str) -> bytes:
        """The ciphertext of a secret, under the first key."""
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes, *, ttl: int | None = None) -> str:
        """The plaintext; SecretDecryptError when no key opens it (or it is older than ttl)."""
        try:
            return self._fernet.decrypt(bytes(ciphertext), ttl=ttl).decode()
        except InvalidToken:
            raise SecretDecryptError(
                "a stored secret cannot be decrypted with the configured keys "
                "(was a key removed before `sales-agent secrets rotate`?)"
            ) from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same secret encrypted under the first key (MultiFernet.rotate)."""
        try:
            return self._fernet.rotate(bytes(ciphertext))
        except InvalidToken:
            raise SecretDecryptError(
                "a stored secret cannot be decrypted with the configured keys"
            ) from None

    def is_current(self, ciphertext: bytes) -> bool:
        """True when the first key already opens it (rotation can skip it)."""
        try:
            self._primary.decrypt(bytes(ciphertext))
        except InvalidToken:
            return False
        return True


def generate_key() -> str:
    """A new Fernet key, for SECRETS_ENCRYPTION_KEYS or a key file."""
    return Fernet.generate_key().decode()


def _read_key_file(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(
            f"SECRETS_ENCRYPTION_KEY_FILE {path} cannot be read: {type(exc).__name__}"
        ) from None
    keys = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not keys:
        raise ConfigurationError(f"SECRETS_ENCRYPTION_KEY_FILE {path} holds no key")
    return keys


def write_private_once(path: Path, text: str) -> None:
    """Create `path` holding `text`, readable by its owner only; an existing file is kept."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # 0600 from the start (never readable by others, not even for a moment), and O_EXCL:
        # two processes starting at once never write two different values.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as sink:
        sink.write(text)


def _development_key(data_dir: Path) -> list[str]:
    path = data_dir / DEV_KEY_FILE
    write_private_once(path, generate_key() + "\n")
    for _ in range(50):
        keys = _read_key_file(path) if path.stat().st_size else []
        if keys:
            return keys
        # Another process created the file and is writing it.
        time.sleep(0.02)
    return _read_key_file(path)


def encryption_keys(settings: Settings) -> list[str]:
    """The configured keys, first one encrypting; development makes one when none is set."""
    if settings.secrets_encryption_keys is not None:
        raw = settings.secrets_encryption_keys.get_secret_value()
        keys = [part.strip() for part in raw.split(",") if part.strip()]
        if not keys:
            raise ConfigurationError("SECRETS_ENCRYPTION_KEYS is set but empty")
        return keys
    if settings.secrets_encryption_key_file is not None:
        return _read_key_file(settings.secrets_encryption_key_file)
    if settings.environment != "development":
        raise ConfigurationError(
            "set SECRETS_ENCRYPTION_KEYS or SECRETS_ENCRYPTION_KEY_FILE: production never "
            "generates its own key"
        )
    return _development_key(settings.data_dir.resolve())


@functools.cache
def _box(keys: tuple[str, ...]) -> SecretBox:
    return SecretBox(keys)


def secret_box(settings: Settings) -> SecretBox:
    """The process's box for these settings' keys (built once per key set)."""
    return _box(tuple(encryption_keys(settings)))


# One-click unsubscribe tokens (RFC 8058): the tenant, the address and the workflow,
# encrypted and authenticated (Fernet) under a key derived from each secrets key, so a
# token reveals nothing and cannot be made without the keys; the secrets keys themselves
# never encrypt tokens (a token is no oracle for stored secrets).
_UNSUBSCRIBE_INFO = b"sales-agent unsubscribe token v1"
_UNSUBSCRIBE_VERSION = 1
# A Fernet token: version byte, timestamp, IV, at least one AES block, HMAC.
_FERNET_MIN = 1 + 8 + 16 + 16 + 32
# Far above any real token (an address is at most 320 characters): no work on garbage.
MAX_UNSUBSCRIBE_TOKEN = 1024
# The url-safe base64 alphabet (b64decode would skip anything else, silently).
UNSUBSCRIBE_TOKEN_PATTERN = r"^[A-Za-z0-9_-]+={0,2}$"  # noqa: S105 (a pattern, no secret)
_TOKEN_TEXT = re.compile(UNSUBSCRIBE_TOKEN_PATTERN)
# A token minted a little in the future (clocks of two hosts) is accepted.
_CLOCK_SKEW_SECONDS = 300


class BadUnsubscribeToken(ValueError):
    """A token that is not ours to honour; `.problem` says why (never which part)."""

    MESSAGES = {
        "malformed": "this unsubscribe link is malformed (was it cut or altered?)",
        "forged": "this unsubscribe link was not issued by us",
        "expired": "this unsubscribe link has expired",
    }

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(self.MESSAGES.get(problem, problem))


@dataclass(frozen=True)
class UnsubscribeClaim:
    """What a valid token says: who asked the tenant never to mail them, from which mail."""

    tenant_id: uuid.UUID
    email: str
    workflow_id: uuid.UUID | None
    issued_at: datetime

    def __repr__(self) -> str:
        # Never the address in full (logs, tracebacks).
        return (
            f"UnsubscribeClaim(tenant_id={self.tenant_id}, email=<hidden>, "
            f"workflow_id={self.workflow_id}, issued_at={self.issued_at.isoformat()})"
        )


def _derive_token_key(key: str) -> bytes:
    raw = base64.urlsafe_b64decode(key.encode())
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_UNSUBSCRIBE_INFO).derive(
        raw
    )
    return base64.urlsafe_b64encode(derived)


class UnsubscribeTokens:
    """Mints and reads unsubscribe tokens; every configured secrets key opens one (so a key
    rotation keeps links in sent mail working until the old key is dropped)."""

    def __init__(self, keys: Sequence[str], *, ttl_days: int) -> None:
        if not keys:
            raise ConfigurationError("no secrets encryption key configured")
        try:
            fernets = [Fernet(_derive_token_key(key)) for key in keys]
        except (ValueError, TypeError, binascii.Error):
            raise ConfigurationError("a secrets encryption key is not a Fernet key") from None
        self._fernet = MultiFernet(fernets)
        self._primary = fernets[0]
        self.ttl_seconds = ttl_days * 86400

    def __repr__(self) -> str:
        return "UnsubscribeTokens(<keys hidden>)"

    def mint(
        self,
        tenant_id: uuid.UUID,
        email: str,
        workflow_id: uuid.UUID | None,
        *,
        now: float | None = None,
    ) -> str:
        """A url-safe token (no padding) for the address's unsubscribe link."""
        address = email.strip().lower()
        if not address or len(address) > 320:
            raise ValueError("an unsubscribe token needs an address of 1 to 320 characters")
        payload = (
            bytes([_UNSUBSCRIBE_VERSION])
            + tenant_id.bytes
            + (workflow_id.bytes if workflow_id is not None else bytes(16))
            + address.encode()
        )
        at = int(time.time() if now is None else now)
        token = self._primary.encrypt_at_time(payload, at)
        return token.decode().rstrip("=")

    def read(self, token: str, *, now: float | None = None) -> UnsubscribeClaim:
        """The token's claim; BadUnsubscribeToken ("malformed", "forged" or "expired")."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_UNSUBSCRIBE_TOKEN:
            raise BadUnsubscribeToken("malformed")
        text = token.strip()
        if not _TOKEN_TEXT.match(text):
            raise BadUnsubscribeToken("malformed")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise BadUnsubscribeToken("malformed") from None
        if len(raw) < _FERNET_MIN or raw[0] != 0x80 or (len(raw) - 57) % 16:
            raise BadUnsubscribeToken("malformed")
        padded = base64.urlsafe_b64encode(raw)
        try:
            payload = self._fernet.decrypt(padded)
        except InvalidToken:
            raise BadUnsubscribeToken("forged") from None
        issued = int.from_bytes(raw[1:9], "big")
        current = time.time() if now is None else now
        if issued > current + _CLOCK_SKEW_SECONDS:
            raise BadUnsubscribeToken("malformed")
        if current - issued > self.ttl_seconds:
            raise BadUnsubscribeToken("expired")
        if len(payload) < 34 or payload[0] != _UNSUBSCRIBE_VERSION:
            raise BadUnsubscribeToken("malformed")
        workflow = payload[17:33]
        try:
            address = payload[33:].decode()
        except UnicodeDecodeError:
            raise BadUnsubscribeToken("malformed") from None
        if not address:
            raise BadUnsubscribeToken("malformed")
        return UnsubscribeClaim(
            tenant_id=uuid.UUID(bytes=payload[1:17]),
            email=address,
            workflow_id=None if workflow == bytes(16) else uuid.UUID(bytes=workflow),
            issued_at=datetime.fromtimestamp(issued, UTC),
        )


@functools.cache
def _tokens(keys: tuple[str, ...], ttl_days: int) -> UnsubscribeTokens:
    return UnsubscribeTokens(keys, ttl_days=ttl_days)


def unsubscribe_tokens(settings: Settings) -> UnsubscribeTokens:
    """The process's unsubscribe token maker/reader for these settings' keys and lifetime."""
    return _tokens(tuple(encryption_keys(settings)), settings.unsubscribe_token_days)
