"""The metric catalog (domain/metrics.py) is the contract: the API defines its own metrics
from it, and docs/observability.md describes every one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import Counter, Gauge, Histogram

from sales_agent_api import metrics as api
from sales_agent_pipeline.connectors.dagster_status import DagsterHealth
from sales_agent_pipeline.db.repositories.metrics import PipelineFigures
from sales_agent_pipeline.domain import metrics as catalog
from sales_agent_pipeline.domain.metrics import METRICS, MetricKind, MetricSpec
from sales_agent_pipeline.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"
PLACEHOLDERS = ("Dashboard", "Alerts", "Readiness", "Canary", "Traces", "Logs")


def sections(text: str) -> dict[str, str]:
    """Each metric's section of the doc: its `#### \\`name\\`` heading to the next heading."""
    found: dict[str, str] = {}
    parts = re.split(r"^(#{2,4} .*)$", text, flags=re.M)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        name = re.fullmatch(r"#### `([a-z_]+)`", heading.strip())
        if name:
            found[name.group(1)] = body
    return found


@pytest.mark.parametrize("spec", METRICS, ids=lambda spec: spec.name)
def test_every_metric_is_documented_with_its_type_and_labels(spec: MetricSpec) -> None:
    documented = sections(DOC.read_text())
    assert spec.name in documented, f"docs/observability.md has no section for {spec.name}"
    body = documented[spec.name]
    assert f"Type: {spec.kind.value}" in body
    for label in spec.labels:
        assert f"`{label}`" in body, f"{spec.name}: label {label} is not described"
    if not spec.labels:
        assert "No labels." in body
    assert "Source:" in body


def test_the_doc_documents_no_metric_the_catalog_lacks() -> None:
    text = DOC.read_text()
    assert set(sections(text)) == {spec.name for spec in METRICS}
    for title in PLACEHOLDERS:
        assert re.search(rf"^## {title}$", text, flags=re.M), title


@pytest.mark.parametrize(
    ("metric", "spec"),
    [
        (api.REQUESTS, catalog.HTTP_REQUESTS),
        (api.LATENCY, catalog.HTTP_LATENCY),
        (api.DELIVERIES, catalog.WEBHOOK_SUBMISSIONS),
        (api.LAUNCHES, catalog.LAUNCHES),
        (api.LAUNCHED_LEADS, catalog.LAUNCHED_LEADS),
        (api.QUEUED, catalog.LAUNCH_QUEUE),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_the_apis_own_metrics_are_the_catalogs(
    metric: Counter | Gauge | Histogram, spec: MetricSpec
) -> None:
    (described,) = metric.describe()
    # prometheus-client keeps a counter's name without its `_total`.
    assert described.name == spec.name.removesuffix("_total")
    assert described.type == spec.kind.value
    assert described.documentation == spec.help
    assert tuple(metric._labelnames) == spec.labels
    if spec.kind is MetricKind.HISTOGRAM:
        assert isinstance(metric, Histogram)
        assert tuple(metric._upper_bounds[:-1]) == tuple(float(b) for b in spec.buckets)


def unreachable(url: str) -> DagsterHealth:
    raise ConnectionRefusedError(url)


def test_every_pipeline_metric_is_one_family_of_the_collector() -> None:
    settings = Settings(_env_file=None)
    families = api.database_families(PipelineFigures(), settings)
    families += api.dagster_families(unreachable, "http://127.0.0.1:1")
    served = {f"{f.name}_total" if f.type == "counter" else f.name for f in families}
    assert served == {spec.name for spec in catalog.PIPELINE_METRICS}
    kinds = {f.name: f.type for f in families}
    for spec in catalog.PIPELINE_METRICS:
        assert kinds[spec.name.removesuffix("_total")] == spec.kind.value
    down = {f.name: f.samples[0].value for f in families if f.name.endswith("_up")}
    assert down == {"sales_agent_dagster_daemon_up": 0, "sales_agent_code_server_up": 0}
