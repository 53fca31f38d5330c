"""The sandbox's OpenAI-compatible Chat Completions, driven through the official `openai` SDK
over HTTP: structured output, function calling, determinism, languages, faults, auth,
validation and prompt caching."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from pydantic import BaseModel

from sales_agent_pipeline.domain.drafting import ANSWER_NAME, ANSWER_SCHEMA
from tests.sandbox.llm_support import (
    INJECTION,
    SYSTEM,
    assert_good_answer,
    brief,
    json_schema_format,
    language_of,
    user_message,
)

PATH = "/v1/chat/completions"


class Answer(BaseModel):
    subject: str
    paragraphs: list[str]
    slot_ids: list[str]
    asset_ids: list[str]


@pytest.fixture
def client(sandbox_url, admin):
    with openai.OpenAI(api_key="sk-test", base_url=f"{sandbox_url}/v1", max_retries=0) as c:
        yield c


def _ask(client, doc, system=SYSTEM, **kwargs):
    kwargs.setdefault("response_format", json_schema_format())
    return client.chat.completions.create(
        model="gpt-test",
        messages=[
            {"role": "system", "content": system},
            {"role": "user", "content": user_message(doc)},
        ],
        **kwargs,
    )


def test_structured_output_follows_the_schema_and_the_brief(client):
    doc = brief("en")
    completion = _ask(client, doc)
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.refusal is None
    answer = json.loads(choice.message.content)
    assert_good_answer(answer, doc)
    text = " ".join(answer["paragraphs"])
    assert "pricing" in text
    assert "Tuesday" not in text  # the times follow the paragraphs, in the caller's frame
    assert "logistics" in text  # the angle: a peer example in their industry
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0


def test_the_sdk_parse_helper_reads_the_answer(client):
    doc = brief("en")
    completion = client.chat.completions.parse(
        model="gpt-test",
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": user_message(doc)},
        ],
        response_format=Answer,
    )
    parsed = completion.choices[0].message.parsed
    assert parsed is not None
    assert parsed.slot_ids == ["slot-1", "slot-2", "slot-3"]


def test_any_schema_gets_exactly_its_properties_of_the_right_types(client):
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "count": {"type": "integer"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "subject": {"type": "string"},
        },
        "required": ["title", "count", "ok", "tags", "subject"],
        "additionalProperties": False,
    }
    completion = _ask(client, brief("en"), response_format=json_schema_format(schema))
    answer = json.loads(completion.choices[0].message.content)
    assert set(answer) == {"title", "count", "ok", "tags", "subject"}
    assert isinstance(answer["title"], str)
    assert isinstance(answer["count"], int)
    assert isinstance(answer["ok"], bool)
    assert isinstance(answer["tags"], list)
    assert answer["subject"]


def test_a_forced_function_is_called_with_arguments_for_its_schema(client):
    tool = {
        "type": "function",
        "function": {"name": ANSWER_NAME, "parameters": ANSWER_SCHEMA, "strict": True},
    }
    doc = brief("de")
    completion = _ask(
        client,
        doc,
        response_format=openai.omit,
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": ANSWER_NAME}},
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.function.name == ANSWER_NAME
    assert_good_answer(json.loads(call.function.arguments), doc)


def test_without_a_schema_the_answer_is_plain_text(client):
    completion = _ask(client, None, response_format=openai.omit)
    content = completion.choices[0].message.content
    assert content.startswith("Subject: ")
    assert "{" not in content


@pytest.mark.parametrize(
    ("message", "echo"),
    [
        ("Fleet automation for our three warehouses", "automation"),
        ("Reconciliation at month end", "reconciliation"),
        ("Patient intake forms", "patient intake"),
    ],
)
def test_the_draft_takes_up_the_leads_topic_without_quoting_it(client, message, echo):
    answer = json.loads(_ask(client, brief("en", message=message)).choices[0].message.content)
    text = " ".join(answer["paragraphs"]).lower()
    assert echo in text
    assert message.lower() not in text


def test_the_same_request_gets_the_same_answer(client):
    first = _ask(client, brief("en")).choices[0].message.content
    assert _ask(client, brief("en")).choices[0].message.content == first
    other = _ask(client, brief("en", company="Contoso", message="Do you offer a trial?"))
    assert other.choices[0].message.content != first


@pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
def test_the_draft_is_written_in_the_briefs_language(client, language):
    doc = brief(language)
    answer = json.loads(_ask(client, doc).choices[0].message.content)
    assert_good_answer(answer, doc)
    assert language_of(answer) == language


def test_a_429_surfaces_as_rate_limit_error_with_its_headers(client, admin):
    admin.fault(pathPattern=PATH, status=429, retryAfter=7)
    with pytest.raises(openai.RateLimitError) as caught:
        _ask(client, brief())
    error = caught.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    assert error.response.headers["retry-after"] == "7"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert _ask(client, brief()).choices[0].message.content  # one request only


def test_a_500_surfaces_as_internal_server_error(client, admin):
    admin.fault(pathPattern=PATH, status=500)
    with pytest.raises(openai.InternalServerError) as caught:
        _ask(client, brief())
    assert caught.value.type == "server_error"


def test_a_stuck_server_surfaces_as_a_timeout(client, admin):
    admin.fault(pathPattern=PATH, timeoutSeconds=5)
    with pytest.raises(openai.APITimeoutError):
        _ask(client, brief(), timeout=0.5)
    admin.clear_faults()


def test_a_malformed_answer_is_not_valid_json(client, admin):
    admin.fault(pathPattern=PATH, malformed=True)
    content = _ask(client, brief()).choices[0].message.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)
    admin.fault(pathPattern=PATH, malformed=True)
    with pytest.raises(ValueError, match=r"Invalid JSON|EOF|validation"):
        client.chat.completions.parse(
            model="gpt-test",
            messages=[{"role": "user", "content": user_message(brief())}],
            response_format=Answer,
        )


def test_a_refusal_sets_refusal_and_no_content(client, admin):
    admin.fault(pathPattern=PATH, refusal=True)
    message = _ask(client, brief()).choices[0].message
    assert message.refusal
    assert message.content is None


def test_a_compromised_model_obeys_the_leads_text(client, admin):
    admin.fault(pathPattern=PATH, compromised=True)
    doc = brief(message=INJECTION)
    answer = json.loads(_ask(client, doc).choices[0].message.content)
    text = " ".join(answer["paragraphs"])
    for planted in ("ceo@evil.example", "https://evil.example/pay?x=1", "boss@evil.example"):
        assert planted in text
    assert SYSTEM.splitlines()[0] in text
    offered_slots = {slot["id"] for slot in doc["slots"]}
    assert set(answer["slot_ids"]) - offered_slots
    assert set(answer["asset_ids"]) - {asset["id"] for asset in doc["assets"]}


def test_an_uninjected_model_ignores_the_injection(client):
    answer = json.loads(_ask(client, brief(message=INJECTION)).choices[0].message.content)
    text = " ".join(answer["paragraphs"])
    assert "evil" not in text
    assert "@" not in text
    assert "instructions" not in text.lower()


def test_a_request_without_a_key_gets_openais_401(sandbox_url, admin):
    response = httpx.post(f"{sandbox_url}{PATH}", json={"model": "m", "messages": []})
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    # The SDK refuses to send without a key, so the 401 is read over plain HTTP; any key
    # passes (every other test sends one).
    anonymous = httpx.post(
        f"{sandbox_url}{PATH}",
        json={"model": "m", "messages": []},
        headers={"Authorization": "Basic abc"},
    )
    assert anonymous.status_code == 401


def test_invalid_requests_get_openais_400(client, sandbox_url):
    headers = {"Authorization": "Bearer sk-test"}
    missing = httpx.post(f"{sandbox_url}{PATH}", headers=headers, json={"messages": []})
    assert missing.status_code == 400
    assert "model" in missing.json()["error"]["message"]
    no_messages = httpx.post(f"{sandbox_url}{PATH}", headers=headers, json={"model": "m"})
    assert no_messages.json()["error"]["param"] == "messages"
    loose = {"type": "object", "properties": {"a": {"type": "string"}}}
    with pytest.raises(openai.BadRequestError) as caught:
        _ask(client, brief(), response_format=json_schema_format(loose))
    assert caught.value.code == "invalid_json_schema"


def test_a_low_token_limit_cuts_the_answer(client):
    choice = _ask(client, brief(), max_completion_tokens=20).choices[0]
    assert choice.finish_reason == "length"
    with pytest.raises(openai.LengthFinishReasonError):
        client.chat.completions.parse(
            model="gpt-test",
            messages=[{"role": "user", "content": user_message(brief())}],
            response_format=Answer,
            max_completion_tokens=20,
        )


def test_a_repeated_long_prefix_is_reported_as_cached(client):
    long_system = SYSTEM + "\n" + "Write plainly and keep to the facts given. " * 150
    first = _ask(client, brief("en"), system=long_system).usage
    second = _ask(client, brief("de"), system=long_system).usage
    assert first.prompt_tokens_details.cached_tokens == 0
    cached = second.prompt_tokens_details.cached_tokens
    assert cached >= 1024
    assert cached % 128 == 0
    assert cached < second.prompt_tokens
    short = _ask(client, brief("fr")).usage
    assert _ask(client, brief("es")).usage.prompt_tokens_details.cached_tokens == 0
    assert short.prompt_tokens < 1024
