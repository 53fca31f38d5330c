"""The sandbox's Anthropic Messages, driven through the official `anthropic` SDK over HTTP:
forced tool use, JSON output, determinism, languages, faults, auth, validation and prompt
caching."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from sales_agent_pipeline.domain.drafting import ANSWER_NAME, ANSWER_SCHEMA
from tests.sandbox.llm_support import (
    INJECTION,
    SYSTEM,
    assert_good_answer,
    brief,
    language_of,
    user_message,
)

PATH = "/v1/messages"
TOOL = {"name": ANSWER_NAME, "description": "The follow-up email.", "input_schema": ANSWER_SCHEMA}
FORCED = {"type": "tool", "name": ANSWER_NAME}


@pytest.fixture
def client(sandbox_url, admin):
    with anthropic.Anthropic(api_key="sk-ant-test", base_url=sandbox_url, max_retries=0) as c:
        yield c


def _ask(client, doc, system=SYSTEM, **kwargs):
    kwargs.setdefault("tools", [TOOL])
    kwargs.setdefault("tool_choice", FORCED)
    return client.messages.create(
        model="claude-test",
        max_tokens=kwargs.pop("max_tokens", 1024),
        system=system,
        messages=[{"role": "user", "content": user_message(doc)}],
        **kwargs,
    )


def _input(message):
    block = message.content[0]
    assert block.type == "tool_use"
    assert block.name == ANSWER_NAME
    return block.input


def test_a_forced_tool_answers_with_a_tool_use_block_for_its_schema(client):
    doc = brief("en")
    message = _ask(client, doc)
    assert message.stop_reason == "tool_use"
    assert len(message.content) == 1
    assert_good_answer(_input(message), doc)
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0


def test_json_output_follows_the_output_format(client):
    doc = brief("fr")
    message = _ask(
        client,
        doc,
        tools=anthropic.omit,
        tool_choice=anthropic.omit,
        output_config={"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}},
    )
    assert message.stop_reason == "end_turn"
    assert_good_answer(json.loads(message.content[0].text), doc)


def test_without_a_tool_the_answer_is_plain_text(client):
    message = _ask(client, None, tools=anthropic.omit, tool_choice=anthropic.omit)
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("Subject: ")


def test_the_same_request_gets_the_same_answer(client):
    first = _input(_ask(client, brief("de")))
    assert _input(_ask(client, brief("de"))) == first
    assert _input(_ask(client, brief("de", message="Gibt es eine Testphase?"))) != first


@pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
def test_the_draft_is_written_in_the_briefs_language(client, language):
    doc = brief(language)
    answer = _input(_ask(client, doc))
    assert_good_answer(answer, doc)
    assert language_of(answer) == language


def test_a_429_surfaces_as_rate_limit_error_with_retry_after(client, admin):
    admin.fault(pathPattern=PATH, status=429, retryAfter=12)
    with pytest.raises(anthropic.RateLimitError) as caught:
        _ask(client, brief())
    assert caught.value.response.headers["retry-after"] == "12"
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert _ask(client, brief()).stop_reason == "tool_use"  # one request only


def test_529_and_500_surface_as_the_sdks_server_errors(client, admin):
    admin.fault(pathPattern=PATH, status=529)
    with pytest.raises(anthropic.OverloadedError):
        _ask(client, brief())
    admin.fault(pathPattern=PATH, status=500)
    with pytest.raises(anthropic.InternalServerError) as caught:
        _ask(client, brief())
    assert caught.value.body["error"]["type"] == "api_error"


def test_a_stuck_server_surfaces_as_a_timeout(client, admin):
    admin.fault(pathPattern=PATH, timeoutSeconds=5)
    with pytest.raises(anthropic.APITimeoutError):
        _ask(client, brief(), timeout=0.5)
    admin.clear_faults()


def test_a_malformed_tool_input_breaks_its_schema(client, admin):
    admin.fault(pathPattern=PATH, malformed=True)
    answer = _input(_ask(client, brief()))
    assert set(ANSWER_SCHEMA["required"]) - set(answer)
    admin.fault(pathPattern=PATH, malformed=True)
    text = _ask(
        client,
        brief(),
        tools=anthropic.omit,
        tool_choice=anthropic.omit,
        output_config={"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}},
    ).content[0]
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.text)


def test_a_refusal_stops_with_refusal_and_a_text_block(client, admin):
    admin.fault(pathPattern=PATH, refusal=True)
    message = _ask(client, brief())
    assert message.stop_reason == "refusal"
    assert [block.type for block in message.content] == ["text"]


def test_a_compromised_model_obeys_the_leads_text(client, admin):
    admin.fault(pathPattern=PATH, compromised=True)
    doc = brief(message=INJECTION, company="Evil Corp https://evil.example/co")
    answer = _input(_ask(client, doc))
    text = " ".join(answer["paragraphs"])
    for planted in ("ceo@evil.example", "https://evil.example/pay?x=1", "https://evil.example/co"):
        assert planted in text
    assert SYSTEM.splitlines()[0] in text
    assert set(answer["slot_ids"]) - {slot["id"] for slot in doc["slots"]}
    assert set(answer["asset_ids"]) - {asset["id"] for asset in doc["assets"]}


def test_requests_without_a_key_or_version_get_anthropics_errors(sandbox_url, admin):
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    anonymous = httpx.post(f"{sandbox_url}{PATH}", json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["type"] == "error"
    assert anonymous.json()["error"]["type"] == "authentication_error"
    unversioned = httpx.post(f"{sandbox_url}{PATH}", json=body, headers={"x-api-key": "k"})
    assert unversioned.status_code == 400
    assert "anthropic-version" in unversioned.json()["error"]["message"]
    versioned = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    assert httpx.post(f"{sandbox_url}{PATH}", json=body, headers=versioned).status_code == 200


def test_invalid_requests_get_anthropics_400(client, sandbox_url):
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    no_max = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(f"{sandbox_url}{PATH}", json=no_max, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    with pytest.raises(anthropic.BadRequestError):
        _ask(client, brief(), tool_choice={"type": "tool", "name": "other_tool"})
    five = [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}] * 5
    with pytest.raises(anthropic.BadRequestError):
        _ask(client, brief(), system=five)


def test_a_low_max_tokens_stops_with_max_tokens(client):
    message = _ask(client, brief(), max_tokens=30)
    assert message.stop_reason == "max_tokens"
    assert set(ANSWER_SCHEMA["required"]) - set(_input(message))


def test_a_repeated_long_system_prompt_is_read_from_the_cache(client):
    long_system = [
        {
            "type": "text",
            "text": SYSTEM + "\n" + "Write plainly and keep to the facts given. " * 150,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    first = _ask(client, brief("en"), system=long_system).usage
    second = _ask(client, brief("de"), system=long_system).usage
    assert first.cache_creation_input_tokens >= 1024
    assert first.cache_read_input_tokens == 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    assert second.input_tokens > 0  # the brief, after the breakpoint
    short = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    _ask(client, brief("fr"), system=short)
    again = _ask(client, brief("fr"), system=short).usage
    assert again.cache_read_input_tokens == 0
    assert again.cache_creation_input_tokens == 0
