"""Anthropic Messages: POST /v1/messages.

Validates a request as Anthropic does (400 in its error shape), answers with the stand-in
model (llm_writer): a `tool_use` block when `tool_choice` forces a tool (or `any`), JSON
text for `output_config.format` json_schema, else plain text. Prompt caching follows the
`cache_control` breakpoints (llm_cache); token counts are estimates (about four characters
a token).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .errors import AnthropicError, llm_key, request_id
from .hubspot_auth import fingerprint
from .llm_cache import REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE, TTL_SECONDS, CacheBlock
from .llm_schema import (
    SchemaError,
    broken_input,
    check_schema,
    cut_json,
    dumps,
    fit,
    partial_object,
)
from .llm_writer import as_text, compromise, estimate_tokens, find_brief, prompt_hash, write

router = APIRouter(tags=["anthropic"])

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_KNOWN = {
    "model", "messages", "max_tokens", "system", "tools", "tool_choice", "temperature",
    "top_p", "top_k", "stop_sequences", "stream", "metadata", "thinking", "output_config",
    "cache_control", "container", "diagnostics", "inference_geo", "service_tier", "speed",
    "user_profile_id", "workspace_id", "mcp_servers", "context_management",
}  # fmt: skip
MAX_BREAKPOINTS = 4
REFUSAL = "I can't help with this request."


def _bad(message: str) -> AnthropicError:
    return AnthropicError(400, message)


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """A message's (or the system prompt's) content as blocks; a string is one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _bad(f"{where}: Input should be a valid string or list of content blocks")
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _bad(f"{where}.{index}: Input should be a valid content block")
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            raise _bad(f"{where}.{index}.text: Field required")
    return content


def _ttl(block: dict[str, Any], where: str) -> str | None:
    control = block.get("cache_control")
    if control is None:
        return None
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        raise _bad(f"{where}.cache_control.type: Input should be 'ephemeral'")
    ttl = control.get("ttl", "5m")
    if ttl not in TTL_SECONDS:
        raise _bad(f"{where}.cache_control.ttl: Input should be '5m' or '1h'")
    return str(ttl)


def _block_text(block: dict[str, Any]) -> str:
    if block.get("type") == "text":
        return str(block.get("text", ""))
    return dumps({k: v for k, v in block.items() if k != "cache_control"})


def _validate(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("Request body must be a JSON object")
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        raise _bad(f"{unknown[0]}: Extra inputs are not permitted")
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            raise _bad(f"{name}: Field required")
    if not isinstance(body["model"], str) or not body["model"]:
        raise _bad("model: String should have at least 1 character")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 0:
        raise _bad("max_tokens: Input should be a valid integer greater than or equal to 0")
    if body.get("stream"):
        raise _bad("stream: the sandbox answers without streaming; set stream to false")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise _bad("messages: at least one message is required")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _bad(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise _bad(f"messages.{index}.content: Field required")
    temperature = body.get("temperature")
    if temperature is not None and not (
        isinstance(temperature, int | float) and 0 <= temperature <= 1
    ):
        raise _bad("temperature: Input should be less than or equal to 1")
    return body


def _tools(body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The tools, and the one the model must call (tool_choice tool or any), if any."""
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise _bad("tools: Input should be a valid list")
    by_name: dict[str, dict[str, Any]] = {}
    for index, tool in enumerate(tools):
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not _NAME.match(name):
            raise _bad(
                f"tools.{index}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            )
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise _bad(f"tools.{index}.input_schema: Field required")
        if schema.get("type") != "object":
            raise _bad(f"tools.{index}.input_schema.type: Input should be 'object'")
        try:
            check_schema(schema, strict=tool.get("strict") is True)
        except SchemaError as exc:
            raise _bad(f"tools.{index}.input_schema: JSON schema is invalid: {exc}") from exc
        by_name[name] = tool
    choice = body.get("tool_choice") or {"type": "auto"}
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise _bad("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if kind in ("any", "tool") and not tools:
        raise _bad("tool_choice: tool_choice may only be specified while providing tools")
    if kind == "tool":
        name = choice.get("name")
        if name not in by_name:
            raise _bad(f"tool_choice.name: Tool '{name}' not found in tools")
        return tools, by_name[str(name)]
    return tools, (tools[0] if kind == "any" else None)


def _output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config") or {}
    fmt = config.get("format") if isinstance(config, dict) else None
    if not fmt:
        return None
    if (
        not isinstance(fmt, dict)
        or fmt.get("type") != "json_schema"
        or not isinstance(fmt.get("schema"), dict)
    ):
        raise _bad("output_config.format: expected {type: 'json_schema', schema: {...}}")
    try:
        check_schema(fmt["schema"], strict=False)
    except SchemaError as exc:
        raise _bad(f"output_config.format.schema: JSON schema is invalid: {exc}") from exc
    return dict(fmt["schema"])


def _prompt_blocks(body: dict[str, Any], tools: list[dict[str, Any]]) -> list[CacheBlock]:
    """The prompt in cache order (tools, system, messages), each block with its breakpoint."""
    blocks: list[CacheBlock] = []
    for index, tool in enumerate(tools):
        text = dumps({k: v for k, v in tool.items() if k != "cache_control"})
        blocks.append(CacheBlock(text, _ttl(tool, f"tools.{index}")))
    system = body.get("system")
    if system is not None:
        for index, block in enumerate(_blocks(system, "system")):
            blocks.append(CacheBlock(_block_text(block), _ttl(block, f"system.{index}")))
    for m_index, message in enumerate(body["messages"]):
        where = f"messages.{m_index}.content"
        for index, block in enumerate(_blocks(message["content"], where)):
            text = f"{message['role']}: {_block_text(block)}"
            blocks.append(CacheBlock(text, _ttl(block, f"{where}.{index}")))
    top = body.get("cache_control")
    if top is not None and blocks:
        # Top-level cache_control marks the last cacheable block.
        blocks[-1] = CacheBlock(blocks[-1].text, _ttl({"cache_control": top}, "cache_control"))
    breakpoints = sum(block.ttl is not None for block in blocks)
    if breakpoints > MAX_BREAKPOINTS:
        raise _bad(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {breakpoints}."
        )
    return blocks


@router.post("/v1/messages")
async def create_message(request: Request) -> JSONResponse:
    """Create a message (no streaming)."""
    try:
        raw = await request.json()
    except ValueError as exc:
        raise _bad("There was an issue with the format of the request body: invalid JSON") from exc
    body = _validate(raw)
    tools, tool = _tools(body)
    schema = _output_schema(body)
    blocks = _prompt_blocks(body, tools)
    system = body.get("system")
    system_text = (
        system if isinstance(system, str) else "\n".join(_block_text(b) for b in system or [])
    )
    user_message = next((m for m in reversed(body["messages"]) if m["role"] == "user"), None)
    user = (
        "\n".join(_block_text(b) for b in _blocks(user_message["content"], "messages"))
        if user_message
        else ""
    )
    prompt = "\n".join(block.text for block in blocks)
    brief = find_brief(user)
    answer = write(brief, prompt_hash(prompt))
    rule = getattr(request.state, "fault_rule", None)
    fault = rule.answer if rule is not None else None
    if fault == "compromised":
        first_line = system_text.strip().splitlines()[0] if system_text.strip() else ""
        answer = compromise(answer, brief, user, first_line)

    budget = body["max_tokens"] * 4
    stop = "end_turn"
    content: list[dict[str, Any]]
    if fault == "refusal":
        content, stop = [{"type": "text", "text": REFUSAL}], "refusal"
    elif tool is not None:
        value = fit(answer, tool["input_schema"])
        if fault == "malformed":
            value = broken_input(value)
        if len(dumps(value)) > budget:
            value, stop = partial_object(value, budget), "max_tokens"
        else:
            stop = "tool_use"
        tool_id = f"toolu_{prompt_hash(prompt, 'tool'):016x}"
        content = [{"type": "tool_use", "id": tool_id, "name": tool["name"], "input": value}]
    else:
        text = dumps(fit(answer, schema)) if schema is not None else as_text(answer)
        if fault == "malformed":
            text = cut_json(fit(answer, schema) if schema is not None else answer)
        if len(text) > budget:
            text, stop = text[:budget], "max_tokens"
        content = [{"type": "text", "text": text}] if text else []

    key = llm_key("anthropic", request.headers)
    scope = f"{fingerprint(key)}/{body['model']}"
    cache = request.app.state.faults.prompt_cache
    use = cache.anthropic(scope, blocks)
    output_tokens = max(estimate_tokens(dumps(content)) if content else 0, 1)
    requests_left, tokens_left = cache.count_call(scope, use.total + output_tokens)
    message = {
        "id": request_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": use.uncached,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": use.written_5m + use.written_1h,
            "cache_read_input_tokens": use.read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": use.written_5m,
                "ephemeral_1h_input_tokens": use.written_1h,
            },
            "service_tier": "standard",
        },
    }
    if stop == "refusal":
        message["stop_details"] = {"type": "refusal", "category": None, "explanation": None}
    headers = {
        "request-id": request_id("req_"),
        "anthropic-ratelimit-requests-limit": str(REQUESTS_PER_MINUTE),
        "anthropic-ratelimit-requests-remaining": str(requests_left),
        "anthropic-ratelimit-tokens-limit": str(TOKENS_PER_MINUTE),
        "anthropic-ratelimit-tokens-remaining": str(tokens_left),
    }
    return JSONResponse(message, headers=headers)
