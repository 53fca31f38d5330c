"""Prometheus' own tool checks deploy/prometheus: the rules and the scrape config load, the
rules' unit tests (alerts_test.yaml) pass and would catch a broken rule, and every query of
the Grafana dashboard parses as PromQL.

promtool comes from Debian's `prometheus` package (.ci/run installs it). Without it these
tests fail, saying so: the issue asks that the rules check never be skipped silently.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; stubs are not locked

from .promql import (
    PROMETHEUS_CONFIG,
    RULES,
    RULES_TEST,
    dashboard_expressions,
    load_dashboard,
    load_rules,
)

INSTALL = "apt-get install -y --no-install-recommends prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool's path; a failure (never a skip) naming the package when it is missing."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            f"promtool not found on PATH: the alert rules cannot be checked. Install Debian's "
            f"prometheus package ({INSTALL}); .ci/run does it before the tests",
            pytrace=False,
        )
    return path


def run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """A promtool command's result, output and errors as text."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_check_rules_accepts_every_alert(promtool: str) -> None:
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in result.stdout


def test_check_config_accepts_the_scrape_config_and_its_rules(promtool: str) -> None:
    result = run(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "alerts.yaml" in result.stdout


def test_alert_unit_tests_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("alert", "key", "broken", "fixed"),
    [
        ("SalesAgentBreakerOpen", "for", "2m", "10m"),
        ("SalesAgentCanaryLate", "expr", "== 1", "== 2"),
        ("SalesAgentOldestPendingLead", "expr", "15 * 60", "30 * 60"),
        ("SalesAgentWorkflowsFailing", "expr", "> 0.05", "> 0.5"),
    ],
)
def test_alert_unit_tests_catch_a_broken_rule(
    promtool: str, tmp_path: Path, alert: str, key: str, broken: str, fixed: str
) -> None:
    """The unit tests are not vacuous: a rule made slower or blinder fails them."""
    document = yaml.safe_load(RULES.read_text())
    rule = next(r for g in document["groups"] for r in g["rules"] if r.get("alert") == alert)
    assert broken in rule[key]
    rule[key] = rule[key].replace(broken, fixed)
    (tmp_path / RULES.name).write_text(yaml.safe_dump(document))
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    result = run(promtool, "test", "rules", RULES_TEST.name, cwd=tmp_path)
    assert result.returncode != 0
    assert f"alertname: {alert}" in result.stdout + result.stderr


def test_every_dashboard_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    """Each query, Grafana's variables given values, as a recording rule promtool parses."""
    expressions = dashboard_expressions(load_dashboard())
    rules = [
        {"record": f"dashboard:query_{n}", "expr": expr, "labels": {"where": where}}
        for n, (where, expr) in enumerate(sorted(expressions.items()))
    ]
    text = yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]})
    text = text.replace("$__rate_interval", "1m").replace("$tenant", ".*")
    (tmp_path / "dashboard.yaml").write_text(text)
    result = run(promtool, "check", "rules", str(tmp_path / "dashboard.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
