"""Traces: OpenTelemetry spans from the webhook through a run's steps to each vendor call.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set. Off, nothing here makes a span and no part of
the SDK is imported: the hot paths pay one test of a module variable (cheaper than the API's
no-op tracer, which still builds a span object per call). On, each process exports its spans
over OTLP/HTTP in batches; the SDK reads the other OTEL_* variables itself (headers, timeout,
compression, sampler).

The API's request span travels into the Dagster run as a W3C `traceparent` in the run's tags
(run_tags.TRACEPARENT); each lead's step spans continue it and each vendor call is a child of
its step. Attributes are bounded: a workflow id, a run id, a step, a vendor and operation, an
HTTP status, an error class; never an email, a message's text or a secret.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Span, Tracer

    from sales_agent_pipeline.settings import Settings

# Span attributes (OpenTelemetry's own names where one exists).
WORKFLOW_ID = "sales_agent.workflow_id"
WORKFLOW_IDS = "sales_agent.workflow_ids"
RUN_ID = "sales_agent.run_id"
LEADS = "sales_agent.leads"
STEP = "sales_agent.step"
STEP_NUMBER = "sales_agent.step_number"
ATTEMPT = "sales_agent.attempt"
OUTCOME = "sales_agent.outcome"
ERROR_CLASS = "sales_agent.error_class"
VENDOR = "sales_agent.vendor"
OPERATION = "sales_agent.operation"
HTTP_STATUS = "http.response.status_code"
ERROR_TYPE = "error.type"
TRACEPARENT = "traceparent"

_INSTRUMENTATION = "sales_agent_pipeline"
# None: tracing is off in this process. Read on every vendor call and step.
_tracer: Tracer | None = None
_provider: TracerProvider | None = None
_lock = threading.Lock()


def enabled() -> bool:
    """True once this process makes spans (an OTLP endpoint is set, or a test collects)."""
    return _tracer is not None


def provider() -> TracerProvider | None:
    """The process's tracer provider while tracing is on (for the API's instrumentation)."""
    return _provider


def _use(new: TracerProvider | None) -> None:
    global _tracer, _provider
    _provider = new
    _tracer = None if new is None else new.get_tracer(_INSTRUMENTATION)


def configure_tracing(settings: Settings, service_name: str) -> bool:
    """Export this process's spans when OTEL_EXPORTER_OTLP_ENDPOINT is set; True when on.

    Once per process: later calls return at once (every op of a run calls it)."""
    if _tracer is not None:
        return True
    base = settings.otel_exporter_otlp_endpoint
    if not base:
        return False
    with _lock:
        if _tracer is not None:
            return True
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        new = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
        # The variable names the collector's base URL (OpenTelemetry's convention): traces
        # go to its /v1/traces, as the SDK does when it reads the variable itself.
        exporter = OTLPSpanExporter(endpoint=f"{base.rstrip('/')}/v1/traces")
        new.add_span_processor(BatchSpanProcessor(exporter))
        # Global too, so any library instrumentation in the process joins the same traces.
        trace.set_tracer_provider(new)
        _use(new)
    return True


def flush(timeout_millis: int = 5000) -> None:
    """Export what is buffered now: a run worker may end without running exit handlers."""
    if _provider is not None:
        _provider.force_flush(timeout_millis)


@contextmanager
def collecting_spans() -> Iterator[InMemorySpanExporter]:
    """Tests: while the block runs this process makes spans and keeps them in memory."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    before = _provider
    exporter = InMemorySpanExporter()
    collector = TracerProvider()
    collector.add_span_processor(SimpleSpanProcessor(exporter))
    _use(collector)
    try:
        yield exporter
    finally:
        _use(before)
        collector.shutdown()


def inject(carrier: dict[str, str], context: Context | None = None) -> dict[str, str]:
    """Write the context's (by default the current) W3C `traceparent` into the carrier.

    Nothing is written when tracing is off or no valid span is current."""
    if _tracer is not None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        TraceContextTextMapPropagator().inject(carrier, context)
    return carrier


def extract(carrier: Mapping[str, str]) -> Context | None:
    """The remote context a carrier's `traceparent` names, or None (absent or malformed)."""
    if _tracer is None or not carrier.get(TRACEPARENT):
        return None
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    context = TraceContextTextMapPropagator().extract(carrier)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def current_traceparent() -> str | None:
    """The current span's `traceparent`, or None when tracing is off or no span is current."""
    return inject({}).get(TRACEPARENT) if _tracer is not None else None


def annotate_workflows(workflow_ids: Sequence[uuid.UUID]) -> None:
    """Name the workflows the current span (the webhook's request) accepted."""
    if _tracer is None or not workflow_ids:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if len(workflow_ids) == 1:
        span.set_attribute(WORKFLOW_ID, str(workflow_ids[0]))
    else:
        span.set_attribute(WORKFLOW_IDS, [str(w) for w in workflow_ids])


def _failed(
    span: Span, error: BaseException, error_class: str | None = None, error_type: str | None = None
) -> None:
    """Mark a span failed by the error's class only: its message may quote a lead's data."""
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR))
    span.set_attribute(ERROR_TYPE, error_type or type(error).__name__)
    if error_class:
        span.set_attribute(ERROR_CLASS, error_class)
    status = getattr(error, "http_status", None)
    if isinstance(status, int) and status:
        span.set_attribute(HTTP_STATUS, status)


@contextmanager
def launch_span(parents: Sequence[str], workflow_ids: Sequence[str]) -> Iterator[str | None]:
    """A run's launch; yields the `traceparent` its run's tags carry (None: no tag).

    Leads of one request: a child of its span. Of several (a burst of deliveries coalesced
    into one run): a new trace linked to each request's span, as OpenTelemetry traces a
    batch (a span has one parent); the leads' step spans then belong to it, each with its
    workflow id."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.context import Context
    from opentelemetry.trace import Link, SpanKind, get_current_span

    # One link per request: a batched delivery's leads share theirs.
    unique = dict.fromkeys(parents)
    contexts = [c for c in (extract({TRACEPARENT: p}) for p in unique) if c is not None]
    if not contexts:
        yield None
        return
    attributes: dict[str, Any] = {LEADS: len(workflow_ids)}
    if len(workflow_ids) == 1:
        attributes[WORKFLOW_ID] = workflow_ids[0]
    if len(contexts) == 1:
        parent, links = contexts[0], None
    else:
        parent = Context()
        links = [Link(get_current_span(c).get_span_context()) for c in contexts]
    with _tracer.start_as_current_span(
        "launch run",
        context=parent,
        kind=SpanKind.PRODUCER,
        links=links,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield current_traceparent()
        except BaseException as error:
            _failed(span, error)
            raise


class RunTrace:
    """Where one run's step spans hang: the context its tags carried, else a root per lead."""

    def __init__(self, tracer: Tracer, run_id: str, carried: Context | None) -> None:
        self.tracer = tracer
        self.run_id = run_id
        self.carried = carried
        self._roots: dict[uuid.UUID, Context] = {}
        self._lock = threading.Lock()

    def lead_parent(self, workflow_id: uuid.UUID) -> Context:
        """The parent of the lead's step spans in this run."""
        if self.carried is not None:
            return self.carried
        with self._lock:
            root = self._roots.get(workflow_id)
            if root is None:
                from opentelemetry.context import Context
                from opentelemetry.trace import set_span_in_context

                # No request to continue (a sensor's, a re-run's or an import's run): one
                # trace per lead and run, so the lead's steps are still found together.
                span = self.tracer.start_span(
                    "lead",
                    context=Context(),
                    attributes={WORKFLOW_ID: str(workflow_id), RUN_ID: self.run_id},
                )
                span.end()
                root = self._roots[workflow_id] = set_span_in_context(span, Context())
            return root

    def batch_parent(self, workflow_ids: Sequence[uuid.UUID]) -> Context | None:
        """The parent of a step's work for several leads at once (its prefetch), if any."""
        if self.carried is not None:
            return self.carried
        return self.lead_parent(workflow_ids[0]) if len(workflow_ids) == 1 else None


@functools.lru_cache(maxsize=8)
def _run_trace(tracer: Tracer, run_id: str, traceparent: str | None) -> RunTrace:
    carried = extract({TRACEPARENT: traceparent}) if traceparent else None
    return RunTrace(tracer, run_id, carried)


def run_trace(run_id: str, traceparent: str | None) -> RunTrace | None:
    """The run's trace (one per run and process: every op of the run shares its lead roots),
    or None when tracing is off."""
    if _tracer is None:
        return None
    return _run_trace(_tracer, run_id, traceparent)


@contextmanager
def step_span(
    run: RunTrace, number: int, name: str, workflow_id: uuid.UUID, attempt: int
) -> Iterator[Span]:
    """One lead's work in one step, current while it runs (its vendor calls are children)."""
    with run.tracer.start_as_current_span(
        name,
        context=run.lead_parent(workflow_id),
        attributes={
            WORKFLOW_ID: str(workflow_id),
            RUN_ID: run.run_id,
            STEP: name,
            STEP_NUMBER: number,
            ATTEMPT: attempt,
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as error:
            _failed(span, error)
            raise


def step_outcome(span: Span, outcome: str, error_class: str | None, failed: bool) -> None:
    """What became of the lead in the step (succeeded, skipped, retrying, failed, ...)."""
    span.set_attribute(OUTCOME, outcome)
    if error_class:
        span.set_attribute(ERROR_CLASS, error_class)
    if failed:
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR))


@contextmanager
def prefetch_span(run: RunTrace, name: str, workflow_ids: Sequence[uuid.UUID]) -> Iterator[None]:
    """A step's look-ups for all its leads at once, when the run has a trace to hang them on."""
    parent = run.batch_parent(workflow_ids)
    if parent is None:
        yield
        return
    with run.tracer.start_as_current_span(
        f"{name} prefetch",
        context=parent,
        attributes={STEP: name, RUN_ID: run.run_id, LEADS: len(workflow_ids)},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except BaseException as error:
            _failed(span, error)
            raise


class VendorSpan:
    """One vendor call's span, current until `end()` (for a context manager of the caller's)."""

    def __init__(self, vendor: str, operation: str) -> None:
        from opentelemetry.context import attach
        from opentelemetry.trace import SpanKind, set_span_in_context

        assert _tracer is not None
        self.span = _tracer.start_span(
            f"{vendor} {operation}",
            kind=SpanKind.CLIENT,
            attributes={VENDOR: vendor, OPERATION: operation},
            record_exception=False,
            set_status_on_exception=False,
        )
        self._token = attach(set_span_in_context(self.span))

    def failed(self, raised: BaseException, mapped: BaseException | None) -> None:
        """The call failed: the SDK's exception type, our error class and the HTTP status
        (never a message)."""
        error = mapped if mapped is not None else raised
        error_class = getattr(getattr(error, "error_class", None), "value", None)
        _failed(self.span, error, error_class, type(raised).__name__)

    def end(self) -> None:
        """End the span and make its parent current again."""
        from opentelemetry.context import detach

        detach(self._token)
        self.span.end()


def vendor_span(vendor: str, operation: str) -> VendorSpan | None:
    """A vendor call's span when tracing is on and the call belongs to a traced span (a
    step's); None otherwise (a call outside any trace would make a trace of its own)."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    if not trace.get_current_span().get_span_context().is_valid:
        return None
    return VendorSpan(vendor, operation)
