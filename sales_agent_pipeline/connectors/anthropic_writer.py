"""The draft writer on Anthropic's Messages API: the answer schema as a tool the model must
call (tool_choice), the system prompt marked for prompt caching."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sales_agent_pipeline.connectors.errors import vendor_call
from sales_agent_pipeline.connectors.llm_call import Quota, parse_answer, sdk_client, take_slot
from sales_agent_pipeline.connectors.llm_prompt import build_prompt
from sales_agent_pipeline.connectors.metering import UsageMeter, request_metric, request_status
from sales_agent_pipeline.domain.drafting import (
    ANSWER_NAME,
    ANSWER_SCHEMA,
    DraftAnswer,
    DraftBrief,
    WriterKind,
    WriterSettings,
    WriterUsage,
    WrittenDraft,
)
from sales_agent_pipeline.domain.errors import ConfigurationError, PermanentError

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import Message, TextBlockParam

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
OPERATION = "Anthropic messages.create"
METRIC_OPERATION = "messages.create"
TOOL_DESCRIPTION = (
    "Return the follow-up email: its subject, the body's paragraphs (no greeting, sign-off, "
    "links or times), and the ids of the slots and assets chosen from the brief."
)


def anthropic_client(api_key: str, base_url: str, timeout_seconds: float) -> anthropic.Anthropic:
    """The process's Anthropic client for this base URL, key and timeout."""
    client: anthropic.Anthropic = sdk_client("anthropic", api_key, base_url, timeout_seconds)
    return client


class AnthropicWriter:
    """Writes a draft's text with a Claude model calling the answer tool."""

    kind = WriterKind.ANTHROPIC

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout_seconds: float,
        max_output_tokens: int,
        quota: Quota,
        meter: UsageMeter | None = None,
    ) -> None:
        self.base_url = base_url
        # Counts each request by its answer (vendor_requests.anthropic.messages.create.<n>)
        # when the writer is one tenant's; a writer shared by a run's tenants has none.
        self._meter = meter
        self._client = anthropic_client(api_key, base_url, timeout_seconds)
        self._max_output_tokens = max_output_tokens
        self._quota = quota

    def __repr__(self) -> str:
        return f"AnthropicWriter(base_url={self.base_url!r}, <key hidden>)"

    def write(self, brief: DraftBrief, settings: WriterSettings, model: str) -> WrittenDraft:
        """The model's answer to the brief; our classified errors on any failure."""
        if not model:
            raise ConfigurationError("no model for the Anthropic writer: set LLM_MODEL")
        prompt = build_prompt(brief, settings)
        last = len(prompt.system_blocks) - 1
        # The cache prefix runs tools, then system: one breakpoint on the last system block
        # caches the schema, the instructions and the tenant's voice together.
        system: list[TextBlockParam] = [
            {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}
            if i == last
            else {"type": "text", "text": text}
            for i, text in enumerate(prompt.system_blocks)
        ]
        take_slot(self._quota, OPERATION)
        started = time.monotonic()
        try:
            with vendor_call(OPERATION):
                message = self._client.messages.create(
                    model=model,
                    max_tokens=self._max_output_tokens,
                    system=system,
                    messages=[{"role": "user", "content": prompt.user}],
                    tools=[
                        {
                            "name": ANSWER_NAME,
                            "description": TOOL_DESCRIPTION,
                            "input_schema": ANSWER_SCHEMA,
                        }
                    ],
                    tool_choice={"type": "tool", "name": ANSWER_NAME},
                    # No temperature: the current Messages API refuses sampling parameters
                    # (the SDK no longer has them); the tenant's temperature is OpenAI's only.
                )
        except Exception as exc:
            self._count(request_status(exc))
            raise
        # The SDK hands back only the parsed body; the Messages API answers 200 or an error.
        self._count("200")
        latency_ms = int((time.monotonic() - started) * 1000)
        answer = _answer(message)
        return WrittenDraft(answer=answer, usage=_usage(message, model, latency_ms))

    def _count(self, status: str) -> None:
        if self._meter is not None:
            self._meter.add(request_metric("anthropic", METRIC_OPERATION, status))


def _answer(message: Message) -> DraftAnswer:
    """The tool call's input, or PermanentError for a refusal, a cut or a malformed one."""
    if message.stop_reason == "refusal":
        raise PermanentError(f"{OPERATION}: model refused")
    if message.stop_reason == "max_tokens":
        # The tool input may be cut short yet still parse: never use it.
        raise PermanentError(f"{OPERATION}: answer cut at the output token limit")
    for block in message.content:
        if block.type == "tool_use" and block.name == ANSWER_NAME:
            return parse_answer(block.input, OPERATION)
    raise PermanentError(f"{OPERATION}: malformed answer: no {ANSWER_NAME} tool call")


def _usage(message: Message, model: str, latency_ms: int) -> WriterUsage:
    usage = message.usage
    read = usage.cache_read_input_tokens or 0
    written = usage.cache_creation_input_tokens or 0
    return WriterUsage(
        provider=WriterKind.ANTHROPIC.value,
        model=message.model or model,
        # Anthropic's input_tokens leaves out what was read from or written to the cache;
        # the audit counts every input token, as OpenAI's prompt_tokens does.
        input_tokens=usage.input_tokens + read + written,
        output_tokens=usage.output_tokens,
        cached_input_tokens=read,
        latency_ms=latency_ms,
    )
