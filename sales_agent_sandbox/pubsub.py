"""Cloud Pub/Sub push delivery, as far as Gmail's users.watch needs it: each message
published to a topic is POSTed to every push subscription's endpoint, off the request
thread, retried a few times, never failing the call that published it.

The request is Pub/Sub's push format: {"message": {"data" (standard base64), "attributes",
"messageId", "message_id", "publishTime", "publish_time"}, "subscription": name}.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from .locked import LockedState

logger = logging.getLogger(__name__)

PROJECT = "sandbox-project"
# What Pub/Sub's push requests carry (its documented user agent).
USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"
_OK = {102, 200, 201, 202, 204}
_KEPT_DELIVERIES = 1000


@dataclass
class PushSubscription:
    """A push subscription: what is published to `topic` is POSTed to `endpoint`."""

    name: str
    topic: str
    endpoint: str


def subscription_name(name: str) -> str:
    """A full subscription name (projects/<project>/subscriptions/<name>)."""
    return name if name.startswith("projects/") else f"projects/{PROJECT}/subscriptions/{name}"


def _now_rfc3339() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class Pusher(LockedState):
    """Queued push deliveries, sent by one daemon thread; a log of what was delivered."""

    _ids = itertools.count(2_070_443_601_311_540)

    def _clear(self) -> None:
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=_KEPT_DELIVERIES)
        # Set on reset: deliveries queued before it are dropped, not sent.
        self._generation = getattr(self, "_generation", 0) + 1
        if not hasattr(self, "_queue"):
            self._queue: queue.Queue[tuple[int, PushSubscription, dict[str, Any]]] = queue.Queue()
            self._worker: threading.Thread | None = None

    def publish(self, subscriptions: list[PushSubscription], data: dict[str, Any]) -> None:
        """Publish one message (its JSON `data`) to each subscription of its topic."""
        encoded = base64.b64encode(json.dumps(data).encode()).decode("ascii")
        published = _now_rfc3339()
        with self._lock:
            generation = self._generation
            for sub in subscriptions:
                message_id = str(next(self._ids))
                envelope = {
                    "message": {
                        "attributes": {},
                        "data": encoded,
                        "messageId": message_id,
                        "message_id": message_id,
                        "publishTime": published,
                        "publish_time": published,
                    },
                    "subscription": sub.name,
                }
                self._queue.put((generation, sub, envelope))
            if subscriptions and (self._worker is None or not self._worker.is_alive()):
                self._worker = threading.Thread(target=self._run, name="pubsub-push", daemon=True)
                self._worker.start()

    def idle(self, timeout: float) -> bool:
        """Wait until every queued delivery was attempted; False if still busy at `timeout`."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def log(self) -> list[dict[str, Any]]:
        """The latest deliveries, oldest first."""
        with self._lock:
            return list(self.deliveries)

    def _run(self) -> None:
        with httpx.Client(timeout=self._config.pubsub_push_timeout_seconds) as client:
            while True:
                generation, sub, envelope = self._queue.get()
                try:
                    if generation == self._generation:
                        self._deliver(client, sub, envelope)
                finally:
                    self._queue.task_done()

    def _deliver(
        self, client: httpx.Client, sub: PushSubscription, envelope: dict[str, Any]
    ) -> None:
        attempts = max(1, self._config.pubsub_push_attempts)
        status: int | None = None
        error = ""
        tried = 0
        for tried in range(1, attempts + 1):
            try:
                response = client.post(
                    sub.endpoint, json=envelope, headers={"User-Agent": USER_AGENT}
                )
                status, error = response.status_code, ""
                if status in _OK:
                    break
            except httpx.HTTPError as exc:
                status, error = None, type(exc).__name__
            if tried < attempts:
                # Pub/Sub backs off between attempts; short here, the tests wait for it.
                time.sleep(0.1 * 2 ** (tried - 1))
        if status not in _OK:
            logger.warning("push to %s failed: %s %s", sub.name, status, error)
        data = json.loads(base64.b64decode(envelope["message"]["data"]))
        with self._lock:
            self.deliveries.append(
                {
                    "subscription": sub.name,
                    "topic": sub.topic,
                    # Without its query, which may carry the subscriber's verification token.
                    "endpoint": sub.endpoint.split("?", 1)[0],
                    "messageId": envelope["message"]["messageId"],
                    "data": data,
                    "status": status,
                    "error": error,
                    "attempts": tried,
                    "delivered": status in _OK,
                }
            )
