"""/metrics: what an operator's Prometheus scrapes from the API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sales_agent_pipeline.db.models import Tenant
from tests.integration.api.conftest import body_for, post


def sample(client: TestClient, name: str, **labels: str) -> float:
    """The current value of one sample of /metrics (0 when absent)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for metric in family.samples:
            if metric.name == name and all(metric.labels.get(k) == v for k, v in labels.items()):
                return float(metric.value)
    return 0.0


def test_webhook_outcomes_requests_and_launch_failures_are_counted(
    client: TestClient, tenant: Tenant
) -> None:
    accepted = "sales_agent_webhook_submissions_total"
    requests = "sales_agent_http_requests_total"
    route = {"method": "POST", "route": "/webhook/formlead"}
    before = (
        sample(client, accepted, outcome="accepted"),
        sample(client, accepted, outcome="duplicate"),
        sample(client, requests, **route, status="202"),
        sample(client, requests, **route, status="401"),
        sample(client, "sales_agent_dagster_launches_total", outcome="failed"),
    )

    assert post(client, body_for(tenant.portal_id, "metrics-1")).status_code == 202
    assert post(client, body_for(tenant.portal_id, "metrics-1")).status_code == 200
    assert post(client, body_for(tenant.portal_id, "metrics-2"), secret="wrong").status_code == 401
    assert client.app.state.launches.wait_idle()  # type: ignore[attr-defined]

    after = (
        sample(client, accepted, outcome="accepted"),
        sample(client, accepted, outcome="duplicate"),
        sample(client, requests, **route, status="202"),
        sample(client, requests, **route, status="401"),
        sample(client, "sales_agent_dagster_launches_total", outcome="failed"),
    )
    # Dagster is unreachable in these tests: the one launch attempt failed (left to the sensor).
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1, 1, 1]
    assert sample(client, "sales_agent_launch_queue_leads") == 0
    # Latency is recorded per route template, not per raw path.
    latency = "sales_agent_http_request_duration_seconds_count"
    assert sample(client, latency, route="/webhook/formlead") >= 3
