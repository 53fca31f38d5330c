"""Step 10: the follow-up email. A writer (the template writer, or a language model behind
the DraftWriter port) writes the text from a brief; its answer is checked; our code
assembles the email. Any failure of a model writer (an outage, a timeout, a refusal, a
malformed or rejected answer, the tenant's daily token budget) falls back to the template
writer, and the provenance says which wrote it and why."""

from __future__ import annotations

import time
from collections.abc import Callable

from sales_agent_pipeline.domain.drafting import (
    PROMPT_VERSION,
    DraftBrief,
    DraftProvenance,
    WriterKind,
    WriterSettings,
    WrittenDraft,
)
from sales_agent_pipeline.domain.errors import PipelineError
from sales_agent_pipeline.domain.workflow import DraftContent
from sales_agent_pipeline.ports.writer import DraftWriter
from sales_agent_pipeline.steps.draft_assembly import assemble, without_dashes
from sales_agent_pipeline.steps.draft_brief import DraftInputs, build_brief
from sales_agent_pipeline.steps.draft_checks import answer_problems
from sales_agent_pipeline.steps.draft_template import TemplateWriter

__all__ = ["DraftInputs", "without_dashes", "write_draft"]

_REASON_CHARS = 300
TEMPLATE = TemplateWriter()


class UnavailableWriter:
    """A model writer that could not be built (no API key, say): every draft it is asked
    for raises why, so the template writer writes it and the audit says so."""

    def __init__(self, kind: WriterKind, error: PipelineError) -> None:
        self.kind = kind
        self._error = error

    def write(self, brief: DraftBrief, settings: WriterSettings, model: str) -> WrittenDraft:
        """Raise the reason the writer is unavailable."""
        raise self._error


def writer_or_unavailable(
    build: Callable[[WriterKind], DraftWriter], kind: WriterKind
) -> DraftWriter:
    """The writer of that kind, or one that says why there is none."""
    try:
        return build(kind)
    except PipelineError as error:
        return UnavailableWriter(kind, error)


def usage_counts(provenance: DraftProvenance) -> dict[str, int]:
    """The tenant_usage counters of one draft: tokens, and the writer that wrote it."""
    counts = {
        "llm_tokens.input": provenance.input_tokens,
        "llm_tokens.output": provenance.output_tokens,
        "llm_tokens.cached": provenance.cached_input_tokens,
        f"drafts_written.{provenance.writer.value}": 1,
    }
    if provenance.fallback_reason:
        counts["drafts_written.fallback"] = 1
    return counts


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:_REASON_CHARS]


def write_draft(
    inputs: DraftInputs,
    writer: DraftWriter,
    settings: WriterSettings,
    *,
    model: str | None = None,
    budget_left: int | None = None,
) -> DraftContent:
    """The draft, written by `writer` with `model` or, when it cannot, by the template
    writer; its provenance records both, the tokens and the latency."""
    brief = build_brief(inputs, settings)
    requested = writer.kind
    written: WrittenDraft | None = None
    fallback: str | None = None
    usage = None
    latency_ms: int | None = None
    if requested is not WriterKind.TEMPLATE:
        started = time.perf_counter()
        if not model:
            fallback = "no model configured (LLM_MODEL, or the tenant's writer model)"
        elif budget_left is not None and budget_left <= 0:
            fallback = "the tenant's daily token budget is spent"
        else:
            try:
                written = writer.write(brief, settings, model)
            except Exception as error:  # a model never fails a lead
                fallback = _reason(error)
            else:
                usage = written.usage
                problems = answer_problems(written.answer, brief)
                if problems:
                    fallback = "answer rejected: " + "; ".join(problems)[:_REASON_CHARS]
                    written = None
        latency_ms = usage.latency_ms if usage else int((time.perf_counter() - started) * 1000)
    if written is None:
        written = TEMPLATE.write(brief, settings)
    content = assemble(inputs, brief, written.answer, settings)
    provenance = DraftProvenance(
        writer=WriterKind.TEMPLATE if fallback or requested is WriterKind.TEMPLATE else requested,
        requested=requested,
        model=(usage.model if usage else model) if requested is not WriterKind.TEMPLATE else None,
        prompt_version=PROMPT_VERSION if requested is not WriterKind.TEMPLATE else None,
        language=brief.language,
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cached_input_tokens=usage.cached_input_tokens if usage else 0,
        latency_ms=latency_ms,
        fallback_reason=fallback,
    )
    return content.model_copy(update={"provenance": provenance})
