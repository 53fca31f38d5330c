"""One lead's trace is whole: the webhook's request span, the launch of its run, carried in
the run's tags to the 13 step spans, and each vendor call under its step, in one trace."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from sales_agent_pipeline import run_tags, tracing
from sales_agent_pipeline.workflow.table import STEPS
from tests.integration.observability.conftest import MESSAGE, Journey


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def test_the_webhook_the_run_and_every_vendor_call_are_one_trace(journey: Journey) -> None:
    assert journey.answers == {
        "instrumented": 1,
        "webhook": 202,
        "detail": 200,
        "burst0": 202,
        "burst1": 202,
        "untraced": 202,
    }
    assert journey.result.success
    spans = journey.spans

    (webhook,) = [s for s in spans if s.kind is SpanKind.SERVER and "/webhook/formlead" in s.name]
    assert webhook.attributes is not None
    assert webhook.attributes[tracing.WORKFLOW_ID] == journey.workflow_id
    assert webhook.context is not None
    trace_id = webhook.context.trace_id

    # The launch of the run is the request's child; the run's tags carry the launch's context.
    (launch,) = [s for s in spans if s.name == "launch run"]
    assert _parent(launch) == _id(webhook)
    assert launch.context is not None
    assert launch.context.trace_id == trace_id
    carried = journey.tags[run_tags.TRACEPARENT]
    _version, carried_trace, carried_span, flags = carried.split("-")
    assert (carried_trace, carried_span) == (f"{trace_id:032x}", f"{_id(launch):016x}")
    assert int(flags, 16) & 1  # sampled: the run records its spans too

    # The 13 steps, in order, each the launch's child, with the workflow and the outcome.
    steps = sorted(
        (s for s in spans if s.attributes and tracing.STEP_NUMBER in s.attributes),
        key=lambda s: s.start_time or 0,
    )
    assert [s.name for s in steps] == list(STEPS)
    for number, step in enumerate(steps, start=1):
        assert step.attributes is not None
        assert step.attributes[tracing.STEP_NUMBER] == number
        assert step.attributes[tracing.WORKFLOW_ID] == journey.workflow_id
        assert step.attributes[tracing.RUN_ID] == journey.run_id
        assert step.attributes[tracing.OUTCOME] == "succeeded"
        assert _parent(step) == _id(launch)

    # Every vendor call is a client span under a step (or a step's look-ups for the run),
    # directly or inside another call (a Google client built for a thread's first request).
    prefetches = [s for s in spans if s.name.endswith(" prefetch")]
    owners = {_id(s): s.name for s in [*steps, *prefetches]}
    assert all(_parent(p) == _id(launch) for p in prefetches)
    calls = [s for s in spans if s.kind is SpanKind.CLIENT]
    by_id = {_id(call): call for call in calls}

    def owner(call: ReadableSpan) -> str:
        parent = _parent(call)
        while parent in by_id:
            parent = _parent(by_id[parent])
        assert parent in owners, call.name
        return owners[parent]

    vendors_by_step: dict[str, set[str]] = {}
    for call in calls:
        vendor = str((call.attributes or {})[tracing.VENDOR])
        vendors_by_step.setdefault(owner(call), set()).add(vendor)
    assert vendors_by_step["resolve_contact"] == {"hubspot"}
    assert vendors_by_step["search_gmail_threads"] == {"gmail"}
    assert vendors_by_step["propose_meeting_slots"] == {"calendar"}
    assert vendors_by_step["create_gmail_draft"] == {"gmail"}
    assert vendors_by_step["create_hubspot_task"] == {"hubspot"}
    assert {"drive"} in vendors_by_step.values()

    # Nothing of the lead's work outside this trace: the only other trace is the operator's
    # later look at the workflow (a request of its own).
    others = [s for s in spans if s.context is not None and s.context.trace_id != trace_id]
    assert [(s.kind, s.name) for s in others] == [
        (SpanKind.SERVER, "GET /api/workflows/{workflow_id}")
    ]


def test_a_vendor_error_is_a_failed_span_with_its_status_and_class(journey: Journey) -> None:
    tasks = [
        s
        for s in journey.spans
        if s.kind is SpanKind.CLIENT
        and (s.attributes or {}).get(tracing.OPERATION) == "create task"
    ]
    # HubSpot answered 429 once; the connector waited and called again.
    assert [s.status.status_code for s in tasks] == [StatusCode.ERROR, StatusCode.UNSET]
    failed = tasks[0].attributes or {}
    assert failed[tracing.HTTP_STATUS] == 429
    assert failed[tracing.ERROR_CLASS] == "transient"
    assert failed[tracing.VENDOR] == "hubspot"
    assert tasks[0].status.description is None
    assert not tasks[0].events  # no exception event: its message may quote the lead


def test_no_span_holds_the_lead_s_email_message_or_a_secret(journey: Journey) -> None:
    texts = [
        " ".join([s.name, *(str(v) for v in (s.attributes or {}).values())]) for s in journey.spans
    ]
    forbidden = [journey.email, MESSAGE, *journey.secrets]
    if journey.draft_body:
        forbidden.append(journey.draft_body)
    for text in texts:
        assert not any(item in text for item in forbidden), text


def test_with_tracing_off_the_api_has_no_middleware_and_runs_no_trace_tag(
    journey: Journey,
) -> None:
    assert journey.answers["untraced"] == 202
    assert not tracing.enabled()
    assert not journey.untraced_app_instrumented
    assert run_tags.TRACEPARENT not in journey.untraced_tags
    assert run_tags.WORKFLOW_ID in journey.untraced_tags


def test_a_run_of_several_requests_leads_starts_a_trace_linked_to_each(
    journey: Journey,
) -> None:
    """A span has one parent: the run of two deliveries coalesced links to both requests."""
    requests = sorted(
        (s for s in journey.batch_spans if s.kind is SpanKind.SERVER),
        key=lambda s: s.start_time or 0,
    )
    (launch,) = [s for s in journey.batch_spans if s.name == "launch run"]
    assert len(requests) == 2
    assert journey.batch_tags[run_tags.LEADS] == "2"
    assert launch.parent is None
    assert [link.context.span_id for link in launch.links] == [_id(r) for r in requests]
    assert (launch.attributes or {})[tracing.LEADS] == 2
    assert launch.context is not None
    assert all(
        r.context is not None and r.context.trace_id != launch.context.trace_id for r in requests
    )
    carried = journey.batch_tags[run_tags.TRACEPARENT].split("-")
    assert carried[1:3] == [f"{launch.context.trace_id:032x}", f"{_id(launch):016x}"]
