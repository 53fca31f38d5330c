"""The model SDKs' errors as the SDKs build them from a response, classified by ours (the
cases the sandbox does not answer: billing 429s, key echoes, retry-after-ms)."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import openai

from sales_agent_pipeline.connectors.errors import classify
from sales_agent_pipeline.domain.errors import ConfigurationError, TransientError


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
    request = httpx2.Request("POST", "https://api.example/v1/chat/completions")
    return httpx2.Response(status, json=body, headers=headers or {}, request=request)


def _openai_error(status: int, error: dict[str, Any], headers: dict[str, str] | None = None):
    client = openai.OpenAI(api_key="sk-test", base_url="https://api.example/v1")
    body = {"error": error}
    return client._make_status_error_from_response(_response(status, body, headers))


def test_a_spent_openai_balance_is_configuration_not_a_rate_limit():
    for error in (
        {"message": "You exceeded your current quota", "type": "insufficient_quota"},
        {"message": "No credit", "type": "insufficient_quota", "code": "credit_balance_exhausted"},
    ):
        mapped = classify(_openai_error(429, error), "OpenAI call")
        assert type(mapped) is ConfigurationError
    limited = classify(
        _openai_error(429, {"message": "Rate limit reached", "code": "rate_limit_exceeded"}),
        "OpenAI call",
    )
    assert type(limited) is TransientError


def test_retry_after_ms_is_preferred_to_retry_after():
    exc = _openai_error(
        429, {"message": "slow down"}, {"retry-after-ms": "1500", "retry-after": "9"}
    )
    mapped = classify(exc, "OpenAI call")
    assert isinstance(mapped, TransientError)
    assert mapped.retry_after_seconds == 1.5


def test_a_refused_key_echoed_by_the_vendor_is_not_repeated():
    exc = _openai_error(
        401, {"message": "Incorrect API key provided: sk-proj-abc1****************wxyz."}
    )
    mapped = classify(exc, "OpenAI call")
    assert type(mapped) is ConfigurationError
    assert "abc1" not in str(mapped)
    assert "abc1" not in (mapped.vendor_message or "")


def test_anthropic_overloaded_is_transient():
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url="https://api.example")
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    exc = client._make_status_error_from_response(_response(529, body, {"retry-after": "2"}))
    mapped = classify(exc, "Anthropic call")
    assert type(mapped) is TransientError
    assert mapped.http_status == 529
    assert mapped.retry_after_seconds == 2.0
    assert mapped.vendor_message == "Overloaded"
