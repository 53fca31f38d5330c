"""A real sandbox on a free port, shared by a test module, reset before each test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from sales_agent_sandbox.app import create_app


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        # Empty at start: tests seed what they need (the `admin` fixture resets anyway).
        uvicorn.Config(create_app(demo=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("sandbox did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


class Admin:
    """The sandbox's own /_sandbox endpoints (setup and inspection, not vendor calls)."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=f"{base}/_sandbox", timeout=10)

    def reset(self, *, demo: bool = False) -> dict[str, Any]:
        """Empty the sandbox; with demo=True, reload the built-in demo data."""
        response = self.http.post("/reset", params={"demo": "true"} if demo else {})
        response.raise_for_status()
        return response.json()

    def seed(self, **doc: Any) -> dict[str, Any]:
        response = self.http.post("/seed", json=doc)
        response.raise_for_status()
        return response.json()

    def fault(self, **rule: Any) -> dict[str, Any]:
        response = self.http.post("/faults", json=rule)
        response.raise_for_status()
        return response.json()

    def config(self, **values: Any) -> dict[str, Any]:
        response = self.http.patch("/config", json=values)
        response.raise_for_status()
        return response.json()

    def state(self, section: str | None = None) -> dict[str, Any]:
        params = {"section": section} if section else {}
        response = self.http.get("/state", params=params)
        response.raise_for_status()
        return response.json()

    def clear_faults(self) -> None:
        self.http.delete("/faults").raise_for_status()

    def _get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def drafts(self) -> list[dict[str, Any]]:
        return self._get("/drafts")

    def sent(self, *, include_seeded: bool = False) -> list[dict[str, Any]]:
        return self._get("/sent", **({"include_seeded": "true"} if include_seeded else {}))

    def tasks(self) -> list[dict[str, Any]]:
        return self._get("/tasks")

    def contacts(self) -> list[dict[str, Any]]:
        return self._get("/contacts")

    def calls(self) -> dict[str, Any]:
        return self._get("/calls")


@pytest.fixture(scope="module")
def admin_client(sandbox_url: str) -> Iterator[Admin]:
    admin = Admin(sandbox_url)
    yield admin
    admin.http.close()


@pytest.fixture
def admin(admin_client: Admin) -> Admin:
    admin_client.reset()
    admin_client.config(
        rate_limit_max=190, search_per_second=4, search_lag_seconds=0.0, gmail_units_per_minute=None
    )
    return admin_client
