"""POST /webhook/gmail: Pub/Sub push of Gmail's notifications, its token, its bad bodies."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_api.app import create_app
from sales_agent_api.routes.gmail_push import PATH, HidePushToken
from sales_agent_pipeline.db.models import MailboxCursor, Tenant
from sales_agent_pipeline.settings import Settings
from tests.conftest import free_port
from tests.integration.api.conftest import app_settings

TOKEN = "push-token-" + "x" * 24
MAILBOX = "alex@ourco.example"


@pytest.fixture(scope="module")
def push_settings(database_url: URL) -> Settings:
    return app_settings(database_url, f"http://127.0.0.1:{free_port()}", gmail_push_token=TOKEN)


@pytest.fixture(scope="module")
def push_client(push_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(push_settings), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def watched(engine: Engine, tenant: Tenant) -> tuple[uuid.UUID, str]:
    mailbox = f"{uuid.uuid4().hex[:8]}-{MAILBOX}"
    with Session(engine) as session, session.begin():
        session.add(MailboxCursor(tenant_id=tenant.id, mailbox=mailbox, history_id=100))
    return tenant.id, mailbox


def envelope(data: Any, *, raw: bool = False) -> dict[str, Any]:
    encoded = data if raw else base64.b64encode(json.dumps(data).encode()).decode()
    return {
        "message": {
            "data": encoded,
            "messageId": "2070443601311540",
            "message_id": "2070443601311540",
            "publishTime": "2026-12-07T09:00:00.000Z",
            "attributes": {},
        },
        "subscription": "projects/p/subscriptions/gmail-push",
    }


def pushed(engine: Engine, tenant_id: uuid.UUID, mailbox: str) -> int | None:
    with Session(engine) as session:
        cursor = session.get(MailboxCursor, (tenant_id, mailbox))
        assert cursor is not None
        return cursor.pushed_history_id


def test_a_push_records_the_history_id_for_the_next_read(
    push_client: TestClient, engine: Engine, watched: tuple[uuid.UUID, str]
) -> None:
    tenant_id, mailbox = watched
    body = envelope({"emailAddress": mailbox.upper(), "historyId": 1234})
    answer = push_client.post(PATH, params={"token": TOKEN}, json=body)
    assert answer.status_code == 204
    assert pushed(engine, tenant_id, mailbox) == 1234
    # An older notification arriving late never moves it back; a string id is read too.
    late = envelope({"emailAddress": mailbox, "historyId": "1200"})
    assert push_client.post(PATH, params={"token": TOKEN}, json=late).status_code == 204
    assert pushed(engine, tenant_id, mailbox) == 1234


def test_an_unknown_mailbox_is_acknowledged_and_changes_nothing(push_client: TestClient) -> None:
    body = envelope({"emailAddress": "nobody@elsewhere.example", "historyId": 5})
    answer = push_client.post(PATH, params={"token": TOKEN}, json=body)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ignored"}


def test_a_missing_or_wrong_token_is_refused_and_records_nothing(
    push_client: TestClient, client: TestClient, engine: Engine, watched: tuple[uuid.UUID, str]
) -> None:
    tenant_id, mailbox = watched
    body = envelope({"emailAddress": mailbox, "historyId": 999})
    missing = push_client.post(PATH, json=body)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_token"
    wrong = push_client.post(PATH, params={"token": TOKEN[:-1] + "y"}, json=body)
    assert wrong.status_code == 403
    assert TOKEN not in wrong.text
    # An API without GMAIL_PUSH_TOKEN takes no push at all.
    assert client.post(PATH, params={"token": TOKEN}, json=body).status_code == 403
    assert pushed(engine, tenant_id, mailbox) is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"message": {}}',
        json.dumps(envelope("%%% not base64 %%%", raw=True)).encode(),
        json.dumps(envelope(base64.b64encode(b"not json").decode(), raw=True)).encode(),
        json.dumps(envelope(["a list"])).encode(),
        json.dumps(envelope({"historyId": 5})).encode(),
        json.dumps(envelope({"emailAddress": MAILBOX})).encode(),
        json.dumps(envelope({"emailAddress": MAILBOX, "historyId": "12a"})).encode(),
        json.dumps(envelope({"emailAddress": MAILBOX, "historyId": -4})).encode(),
        json.dumps(envelope({"emailAddress": MAILBOX, "historyId": True})).encode(),
        json.dumps(envelope({"emailAddress": MAILBOX, "historyId": 2**64})).encode(),
    ],
)
def test_a_malformed_body_is_a_400(push_client: TestClient, body: bytes) -> None:
    answer = push_client.post(
        PATH, params={"token": TOKEN}, content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_push"


def test_the_token_stays_out_of_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"{PATH}?token={TOKEN}", "1.1", 204),
        None,
    )
    HidePushToken().filter(record)
    assert TOKEN not in record.getMessage()
    assert f"{PATH}?[redacted]" in record.getMessage()
