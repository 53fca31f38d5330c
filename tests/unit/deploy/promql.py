"""The metric names and selector labels a PromQL expression names, and the expressions of the
Grafana dashboard and the Prometheus rules under deploy/.

Written by hand: no maintained PromQL parser is in the lock (PyPI's are bindings or
builders), and the names are all the check needs. Prometheus' own parser still sees every
expression: tests/unit/deploy/test_promtool.py feeds the rules and the dashboard's queries
to `promtool check rules`, so an expression this reads wrongly cannot pass as valid PromQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; stubs are not locked

REPO = Path(__file__).resolve().parents[3]
DASHBOARD = REPO / "deploy" / "grafana" / "sales-agent.json"
RULES = REPO / "deploy" / "prometheus" / "alerts.yaml"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
RULES_TEST = REPO / "deploy" / "prometheus" / "alerts_test.yaml"

# Every PromQL function (Prometheus 2.x and 3.x) and aggregation operator.
FUNCTIONS = frozenset((
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
    "delta", "deriv", "double_exponential_smoothing", "exp", "first_over_time", "floor",
    "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile",
    "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters", "hour", "idelta",
    "increase", "info", "irate", "label_join", "label_replace", "last_over_time", "ln", "log10",
    "log2", "mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi",
    "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round",
    "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc",
    "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time",
    "timestamp", "ts_of_first_over_time", "ts_of_last_over_time", "ts_of_max_over_time",
    "ts_of_min_over_time", "vector", "year", "avg", "bottomk", "count", "count_values", "group",
    "limit_ratio", "limitk", "max", "min", "quantile", "stddev", "stdvar", "sum", "topk",
))  # fmt: skip
# Words that are never a metric: binary operators, modifiers, grouping, literals.
KEYWORDS = frozenset((
    "and", "or", "unless", "atan2", "bool", "offset", "by", "without", "on",
    "ignoring", "group_left", "group_right", "inf", "nan", "start", "end",
))  # fmt: skip

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_OFFSET = re.compile(r"\boffset\s+-?[0-9smhdwy]+|@\s*[0-9.]+|@\s*(?:start|end)\s*\(\s*\)")
_NUMBER = re.compile(
    r"(?<![\w:])(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
)
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")


@dataclass
class Names:
    """What one expression names: metrics (with the labels its selectors match on for each)
    and any call to a function PromQL does not have."""

    metrics: dict[str, set[str]] = field(default_factory=dict)
    unknown_functions: set[str] = field(default_factory=set)


def names(expr: str) -> Names:
    """The metric names, selector labels and unknown functions of one PromQL expression."""
    found = Names()
    # Grafana's variables ($tenant, $__rate_interval) stand for a label value, a duration or
    # a number: a number leaves no word behind wherever it stands.
    text = _GRAFANA_VARIABLE.sub("1", expr)
    text = _STRING.sub('""', text)
    for match in _SELECTOR.finditer(text):
        labels = set(_MATCHER.findall(match.group(2)))
        metric = match.group(1)
        if metric is None:  # {__name__="x"} names the metric as a label
            continue
        if metric in FUNCTIONS or metric.lower() in KEYWORDS:
            continue
        found.metrics.setdefault(metric, set()).update(labels)
    text = _SELECTOR.sub(lambda m: f" {m.group(1) or ''} ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    for match in _IDENT.finditer(text):
        word = match.group(0)
        if word.lower() in KEYWORDS:
            continue
        if text[match.end() :].lstrip().startswith("("):
            if word not in FUNCTIONS:
                found.unknown_functions.add(word)
            continue
        found.metrics.setdefault(word, set())
    return found


def label_values_selector(query: str) -> str:
    """The series selector of a Grafana `label_values(selector, label)` variable query."""
    match = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_]\w*)\s*\)\s*", query)
    if match is None:
        raise ValueError(f"not a label_values query: {query!r}")
    return match.group(1)


def load_dashboard() -> dict[str, Any]:
    """The Grafana dashboard's JSON."""
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too (rows themselves left out)."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def dashboard_expressions(dashboard: dict[str, Any]) -> dict[str, str]:
    """Each PromQL expression of the dashboard by where it is: 'panel title/refId', and the
    variables' queries as 'variable name'."""
    found = {
        f"{panel['title']}/{target['refId']}": target["expr"]
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    }
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found[f"variable {variable['name']}"] = label_values_selector(
                variable["query"]["query"]
            )
    return found


def load_rules() -> list[dict[str, Any]]:
    """Every rule of alerts.yaml, in order."""
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]
