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

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    # HubSpot credentials: tokens are bound to one portal (unknown tokens answer 401).

    def register_token(self, token: str | None = None, portal_id: int | None = None) -> str:
        """Bind a private-app token (made up unless given) to a portal (default: 1000)."""
        body: dict[str, Any] = {"token": token} if token else {}
        if portal_id is not None:
            body["portalId"] = portal_id
        return str(self._post("/hubspot/tokens", body)["token"])

    def revoke_token(self, token: str) -> bool:
        response = self.http.delete(f"/hubspot/tokens/{token}")
        response.raise_for_status()
        return bool(response.json()["revoked"])

    def oauth_app(self, portal_id: int | None = None, **fields: Any) -> dict[str, Any]:
        """Register a public app; fields: clientId, clientSecret, scopes, redirectUris,
        accessTokenSeconds, rateLimitMax. Answers them with appId and portalId."""
        body = {**fields, **({"portalId": portal_id} if portal_id is not None else {})}
        return dict(self._post("/hubspot/apps", body))

    def update_oauth_app(self, client_id: str, **fields: Any) -> dict[str, Any]:
        """Change portalId (what the next install grants), accessTokenSeconds, rateLimitMax."""
        response = self.http.patch(f"/hubspot/apps/{client_id}", json=fields)
        response.raise_for_status()
        return dict(response.json())

    def uninstall(self, client_id: str, portal_id: int | None = None) -> int:
        """The portal (else every portal) uninstalls the app; answers the installs revoked."""
        body = {"portalId": portal_id} if portal_id is not None else {}
        return int(self._post(f"/hubspot/apps/{client_id}/uninstall", body)["revoked"])

    def expire_oauth_tokens(self, client_id: str, portal_id: int | None = None) -> int:
        """Expire the app's current access tokens now (a refresh still works)."""
        body = {"portalId": portal_id} if portal_id is not None else {}
        return int(self._post(f"/hubspot/apps/{client_id}/expire", body)["expired"])

    # Google credentials: access tokens are bound to one subject.

    def service_account(
        self, domains: list[str] | None = None, *, name: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A service-account key file (token_uri at the sandbox) delegated for `domains`."""
        body = {"delegatedDomains": domains or [], **fields}
        if name:
            body["name"] = name
        return dict(self._post("/google/service-accounts", body))

    def set_delegation(self, client_email: str, domains: list[str]) -> dict[str, Any]:
        response = self.http.patch(
            f"/google/service-accounts/{client_email}", json={"delegatedDomains": domains}
        )
        response.raise_for_status()
        return dict(response.json())

    def delete_service_account(self, client_email: str) -> bool:
        response = self.http.delete(f"/google/service-accounts/{client_email}")
        response.raise_for_status()
        return bool(response.json()["deleted"])

    def authorized_user(self, user: str, **fields: Any) -> dict[str, Any]:
        """An authorized-user file (google.oauth2.credentials) for `user`."""
        return dict(self._post("/google/authorized-users", {"user": user, **fields}))

    def revoke_google(self, refresh_token: str) -> bool:
        return bool(self._post("/google/revoke", {"refreshToken": refresh_token})["revoked"])

    def expire_google_tokens(self, subject: str | None = None) -> int:
        body = {"subject": subject} if subject else {}
        return int(self._post("/google/expire", body)["expired"])

    # Mail arriving, Gmail history and Pub/Sub push (gmail_inbound.py).

    def deliver(self, **fields: Any) -> dict[str, Any]:
        """A message arrives in `to`'s mailbox (from, subject, text, inReplyTo, threadId...)."""
        return dict(self._post("/gmail/deliver", fields))

    def reply(self, mailbox: str, message_id: str, **fields: Any) -> dict[str, Any]:
        """The recipient of `message_id` in `mailbox` answers it."""
        return dict(
            self._post("/gmail/reply", {"mailbox": mailbox, "messageId": message_id, **fields})
        )

    def bounce(self, mailbox: str, message_id: str, **fields: Any) -> dict[str, Any]:
        """A DSN for `message_id` arrives in `mailbox`."""
        body = {"mailbox": mailbox, "messageId": message_id, **fields}
        return dict(self._post("/gmail/bounce", body))

    def expire_history(self, user: str) -> dict[str, Any]:
        return dict(self._post(f"/gmail/{user}/expire-history"))

    def push_subscription(self, topic: str, endpoint: str, **fields: Any) -> dict[str, Any]:
        body = {"topic": topic, "pushEndpoint": endpoint, **fields}
        return dict(self._post("/pubsub/subscriptions", body))

    def push_deliveries(self, wait: float = 5.0) -> list[dict[str, Any]]:
        """Pushes made so far, after waiting up to `wait` seconds for queued ones."""
        return list(self._get("/pubsub/deliveries", wait=wait)["deliveries"])

    # The request log: who each vendor request carried and what it touched.

    def requests(self, after: int = 0, vendor: str | None = None) -> list[dict[str, Any]]:
        """Logged requests numbered after `after`, oldest first."""
        params: dict[str, Any] = {"after": after, **({"vendor": vendor} if vendor else {})}
        return list(self._get("/requests", **params)["requests"])

    def last_request_seq(self) -> int:
        """The number of the latest logged request (read before acting, pass as `after`)."""
        return int(self._get("/requests", after=10**12)["lastSeq"])


@pytest.fixture(scope="module")
def admin_client(sandbox_url: str) -> Iterator[Admin]:
    admin = Admin(sandbox_url)
    yield admin
    admin.http.close()


@pytest.fixture
def admin(admin_client: Admin) -> Admin:
    admin_client.reset()
    admin_client.config(
        rate_limit_max=190,
        search_per_second=4,
        search_lag_seconds=0.0,
        gmail_units_per_minute=None,
        google_require_auth=False,
        gmail_history_retention_seconds=7 * 86400.0,
        pubsub_push_attempts=3,
    )
    return admin_client
