"""OpenAI-compatible Chat Completions: POST /v1/chat/completions.

Validates a request as OpenAI does (400 in its error shape), answers with the stand-in
model (llm_writer): plain text, JSON for `response_format` json_object or json_schema (an
object with exactly the schema's properties), or a function call when `tools` and
`tool_choice` ask for one. Usage counts are estimates (about four characters a token), with
`prompt_tokens_details.cached_tokens` from the prompt cache (llm_cache).
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .errors import OpenAIError, llm_key, request_id
from .hubspot_auth import fingerprint
from .llm_cache import REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE
from .llm_schema import SchemaError, check_schema, cut_json, dumps, fit
from .llm_writer import (
    as_text,
    compromise,
    estimate_tokens,
    find_brief,
    prompt_hash,
    write,
)

router = APIRouter(tags=["openai"])

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_KNOWN = {
    "model", "messages", "response_format", "tools", "tool_choice", "temperature", "top_p",
    "n", "max_tokens", "max_completion_tokens", "stream", "stream_options", "stop", "seed",
    "user", "metadata", "store", "service_tier", "prompt_cache_key", "prompt_cache_retention",
    "reasoning_effort", "parallel_tool_calls", "logprobs", "top_logprobs", "logit_bias",
    "frequency_penalty", "presence_penalty", "modalities", "prediction", "audio", "verbosity",
    "web_search_options", "safety_identifier", "functions", "function_call",
}  # fmt: skip
REFUSAL = "I'm sorry, but I can't help with that request."


def _bad(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def content_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        raise _bad(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    if not isinstance(messages, list):
        raise _bad("Invalid type for 'messages': expected an array.", "messages", "invalid_type")
    if not messages:
        raise _bad(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got "
            "an empty array instead.",
            "messages",
            "empty_array",
        )
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            raise _bad(
                f"Invalid value for 'messages[{index}].role': expected one of {sorted(_ROLES)}.",
                f"messages[{index}].role",
                "invalid_value",
            )
    return messages


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function the model must call, from tools and tool_choice; None for none."""
    tools = body.get("tools")
    if tools is None:
        if body.get("tool_choice") not in (None, "none", "auto"):
            raise _bad(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                "'tools' are specified.",
                "tool_choice",
            )
        return None
    if not isinstance(tools, list) or not tools:
        raise _bad(
            "Invalid 'tools': empty array. Expected an array with minimum length 1.",
            "tools",
            "empty_array",
        )
    functions: dict[str, dict[str, Any]] = {}
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            not isinstance(tool, dict)
            or tool.get("type") != "function"
            or not isinstance(function, dict)
        ):
            raise _bad(
                f"Invalid value for 'tools[{index}]': expected a function tool.", f"tools[{index}]"
            )
        name = function.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _bad(
                f"Invalid 'tools[{index}].function.name': string does not match pattern "
                "'^[a-zA-Z0-9_-]{1,64}$'.",
                f"tools[{index}].function.name",
            )
        parameters = function.get("parameters", {"type": "object", "properties": {}})
        try:
            check_schema(parameters, strict=function.get("strict") is True)
        except SchemaError as exc:
            raise _bad(
                f"Invalid schema for function '{name}': {exc}",
                f"tools[{index}].function.parameters",
                "invalid_function_parameters",
            ) from exc
        functions[name] = {"name": name, "parameters": parameters}
    choice = body.get("tool_choice", "auto")
    if choice == "none":
        return None
    if choice in ("auto", "required"):
        return next(iter(functions.values()))
    wanted = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if wanted not in functions:
        raise _bad(
            f"Invalid value for 'tool_choice': function '{wanted}' not found in 'tools'.",
            "tool_choice",
        )
    return functions[str(wanted)]


def _response_format(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """("text" | "json_object" | "json_schema", the schema)."""
    fmt = body.get("response_format") or {"type": "text"}
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return "text", None
    if kind == "json_object":
        words = " ".join(content_text(m.get("content")) for m in body["messages"]).lower()
        if "json" not in words:
            raise _bad(
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'.",
                "messages",
            )
        return "json_object", None
    if kind != "json_schema":
        raise _bad(
            "Invalid value for 'response_format.type': expected one of 'text', "
            "'json_object', 'json_schema'.",
            "response_format.type",
            "invalid_value",
        )
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict):
        raise _bad(
            "Missing required parameter: 'response_format.json_schema'.",
            "response_format.json_schema",
            "missing_required_parameter",
        )
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _bad(
            "Invalid 'response_format.json_schema.name': string does not match pattern "
            "'^[a-zA-Z0-9_-]{1,64}$'.",
            "response_format.json_schema.name",
        )
    schema = spec.get("schema", {"type": "object", "properties": {}})
    try:
        check_schema(schema, strict=spec.get("strict") is True)
        if spec.get("strict") is True and schema.get("type") != "object":
            raise SchemaError("In context=(), schema must be a JSON Schema of 'type: \"object\"'.")
    except SchemaError as exc:
        raise _bad(
            f"Invalid schema for response_format '{name}': {exc}",
            "response_format",
            "invalid_json_schema",
        ) from exc
    return "json_schema", schema


def _validate(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad(
            "We could not parse the JSON body of your request. The OpenAI API expects a "
            "JSON payload."
        )
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        raise _bad(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0])
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _bad("you must provide a model parameter", "model")
    _check_messages(body.get("messages"))
    if body.get("stream"):
        raise _bad("The sandbox answers without streaming: set stream to false.", "stream")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise _bad(
                f"Invalid '{name}': integer below minimum value. Expected a value >= 1.",
                name,
                "integer_below_min_value",
            )
    temperature = body.get("temperature")
    if temperature is not None and not (
        isinstance(temperature, int | float) and 0 <= temperature <= 2
    ):
        raise _bad("Invalid 'temperature': expected a number between 0 and 2.", "temperature")
    n = body.get("n", 1) or 1
    if not isinstance(n, int) or not 1 <= n <= 128:
        raise _bad("Invalid 'n': expected an integer between 1 and 128.", "n")
    return body


def _prompt(body: dict[str, Any]) -> str:
    """The prompt as one text, in the order the prefix cache sees it: tools, the response
    format, then the messages."""
    parts = [dumps(body["tools"])] if body.get("tools") else []
    if body.get("response_format"):
        parts.append(dumps(body["response_format"]))
    parts += [f"{m.get('role')}: {content_text(m.get('content'))}" for m in body["messages"]]
    return "\n".join(parts)


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> JSONResponse:
    """Create a chat completion (no streaming)."""
    try:
        raw = await request.json()
    except ValueError as exc:
        raise _bad(
            "We could not parse the JSON body of your request. The OpenAI API expects "
            "a JSON payload."
        ) from exc
    body = _validate(raw)
    messages = body["messages"]
    tool = _forced_tool(body)
    kind, schema = _response_format(body)
    system = next(
        (
            content_text(m.get("content"))
            for m in messages
            if m.get("role") in ("system", "developer")
        ),
        "",
    )
    user = next(
        (content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    prompt = _prompt(body)
    brief = find_brief(user)
    answer = write(brief, prompt_hash(prompt))
    rule = getattr(request.state, "fault_rule", None)
    fault = rule.answer if rule is not None else None
    if fault == "compromised":
        first_line = system.strip().splitlines()[0] if system.strip() else ""
        answer = compromise(answer, brief, user, first_line)

    if tool is not None:
        value: Any = fit(answer, tool["parameters"])
    elif kind == "json_schema" and schema is not None:
        value = fit(answer, schema)
    else:
        value = answer
    text = as_text(answer) if tool is None and kind == "text" else dumps(value)
    if fault == "malformed":
        text = cut_json(value)
    finish = "tool_calls" if tool is not None else "stop"
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None and estimate_tokens(text) > limit:
        text, finish = text[: limit * 4], "length"

    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "refusal": None,
        "annotations": [],
    }
    if fault == "refusal":
        message.update(content=None, refusal=REFUSAL)
        text, finish = REFUSAL, "stop"
    elif tool is not None:
        call_id = f"call_{prompt_hash(prompt, 'call'):016x}"[:29]
        message.update(
            content=None,
            tool_calls=[
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": tool["name"], "arguments": text},
                }
            ],
        )

    key = llm_key("openai", request.headers)
    scope = f"{fingerprint(key)}/{body['model']}"
    cache = request.app.state.faults.prompt_cache
    prompt_tokens = estimate_tokens(prompt)
    cached = cache.openai(scope, prompt)
    completion_tokens = max(estimate_tokens(text), 1)
    requests_left, tokens_left = cache.count_call(scope, prompt_tokens + completion_tokens)
    choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
    completion = {
        "id": request_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{**choice, "index": i} for i in range(body.get("n") or 1)],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_sandbox",
    }
    headers = {
        "x-request-id": request_id("req_"),
        "openai-processing-ms": "1",
        "x-ratelimit-limit-requests": str(REQUESTS_PER_MINUTE),
        "x-ratelimit-remaining-requests": str(requests_left),
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-limit-tokens": str(TOKENS_PER_MINUTE),
        "x-ratelimit-remaining-tokens": str(tokens_left),
        "x-ratelimit-reset-tokens": "60ms",
    }
    return JSONResponse(completion, headers=headers)
