"""PATCH /api/drafts/{id} and POST /api/drafts/{id}/regenerate on drafts the real pipeline
wrote (process_formlead in process, the sandbox over HTTP, PostgreSQL): the sandbox's Gmail
draft itself changes in place, our row and its revisions follow, refusals change nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import DraftEmail, DraftRevision, Tenant, TenantUsage
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.unsubscribe import strip_line
from tests.conftest import free_port
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import add_draft, add_workflow, bearer, key_for
from tests.integration.pipeline.conftest import (  # noqa: F401 (fixtures)
    SECRETS_KEY,
    Lead,
    instance,
    pipeline_env,
    run,
    sandbox,
    set_workflow,
    submit,
    tenant,
)
from tests.sandbox.conftest import Admin, admin_client, sandbox_url  # noqa: F401

MODEL = "sandbox-chat-1"
# Jordan has a thread with the demo owner: the draft is a reply in it.
JORDAN = "jordan.lee@acme-robotics.example"


@pytest.fixture(scope="module")
def settings(database_url: URL, sandbox_url: str, pipeline_env: None) -> Settings:  # noqa: F811
    """The API on the pipeline's database, secrets key and sandbox (Gmail and the model)."""
    return Settings(
        _env_file=None,
        database_url=libpq_dsn(database_url),
        secrets_encryption_keys=SECRETS_KEY,
        hubspot_api_base_url=sandbox_url,
        google_api_base_url=sandbox_url,
        openai_base_url=f"{sandbox_url}/v1",
        openai_api_key="sk-test-drafts",
        llm_model=MODEL,
        gmail_quota_units_per_second=10_000,
        dagster_webserver_url=f"http://127.0.0.1:{free_port()}",
    )


def drafted(submit: Any, run: Any, engine: Engine, email: str, **fields: str) -> DraftEmail:  # noqa: F811
    """A lead run through the pipeline to its DRAFT_ONLY draft; the draft's row."""
    lead: Lead = submit(email, **fields)
    assert run(lead).success
    return row(engine, lead.workflow_id)


def row(engine: Engine, workflow_id: uuid.UUID) -> DraftEmail:
    with Session(engine) as session:
        return session.scalars(
            select(DraftEmail).where(DraftEmail.workflow_id == workflow_id)
        ).one()


def revisions(engine: Engine, draft_id: uuid.UUID) -> list[DraftRevision]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(DraftRevision)
                .where(DraftRevision.draft_id == draft_id)
                .order_by(DraftRevision.revision)
            )
        )


def without_unsubscribe(body: str) -> str:
    """A Gmail draft's text without its unsubscribe line (each version has its own token)."""
    return strip_line(body.replace("\r\n", "\n")).strip()


def gmail_drafts_to(sandbox: Admin, email: str) -> list[dict[str, Any]]:  # noqa: F811
    return [d for d in sandbox.drafts() if email in (d["to"] or "")]


def test_an_edit_updates_the_gmail_draft_in_place_and_records_who(
    sandbox: Admin,  # noqa: F811
    submit: Any,  # noqa: F811
    run: Any,  # noqa: F811
    engine: Engine,
    client: TestClient,
    headers: dict[str, str],
) -> None:
    draft = drafted(submit, run, engine, JORDAN)
    [before] = gmail_drafts_to(sandbox, JORDAN)
    assert before["inReplyTo"]  # a reply in Jordan's thread

    # Gmail keeps a reply in its thread only under the thread's subject.
    moved = client.patch(
        f"/api/drafts/{draft.id}", json={"subject": "Tuesday call"}, headers=headers
    )
    assert (moved.status_code, moved.json()["error"]["code"]) == (409, "subject_leaves_thread")
    assert gmail_drafts_to(sandbox, JORDAN) == [before]

    subject = "RE: warehouse automation pilot"
    body = "Hi Jordan,\n\nTuesday at 3pm works <for us> & Chris.\n\nBest,\nAlex"
    answer = client.patch(
        f"/api/drafts/{draft.id}", json={"subject": subject, "body": body}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert (view["subject"], view["body"], view["revision"]) == (subject, body, 2)
    assert view["edited_by"].startswith("alice (")
    assert view["edited_at"]
    assert "<p>Tuesday at 3pm works &lt;for us&gt; &amp; Chris.</p>" in view["body_html"]
    assert (view["writer"], view["language"]) == ("template", "en")

    # The same Gmail draft, in the same thread with the same reply headers and marker.
    [after] = gmail_drafts_to(sandbox, JORDAN)
    assert after["draftId"] == before["draftId"] == draft.gmail_draft_id
    assert after["subject"] == subject
    assert "Tuesday at 3pm works <for us> & Chris." in after["body"]
    for header in ("threadId", "messageIdHeader", "inReplyTo", "references", "to"):
        assert after[header] == before[header], header

    [change] = revisions(engine, draft.id)
    assert (change.kind, change.revision, change.actor) == ("edit", 2, view["edited_by"])
    assert change.api_key_id is not None
    assert (change.old_subject, change.old_body) == (draft.subject, draft.body)
    assert (change.new_subject, change.new_body) == (view["subject"], body)

    # Only the body: the subject stays; the same text again changes nothing.
    again = client.patch(f"/api/drafts/{draft.id}", json={"body": body}, headers=headers)
    assert (again.status_code, again.json()["revision"]) == (200, 2)
    listed = client.get(f"/api/drafts/{draft.id}/revisions", headers=headers).json()["items"]
    assert [item["revision"] for item in listed] == [2]
    assert client.get(f"/api/drafts/{draft.id}", headers=headers).json()["revision"] == 2


def test_a_draft_that_is_no_reply_takes_a_new_subject_in_its_own_thread(
    sandbox: Admin,  # noqa: F811
    submit: Any,  # noqa: F811
    run: Any,  # noqa: F811
    engine: Engine,
    client: TestClient,
    headers: dict[str, str],
) -> None:
    email = "new.subject@acme-robotics.example"
    draft = drafted(submit, run, engine, email)
    [before] = gmail_drafts_to(sandbox, email)
    assert not before["inReplyTo"]

    answer = client.patch(
        f"/api/drafts/{draft.id}", json={"subject": "Pilot plan for Acme"}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["subject"], answer.json()["body"]) == ("Pilot plan for Acme", draft.body)
    # Only the subject changed: the HTML part is the pipeline's, links and all.
    assert answer.json()["body_html"] == draft.body_html
    [after] = gmail_drafts_to(sandbox, email)
    assert (after["draftId"], after["threadId"], after["messageIdHeader"]) == (
        before["draftId"],
        before["threadId"],
        before["messageIdHeader"],
    )
    assert (after["subject"], without_unsubscribe(after["body"])) == (
        "Pilot plan for Acme",
        without_unsubscribe(before["body"]),
    )
    # The edited draft still carries one-click unsubscribe (a fresh token: any one works).
    names = {h["name"] for h in after["headers"]}
    assert {"List-Unsubscribe", "List-Unsubscribe-Post"} <= names
    assert row(engine, draft.workflow_id).gmail_thread_id == before["threadId"]


def test_edits_are_refused_for_sent_running_and_other_tenants_drafts(
    sandbox: Admin,  # noqa: F811
    submit: Any,  # noqa: F811
    run: Any,  # noqa: F811
    engine: Engine,
    box: Any,
    client: TestClient,
    headers: dict[str, str],
) -> None:
    email = "refused.edits@acme-robotics.example"
    draft = drafted(submit, run, engine, email)
    edit = {"subject": "Changed"}

    other = bearer(key_for(engine, make_tenant(engine, box), admin=True, name="mallory"))
    answer = client.patch(f"/api/drafts/{draft.id}", json=edit, headers=other)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert client.post(f"/api/drafts/{draft.id}/regenerate", headers=other).status_code == 404

    set_workflow(engine, draft.workflow_id, status="running")
    answer = client.patch(f"/api/drafts/{draft.id}", json=edit, headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "workflow_in_flight")
    set_workflow(engine, draft.workflow_id, status="succeeded")

    with Session(engine) as session, session.begin():
        session.get_one(DraftEmail, draft.id).sent = True
        session.get_one(DraftEmail, draft.id).sent_at = utcnow()
    for call in (
        lambda: client.patch(f"/api/drafts/{draft.id}", json=edit, headers=headers),
        lambda: client.post(f"/api/drafts/{draft.id}/regenerate", headers=headers),
    ):
        answer = call()
        assert (answer.status_code, answer.json()["error"]["code"]) == (409, "draft_already_sent")

    [gmail] = gmail_drafts_to(sandbox, email)
    assert gmail["subject"] == draft.subject
    assert row(engine, draft.workflow_id).revision == 1
    assert revisions(engine, draft.id) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, ""),
        ({"subject": "Two\nlines"}, "subject"),
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 501}, "subject"),
        ({"body": "   \n  "}, "body"),
        ({"body": "x" * 20_001}, "body"),
        ({"subject": "Fine", "to": "attacker@evil.example"}, "to"),
        ({"subject": 42}, "subject"),
    ],
)
def test_bad_edits_are_a_400_in_the_error_shape(
    engine: Engine,
    tenant: Tenant,  # noqa: F811
    client: TestClient,
    headers: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    answer = client.patch(f"/api/drafts/{uuid.uuid4()}", json=body, headers=headers)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["fields"] == [field]
    standard = bearer(key_for(engine, tenant, name="viewer"))
    answer = client.patch(f"/api/drafts/{uuid.uuid4()}", json={"subject": "ok"}, headers=standard)
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("status", "code", "answer_status"),
    [(500, "gmail_unavailable", 503), (400, "gmail_refused", 502)],
)
def test_gmail_failing_leaves_the_draft_unchanged(
    sandbox: Admin,  # noqa: F811
    submit: Any,  # noqa: F811
    run: Any,  # noqa: F811
    engine: Engine,
    client: TestClient,
    headers: dict[str, str],
    status: int,
    code: str,
    answer_status: int,
) -> None:
    email = f"gmail.fails.{status}@acme-robotics.example"
    draft = drafted(submit, run, engine, email)
    sandbox.fault(pathPattern="/gmail/v1/users/*/drafts/*", method="PUT", status=status, count=20)

    answer = client.patch(f"/api/drafts/{draft.id}", json={"body": "Hi,\n\nNew."}, headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (answer_status, code)
    answer = client.post(f"/api/drafts/{draft.id}/regenerate", headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (answer_status, code)

    after = row(engine, draft.workflow_id)
    assert (after.subject, after.body, after.body_html, after.revision, after.edited_by) == (
        draft.subject,
        draft.body,
        draft.body_html,
        1,
        None,
    )
    assert revisions(engine, draft.id) == []
    sandbox.clear_faults()
    [gmail] = gmail_drafts_to(sandbox, email)
    assert gmail["subject"] == draft.subject
    assert "New." not in gmail["body"]


def test_regenerate_with_the_template_writer_rewrites_the_same_gmail_draft(
    sandbox: Admin,  # noqa: F811
    submit: Any,  # noqa: F811
    run: Any,  # noqa: F811
    engine: Engine,
    client: TestClient,
    headers: dict[str, str],
) -> None:
    draft = drafted(submit, run, engine, JORDAN)
    [before] = gmail_drafts_to(sandbox, JORDAN)
    edited = client.patch(f"/api/drafts/{draft.id}", json={"body": "Scratch."}, headers=headers)
    assert edited.status_code == 200

    answer = client.post(f"/api/drafts/{draft.id}/regenerate?writer=template", headers=headers)
    assert answer.status_code == 200, answer.text
    view = answer.json()
    # The template writer is deterministic over the same step outputs: the pipeline's text.
    assert (view["subject"], view["body"], view["body_html"]) == (
        draft.subject,
        draft.body,
        draft.body_html,
    )
    assert (view["revision"], view["writer"], view["model"]) == (3, "template", None)
    assert view["assets_included"] == draft.assets_included

    [after] = gmail_drafts_to(sandbox, JORDAN)
    assert after["draftId"] == before["draftId"]
    assert (after["subject"], after["threadId"], after["inReplyTo"]) == (
        before["subject"],
        before["threadId"],
        before["inReplyTo"],
    )
    assert without_unsubscribe(after["body"]) == without_unsubscribe(before["body"])
    kinds = [(r.kind, r.revision) for r in revisions(engine, draft.id)]
    assert kinds == [("edit", 2), ("regenerate", 3)]
    assert revisions(engine, draft.id)[-1].details["writer"] == "template"
    bad = client.post(f"/api/drafts/{draft.id}/regenerate?writer=gpt", headers=headers)
    assert (bad.status_code, bad.json()["error"]["fields"]) == (400, ["query.writer"])


def model_api(sandbox_url: str) -> bool:  # noqa: F811
    """Whether this sandbox serves the OpenAI-compatible model API yet."""
    answer = httpx.post(f"{sandbox_url}/v1/chat/completions", json={}, timeout=5)
    return answer.status_code != 404


def tokens_today(engine: Engine, tenant_id: uuid.UUID) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.execute(
            select(TenantUsage.metric, TenantUsage.value).where(
                TenantUsage.tenant_id == tenant_id, TenantUsage.day == utcnow().date()
            )
        ).all()
    return {metric: int(value) for metric, value in rows}


def test_regenerate_with_the_openai_writer_records_provenance_and_usage(
    sandbox: Admin,  # noqa: F811
    sandbox_url: str,  # noqa: F811
    submit: Any,  # noqa: F811
    run: Any,  # noqa: F811
    engine: Engine,
    tenant: Tenant,  # noqa: F811
    client: TestClient,
    headers: dict[str, str],
) -> None:
    if not model_api(sandbox_url):
        pytest.skip("the sandbox has no /v1/chat/completions yet")
    email = "regenerate.openai@acme-robotics.example"
    draft = drafted(submit, run, engine, email, message="Could we talk on Thursday afternoon?")
    usage = tokens_today(engine, tenant.id)

    answer = client.post(f"/api/drafts/{draft.id}/regenerate?writer=openai", headers=headers)
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert (view["writer"], view["model"], view["fallback_reason"]) == ("openai", MODEL, None)
    assert view["input_tokens"] > 0
    assert view["output_tokens"] > 0
    assert (view["prompt_version"] is not None, view["revision"]) == (True, 2)
    [gmail] = gmail_drafts_to(sandbox, email)
    assert (gmail["draftId"], gmail["subject"]) == (draft.gmail_draft_id, view["subject"])
    details = revisions(engine, draft.id)[-1].details
    assert (details["writer"], details["input_tokens"]) == ("openai", view["input_tokens"])
    now = tokens_today(engine, tenant.id)
    spent = now.get("llm_tokens.input", 0) - usage.get("llm_tokens.input", 0)
    assert spent == view["input_tokens"]
    assert now.get("drafts_written.openai", 0) == usage.get("drafts_written.openai", 0) + 1

    # The model failing never fails the regeneration: the template writes it, with why.
    sandbox.fault(pathPattern="/v1/chat/completions", method="POST", status=500, count=20)
    answer = client.post(f"/api/drafts/{draft.id}/regenerate?writer=openai", headers=headers)
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert (view["writer"], view["revision"]) == ("template", 3)
    assert view["fallback_reason"]


def test_a_draft_without_a_trail_or_a_gmail_draft_is_refused(
    sandbox: Admin,  # noqa: F811
    engine: Engine,
    tenant: Tenant,  # noqa: F811
    client: TestClient,
    headers: dict[str, str],
) -> None:
    email = "no.trail@acme-robotics.example"
    never = add_draft(engine, add_workflow(engine, tenant, email), email)
    answer = client.patch(f"/api/drafts/{never}", json={"body": "Hi"}, headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "draft_not_in_gmail")

    # Steps 1-9 left no outputs to write from; the Gmail draft was deleted meanwhile.
    gone = add_draft(engine, add_workflow(engine, tenant, email), email, gmail_draft_id="r-deleted")
    answer = client.post(f"/api/drafts/{gone}/regenerate", headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "draft_inputs_missing")
    answer = client.patch(f"/api/drafts/{gone}", json={"body": "Hi"}, headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "draft_not_in_gmail")
    assert revisions(engine, gone) == []
