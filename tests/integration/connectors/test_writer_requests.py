"""A model writer given a tenant's meter counts each request it sends by its answer, as the
other connectors do (vendor_requests.<openai|anthropic>.<operation>.<status>)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sales_agent_pipeline.connectors.anthropic_writer import AnthropicWriter
from sales_agent_pipeline.connectors.factory import llm_api_key, llm_base_url
from sales_agent_pipeline.connectors.metering import UsageMeter
from sales_agent_pipeline.connectors.openai_writer import OpenAIWriter
from sales_agent_pipeline.domain.drafting import WriterKind, WriterSettings
from sales_agent_pipeline.domain.errors import TransientError
from sales_agent_pipeline.settings import Settings
from tests.integration.connectors.test_llm_writers import (  # noqa: F401 (fixtures)
    BRIEF,
    MODEL,
    PATHS,
    Unlimited,
    kind,
    llm_settings,
)
from tests.sandbox.conftest import Admin

OPERATIONS = {
    WriterKind.OPENAI: "chat.completions.create",
    WriterKind.ANTHROPIC: "messages.create",
}


def test_each_model_request_is_counted_by_its_answer(
    llm_settings: Callable[..., Settings],  # noqa: F811
    admin: Admin,
    kind: WriterKind,  # noqa: F811
) -> None:
    settings = llm_settings()
    meter = UsageMeter()
    writer_class = OpenAIWriter if kind is WriterKind.OPENAI else AnthropicWriter
    writer = writer_class(
        api_key=llm_api_key(settings, kind),
        base_url=llm_base_url(settings, kind),
        timeout_seconds=5.0,
        max_output_tokens=settings.llm_max_output_tokens,
        quota=Unlimited(),
        meter=meter,
    )
    writer.write(BRIEF, WriterSettings(), MODEL)
    admin.fault(pathPattern=PATHS[kind], status=503, count=1)
    with pytest.raises(TransientError):
        writer.write(BRIEF, WriterSettings(), MODEL)

    prefix = f"vendor_requests.{kind.value}.{OPERATIONS[kind]}"
    assert meter.drain() == {f"{prefix}.200": 1, f"{prefix}.503": 1}
