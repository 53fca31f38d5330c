"""The draft writer on OpenAI's Chat Completions, with structured output (a strict JSON
schema): OpenAI itself or any compatible server (vLLM, Ollama, Azure OpenAI, LiteLLM)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
    import openai
    from openai.types.chat import ChatCompletion

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPERATION = "OpenAI chat.completions.create"
METRIC_OPERATION = "chat.completions.create"

# (base URL, model) pairs that refused a temperature, so later drafts do not ask twice.
_fixed_temperature: set[tuple[str, str]] = set()


def openai_client(api_key: str, base_url: str, timeout_seconds: float) -> openai.OpenAI:
    """The process's OpenAI client for this base URL, key and timeout."""
    client: openai.OpenAI = sdk_client("openai", api_key, base_url, timeout_seconds)
    return client


def is_openai_api(base_url: str) -> bool:
    """True for OpenAI's own API (which takes OpenAI-only parameters like prompt_cache_key)."""
    return (urlsplit(base_url).hostname or "").lower() == "api.openai.com"


class OpenAIWriter:
    """Writes a draft's text with a Chat Completions model answering the answer schema."""

    kind = WriterKind.OPENAI

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
        # Counts each request by its answer (vendor_requests.openai.chat.completions.create.<n>)
        # when the writer is one tenant's; a writer shared by a run's tenants has none.
        self._meter = meter
        self._client = openai_client(api_key, base_url, timeout_seconds)
        self._max_output_tokens = max_output_tokens
        self._quota = quota
        # Compatible servers may refuse parameters they do not know; OpenAI's own API
        # routes requests with the same key to the same prompt cache.
        self._send_cache_key = is_openai_api(base_url)

    def __repr__(self) -> str:
        return f"OpenAIWriter(base_url={self.base_url!r}, <key hidden>)"

    def write(self, brief: DraftBrief, settings: WriterSettings, model: str) -> WrittenDraft:
        """The model's answer to the brief; our classified errors on any failure."""
        if not model:
            raise ConfigurationError("no model for the OpenAI writer: set LLM_MODEL")
        prompt = build_prompt(brief, settings)
        params: dict[str, Any] = {
            "model": model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": ANSWER_NAME, "schema": ANSWER_SCHEMA, "strict": True},
            },
            "max_completion_tokens": self._max_output_tokens,
        }
        if self._send_cache_key:
            params["prompt_cache_key"] = prompt.cache_key()
        if (self.base_url, model) not in _fixed_temperature:
            params["temperature"] = settings.temperature
        started = time.monotonic()
        try:
            completion = self._create(params)
        except PermanentError as exc:
            if "temperature" not in params or not _refuses_temperature(exc.__cause__):
                raise
            # Reasoning models take only their default temperature (a 400 naming the
            # parameter): remember the model and ask again without it.
            _fixed_temperature.add((self.base_url, model))
            del params["temperature"]
            started = time.monotonic()
            completion = self._create(params)
        latency_ms = int((time.monotonic() - started) * 1000)
        answer = _answer(completion)
        return WrittenDraft(answer=answer, usage=_usage(completion, model, latency_ms))

    def _create(self, params: dict[str, Any]) -> ChatCompletion:
        take_slot(self._quota, OPERATION)
        try:
            with vendor_call(OPERATION):
                completion = self._client.chat.completions.create(**params)
        except Exception as exc:
            self._count(request_status(exc))
            raise
        # The SDK hands back only the parsed body; Chat Completions answers 200 or an error.
        self._count("200")
        return completion

    def _count(self, status: str) -> None:
        if self._meter is not None:
            self._meter.add(request_metric("openai", METRIC_OPERATION, status))


def _refuses_temperature(cause: BaseException | None) -> bool:
    import openai  # loaded: the request that failed was made with it

    return isinstance(cause, openai.BadRequestError) and cause.param == "temperature"


def _answer(completion: ChatCompletion) -> DraftAnswer:
    """The structured answer, or PermanentError for a refusal, a cut or a malformed one."""
    if not completion.choices:
        raise PermanentError(f"{OPERATION}: malformed answer: no choices")
    choice = completion.choices[0]
    message = choice.message
    if message.refusal:
        raise PermanentError(f"{OPERATION}: model refused: {message.refusal[:200]}")
    if choice.finish_reason == "content_filter":
        raise PermanentError(f"{OPERATION}: model refused: content filter")
    if choice.finish_reason == "length":
        # A cut JSON answer may still parse (a shorter list): never use it.
        raise PermanentError(f"{OPERATION}: answer cut at the output token limit")
    if not message.content:
        raise PermanentError(f"{OPERATION}: malformed answer: empty content")
    return parse_answer(message.content, OPERATION)


def _usage(completion: ChatCompletion, model: str, latency_ms: int) -> WriterUsage:
    usage = completion.usage
    details = usage.prompt_tokens_details if usage is not None else None
    return WriterUsage(
        provider=WriterKind.OPENAI.value,
        # The model that answered (a dated snapshot), else the one asked for.
        model=completion.model or model,
        input_tokens=usage.prompt_tokens if usage is not None else 0,
        output_tokens=usage.completion_tokens if usage is not None else 0,
        cached_input_tokens=(details.cached_tokens or 0) if details is not None else 0,
        latency_ms=latency_ms,
    )
