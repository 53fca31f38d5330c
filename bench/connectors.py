"""Calls per second and p50/p99 latency of the connectors through the official SDKs,
against the sandbox started in this process (its rate limits off).

Measures contact upsert, task create and draft create, sequentially and from threads.
Run: .venv/bin/python bench/connectors.py [--calls 300] [--threads 8]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import serve_in_thread

from sales_agent_pipeline.connectors.factory import build_crm, build_mail
from sales_agent_pipeline.domain.models import NewTask, OutgoingMail
from sales_agent_pipeline.settings import Settings
from sales_agent_sandbox.app import create_app
from sales_agent_sandbox.config import SandboxConfig


def measure(call: Callable[[int], object], calls: int, threads: int) -> tuple[float, list[float]]:
    """Run `call(i)` for i in range(calls) on `threads` threads; wall time and latencies."""
    latencies: list[float] = []
    lock = threading.Lock()

    def timed(i: int) -> None:
        started = time.perf_counter()
        call(i)
        took = time.perf_counter() - started
        with lock:
            latencies.append(took)

    started = time.perf_counter()
    if threads == 1:
        for i in range(calls):
            timed(i)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(timed, range(calls)))
    return time.perf_counter() - started, latencies


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values fall."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    """Print one line per operation and concurrency."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    with serve_in_thread(create_app(SandboxConfig(rate_limits_enabled=False), demo=False)) as url:
        # Client-side limits out of the way too: this measures the connectors themselves.
        settings = Settings(
            _env_file=None,
            # The token the sandbox binds to its default portal (it refuses unknown ones).
            hubspot_access_token="sandbox-token",  # noqa: S106 (not a secret)
            hubspot_api_base_url=url,
            google_api_base_url=url,
            hubspot_requests_per_10s=10_000_000,
            hubspot_searches_per_second=10_000,
            gmail_quota_units_per_second=10_000_000,
        )
        crm, mail = build_crm(settings), build_mail(settings)
        contact = crm.upsert_contact("bench@prospect.example", {"firstname": "Bench"})
        due = datetime.now(UTC) + timedelta(days=2)
        run_id = int(time.time())

        operations: dict[str, Callable[[int], object]] = {
            "contact upsert": lambda i: crm.upsert_contact(
                f"lead{run_id}-{i}@prospect.example", {"firstname": f"Lead{i}"}
            ),
            "task create": lambda i: crm.create_task(
                NewTask(subject=f"Follow up {i}", due_at=due, contact_id=contact.id)
            ),
            "draft create": lambda i: mail.create_draft(
                OutgoingMail(
                    to=("bench@prospect.example",),
                    subject=f"Hello {i}",
                    text_body="Hi there",
                    html_body="<p>Hi there</p>",
                )
            ),
        }
        print(f"sandbox {url}, {args.calls} calls per row")
        print(f"{'operation':<16}{'threads':>8}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
        for name, operation in operations.items():
            operation(-1)  # warm-up: connection pools, per-thread services
            for threads in (1, args.threads):
                wall, latencies = measure(operation, args.calls, threads)
                print(
                    f"{name:<16}{threads:>8}{args.calls / wall:>10.0f}"
                    f"{percentile(latencies, 0.5) * 1000:>9.1f}"
                    f"{percentile(latencies, 0.99) * 1000:>9.1f}"
                )


if __name__ == "__main__":
    main()
