"""Injected failures on the model paths, as OpenAI and Anthropic answer them."""

from __future__ import annotations

from fastapi import Response

from .errors import AnthropicError, OpenAIError

_OPENAI_MESSAGES = {
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
    504: "Gateway timeout.",
}
_ANTHROPIC_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit.",
    500: "Internal server error",
    504: "Request timed out",
    529: "Overloaded",
}


def model_fault_response(
    vendor: str, status: int, message: str | None, retry_after: float | None
) -> Response:
    """The vendor's error for an injected status; a 429 carries its rate-limit headers."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    wait = f"{retry_after:g}s" if retry_after is not None else "1s"
    if vendor == "openai":
        code = None
        if status == 429:
            code = "rate_limit_exceeded"
            headers.update(
                {
                    "x-ratelimit-limit-requests": "500",
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": wait,
                    "x-ratelimit-limit-tokens": "200000",
                    "x-ratelimit-remaining-tokens": "0",
                    "x-ratelimit-reset-tokens": wait,
                }
            )
        text = message or _OPENAI_MESSAGES.get(status, "Injected fault")
        return OpenAIError(status, text, code=code, headers=headers).response()
    if status == 429:
        headers.update(
            {
                "anthropic-ratelimit-requests-limit": "500",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-input-tokens-remaining": "0",
            }
        )
    text = message or _ANTHROPIC_MESSAGES.get(status, "Injected fault")
    return AnthropicError(status, text, headers=headers).response()
