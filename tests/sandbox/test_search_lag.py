"""Gmail's search index trails writes, as HubSpot's does: a message or draft written in the
last N seconds is missing from q= searches (threads, messages, drafts), while a get by id
and a list without q see it at once."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

USER = "owner@sandbox.example.com"
GMAIL = f"/gmail/v1/users/{USER}"
PROSPECT = "pat@prospect.example"
QUERY = {"q": f"to:{PROSPECT}"}


def _raw(subject: str) -> str:
    msg = EmailMessage()
    msg["To"] = PROSPECT
    msg["Subject"] = subject
    msg.set_content("Hi Pat")
    return base64.urlsafe_b64encode(msg.as_bytes()).decode()


@pytest.fixture(autouse=True)
def _no_lag_after(admin: Any) -> Iterator[None]:
    # The sandbox keeps its configuration across resets: put the lag back for the next test.
    yield
    admin.config(search_lag_seconds=0.0, gmail_search_lag_seconds=None)


@pytest.fixture
def gmail(sandbox_url: str) -> httpx.Client:
    return httpx.Client(base_url=f"{sandbox_url}{GMAIL}", timeout=10)


def _found(gmail: httpx.Client, resource: str, **params: Any) -> list[str]:
    response = gmail.get(f"/{resource}", params=params)
    response.raise_for_status()
    return [item["id"] for item in response.json().get(resource, [])]


def test_a_new_draft_is_missing_from_searches_until_the_lag_passes(gmail: httpx.Client, admin):
    admin.config(gmail_search_lag_seconds=1.0)
    draft = gmail.post("/drafts", json={"message": {"raw": _raw("Hello Pat")}}).json()
    message = draft["message"]
    # Searches: not indexed yet.
    assert _found(gmail, "threads", **QUERY) == []
    assert _found(gmail, "messages", **QUERY) == []
    assert _found(gmail, "drafts", **QUERY) == []
    # Get by id and lists without q: at once.
    assert gmail.get(f"/drafts/{draft['id']}").status_code == 200
    assert gmail.get(f"/messages/{message['id']}").status_code == 200
    assert gmail.get(f"/threads/{message['threadId']}").status_code == 200
    assert _found(gmail, "drafts") == [draft["id"]]
    assert _found(gmail, "messages", labelIds="DRAFT") == [message["id"]]
    assert _found(gmail, "threads", labelIds="DRAFT") == [message["threadId"]]
    time.sleep(1.1)
    assert _found(gmail, "threads", **QUERY) == [message["threadId"]]
    assert _found(gmail, "messages", **QUERY) == [message["id"]]
    assert _found(gmail, "drafts", **QUERY) == [draft["id"]]


def test_a_sent_message_lags_too_and_an_update_is_indexed_again(gmail: httpx.Client, admin):
    admin.config(gmail_search_lag_seconds=0.6)
    sent = gmail.post("/messages/send", json={"raw": _raw("Sent")}).json()
    draft = gmail.post("/drafts", json={"message": {"raw": _raw("First")}}).json()
    assert _found(gmail, "messages", q=f"to:{PROSPECT} in:sent") == []
    time.sleep(0.7)
    assert _found(gmail, "messages", q=f"to:{PROSPECT} in:sent") == [sent["id"]]
    assert _found(gmail, "drafts", q="subject:first") == [draft["id"]]
    # An update stores a new message: its text is searchable only once re-indexed.
    gmail.put(f"/drafts/{draft['id']}", json={"message": {"raw": _raw("Second")}})
    assert _found(gmail, "drafts", q="subject:second") == []
    time.sleep(0.7)
    assert _found(gmail, "drafts", q="subject:second") == [draft["id"]]


def test_one_knob_lags_both_vendors_unless_gmail_has_its_own(admin):
    config = admin.config(search_lag_seconds=30.0)
    assert config["gmail_search_lag_seconds"] is None  # follows search_lag_seconds
    assert admin.config(gmail_search_lag_seconds=0.0)["search_lag_seconds"] == 30.0


def test_the_shared_knob_lags_gmail_searches(gmail: httpx.Client, admin):
    admin.config(search_lag_seconds=30.0)
    gmail.post("/messages/send", json={"raw": _raw("Sent")})
    assert _found(gmail, "threads", **QUERY) == []
    admin.config(gmail_search_lag_seconds=0.0)
    assert len(_found(gmail, "threads", **QUERY)) == 1


def test_seeded_history_is_already_indexed(gmail: httpx.Client, admin):
    admin.config(gmail_search_lag_seconds=60.0)
    admin.seed(
        gmail=[
            {
                "user": USER,
                "from": PROSPECT,
                "to": USER,
                "subject": "Earlier",
                "date": "2026-01-05T10:00:00Z",
            }
        ]
    )
    assert len(_found(gmail, "threads", q=f"from:{PROSPECT}")) == 1
