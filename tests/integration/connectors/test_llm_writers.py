"""The model writers through the official SDKs against the sandbox's model APIs: answers,
usage, prompt caching, every failure classified, the request quota, build_writer's config."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from sales_agent_pipeline.connectors.anthropic_writer import AnthropicWriter
from sales_agent_pipeline.connectors.factory import build_writer, llm_base_url
from sales_agent_pipeline.connectors.openai_writer import OpenAIWriter
from sales_agent_pipeline.domain.drafting import (
    BriefAsset,
    BriefSlot,
    DraftBrief,
    WriterKind,
    WriterSettings,
)
from sales_agent_pipeline.domain.effects import NotSent, Unreachable, nothing_written
from sales_agent_pipeline.domain.errors import (
    ConfigurationError,
    PermanentError,
    TransientError,
)
from sales_agent_pipeline.settings import Settings

MODEL = "sandbox-model"
KINDS = [WriterKind.OPENAI, WriterKind.ANTHROPIC]
PATHS = {WriterKind.OPENAI: "/v1/chat/completions", WriterKind.ANTHROPIC: "/v1/messages"}
URL = re.compile(r"https?://|www\.", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")

BRIEF = DraftBrief(
    language="en",
    action="propose a 30-minute call",
    first_name="Jane",
    company="Acme Freight",
    job_title="Head of Operations",
    industry="Logistics",
    message="Do you integrate with SAP? We ship 2,000 pallets a week. Tuesday afternoon works.",
    company_facts=("Acme Freight runs 40 depots",),
    angle="Logistics leads replied to the SAP case study",
    stated_preferences="Tuesday afternoon",
    assets=(
        BriefAsset(id="asset-sap", title="SAP integration guide", description="How we sync"),
        BriefAsset(id="asset-case", title="Logistics case study", description="A 3PL's results"),
    ),
    slots=(BriefSlot(id="slot-1", label="Tue 14:00"), BriefSlot(id="slot-2", label="Tue 15:30")),
    sender_company="Our Co",
)


class Unlimited:
    """A quota that admits everything and counts what it was asked for (a stand-in for the
    shared PostgreSQL quota the pipeline injects)."""

    def __init__(self) -> None:
        self.taken: list[int] = []

    def acquire(self, units: int, max_wait_seconds: float = 60.0) -> None:
        self.taken.append(units)


@pytest.fixture
def llm_settings(
    make_settings: Callable[..., Settings], sandbox_url: str
) -> Callable[..., Settings]:
    """Settings whose model APIs are the sandbox's, with a key of the test's own (its own
    client-side window and the sandbox's per-key counters)."""

    def make(**overrides: Any) -> Settings:
        key = f"sk-test-{uuid.uuid4().hex[:12]}"
        values: dict[str, Any] = {
            "openai_base_url": f"{sandbox_url}/v1",
            "anthropic_base_url": sandbox_url,
            "openai_api_key": key,
            "anthropic_api_key": key,
            "llm_timeout_seconds": 5.0,
            "llm_model": MODEL,
        }
        values.update(overrides)
        return make_settings(**values)

    return make


@pytest.fixture(params=KINDS, ids=lambda kind: kind.value)
def kind(request: pytest.FixtureRequest) -> WriterKind:
    return WriterKind(request.param)


def test_a_grounded_answer_with_its_usage(llm_settings, admin, kind):
    writer = build_writer(llm_settings(), kind)
    assert isinstance(writer, OpenAIWriter if kind is WriterKind.OPENAI else AnthropicWriter)
    written = writer.write(BRIEF, WriterSettings(temperature=0.2), MODEL)
    answer = written.answer
    assert answer.subject.strip()
    assert 1 <= len(answer.paragraphs) <= 4
    assert set(answer.slot_ids) <= {s.id for s in BRIEF.slots}
    assert set(answer.asset_ids) <= {a.id for a in BRIEF.assets}
    for paragraph in answer.paragraphs:
        assert not URL.search(paragraph)
        assert not EMAIL.search(paragraph)
    usage = written.usage
    assert usage is not None
    assert usage.provider == kind.value
    assert usage.model == MODEL
    assert usage.input_tokens > 100  # the instructions and the brief went out
    assert usage.output_tokens > 0
    assert 0 <= usage.latency_ms < 5000
    # The same brief, the same answer: the sandbox's model is derived from the prompt.
    assert writer.write(BRIEF, WriterSettings(temperature=0.2), MODEL).answer == answer


def test_a_tenants_second_draft_reads_its_system_prompt_from_the_cache(llm_settings, admin, kind):
    # A voice long enough to pass the providers' 1,024-token minimum for a cached prefix.
    voice = WriterSettings(
        style_guide="Write plainly, one idea per sentence, no jargon. " * 40,
        examples=tuple(
            f"Example {i}: thanks for the call, here is what we agreed. " * 30 for i in range(3)
        ),
    )
    writer = build_writer(llm_settings(), kind)
    first = writer.write(BRIEF, voice, MODEL).usage
    other_lead = BRIEF.model_copy(update={"first_name": "Ola", "message": "Pricing for 3 sites?"})
    second = writer.write(other_lead, voice, MODEL).usage
    assert first is not None
    assert second is not None
    assert first.cached_input_tokens == 0
    assert second.cached_input_tokens >= 1024
    assert second.cached_input_tokens < second.input_tokens


def test_429_is_transient_with_the_servers_delay(llm_settings, admin, kind):
    writer = build_writer(llm_settings(), kind)
    admin.fault(pathPattern=PATHS[kind], status=429, retryAfter=7)
    with pytest.raises(TransientError) as caught:
        writer.write(BRIEF, WriterSettings(), MODEL)
    assert caught.value.http_status == 429
    assert caught.value.retry_after_seconds == 7
    # Refused before any work: the SDK did not retry on its own (one request, one slot).
    assert admin.state("calls")["calls"]["rules"][-1]["hits"] == 1


@pytest.mark.parametrize("status", [500, 503, 529])
def test_server_errors_are_transient(llm_settings, admin, kind, status):
    writer = build_writer(llm_settings(), kind)
    admin.fault(pathPattern=PATHS[kind], status=status)
    with pytest.raises(TransientError) as caught:
        writer.write(BRIEF, WriterSettings(), MODEL)
    assert type(caught.value) is TransientError
    assert caught.value.http_status == status


def test_a_timeout_is_transient(llm_settings, admin, kind):
    writer = build_writer(llm_settings(llm_timeout_seconds=0.5), kind)
    admin.fault(pathPattern=PATHS[kind], timeoutSeconds=3)
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out"):
        writer.write(BRIEF, WriterSettings(), MODEL)
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    ("fault", "reason"), [("malformed", "malformed answer"), ("refusal", "model refused")]
)
def test_malformed_and_refused_answers_are_permanent(llm_settings, admin, kind, fault, reason):
    writer = build_writer(llm_settings(), kind)
    admin.fault(pathPattern=PATHS[kind], **{fault: True})
    with pytest.raises(PermanentError, match=reason):
        writer.write(BRIEF, WriterSettings(), MODEL)


def test_an_answer_cut_at_the_token_limit_is_permanent(llm_settings, admin, kind, sandbox_url):
    settings = llm_settings()
    key = settings.openai_api_key if kind is WriterKind.OPENAI else settings.anthropic_api_key
    assert key is not None
    # Below LLM_MAX_OUTPUT_TOKENS's floor, so that any answer is cut.
    writer_class = OpenAIWriter if kind is WriterKind.OPENAI else AnthropicWriter
    writer = writer_class(
        api_key=key.get_secret_value(),
        base_url=llm_base_url(settings, kind),
        timeout_seconds=5.0,
        max_output_tokens=8,
        quota=Unlimited(),
    )
    with pytest.raises(PermanentError, match="cut at the output token limit"):
        writer.write(BRIEF, WriterSettings(), MODEL)


def test_a_refused_key_is_a_configuration_error_without_the_key(llm_settings, admin, kind):
    settings = llm_settings()
    key = settings.openai_api_key if kind is WriterKind.OPENAI else settings.anthropic_api_key
    assert key is not None
    writer = build_writer(settings, kind)
    admin.fault(pathPattern=PATHS[kind], status=401)
    with pytest.raises(ConfigurationError) as caught:
        writer.write(BRIEF, WriterSettings(), MODEL)
    assert caught.value.http_status == 401
    assert key.get_secret_value() not in str(caught.value)
    assert key.get_secret_value() not in repr(writer)


def test_a_refused_connection_is_unreachable(llm_settings, admin, kind):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    writer = build_writer(llm_settings(openai_base_url=f"{dead}/v1", anthropic_base_url=dead), kind)
    with pytest.raises(Unreachable, match="cannot connect") as caught:
        writer.write(BRIEF, WriterSettings(), MODEL)
    assert nothing_written(caught.value)


def test_a_full_request_quota_sends_nothing(llm_settings, admin, kind):
    writer = build_writer(llm_settings(llm_requests_per_minute=1), kind)
    writer.write(BRIEF, WriterSettings(), MODEL)
    before = admin.last_request_seq()
    started = time.monotonic()
    with pytest.raises(NotSent) as caught:
        writer.write(BRIEF, WriterSettings(), MODEL)
    assert time.monotonic() - started < 1.0  # a minute's wait is not waited for
    assert caught.value.retry_after_seconds is not None
    assert caught.value.retry_after_seconds > 30
    assert admin.requests(after=before) == []


def test_an_injected_quota_is_taken_before_each_request(llm_settings, admin, kind):
    quota = Unlimited()
    writer = build_writer(llm_settings(), kind, quota=quota)
    writer.write(BRIEF, WriterSettings(), MODEL)
    writer.write(BRIEF, WriterSettings(), MODEL)
    assert quota.taken == [1, 1]


def test_where_build_writer_points(make_settings, sandbox_url):
    sandbox = make_settings(sandbox=True, sandbox_port=int(sandbox_url.rsplit(":", 1)[1]))
    assert llm_base_url(sandbox, WriterKind.OPENAI) == f"{sandbox_url}/v1"
    assert llm_base_url(sandbox, WriterKind.ANTHROPIC) == sandbox_url
    # No key in sandbox mode: a placeholder the sandbox takes.
    assert build_writer(sandbox, WriterKind.OPENAI).write(BRIEF, WriterSettings(), MODEL)
    real = make_settings(sandbox=False, openai_api_key=None, anthropic_api_key=None)
    assert llm_base_url(real, WriterKind.OPENAI) == "https://api.openai.com/v1"
    assert llm_base_url(real, WriterKind.ANTHROPIC) == "https://api.anthropic.com"
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        build_writer(real, WriterKind.OPENAI)
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        build_writer(real, WriterKind.ANTHROPIC)
    own = make_settings(openai_base_url="http://vllm.internal:8000/v1/", openai_api_key="k")
    assert llm_base_url(own, WriterKind.OPENAI) == "http://vllm.internal:8000/v1"


def test_a_model_that_refuses_the_temperature_is_asked_again_without_it(llm_settings, admin):
    # Reasoning models answer 400 naming `temperature` for any value but their default; the
    # sandbox names it for a value out of range (the contract's bound is bypassed to get it).
    writer = build_writer(llm_settings(), WriterKind.OPENAI)
    model = f"reasoning-{uuid.uuid4().hex[:6]}"
    hot = WriterSettings.model_construct(temperature=3.0)
    before = admin.last_request_seq()
    assert writer.write(BRIEF, hot, model).answer.paragraphs
    assert len(admin.requests(after=before)) == 2
    # Remembered for the model: the next draft asks once.
    middle = admin.last_request_seq()
    assert writer.write(BRIEF, hot, model).answer.paragraphs
    assert len(admin.requests(after=middle)) == 1
    # Any other 400 stands.
    admin.fault(pathPattern=PATHS[WriterKind.OPENAI], status=400, message="bad request")
    with pytest.raises(PermanentError):
        writer.write(BRIEF, WriterSettings(), model)


_FIRST_DRAFT = """
import json, sys
from sales_agent_pipeline.connectors.llm_call import SDK_MODULES
from sales_agent_pipeline.connectors.factory import build_writer
from sales_agent_pipeline.domain.drafting import WriterKind, WriterSettings
from sales_agent_pipeline.settings import Settings
from tests.integration.connectors.test_llm_writers import BRIEF, MODEL

kind, url, key = sys.argv[1:4]
for module in SDK_MODULES[kind]:
    __import__(module)
before = set(sys.modules)
settings = Settings(
    _env_file=None, openai_base_url=url + "/v1", anthropic_base_url=url,
    openai_api_key=key, anthropic_api_key=key, llm_model=MODEL, llm_timeout_seconds=5.0,
)
written = build_writer(settings, WriterKind(kind)).write(BRIEF, WriterSettings(), MODEL)
assert written.usage is not None
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_a_first_draft_imports_nothing_the_code_server_did_not_preload(sandbox_url, admin, kind):
    # The run workers fork from a process that imported SDK_MODULES (codeserver.py): a
    # module missing there is imported again in every run, on the lead's clock.
    import json
    import subprocess
    import sys

    key = f"sk-test-{uuid.uuid4().hex[:12]}"
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_DRAFT, kind.value, sandbox_url, key],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    heavy = ("openai", "anthropic", "httpx2", "httpcore2", "truststore", "jiter", "opentelemetry")
    late = [m for m in imported if m.split(".")[0] in heavy]
    assert late == []
