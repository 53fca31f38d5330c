"""A local HTTP server standing in for Slack's Web API (chat.postMessage) and PagerDuty's
Events API v2 (/v2/enqueue): it records every request and answers as each vendor documents
(Slack: HTTP 200 with `ok: false` for an error, 429 with Retry-After when rate limited;
PagerDuty: 202 with the dedup_key, 400 for an invalid event, 429 when throttled)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLACK_TOKEN = "xoxb-test-0000-alerts"
ROUTING_KEY = "R0UT1NGKEY0000000000000000000001"
SLACK_PATH = "/api/chat.postMessage"
PAGERDUTY_PATH = "/v2/enqueue"
SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass
class Recorded:
    """One request as it reached the receiver, and what it answered."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    answer: dict[str, Any]


@dataclass
class Receiver:
    """The stand-in's state: what came in, and the failures queued for the next requests."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    # (path, status) answered to the next requests to that path, in order.
    failures: deque[tuple[str, int]] = field(default_factory=deque)
    _ts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, path: str, status: int, times: int = 1) -> None:
        """Answer the next `times` requests to `path` with `status`."""
        with self.lock:
            self.failures.extend([(path, status)] * times)

    def reset(self) -> None:
        """Forget requests and queued failures."""
        with self.lock:
            self.requests.clear()
            self.failures.clear()

    def slack(self, accepted: bool = True) -> list[Recorded]:
        """Slack messages received (only those answered ok, by default)."""
        return [
            r
            for r in self.requests
            if r.path == SLACK_PATH and (r.status == 200 and bool(r.answer.get("ok"))) == accepted
        ]

    def pagerduty(self, accepted: bool = True) -> list[dict[str, Any]]:
        """PagerDuty events received (only those accepted with 202, by default)."""
        return [
            r.body
            for r in self.requests
            if r.path == PAGERDUTY_PATH and (r.status == 202) == accepted
        ]

    def events_for(self, key: str) -> list[str]:
        """The event actions PagerDuty accepted for one dedup_key, in order."""
        return [e["event_action"] for e in self.pagerduty() if e.get("dedup_key") == key]

    def slack_for(self, key: str) -> list[Recorded]:
        """The Slack messages accepted that name one alert key (with Slack's answer: the
        message's `ts`)."""
        return [m for m in self.slack() if f"`{key}`" in str(m.body.get("text"))]

    def next_ts(self) -> str:
        with self.lock:
            self._ts += 1
            return f"{int(time.time())}.{self._ts:06d}"

    def queued_failure(self, path: str) -> int | None:
        with self.lock:
            for index, (where, status) in enumerate(self.failures):
                if where == path:
                    del self.failures[index]
                    return status
        return None


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any], **headers: str) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"_raw": raw.decode(errors="replace")}
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.path == SLACK_PATH:
                status, answer, extra = self._slack(body, headers)
            elif self.path == PAGERDUTY_PATH:
                status, answer, extra = self._pagerduty(body)
            else:
                status, answer, extra = 404, {"error": "not found"}, {}
            with receiver.lock:
                receiver.requests.append(Recorded(self.path, headers, body, status, answer))
            self._answer(status, answer, **extra)

        def _slack(
            self, body: dict[str, Any], headers: dict[str, str]
        ) -> tuple[int, dict[str, Any], dict[str, str]]:
            failure = receiver.queued_failure(SLACK_PATH)
            if failure == 429:
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry_After": "1"}
            if failure is not None:
                return failure, {"ok": False, "error": "fatal_error"}, {}
            if headers.get("authorization") != f"Bearer {SLACK_TOKEN}":
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            if not body.get("channel"):
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            if not body.get("text") and not body.get("blocks"):
                return 200, {"ok": False, "error": "no_text"}, {}
            ts = receiver.next_ts()
            message = {"type": "message", "text": body.get("text"), "ts": ts}
            if body.get("thread_ts"):
                message["thread_ts"] = body["thread_ts"]
            return 200, {"ok": True, "channel": "C0ALERTS", "ts": ts, "message": message}, {}

        def _pagerduty(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
            failure = receiver.queued_failure(PAGERDUTY_PATH)
            if failure == 429:
                return (
                    429,
                    {
                        "status": "throttle event",
                        "message": "Requests for this "
                        "service are arriving too quickly. Please retry later.",
                    },
                    {},
                )
            if failure is not None:
                return failure, {"status": "error", "message": "internal error"}, {}
            errors = []
            if body.get("routing_key") != ROUTING_KEY:
                errors.append("'routing_key' is invalid")
            if body.get("event_action") not in {"trigger", "acknowledge", "resolve"}:
                errors.append("'event_action' is missing or blank")
            if body.get("event_action") == "trigger":
                payload = body.get("payload") or {}
                if not payload.get("summary"):
                    errors.append("'payload.summary' is missing or blank")
                if not payload.get("source"):
                    errors.append("'payload.source' is missing or blank")
                if payload.get("severity") not in SEVERITIES:
                    errors.append("'payload.severity' is invalid")
            elif not body.get("dedup_key"):
                errors.append("'dedup_key' is missing or blank")
            if errors:
                return (
                    400,
                    {
                        "status": "invalid event",
                        "message": "Event object is invalid",
                        "errors": errors,
                    },
                    {},
                )
            key = body.get("dedup_key") or f"generated-{receiver.next_ts()}"
            return 202, {"status": "success", "message": "Event processed", "dedup_key": key}, {}

    return Handler


class Running:
    """A Receiver served on a free local port until stopped."""

    def __init__(self) -> None:
        self.receiver = Receiver()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.receiver))
        self.receiver.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def main() -> None:
    """Serve the stand-in on a port (argument 1, default 8765) and print each request as a
    JSON line, for checking a running stack by hand: SLACK_BOT_TOKEN and
    PAGERDUTY_ROUTING_KEY set to this module's SLACK_TOKEN and ROUTING_KEY,
    SLACK_API_BASE_URL=http://127.0.0.1:8765/api/ and
    PAGERDUTY_EVENTS_URL=http://127.0.0.1:8765/v2/enqueue."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    receiver = Receiver(url=f"http://127.0.0.1:{port}")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
    seen = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"listening on {receiver.url}", flush=True)
    try:
        while True:
            time.sleep(0.5)
            with receiver.lock:
                new = receiver.requests[seen:]
                seen = len(receiver.requests)
            for request in new:
                body = {k: v for k, v in request.body.items() if k != "routing_key"}
                print(json.dumps({"path": request.path, "status": request.status, "body": body}))
                sys.stdout.flush()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
