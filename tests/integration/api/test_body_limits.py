"""Request bodies are bounded before the API key is looked at and before they are read: the
app is called as a server calls it (ASGI), counting the body pieces it asks for. It runs
without its lifespan, so no database is reachable: an answer that needed the key's look-up
could not be a 401 or a 413."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from sqlalchemy.engine import URL
from starlette.types import ASGIApp, Message

from sales_agent_api.app import create_app
from sales_agent_api.body_limits import MULTIPART_SLACK
from tests.conftest import free_port
from tests.integration.api.conftest import URL_PATH, app_settings

JSON_LIMIT = 2048
WEBHOOK_LIMIT = 4096
FILE_LIMIT = 8192
PIECE = 1024


@pytest.fixture(scope="module")
def app(database_url: URL) -> ASGIApp:
    settings = app_settings(
        database_url,
        f"http://127.0.0.1:{free_port()}",
        api_max_body_bytes=JSON_LIMIT,
        webhook_max_body_bytes=WEBHOOK_LIMIT,
        import_max_bytes=FILE_LIMIT,
    )
    return create_app(settings)


class Sent:
    """One request as a server hands it to the app: headers, then the body in pieces."""

    def __init__(self, method: str, path: str, headers: dict[str, str], pieces: Iterator[bytes]):
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.pieces = pieces
        self.read = 0
        self.status = 0
        self.answer = b""

    async def receive(self) -> Message:
        piece = next(self.pieces, None)
        if piece is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        self.read += 1
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.answer += message.get("body", b"")

    def to(self, app: ASGIApp) -> tuple[int, str]:
        """Call the app; the answer's status and error code."""
        anyio.run(app, self.scope, self.receive, self.send)
        return self.status, json.loads(self.answer)["error"]["code"]


def endless(first: bytes = b"") -> Iterator[bytes]:
    """`first`, then pieces of PIECE bytes for ever."""
    return itertools.chain([first] if first else [], itertools.repeat(b"x" * PIECE))


# An upload's first part header: what follows is the file, for ever.
FILE_PART = (
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="l.csv"\r\n'
    b"Content-Type: text/csv\r\n\r\nemail\n"
)


def test_a_declared_length_over_the_limit_is_413_before_the_key_or_a_byte(app: ASGIApp) -> None:
    request = Sent(
        "PUT",
        "/api/admin/settings",
        {"Authorization": "Bearer not-a-key", "Content-Length": str(JSON_LIMIT + 1)},
        endless(),
    )
    assert request.to(app) == (413, "body_too_large")
    assert request.read == 0


def test_a_body_sent_without_any_key_is_401_unread(app: ASGIApp) -> None:
    declared = Sent("POST", "/api/imports", {"Content-Length": "100"}, endless())
    chunked = Sent("POST", "/api/imports", {"Transfer-Encoding": "chunked"}, endless())
    assert declared.to(app) == (401, "unauthorized")
    assert chunked.to(app) == (401, "unauthorized")
    assert declared.read == chunked.read == 0


@pytest.mark.parametrize(
    ("method", "path", "content_type", "limit"),
    [
        ("PUT", "/api/admin/settings", "application/json", JSON_LIMIT),
        ("POST", "/api/imports", "multipart/form-data; boundary=b", FILE_LIMIT + MULTIPART_SLACK),
        ("POST", URL_PATH, "application/json", WEBHOOK_LIMIT),
    ],
    ids=["json", "upload", "webhook"],
)
def test_a_chunked_body_is_413_as_soon_as_it_passes_the_limit(
    app: ASGIApp, method: str, path: str, content_type: str, limit: int
) -> None:
    headers = {
        "Authorization": "Bearer not-a-key",
        "Transfer-Encoding": "chunked",
        "Content-Type": content_type,
    }
    request = Sent(
        method, path, headers, endless(FILE_PART if "multipart" in content_type else b"")
    )
    assert request.to(app) == (413, "body_too_large")
    # Read up to the piece that passed the limit, not one more.
    assert limit // PIECE <= request.read <= limit // PIECE + 2


def test_the_webhook_keeps_its_own_larger_limit(app: ASGIApp) -> None:
    body = b" " * (WEBHOOK_LIMIT - 10) + b"{}"
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    # Over the /api bound, within the webhook's: read and judged (no portal), not refused.
    request = Sent("POST", URL_PATH, headers, iter([body]))
    assert request.to(app) == (400, "missing_fields")
    over = Sent("POST", URL_PATH, {**headers, "Content-Length": str(WEBHOOK_LIMIT + 1)}, endless())
    assert over.to(app) == (413, "body_too_large")
