"""Encryption at rest for the secrets kept in the database (cryptography's MultiFernet).

Keys come from SECRETS_ENCRYPTION_KEYS (comma-separated, the first encrypts, every one
decrypts), else SECRETS_ENCRYPTION_KEY_FILE (one key a line, the same order), else, in
development only, a key generated once under the data dir. `sales-agent secrets rotate`
re-encrypts every row with the first key, after which an old key can be dropped.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

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
