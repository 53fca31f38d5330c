"""The built-in demo data, the reset semantics and the `python -m` entry point."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import hubspot
import pytest
from google.auth.credentials import AnonymousCredentials
from googleapiclient.discovery import build
from hubspot.crm.owners import ApiException as OwnersApiException

from tests.sandbox.clients import GMAIL, delegated, list_files, service

ALEX = "alex.morgan@sandbox.example.com"


def _google(name: str, version: str, endpoint: str) -> Any:
    return build(
        name,
        version,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
        static_discovery=True,
        cache_discovery=False,
    )


def test_reset_with_demo_loads_owners_crm_mail_calendars_and_drive(sandbox_url: str, admin: Any):
    described = admin.reset(demo=True)["demo"]
    assert described == admin.state("demo")["demo"]
    zones = {o["email"]: o["timeZone"] for o in described["owners"]}
    assert zones[ALEX] == "America/New_York"
    assert "Europe/London" in zones.values()

    # The product's demo token, bound to the default portal whatever the resets.
    client = hubspot.Client.create(access_token="sandbox-token", host=sandbox_url)
    owners = client.crm.owners.owners_api.get_page().results
    assert sorted(o.id for o in owners) == ["90000001", "90000002", "90000003"]
    contact = client.crm.contacts.basic_api.get_by_id(
        "jordan.lee@acme-robotics.example", id_property="email", associations=["companies"]
    )
    assert contact.id == "4100000001"
    assert [a.id for a in contact.associations["companies"].results] == ["5100000001"]
    assert {c["id"] for c in admin.contacts()} == {c["id"] for c in described["contacts"]}

    now = datetime.now(UTC)
    busy = (
        _google("calendar", "v3", f"{sandbox_url}/calendar/v3/")
        .freebusy()
        .query(
            body={
                "timeMin": now.isoformat(),
                "timeMax": (now + timedelta(days=7)).isoformat(),
                "items": [{"id": o["email"]} for o in described["owners"]],
            }
        )
        .execute()
    )
    assert all(busy["calendars"][o["email"]]["busy"] for o in described["owners"])

    gmail = _google("gmail", "v1", f"{sandbox_url}/")
    threads = gmail.users().threads().list(userId=ALEX, q="from:jordan.lee@acme-robotics.example")
    assert [t["id"] for t in threads.execute()["threads"]] == ["thread-acme-robotics"]
    assert {t["id"] for t in described["threads"]} >= {"thread-acme-robotics", "thread-ledgerline"}

    # Every owner's mailbox is reachable by a key delegated for the demo's domain.
    key = admin.service_account([described["google"]["delegatedDomain"]])
    for owner in described["owners"]:
        delegated_gmail = service(sandbox_url, "gmail", delegated(key, owner["mailbox"], GMAIL))
        profile = delegated_gmail.users().getProfile(userId="me").execute()
        assert profile["emailAddress"] == owner["mailbox"]
        assert int(profile["historyId"]) > 0
    assert described["google"]["sender"] == ALEX

    drive = _google("drive", "v3", f"{sandbox_url}/drive/v3/")
    allowed = described["drive"]["allowlistFolderIds"]
    query = " or ".join(f"'{folder}' in parents" for folder in allowed)
    listed = list_files(drive, f"({query}) and trashed = false")
    names = {f["name"] for f in listed["files"]}
    assert "Robotics one-pager.pdf" in names
    assert "Robotics" in names  # the subfolder, for the connector to walk
    assert "Robotics warehouse automation case study.pdf" not in names
    ids = {f["id"] for f in listed["files"]}
    assert not ids & set(described["drive"]["trashedFileIds"])
    assert not ids & set(described["drive"]["outsideAllowlistFileIds"])
    files = {f["id"]: f for f in admin.state("drive")["drive"]["files"]}
    assert files["file-cs-robotics-trashed"]["trashed"] is True
    assert files["folder-one-pagers"]["driveId"] == described["drive"]["sharedDriveId"]


def test_plain_reset_gives_an_empty_sandbox(admin: Any):
    admin.reset(demo=True)
    assert admin.reset() == {"status": "ok", "demo": None}
    state = admin.state()
    assert state["demo"] is None
    assert state["hubspot"]["portals"] == {}
    assert state["gmail"] == {}
    assert state["calendar"] == {}
    assert state["drive"] == {"drives": [], "files": []}
    assert admin.contacts() == admin.tasks() == admin.drafts() == admin.sent() == []
    assert admin.calls() == {
        "endpoints": [],
        "portals": [],
        "rejected": [],
        "gmail": {"windowSeconds": 60.0, "users": [], "rejected": 0},
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _sandbox_process(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "sales_agent_sandbox", "--port", str(port), *args]
    process = subprocess.Popen(command, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/_sandbox/config", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sandbox process did not start") from None
                time.sleep(0.1)
        yield url
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_module_entry_point_loads_demo_and_env_faults_and_stops_on_sigterm():
    # No Retry-After: urllib3 (under the HubSpot SDK) would silently retry a GET that has one.
    rules = [{"pathPattern": "/crm/v3/owners/*", "status": 503, "count": 1}]
    with _sandbox_process(env={"SANDBOX_FAULTS": json.dumps(rules)}) as url:
        state = httpx.get(f"{url}/_sandbox/state").json()
        assert state["demo"]["drive"]["allowlistFolderIds"]
        assert state["calls"]["rules"][0]["pattern"] == "/crm/v3/owners/*"
        client = hubspot.Client.create(access_token="sandbox-token", host=url)
        with pytest.raises(OwnersApiException) as caught:
            client.crm.owners.owners_api.get_page()
        assert caught.value.status == 503
        assert len(client.crm.owners.owners_api.get_page().results) == 3


def test_module_entry_point_empty_flag():
    with _sandbox_process("--empty") as url:
        assert httpx.get(f"{url}/_sandbox/state", params={"section": "demo"}).json() == {
            "demo": None
        }


def test_bad_env_faults_stop_the_start():
    env = {**os.environ, "SANDBOX_FAULTS": '[{"path": "/x"}]'}
    command = [sys.executable, "-m", "sales_agent_sandbox", "--port", str(_free_port())]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "fault rule 0" in done.stderr
