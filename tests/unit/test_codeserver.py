"""What the code server's forkserver imports for the run workers: the model SDKs only where a
run may draft with them."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from sales_agent_pipeline.codeserver import LAZY_IN_RUNS, PRELOAD, preload, writer_sdks
from sales_agent_pipeline.connectors.llm_call import SDK_MODULES
from sales_agent_pipeline.settings import Settings


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_the_template_writer_preloads_no_model_sdk():
    assert writer_sdks(_settings()) == []
    assert list(preload(_settings())) == PRELOAD


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_the_default_model_writer_preloads_its_sdk(kind):
    settings = _settings(draft_writer=kind)
    assert writer_sdks(settings) == [kind]
    modules = list(preload(settings))
    assert modules[: len(PRELOAD)] == PRELOAD
    assert set(modules[len(PRELOAD) :]) == set(SDK_MODULES[kind])
    assert len(modules) == len(set(modules))


def test_a_providers_key_preloads_its_sdk_for_the_tenants_that_pick_it():
    assert writer_sdks(_settings(anthropic_api_key="sk-ant-test")) == ["anthropic"]
    both = _settings(draft_writer="openai", anthropic_api_key="sk-ant-test")
    assert writer_sdks(both) == ["anthropic", "openai"]


@pytest.mark.parametrize("module", LAZY_IN_RUNS)
def test_every_lazily_imported_module_the_forkserver_preloads_exists(module):
    # The forkserver skips a name that does not import: the run workers would pay it again.
    assert importlib.util.find_spec(module) is not None, f"{module} is gone: LAZY_IN_RUNS"
