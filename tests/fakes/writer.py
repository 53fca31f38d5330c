"""A model writer and a token budget in memory: the writer answers what the test scripts
(an answer, or an error), and records the briefs it was given."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping

from sales_agent_pipeline.domain.drafting import (
    DraftAnswer,
    DraftBrief,
    WriterKind,
    WriterSettings,
    WriterUsage,
    WrittenDraft,
)


class FakeModelWriter:
    """Answers every brief with `answer` (or raises `error`), as a model would."""

    def __init__(
        self,
        kind: WriterKind = WriterKind.OPENAI,
        *,
        answer: DraftAnswer | None = None,
        error: Exception | None = None,
        usage: WriterUsage | None = None,
    ) -> None:
        self.kind = kind
        self.answer = answer
        self.error = error
        self.usage = usage or WriterUsage(
            provider=kind.value, model="fake-model", input_tokens=900, output_tokens=150,
            latency_ms=420,
        )  # fmt: skip
        self.briefs: list[tuple[DraftBrief, str]] = []

    def write(self, brief: DraftBrief, settings: WriterSettings, model: str) -> WrittenDraft:
        """The scripted answer, or the scripted error; the brief is kept."""
        self.briefs.append((brief, model))
        if self.error is not None:
            raise self.error
        answer = self.answer or DraftAnswer(
            subject="Warehouse automation, next steps",
            paragraphs=(
                "Thanks for asking about automating your warehouse.",
                "Teams like yours usually start with a short call to map the floor.",
            ),
            slot_ids=tuple(slot.id for slot in brief.slots[:2]),
            asset_ids=tuple(asset.id for asset in brief.assets[:1]),
        )
        return WrittenDraft(answer=answer, usage=self.usage.model_copy(update={"model": model}))


class FakeTokenBudget:
    """Each tenant's counters of the day, in memory."""

    def __init__(self, spent: int = 0) -> None:
        self.spent = spent
        self.counts: dict[uuid.UUID, Counter[str]] = {}

    def spent_today(self, tenant_id: uuid.UUID) -> int:
        """What was set, plus the tokens recorded since."""
        counts = self.counts.get(tenant_id, Counter())
        return self.spent + counts["llm_tokens.input"] + counts["llm_tokens.output"]

    def record(self, tenant_id: uuid.UUID, counts: Mapping[str, int]) -> None:
        """Add the draft's counters."""
        self.counts.setdefault(tenant_id, Counter()).update(counts)
