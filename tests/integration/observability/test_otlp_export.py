"""With OTEL_EXPORTER_OTLP_ENDPOINT set, a process exports its spans over OTLP/HTTP: a fresh
Python process (a run worker's set-up) sends a step's span and its vendor call to a local
receiver standing in for the collector, which decodes them with OpenTelemetry's own protobuf."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SCRIPT = textwrap.dedent(
    """
    import uuid
    from sales_agent_pipeline import tracing
    from sales_agent_pipeline.connectors.errors import vendor_call
    from sales_agent_pipeline.settings import Settings

    assert not tracing.enabled()
    assert tracing.configure_tracing(Settings(_env_file=None), "sales-agent-run")
    run = tracing.run_trace("run-1", None)
    with tracing.step_span(run, 12, "create_hubspot_task", uuid.UUID(int=7), 1) as span:
        with vendor_call("HubSpot create task"):
            pass
        tracing.step_outcome(span, "succeeded", None, False)
    # No exit handler is relied on: a forkserver's child ends with os._exit.
    tracing.flush()
    import os
    os._exit(0)
    """
)


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A local HTTP receiver standing in for an OpenTelemetry collector's OTLP/HTTP port."""
    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_spans_reach_the_otlp_endpoint(collector: tuple[str, list[tuple[str, bytes]]]) -> None:
    url, received = collector
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": url}
    env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert [path for path, _ in received] == ["/v1/traces"]
    request = ExportTraceServiceRequest.FromString(received[0][1])
    (resource,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource.resource.attributes}
    assert service["service.name"] == "sales-agent-run"
    spans = {s.name: s for scope in resource.scope_spans for s in scope.spans}
    assert set(spans) == {"lead", "create_hubspot_task", "hubspot create task"}
    step, call = spans["create_hubspot_task"], spans["hubspot create task"]
    assert call.parent_span_id == step.span_id
    assert step.parent_span_id == spans["lead"].span_id
    assert len({s.trace_id for s in spans.values()}) == 1
    attributes = {a.key: a.value for a in call.attributes}
    assert attributes["sales_agent.vendor"].string_value == "hubspot"
    assert attributes["sales_agent.operation"].string_value == "create task"
