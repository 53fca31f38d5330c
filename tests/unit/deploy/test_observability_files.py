"""The Grafana dashboard and the alert rules under deploy/ name only metrics the code
exports (sales_agent_pipeline/domain/metrics.py, the catalog /metrics is built from), with
labels those metrics have; every metric has a panel; every alert is routable and has its
runbook section."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; stubs are not locked

from sales_agent_api.routes import webhook
from sales_agent_pipeline.domain.metrics import BY_NAME, METRICS, SERIES, MetricKind

from .promql import (
    PROMETHEUS_CONFIG,
    REPO,
    dashboard_expressions,
    load_dashboard,
    load_rules,
    names,
    panels,
)

# Prometheus' own per-target series: only `up` is used (the scrape-failure alert).
PROMETHEUS_SERIES = {"up": {"job", "instance"}}
DASHBOARD = load_dashboard()
RULES = load_rules()
ALERTS = [rule for rule in RULES if "alert" in rule]


def allowed_labels(series: str) -> set[str]:
    """The labels a selector may match on for one sample name of the catalog."""
    if series in PROMETHEUS_SERIES:
        return PROMETHEUS_SERIES[series]
    for spec in METRICS:
        if series in spec.series:
            extra = {"le"} if series == f"{spec.name}_bucket" else set()
            # Prometheus adds job and instance to every scraped series.
            return set(spec.labels) | extra | {"job", "instance"}
    return set()


def check(where: str, expr: str) -> list[str]:
    """What is wrong with one expression: unknown metrics, labels or functions."""
    problems = []
    found = names(expr)
    for metric, labels in sorted(found.metrics.items()):
        if metric not in SERIES and metric not in PROMETHEUS_SERIES:
            problems.append(f"{where}: {metric} is not exported (domain/metrics.py)")
        elif labels - allowed_labels(metric):
            extra = sorted(labels - allowed_labels(metric))
            problems.append(f"{where}: {metric} has no label {', '.join(extra)}")
    problems += [f"{where}: {name}() is no PromQL function" for name in found.unknown_functions]
    if not found.metrics:
        problems.append(f"{where}: names no metric at all")
    return problems


# -- the tokenizer itself: it finds what is there and nothing else --


def test_names_finds_metrics_and_selector_labels_only() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, step) "
        '(rate(sales_agent_step_duration_seconds_bucket{step!="x", le=~"1e3|Inf"}'
        "[$__rate_interval] offset 5m))) / on (step) group_left (vendor) "
        "sum without (instance) (sales_agent_backlog > bool 0x1F) or vector(1) and up "
        "unless absent(sales_agent_canary_late) * 15 * 60 + 1.5e3"
    )
    found = names(expr)
    assert found.metrics == {
        "sales_agent_step_duration_seconds_bucket": {"step", "le"},
        "sales_agent_backlog": set(),
        "up": set(),
        "sales_agent_canary_late": set(),
    }
    assert found.unknown_functions == set()


def test_names_reports_a_misspelled_metric_label_and_function() -> None:
    problems = check("example", 'sum(rate(sales_agent_workflow_total{tenant="1"}[5m]))')
    assert problems == ["example: sales_agent_workflow_total is not exported (domain/metrics.py)"]
    problems = check("example", 'sum(sales_agent_dead_letter{portal="1"})')
    assert problems == ["example: sales_agent_dead_letter has no label portal"]
    misspelled = "histogram_quantiles(0.5, sales_agent_lead_to_draft_seconds_bucket)"
    problems = check("example", misspelled)
    assert problems == ["example: histogram_quantiles() is no PromQL function"]


def test_names_ignores_strings_and_grafana_variables() -> None:
    found = names('sales_agent_breaker_open{vendor="rate(x)", tenant=~"$tenant"} > ${threshold}')
    assert found.metrics == {"sales_agent_breaker_open": {"vendor", "tenant"}}


# -- the dashboard --


def test_every_dashboard_query_names_exported_metrics_and_their_labels() -> None:
    expressions = dashboard_expressions(DASHBOARD)
    assert len(expressions) > 30
    problems = [p for where, expr in expressions.items() for p in check(where, expr)]
    assert problems == []


def test_every_exported_metric_has_a_panel() -> None:
    used = {m for expr in dashboard_expressions(DASHBOARD).values() for m in names(expr).metrics}
    missing = [spec.name for spec in METRICS if not set(spec.series) & used]
    assert missing == []


def test_histograms_are_read_through_their_buckets_and_counters_through_rates() -> None:
    """A histogram's quantiles come from its _bucket series; a counter is never plotted raw."""
    for where, expr in dashboard_expressions(DASHBOARD).items():
        if where.startswith("variable"):  # label_values() reads a selector's labels only
            continue
        for metric in names(expr).metrics:
            spec = next((s for s in METRICS if metric in s.series), None)
            if spec is None:
                continue
            if spec.kind is MetricKind.HISTOGRAM:
                assert metric == f"{spec.name}_bucket", where
                assert "histogram_quantile(" in expr, where
            if spec.kind is MetricKind.COUNTER:
                assert re.search(r"\b(rate|increase|delta)\(", expr), where


def test_the_ack_latency_panel_reads_the_webhook_route() -> None:
    ack = next(p for p in panels(DASHBOARD) if p["title"] == "Webhook ack latency")
    exprs = [target["expr"] for target in ack["targets"]]
    assert [e.split("(", 1)[1].split(",")[0] for e in exprs] == ["0.5", "0.99"]
    assert all(f'route="{webhook.PATH}"' in e for e in exprs)
    assert "route" in BY_NAME["sales_agent_http_request_duration_seconds"].labels


def test_dashboard_uses_a_prometheus_datasource_variable_and_a_tenant_variable() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    tenant = variables["tenant"]
    assert tenant["type"] == "query"
    assert tenant["includeAll"]
    assert tenant["multi"]
    assert tenant["query"]["query"] == "label_values(sales_agent_workflows_total, tenant)"
    for panel in panels(DASHBOARD):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    # Every metric with a tenant label is filtered by the variable wherever it is read.
    for where, expr in dashboard_expressions(DASHBOARD).items():
        for metric in names(expr).metrics:
            spec = next((s for s in METRICS if metric in s.series), None)
            if spec and "tenant" in spec.labels and not where.startswith("variable"):
                assert 'tenant=~"$tenant"' in expr, where


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    every = DASHBOARD["panels"]
    assert len({p["id"] for p in every}) == len(every)
    cells: dict[tuple[int, int], str] = {}
    for panel in every:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


# -- the alert rules --

REQUIRED_ALERTS = {
    "SalesAgentWorkflowsFailing",
    "SalesAgentOldestPendingLead",
    "SalesAgentReconciliationMissing",
    "SalesAgentBreakerOpen",
    "SalesAgentDeadLettersGrowing",
    "SalesAgentCanaryLate",
    "SalesAgentDagsterDaemonDown",
    "SalesAgentCodeServerDown",
    "SalesAgentMetricsTargetDown",
}


def test_every_rule_names_exported_metrics_and_their_labels() -> None:
    problems = [p for rule in RULES for p in check(rule.get("alert", "rule"), rule["expr"])]
    assert problems == []


def test_the_alerts_the_issue_asks_for_are_there() -> None:
    assert REQUIRED_ALERTS - {rule["alert"] for rule in ALERTS} == set()


@pytest.mark.parametrize("rule", ALERTS, ids=lambda rule: rule["alert"])
def test_every_alert_waits_has_a_severity_and_says_what_to_do(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+[smh]", rule["for"])
    # The severities Dagster's own alerts use (alert_states.severity).
    assert rule["labels"]["severity"] in {"critical", "error", "warning", "info"}
    assert rule["annotations"]["summary"]
    assert rule["annotations"]["description"]
    # Each points at its own section of the runbook (what it means, what to do).
    page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
    assert page == "docs/runbook.md"
    assert anchor.startswith(rule["alert"].lower())


def test_the_oldest_pending_threshold_is_the_settings_default() -> None:
    from sales_agent_pipeline.settings import Settings

    minutes = Settings.model_fields["alert_oldest_pending_minutes"].default
    rule = next(r for r in ALERTS if r["alert"] == "SalesAgentOldestPendingLead")
    assert f"> {minutes:g} * 60" in rule["expr"]


def test_the_scrape_config_loads_the_rules_and_names_the_job_the_alert_watches() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert config["rule_files"] == ["alerts.yaml"]
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert jobs == ["sales-agent-api"]
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"
    down = next(r for r in ALERTS if r["alert"] == "SalesAgentMetricsTargetDown")
    assert 'up{job="sales-agent-api"}' in down["expr"]


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_runbook_link_has_its_section_in_docs() -> None:
    docs = REPO / "docs" / "runbook.md"
    headings = re.findall(r"^#+\s+(.*)$", docs.read_text(), flags=re.MULTILINE)
    anchors = {github_anchor(h) for h in headings}
    missing = [
        rule["alert"]
        for rule in ALERTS
        if rule["annotations"]["runbook_url"].split("#")[1] not in anchors
    ]
    assert missing == []
