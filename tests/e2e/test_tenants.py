"""Two tenants created with the CLI, each with its own HubSpot token, webhook secret, Google
service account and mailbox, run live leads, a CSV import and reconciliation at the same time
in the real stack. The sandbox's request log must show every call of A carrying A's
credentials and touching only A's objects (and the same for B), and no secret may appear in
the processes' logs, the Dagster event log or the run tags."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from sales_agent_pipeline.connectors.dagster_launcher import LOCATION, REPOSITORY
from sales_agent_pipeline.connectors.hubspot_signature import sign_v3
from sales_agent_pipeline.db.models import FormSubmission, Tenant, Workflow
from sales_agent_pipeline.db.urls import app_url
from tests.e2e.conftest import RunningStack
from tests.e2e.test_reconciliation import LAUNCH, graphql, poll
from tests.sandbox.conftest import Admin

pytestmark = pytest.mark.e2e

TAG = uuid.uuid4().hex[:6]
SALES_AGENT = str(Path(sys.executable).parent / "sales-agent")
LIVE, IMPORTED, MISSED = 3, 4, 2


@dataclass
class Customer:
    """One tenant as its admin set it up: what it typed and what it got back."""

    portal_id: int
    domain: str
    form: str
    token: str
    webhook_secret: str
    google_key: dict[str, Any]
    api_key: str = ""
    emails: list[str] = field(default_factory=list)

    @property
    def sender(self) -> str:
        return f"rep@{self.domain}"

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.token.encode()).hexdigest()[:12]

    def secrets(self) -> dict[str, str]:
        """Every secret this tenant handed over, by name (the key's body, not its armour)."""
        body = "".join(
            line
            for line in self.google_key["private_key"].splitlines()
            if line and not line.startswith("-----")
        )
        return {
            "hubspot token": self.token,
            "webhook secret": self.webhook_secret,
            "google private key": body[40:100],
            "api key": self.api_key,
        }


def cli(stack: RunningStack, *args: str, stdin: str | None = None) -> str:
    """`sales-agent ...` as its admin types it, against the stack's database and keys."""
    env = {
        **os.environ,
        "DATABASE_URL": stack.database,
        "DATA_DIR": str(stack.data_dir),
        "HUBSPOT_API_BASE_URL": stack.sandbox,
        "GOOGLE_API_BASE_URL": stack.sandbox,
    }
    done = subprocess.run(
        [SALES_AGENT, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def customers(
    stack: RunningStack, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Customer]]:
    admin = Admin(stack.sandbox)
    folder = tmp_path_factory.mktemp("customers")
    made = []
    for n, name in enumerate(("alpha", "beta")):
        portal = 70_000 + n * 1_000 + int(TAG[:3], 16) % 1_000
        domain = f"{name}-{TAG}.example"
        customer = Customer(
            portal_id=portal,
            domain=domain,
            form=f"form-{name}-{TAG}",
            token=admin.register_token(portal_id=portal),
            webhook_secret=uuid.uuid4().hex + uuid.uuid4().hex,
            google_key=admin.service_account([domain], name=f"sa-{name}-{TAG}"),
        )
        admin.seed(
            portalId=portal,
            forms=[{"id": customer.form, "name": f"{name} contact"}],
            owners=[{"email": customer.sender, "firstName": "Rep", "lastName": name.title()}],
        )
        token_file = folder / f"{name}-token.txt"
        token_file.write_text(customer.token + "\n")
        key_file = folder / f"{name}-google.json"
        key_file.write_text(json.dumps(customer.google_key))
        # The webhook secret through standard input, as the docs show.
        cli(
            stack,
            "tenant",
            "create",
            str(portal),
            "--name",
            f"{name.title()} {TAG}",
            "--sender",
            customer.sender,
            "--form",
            customer.form,
            "--hubspot-token-file",
            str(token_file),
            "--webhook-secret-file",
            "-",
            "--google-credentials-file",
            str(key_file),
            "--timezone",
            "Europe/Berlin",
            stdin=customer.webhook_secret,
        )
        customer.api_key = cli(
            stack, "apikey", "create", "--tenant", str(portal), "--admin", "--name", "e2e"
        ).strip()
        made.append(customer)
    yield made
    admin.http.close()


def deliver(stack: RunningStack, customer: Customer, email: str) -> httpx.Response:
    body = json.dumps(
        {
            "portalId": customer.portal_id,
            "formId": customer.form,
            "formSubmissionId": str(uuid.uuid4()),
            "fieldValues": [
                {"name": "email", "value": email},
                {"name": "firstname", "value": "Robin"},
                {"name": "company", "value": customer.domain.split(".")[0].title()},
            ],
        }
    ).encode()
    url = f"{stack.api}/webhook/formlead"
    headers = sign_v3(customer.webhook_secret, "POST", url, body, int(time.time() * 1000))
    return httpx.post(
        url, content=body, headers={**headers, "Content-Type": "application/json"}, timeout=10
    )


def workflows_of(engine: Engine, customer: Customer) -> list[tuple[str, str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(FormSubmission.email, Workflow.status, FormSubmission.portal_id)
            .join(Workflow, Workflow.form_submission_id == FormSubmission.id)
            .join(Tenant, Tenant.id == Workflow.tenant_id)
            .where(Tenant.portal_id == customer.portal_id)
        ).all()
    return [(str(e), str(s), int(p)) for e, s, p in rows]


def test_two_tenants_touch_only_their_own_portal_and_mailbox(
    stack: RunningStack, engine: Engine, customers: list[Customer]
) -> None:
    admin = Admin(stack.sandbox)
    since = admin.last_request_seq()
    run_ids: list[str] = []
    for c in customers:
        # Submissions HubSpot lists whose webhooks never came: reconciliation's work.
        missed = [f"missed{n}.{TAG}@{c.domain}" for n in range(MISSED)]
        admin.seed(
            portalId=c.portal_id,
            formSubmissions=[
                {
                    "formGuid": c.form,
                    "conversionId": f"missed-{n}-{c.portal_id}-{TAG}",
                    "values": [{"name": "email", "value": address}],
                }
                for n, address in enumerate(missed)
            ],
        )
        live = [f"live{n}.{TAG}@{c.domain}" for n in range(LIVE)]
        imported = [f"imp{n}.{TAG}@{c.domain}" for n in range(IMPORTED)]
        c.emails = live + imported + missed
    # Everything at once: both tenants' live leads, imports and a reconciliation run.
    for c in customers:
        for address in c.emails[:LIVE]:
            assert deliver(stack, c, address).status_code == 202
        csv = "email,first_name,company\n" + "".join(
            f"{address},Kim,{c.domain}\n" for address in c.emails[LIVE : LIVE + IMPORTED]
        )
        answer = httpx.post(
            f"{stack.api}/api/imports",
            headers={"Authorization": f"Bearer {c.api_key}"},
            files={"file": ("leads.csv", csv.encode(), "text/csv")},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
    selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    launched = graphql(
        stack, LAUNCH, params={"selector": {**selector, "jobName": "reconcile_submissions"}}
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_ids.append(launched["run"]["runId"])

    def all_done() -> bool:
        for c in customers:
            rows = workflows_of(engine, c)
            if len(rows) < len(c.emails) or any(
                status in ("received", "queued", "running") for _, status, _ in rows
            ):
                return False
        return True

    poll(all_done, timeout=240)
    for c in customers:
        rows = workflows_of(engine, c)
        # Each lead once, under its own tenant, and every one of them drafted.
        assert sorted(email for email, _, _ in rows) == sorted(c.emails)
        assert {status for _, status, _ in rows} == {"succeeded"}, rows
        assert {portal for _, _, portal in rows} == {c.portal_id}

    log = admin.requests(after=since)
    by_portal = {c.portal_id: c for c in customers}
    by_subject = {c.sender: c for c in customers}
    seen = {c.portal_id: {"hubspot": 0, "google": 0} for c in customers}
    for entry in log:
        touched = entry["touched"]
        if entry["vendor"] == "hubspot":
            portals = set(touched.get("portals", [])) | {entry["identity"]["portalId"]}
            mine = portals & set(by_portal)
            if not mine:
                continue  # the demo tenant's own traffic
            assert len(portals) == 1, entry
            owner = by_portal[mine.pop()]
            assert entry["identity"]["token"] == owner.fingerprint, entry
            seen[owner.portal_id]["hubspot"] += 1
        else:
            subject = entry["identity"]["subject"]
            mailboxes = set(touched.get("mailboxes", []))
            calendars = set(touched.get("calendars", []))
            owners = set(touched.get("driveOwners", []))
            ours = {
                c.portal_id
                for c in customers
                if any(c.domain in value for value in mailboxes | calendars | owners)
            }
            if subject not in by_subject and not ours:
                continue  # the demo tenant's own traffic
            assert subject in by_subject, entry
            me = by_subject[subject]
            assert mailboxes <= {me.sender}, entry
            assert all(value.endswith("@" + me.domain) for value in calendars), entry
            assert all(value.endswith("@" + me.domain) for value in owners), entry
            seen[me.portal_id]["google"] += 1
    for portal, counts in seen.items():
        assert counts["hubspot"] > 0, (portal, counts)
        assert counts["google"] > 0, (portal, counts)

    # The drafts sit in each tenant's own mailbox, addressed to its own leads.
    drafts = httpx.get(f"{stack.sandbox}/_sandbox/drafts", timeout=10).json()
    for c in customers:
        for address in c.emails:
            found = [d for d in drafts if address in (d.get("to") or "")]
            assert len(found) == 1, (address, found)
            assert found[0]["user"].lower() == c.sender, found[0]

    # No secret in any log, the Dagster event log or the run tags.
    secrets = {
        f"{c.portal_id} {name}": value for c in customers for name, value in c.secrets().items()
    }
    for path in [*sorted(stack.data_dir.rglob("*.log")), stack.output]:
        content = path.read_text(errors="replace")
        for name, value in secrets.items():
            assert value not in content, f"{name} in {path.name}"
    dagster = create_engine(app_url(stack.database).set(database="sales_agent_dagster"))
    try:
        with dagster.connect() as conn:
            events = conn.execute(text("SELECT event FROM event_logs")).scalars().all()
            tags = conn.execute(text("SELECT key || '=' || value FROM run_tags")).scalars().all()
    finally:
        dagster.dispose()
    assert events, "the Dagster event log is empty"
    haystack = "\n".join([*events, *tags])
    for name, value in secrets.items():
        assert value not in haystack, f"{name} in the Dagster event log or run tags"
