"""The real app on this worker's database, one tenant with its webhook secret, and the row
counts a rejected request must leave as they were."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, settings
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from sales_agent_api.app import create_app
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.secretbox import secret_box
from tests.conftest import free_port
from tests.integration.api.conftest import URL_PATH, app_settings, make_tenant
from tests.property.deliveries import Delivery


@pytest.fixture(scope="module")
def app_client(database_url: URL) -> Iterator[TestClient]:
    """The app with production's body limit; HubSpot and Google unreachable (not needed)."""
    settings = app_settings(database_url, f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="module")
def portal(app_client: TestClient, engine: Engine) -> Tenant:
    """The tenant the deliveries are for (its secret: tests.integration.api.conftest.SECRET)."""
    box = secret_box(app_client.app.state.settings)  # type: ignore[attr-defined]
    return make_tenant(engine, box)


def stored_rows(engine: Engine) -> tuple[int, int]:
    """Every form submission and workflow in the database (any tenant's)."""
    with engine.connect() as connection:
        counted = connection.execute(
            text("SELECT (SELECT count(*) FROM form_submissions), (SELECT count(*) FROM workflows)")
        ).one()
    return int(counted[0]), int(counted[1])


class Ledger:
    """The rows the database should hold: what was there, plus what 2xx answers accepted."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.expected = stored_rows(engine)

    def accepted(self, answer: Any) -> None:
        """Add the submissions (and their workflows) a webhook's 2xx answer says were new."""
        receipts = answer.get("results", [answer])
        self.add(sum(1 for receipt in receipts if receipt["status"] == "accepted"))

    def add(self, new: int) -> None:
        """Add `new` submissions, each with its workflow."""
        self.expected = (self.expected[0] + new, self.expected[1] + new)

    def unchanged(self) -> bool:
        """True when the database holds exactly the expected rows."""
        return stored_rows(self.engine) == self.expected


@pytest.fixture(scope="module")
def ledger(engine: Engine, portal: Tenant) -> Ledger:
    """The module's ledger, started once its tenant exists."""
    return Ledger(engine)


def fuzz_settings(max_examples: int) -> settings:
    """Reproducible runs (a fixed derivation, no example database) sized for CI's budget."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def send(client: TestClient, ledger: Ledger, delivery: Delivery) -> None:
    """POST the delivery; assert no 5xx, the one error shape, and rows only for a 2xx."""
    content: Any = delivery.body
    if delivery.chunked:
        # No Content-Length: the body streams in pieces.
        content = iter([delivery.body[:7], delivery.body[7:]])
    headers: Any = delivery.headers()  # bytes values: what a raw client may send
    response = client.post(URL_PATH, content=content, headers=headers)
    event(f"status {response.status_code}")
    assert response.status_code < 500, response.text
    if response.status_code < 300:
        ledger.accepted(response.json())
    else:
        assert set(response.json()) == {"error"}, response.text
    # Counted after every refusal (cheap: two counts); after a 2xx only every so often.
    assert ledger.unchanged(), (response.status_code, response.text)
