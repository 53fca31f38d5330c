"""The operator's console in a real browser: the Dagster UI and the API docs of a running
`sales-agent up`, after its demo leads, driven by playwright on Debian's Chromium.

Screenshots go to test-artifacts/ui/ (or UI_SCREENSHOTS_DIR; `docs/img` refreshes the
operator guide's pictures).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.cli.demo import DEMO_LEADS, DEMO_PORTAL
from sales_agent_pipeline.db.models import Workflow
from tests.e2e.conftest import READY_TIMEOUT, RunningStack, deliver, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get install -y chromium chromium-driver"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("UI_SCREENSHOTS_DIR", PROJECT_ROOT / "test-artifacts" / "ui"))
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def page(stack: RunningStack) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed: {INSTALL}")
    from playwright.sync_api import sync_playwright

    wait_for(f"{stack.ui}/server_info", stack.process)
    # The first visit to a local Dagster UI offers a newsletter dialog; an operator
    # dismisses it once per instance, which is what this does.
    seen = httpx.post(f"{stack.ui}/graphql", json={"query": "mutation { setNuxSeen }"}, timeout=10)
    seen.raise_for_status()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        tab = browser.new_page(viewport={"width": 1280, "height": 800})
        tab.set_default_timeout(TIMEOUT_MS)
        yield tab
        browser.close()


def printed(stack: RunningStack, text: str, timeout: float = READY_TIMEOUT + 90) -> str:
    """`sales-agent up`'s output once it contains `text` (by default: time for the stack to
    get ready, then for `up`'s own 90 s wait for the first draft)."""
    deadline = time.monotonic() + timeout
    while text not in (output := stack.output.read_text()):
        assert time.monotonic() < deadline, output
        assert stack.process.poll() is None, output
        assert "the first draft is not ready yet" not in output, output
        time.sleep(0.5)
    return output


def workflow_of(engine: Engine, email: str) -> Workflow:
    with engine.connect() as conn:
        row = conn.execute(select(Workflow).where(Workflow.prospect_email == email)).one()
    return Workflow(**row._mapping)


def finished(
    engine: Engine, email: str, *, after: str | None = None, timeout: float = 90
) -> Workflow:
    """The lead's workflow once a run (other than the run `after`) has finished it."""
    deadline = time.monotonic() + timeout
    while True:
        workflow = workflow_of(engine, email)
        done = workflow.status not in ("received", "queued", "running")
        if done and (after is None or workflow.dagster_run_id != after):
            return workflow
        assert time.monotonic() < deadline, f"{email} still {workflow.status}"
        time.sleep(0.5)


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def runs_tagged(ui: str, key: str, value: str) -> str:
    """The runs page filtered by one tag, as an operator's bookmark would be."""
    return f"{ui}/runs?" + urllib.parse.urlencode({"q[]": f"tag:{key}={value}"})


def test_up_prints_a_working_admin_key_and_the_first_draft(stack: RunningStack) -> None:
    output = printed(stack, "First draft")
    key = re.search(r"API key\s+(sak_\S+)", output)
    assert key is not None, output
    assert f"{stack.ui}/runs" in output
    assert f"{stack.api}/docs" in output
    assert f"Bearer {key.group(1)}' {stack.api}/api/workflows" in output
    first_email = DEMO_LEADS[0][0]
    assert f"To: {first_email}" in output.split("First draft", 1)[1]

    answer = httpx.get(
        f"{stack.api}/api/workflows",
        headers={"Authorization": f"Bearer {key.group(1)}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    emails = json.dumps(answer.json())
    assert all(lead[0] in emails for lead in DEMO_LEADS)


def test_the_demo_lead_run_shows_success_and_its_draft(
    stack: RunningStack, engine: Engine, page: Page
) -> None:
    printed(stack, "First draft")
    email = DEMO_LEADS[0][0]
    workflow = finished(engine, email)
    assert workflow.status == "succeeded"
    assert workflow.dagster_run_id is not None
    run_id, key = workflow.dagster_run_id, str(workflow.id)

    # The tenant tag is on every lead run, batched or not (a burst may share a run).
    page.goto(runs_tagged(stack.ui, run_tags.TENANT, str(DEMO_PORTAL)))
    run_link = page.locator(f'a[href="/runs/{run_id}"]').first
    run_link.wait_for()
    page.get_by_text("process_formlead").first.wait_for()
    page.get_by_text("Success", exact=True).first.wait_for()
    page.get_by_text(f"{run_tags.MODE}: DRAFT_ONLY").first.wait_for()
    shoot(page, "runs-filtered-by-tag")

    page.goto(f"{stack.ui}/runs/{run_id}")
    page.get_by_text("RUN_SUCCESS").first.wait_for()
    shoot(page, "run-success")

    query = urllib.parse.urlencode({"view": "partitions", "partition": key})
    page.goto(f"{stack.ui}/assets/lead_followup?{query}")
    page.get_by_text("step_durations_ms").first.wait_for()
    for seen in ("recipient", "hubspot_task", "gmail", "DRAFT_ONLY", "13 record_audit"):
        assert page.get_by_text(seen).count() > 0, seen
    # The draft is rendered Markdown: its labels bold, the email's lines kept.
    assert page.locator("strong", has_text="Subject:").count() > 0
    shoot(page, "lead-asset")
    for label, name in (("draft", "lead-asset-draft"), ("hubspot_task", "lead-asset-durations")):
        row = page.get_by_text(label, exact=True).first
        row.evaluate("cell => cell.scrollIntoView({block: 'start'})")
        shoot(page, name)


def test_a_failed_run_shows_the_step_and_the_vendors_answer(
    stack: RunningStack, engine: Engine, page: Page
) -> None:
    printed(stack, "First draft")
    for lead in DEMO_LEADS:  # the fault below must not hit a demo lead's task
        finished(engine, lead[0])
    email = f"refused.{uuid.uuid4().hex[:6]}@northwind.example"
    rule = {
        "pathPattern": "/crm/v3/objects/tasks",
        "method": "POST",
        "status": 400,
        "count": 1,
        "message": "Property values were not valid: hs_timestamp",
    }
    httpx.post(f"{stack.sandbox}/_sandbox/faults", json=rule, timeout=10).raise_for_status()
    assert deliver(stack, email, company="Northwind Clinics").status_code == 202
    workflow = finished(engine, email)
    assert workflow.status == "failed"

    page.goto(f"{stack.ui}/runs/{workflow.dagster_run_id}")
    page.get_by_text("RUN_FAILURE").first.wait_for()
    message = "step 12 create_hubspot_task: HubSpot create task failed: HTTP 400"
    page.get_by_text(message).first.wait_for()
    assert page.get_by_text("Property values were not valid: hs_timestamp").count() > 0
    page.get_by_text(message).first.scroll_into_view_if_needed()
    shoot(page, "run-failure")

    # The operator's retry from the UI: the re-execution takes the failed workflow over,
    # and the draft made before the failure is updated, not made again.
    page.get_by_role("button", name="Re-execute all (*)").click()
    page.wait_for_url(lambda url: str(workflow.dagster_run_id) not in url)
    retried = finished(engine, email, after=workflow.dagster_run_id)
    assert (retried.status, retried.attempts) == ("succeeded", 2)
    marker = f"[sales-agent workflow {workflow.id}]"
    assert len([t for t in sandbox_list(stack, "tasks") if marker in str(t)]) == 1
    assert len([d for d in sandbox_list(stack, "drafts") if email in str(d)]) == 1
    page.get_by_text("RUN_SUCCESS").first.wait_for()
    shoot(page, "run-reexecuted")


def test_the_api_docs_page_serves_the_openapi_document(stack: RunningStack, page: Page) -> None:
    page.goto(f"{stack.api}/docs")
    assert page.title() == "Sales Agent Pipeline - Swagger UI"
    document = page.request.get(f"{stack.api}/openapi.json")
    assert document.ok
    assert {"/webhook/formlead", "/api/workflows"} <= set(document.json()["paths"])
    # Swagger UI is served by the API itself (no CDN): the operations render offline.
    page.get_by_text("/webhook/formlead").first.wait_for()
    page.get_by_text("/api/workflows").first.wait_for()
    shoot(page, "api-docs")


def sandbox_list(stack: RunningStack, what: str) -> list[dict[str, Any]]:
    """What the sandbox holds (its inspection endpoint, not a vendor call)."""
    answer = httpx.get(f"{stack.sandbox}/_sandbox/{what}", timeout=10)
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found
