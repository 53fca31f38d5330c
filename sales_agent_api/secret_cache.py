"""Decrypted tenant secrets, remembered by their ciphertext.

Every stored secret is a fresh Fernet token (a new IV each time it is written), so keying the
plaintext by its ciphertext means a replaced secret is a miss and is decrypted at once, while
the hot path (the webhook) pays one dict look-up instead of an AES + HMAC per request.
"""

from __future__ import annotations

import threading

from sales_agent_pipeline.secretbox import SecretBox

# Far more than the tenants one process serves; on overflow the cache simply starts again.
MAX_ENTRIES = 4096


class PlaintextCache:
    """Ciphertext -> plaintext for one SecretBox; never logs or shows what it holds."""

    def __init__(self, box: SecretBox, max_entries: int = MAX_ENTRIES) -> None:
        self._box = box
        self._max = max_entries
        self._plain: dict[bytes, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PlaintextCache(<{len(self._plain)} secrets hidden>)"

    @property
    def box(self) -> SecretBox:
        """The box that decrypts (and encrypts) for this process."""
        return self._box

    def plaintext(self, ciphertext: bytes) -> str:
        """The secret; SecretDecryptError when no configured key opens it."""
        key = bytes(ciphertext)
        found = self._plain.get(key)
        if found is not None:
            return found
        value = self._box.decrypt(key)
        with self._lock:
            if len(self._plain) >= self._max:
                self._plain.clear()
            self._plain[key] = value
        return value
