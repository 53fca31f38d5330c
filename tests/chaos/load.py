"""Live leads while a fault lasts, delivered the way HubSpot delivers webhooks: signed, at a
steady pace, re-delivered with the same submission id when no 2xx came back (the API was
down or answered 5xx), and re-delivered now and then even after a 202 (at-least-once)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from tests.e2e.conftest import RunningStack, deliver


def lead_email(tag: str, n: int) -> str:
    """A new prospect's address; four companies per tag, so runs race for each company."""
    return f"chaos{n}.{tag}@company{n % 4}-{tag}.example"


@dataclass
class LiveLeads:
    """A background thread delivering new leads and re-deliveries until stopped."""

    stack: RunningStack
    tag: str
    per_second: float = 0.5
    redeliver_share: float = 0.3
    acknowledged: dict[str, str] = field(default_factory=dict)
    unacknowledged: dict[str, str] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"leads-{self.tag}", daemon=True)
        # Repeatable choices of what to re-deliver; not a secret.
        self._random = random.Random(self.tag)

    def __enter__(self) -> LiveLeads:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def post(self, submission_id: str, email: str) -> int | None:
        """Deliver one submission; a 2xx acknowledges it, anything else leaves it for later."""
        try:
            status: int | None = deliver(
                self.stack, email, submission_id=submission_id, industry="Robotics"
            ).status_code
        except httpx.HTTPError as exc:
            status = None
            self.answers[type(exc).__name__] += 1
        else:
            self.answers[str(status)] += 1
        with self._lock:
            if status is not None and 200 <= status < 300:
                self.acknowledged[submission_id] = email
                self.unacknowledged.pop(submission_id, None)
            elif submission_id not in self.acknowledged:
                self.unacknowledged[submission_id] = email
        return status

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(1 / self.per_second):
            self.post(str(uuid.uuid4()), lead_email(self.tag, n))
            n += 1
            with self._lock:
                retry = list(self.unacknowledged.items())
                known = list(self.acknowledged.items())
            for submission_id, email in retry:
                self.post(submission_id, email)
            if known and self._random.random() < self.redeliver_share:
                self.post(*self._random.choice(known))

    def summary(self) -> str:
        """How many leads were acknowledged and what the webhook answered."""
        return f"{len(self.acknowledged)} leads acknowledged, answers {dict(self.answers)}"

    def stop(self, settle: float = 60) -> None:
        """Stop new leads; re-deliver what got no 2xx until it does (as HubSpot retries)."""
        self._stop.set()
        self._thread.join()
        deadline = time.monotonic() + settle
        while self.unacknowledged and time.monotonic() < deadline:
            for submission_id, email in list(self.unacknowledged.items()):
                self.post(submission_id, email)
            time.sleep(1)
        assert not self.unacknowledged, f"never acknowledged: {self.unacknowledged}"


def deliver_concurrently(stack: RunningStack, leads: dict[str, str], times: int) -> Counter[int]:
    """Deliver every (submission id, email) `times` more, concurrently; count the answers."""
    jobs = [item for item in leads.items() for _ in range(times)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = pool.map(
            lambda item: deliver(stack, item[1], submission_id=item[0], industry="Robotics"),
            jobs,
        )
        return Counter(answer.status_code for answer in answers)
