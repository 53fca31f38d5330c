"""The draft writer: turns a brief into a structured answer. The template writer (offline,
the fallback) and the LLM writers (OpenAI-compatible Chat Completions, Anthropic Messages)
implement it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Protocol

from sales_agent_pipeline.domain.drafting import (
    DraftBrief,
    WriterKind,
    WriterSettings,
    WrittenDraft,
)


class DraftWriter(Protocol):
    """Writes one draft's text from its brief.

    Raises our classified errors: TransientError (429, 5xx, a timeout), PermanentError (a
    refusal, a malformed or truncated answer, a 4xx), ConfigurationError (no API key). The
    caller falls back to the template writer on any of them.
    """

    kind: WriterKind

    def write(self, brief: DraftBrief, settings: WriterSettings, model: str) -> WrittenDraft:
        """The answer to the brief, written with `model` (ignored by the template writer)."""
        ...


class TokenBudget(Protocol):
    """A tenant's model tokens today, and the record of each draft's."""

    def spent_today(self, tenant_id: uuid.UUID) -> int:
        """Input and output tokens the tenant's drafts used today (UTC)."""
        ...

    def record(self, tenant_id: uuid.UUID, counts: Mapping[str, int]) -> None:
        """Add one draft's counters to the tenant's usage ("llm_tokens.input", ...)."""
        ...
