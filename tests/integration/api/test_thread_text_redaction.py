"""A standard key sees ids, counts and our own texts, never text read from a mailbox: a real
run (the process_formlead job against the sandbox's Gmail, whose demo thread with the
prospect steps 4 and 5 read) leaves thread text in the trail and the draft, and only an
admin key gets it back."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from sales_agent_pipeline.cli.demo import ensure_demo_tenant
from sales_agent_pipeline.db.models import Tenant
from tests.integration.api.operator_support import bearer, key_for
from tests.integration.pipeline.conftest import (  # noqa: F401
    instance,
    pipeline_env,
    run,
    sandbox,
    submit,
)
from tests.sandbox.conftest import Admin, admin_client, sandbox_url  # noqa: F401

PROSPECT = "jordan.lee@acme-robotics.example"  # the demo's prospect with a Gmail thread


@pytest.fixture(scope="module")
def tenant(engine: Engine, pipeline_env: None) -> Tenant:  # noqa: F811
    """The demo tenant the pipeline's runs use (its mailbox holds the thread)."""
    return ensure_demo_tenant(sessionmaker(engine))


def mailbox_text(trail: dict[str, Any]) -> list[str]:
    """What steps 4 and 5 read from the mailbox, as an admin key sees it."""
    texts: list[str] = []
    for event in trail["events"]:
        output = event["details"].get("output") or {}
        texts += [thread["snippet"] for thread in output.get("threads") or [] if thread["snippet"]]
        context = output.get("context") or {}
        texts += [context[key] for key in ("subject", "last_message_text") if context.get(key)]
    return texts


def fragments(text: str, size: int = 20) -> set[str]:
    """Every run of `size` characters, word-aligned, of the text on one line."""
    flat = " ".join(text.split())
    starts = [0, *(i + 1 for i, char in enumerate(flat) if char == " ")]
    return {flat[i : i + size] for i in starts if len(flat) - i >= size} or {flat}


def test_a_standard_key_sees_no_thread_text_and_an_admin_key_does(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    sandbox: Admin,  # noqa: F811
    submit: Any,  # noqa: F811
    run: Any,  # noqa: F811
) -> None:
    lead = submit(PROSPECT, interest="Fleet automation", industry="Robotics")
    assert run(lead).success
    admin, standard = (bearer(key_for(engine, tenant, admin=flag)) for flag in (True, False))
    path = f"/api/workflows/{lead.workflow_id}"

    full = client.get(f"{path}/events", headers=admin).json()
    read = mailbox_text(full)
    assert read, "the run read the prospect's thread"
    subject = next(t for t in read if "automation pilot" in t)
    draft = client.get(path, headers=admin).json()["draft"]
    assert subject in draft["subject"]  # the reply quotes the thread's subject

    answers = {
        "events": client.get(f"{path}/events", headers=standard),
        "workflow": client.get(path, headers=standard),
        "drafts": client.get("/api/drafts", headers=standard),
        "draft": client.get(f"/api/drafts/{draft['id']}", headers=standard),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200, name
        flat = " ".join(answer.text.replace("\\n", " ").split())
        for text in read:
            leaked = [piece for piece in fragments(text) if piece in flat]
            assert not leaked, (name, leaked)

    # Ids, counts and our own text stay: the thread's id and size, the draft's greeting.
    trail = answers["events"].json()
    context = next(e["details"]["output"]["context"] for e in trail["events"]
                   if "context" in (e["details"].get("output") or {}))  # fmt: skip
    assert context["thread_id"] == "thread-acme-robotics"
    assert context["message_count"] >= 2
    assert context["subject"] is None
    assert answers["draft"].json()["body"].startswith("Hi Jordan")
    assert answers["draft"].json()["subject"].startswith("Re: ")
