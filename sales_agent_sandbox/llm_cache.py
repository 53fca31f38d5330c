"""Prompt caching on the model paths, as each vendor documents it, over estimated tokens.

OpenAI caches automatically: a prompt whose first 1,024 tokens or more repeat an earlier
prompt's reports them as `cached_tokens`, in steps of 128. Anthropic caches what a
`cache_control` breakpoint closes (tools, then system, then messages, up to the block): a
prefix of 1,024 tokens or more is written the first time (`cache_creation_input_tokens`)
and read after (`cache_read_input_tokens`), for five minutes (or an hour) after last use.

Prefixes are remembered as hashes, scoped by API key and model (caches are per organisation
and model), in a bounded least-recently-used table.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from .llm_writer import estimate_tokens

MIN_CACHED_TOKENS = 1024
OPENAI_STEP = 128
CHARS_PER_TOKEN = 4
MAX_ENTRIES = 20_000
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
OPENAI_TTL = 600.0
# What the rate-limit headers report (never enforced: fault rules make 429s).
REQUESTS_PER_MINUTE = 500
TOKENS_PER_MINUTE = 200_000


@dataclass(frozen=True)
class CacheBlock:
    """One cacheable piece of an Anthropic prompt, and its breakpoint's TTL when it has one."""

    text: str
    ttl: str | None = None


@dataclass(frozen=True)
class AnthropicCacheUse:
    """What one Anthropic request read from and wrote to the cache, in tokens."""

    total: int
    read: int = 0
    written_5m: int = 0
    written_1h: int = 0

    @property
    def uncached(self) -> int:
        """Input tokens after the last breakpoint (or of a prompt without one)."""
        return self.total - self.read - self.written_5m - self.written_1h


class PromptCache:
    """Remembered prompt prefixes (hashes only) and a rolling minute of calls per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, float] = OrderedDict()
        self._minute: dict[str, deque[tuple[float, int]]] = {}

    def _hit(self, key: str, now: float, ttl: float) -> bool:
        expires = self._entries.get(key)
        if expires is None or expires < now:
            return False
        self._entries[key] = max(expires, now + ttl)  # a hit refreshes the entry
        self._entries.move_to_end(key)
        return True

    def _remember(self, key: str, expires: float) -> None:
        self._entries[key] = max(self._entries.get(key, 0.0), expires)
        self._entries.move_to_end(key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def openai(self, scope: str, prompt: str) -> int:
        """Cached tokens of this prompt (0, or 1,024 and up by 128), and remember it."""
        total = estimate_tokens(prompt)
        hasher = hashlib.sha256(scope.encode())
        keys: list[tuple[int, str]] = []
        done = 0
        for tokens in range(MIN_CACHED_TOKENS, total + 1, OPENAI_STEP):
            end = tokens * CHARS_PER_TOKEN
            hasher.update(prompt[done:end].encode())
            done = end
            keys.append((tokens, hasher.copy().hexdigest()))
        now = time.time()
        with self._lock:
            cached = next((t for t, k in reversed(keys) if self._hit(k, now, OPENAI_TTL)), 0)
            for _, key in keys:
                self._remember(key, now + OPENAI_TTL)
        return cached

    def anthropic(self, scope: str, blocks: list[CacheBlock]) -> AnthropicCacheUse:
        """Read the longest cached breakpoint prefix; write the breakpoints after it."""
        hasher = hashlib.sha256(scope.encode())
        total = 0
        points: list[tuple[int, str, str]] = []  # (tokens so far, key, ttl)
        for block in blocks:
            hasher.update(b"\x1e" + block.text.encode())
            total += estimate_tokens(block.text)
            if block.ttl is not None:
                points.append((total, hasher.copy().hexdigest(), block.ttl))
        eligible = [p for p in points if p[0] >= MIN_CACHED_TOKENS]
        if not eligible:
            return AnthropicCacheUse(total=total)
        now = time.time()
        with self._lock:
            read = next(
                (t for t, k, ttl in reversed(eligible) if self._hit(k, now, TTL_SECONDS[ttl])),
                0,
            )
            written = {"5m": 0, "1h": 0}
            start = read
            for tokens, key, ttl in eligible:
                if tokens <= read:
                    continue
                written[ttl] += tokens - start
                start = tokens
                self._remember(key, now + TTL_SECONDS[ttl])
        return AnthropicCacheUse(total, read, written["5m"], written["1h"])

    def count_call(self, scope: str, tokens: int) -> tuple[int, int]:
        """Record a call; the requests and tokens left of this minute's (reported) limits."""
        now = time.monotonic()
        with self._lock:
            if scope not in self._minute and len(self._minute) >= 1000:
                self._minute.clear()  # bounded: only the headers' arithmetic depends on it
            window = self._minute.setdefault(scope, deque())
            while window and now - window[0][0] >= 60:
                window.popleft()
            window.append((now, tokens))
            used = sum(t for _, t in window)
            return (max(REQUESTS_PER_MINUTE - len(window), 0), max(TOKENS_PER_MINUTE - used, 0))
