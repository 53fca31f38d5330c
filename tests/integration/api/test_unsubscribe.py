"""POST/GET /unsubscribe/{token} through the real app and PostgreSQL: RFC 8058's one-click
POST (with its body or none, any content type, no key) suppresses once and answers 200
again after; the GET page never unsubscribes; bad tokens are named and change nothing;
the token never reaches the access log."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sales_agent_api.unsubscribe_guard import MAX_FAILURES, HideTokens, hide_token_in_span
from sales_agent_pipeline.db.models import (
    ScheduledSend,
    Suppression,
    Tenant,
    Workflow,
    WorkflowEvent,
)
from sales_agent_pipeline.secretbox import generate_key, unsubscribe_tokens
from sales_agent_pipeline.settings import Settings
from tests.integration.api.operator_support import add_workflow

ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}
BODY = b"List-Unsubscribe=One-Click"
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(autouse=True)
def fresh_limiter(client: TestClient) -> None:
    """Each test starts with no failures counted for the test client."""
    counted = getattr(client.app.state, "unsubscribe_failures", None)  # type: ignore[attr-defined]
    if counted is not None:
        counted.clear()


def token_for(
    settings: Settings, tenant_id: uuid.UUID, email: str, workflow_id: uuid.UUID | None, **kw: float
) -> str:
    return unsubscribe_tokens(settings).mint(tenant_id, email, workflow_id, **kw)


def entries(engine: Engine, tenant_id: uuid.UUID) -> list[Suppression]:
    with Session(engine) as session:
        return list(
            session.scalars(select(Suppression).where(Suppression.tenant_id == tenant_id)).all()
        )


def events(engine: Engine, workflow_id: uuid.UUID, kind: str) -> int:
    with Session(engine) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(WorkflowEvent)
                .where(WorkflowEvent.workflow_id == workflow_id, WorkflowEvent.event_type == kind)
            )
            or 0
        )


def workflow(engine: Engine, workflow_id: uuid.UUID) -> Workflow:
    with Session(engine) as session:
        found = session.get(Workflow, workflow_id)
        assert found is not None
        return found


def test_one_click_post_suppresses_once_and_stops_the_workflow(
    client: TestClient, settings: Settings, tenant: Tenant, engine: Engine
) -> None:
    workflow_id = add_workflow(engine, tenant, "Jane@Lead.example")
    with Session(engine) as session, session.begin():
        session.add(
            ScheduledSend(
                workflow_id=workflow_id,
                tenant_id=tenant.id,
                mailbox="sender@ours.example",
                to_email="jane@lead.example",
                gmail_draft_id="d-1",
                due_at=datetime.now(UTC) + timedelta(hours=3),
                time_zone="UTC",
                zone_of="owner",
            )
        )
    token = token_for(settings, tenant.id, "Jane@Lead.example", workflow_id)
    started = time.monotonic()
    first = client.post(f"/unsubscribe/{token}", content=BODY, headers=ONE_CLICK)
    assert time.monotonic() - started < 2
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "unsubscribed"
    assert "j***@lead.example" in first.json()["message"]
    assert "jane" not in first.text
    assert first.headers["cache-control"] == "no-store"
    assert "set-cookie" not in first.headers
    [entry] = entries(engine, tenant.id)
    assert (entry.kind, entry.value, entry.reason, entry.source, entry.workflow_id) == (
        "address",
        "jane@lead.example",
        "unsubscribe",
        "one-click",
        workflow_id,
    )
    stopped = workflow(engine, workflow_id)
    assert stopped.stopped_reason == "unsubscribed"
    assert stopped.stopped_at is not None
    assert events(engine, workflow_id, "unsubscribed") == 1
    with Session(engine) as session:
        send = session.get(ScheduledSend, workflow_id)
        assert send is not None
        assert send.status == "cancelled"

    again = client.post(f"/unsubscribe/{token}", content=BODY, headers=ONE_CLICK)
    assert again.status_code == 200
    assert again.json()["status"] == "already_unsubscribed"
    assert len(entries(engine, tenant.id)) == 1
    assert events(engine, workflow_id, "unsubscribed") == 1
    assert workflow(engine, workflow_id).stopped_at == stopped.stopped_at


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (None, {}),
        (b"", {"Content-Type": "text/plain"}),
        (b'{"List-Unsubscribe": "One-Click"}', {"Content-Type": "application/json"}),
        (b"\x00\xff garbage", {"Content-Type": "application/octet-stream"}),
        (BODY, {"Content-Type": "multipart/form-data; boundary=x"}),
    ],
)
def test_any_body_or_none_is_accepted(
    client: TestClient,
    settings: Settings,
    tenant: Tenant,
    engine: Engine,
    content: bytes | None,
    headers: dict[str, str],
) -> None:
    token = token_for(settings, tenant.id, "any@lead.example", None)
    answer = client.post(f"/unsubscribe/{token}", content=content, headers=headers)
    assert answer.status_code == 200, answer.text
    assert [e.value for e in entries(engine, tenant.id)] == ["any@lead.example"]


def test_no_api_key_is_needed_and_a_wrong_one_is_ignored(
    client: TestClient, settings: Settings, tenant: Tenant
) -> None:
    token = token_for(settings, tenant.id, "k@lead.example", None)
    answer = client.post(
        f"/unsubscribe/{token}", content=BODY, headers={**ONE_CLICK, "Authorization": "Bearer x"}
    )
    assert answer.status_code == 200


def test_a_body_over_the_limit_is_refused_unread(
    client: TestClient, settings: Settings, tenant: Tenant, engine: Engine
) -> None:
    token = token_for(settings, tenant.id, "big@lead.example", None)
    answer = client.post(
        f"/unsubscribe/{token}", content=b"x" * (settings.api_max_body_bytes + 1), headers=ONE_CLICK
    )
    assert answer.status_code == 413
    assert entries(engine, tenant.id) == []


def test_get_shows_a_button_and_never_unsubscribes(
    client: TestClient, settings: Settings, tenant: Tenant, engine: Engine
) -> None:
    workflow_id = add_workflow(engine, tenant, "peek@lead.example")
    token = token_for(settings, tenant.id, "peek@lead.example", workflow_id)
    for _ in range(3):
        page = client.get(f"/unsubscribe/{token}", headers=HTML)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<form method="post">' in page.text
        assert 'name="List-Unsubscribe" value="One-Click"' in page.text
        assert "p***@lead.example" in page.text
        assert "peek@" not in page.text
        assert "form-action 'self'" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
    assert client.head(f"/unsubscribe/{token}").status_code in {200, 405}
    assert entries(engine, tenant.id) == []
    assert workflow(engine, workflow_id).stopped_reason is None
    assert events(engine, workflow_id, "unsubscribed") == 0

    # The button: the browser posts the form, and gets a page back.
    done = client.post(f"/unsubscribe/{token}", content=BODY, headers={**ONE_CLICK, **HTML})
    assert done.status_code == 200
    assert done.headers["content-type"].startswith("text/html")
    assert "You are unsubscribed" in done.text
    after = client.get(f"/unsubscribe/{token}", headers=HTML)
    assert "already unsubscribed" in after.text
    assert "<form" not in after.text


def test_bad_tokens_are_named_and_change_nothing(
    client: TestClient, settings: Settings, tenant: Tenant, engine: Engine
) -> None:
    good = token_for(settings, tenant.id, "x@lead.example", None)
    other_key = Settings(_env_file=None, secrets_encryption_keys=generate_key())
    cases = {
        "malformed_token": (400, "not-a-token"),
        "forged_token": (403, token_for(other_key, tenant.id, "x@lead.example", None)),
        "expired_token": (
            410,
            token_for(settings, tenant.id, "x@lead.example", None, now=time.time() - 400 * 86400),
        ),
        "unknown_sender": (404, token_for(settings, uuid.uuid4(), "x@lead.example", None)),
    }
    middle = len(good) // 2
    cases["forged_token (altered)"] = (
        403,
        good[:middle] + ("A" if good[middle] != "A" else "B") + good[middle + 1 :],
    )
    cases["malformed_token (too long)"] = (400, "A" * 5000)
    for code, (status, token) in cases.items():
        for method in ("post", "get"):
            answer = client.request(method.upper(), f"/unsubscribe/{token}", content=BODY)
            assert answer.status_code == status, (code, method, answer.text)
            assert answer.json()["error"]["code"] == code.split(" ")[0]
            assert answer.json()["error"]["message"]
        page = client.get(f"/unsubscribe/{token}", headers=HTML)
        assert page.status_code == status
        assert page.headers["content-type"].startswith("text/html")
        assert "<form" not in page.text
    assert entries(engine, tenant.id) == []


def test_too_many_bad_tokens_from_one_client_are_throttled_but_never_a_good_one(
    client: TestClient, settings: Settings, tenant: Tenant, engine: Engine
) -> None:
    for _ in range(MAX_FAILURES):
        assert client.post("/unsubscribe/garbage").status_code == 400
    throttled = client.post("/unsubscribe/garbage")
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "60"
    assert throttled.json()["error"]["code"] == "too_many_attempts"
    assert client.get("/unsubscribe/garbage", headers=HTML).status_code == 429
    # Behind a proxy everyone may share one client address: a real link always works.
    token = token_for(settings, tenant.id, "late@lead.example", None)
    assert client.get(f"/unsubscribe/{token}").status_code == 200
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert [e.value for e in entries(engine, tenant.id)] == ["late@lead.example"]
    client.app.state.unsubscribe_failures.clear()  # type: ignore[attr-defined]
    assert client.post("/unsubscribe/garbage").status_code == 400


def test_the_token_is_hidden_in_access_lines() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/unsubscribe/gAAAAABsecret?x=1", "1.1", 200),
        None,
    )
    assert HideTokens().filter(record)
    assert "gAAAAAB" not in record.getMessage()
    assert "/unsubscribe/[token]" in record.getMessage()
    other = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/workflows?status=failed", "1.1", 200),
        None,
    )
    HideTokens().filter(other)
    assert "/api/workflows?status=failed" in other.getMessage()
    assert any(isinstance(f, HideTokens) for f in logging.getLogger("uvicorn.access").filters)


def test_the_token_is_hidden_in_spans() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("POST /unsubscribe/{token}") as span:
        span.set_attribute("http.target", "/unsubscribe/gAAAAABsecret")
        span.set_attribute("http.url", "https://api.example/unsubscribe/gAAAAABsecret")
        span.set_attribute("http.route", "/unsubscribe/{token}")
        hide_token_in_span(span, span.attributes)  # type: ignore[attr-defined]
    [done] = exporter.get_finished_spans()
    assert done.attributes is not None
    assert "gAAAAAB" not in str(dict(done.attributes))
    assert done.attributes["http.url"] == "https://api.example/unsubscribe/[token]"
    assert done.attributes["http.route"] == "/unsubscribe/{token}"
