"""The operator API's read path under uvicorn: latency of listing, paging, filtering and
detail for a tenant with many workflows (and a second tenant as large beside it).

Creates a throwaway database `sa_bench_api` on the server of DATABASE_URL, fills it with
SQL (generate_series), starts the API (one uvicorn worker) on it and drives it sequentially
from this process over keep-alive HTTP. Prints p50/p99 per request kind.

Run: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
     .venv/bin/python bench/api.py [--rows 20000] [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session
from support import free_port, wait_ok

from sales_agent_pipeline.db import migrate
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.api_keys import issue_key
from sales_agent_pipeline.db.session import make_engine
from sales_agent_pipeline.db.urls import app_url, drop_database, ensure_database, libpq_dsn

BIN = Path(sys.executable).parent
FILL = """
INSERT INTO form_submissions (id, tenant_id, portal_id, form_id, hubspot_submission_id,
                              email, raw_payload, received_at)
SELECT gen_random_uuid(), :tenant, :portal, 'bench-form', 'bench-' || g,
       'lead' || g || '@domain' || (g % 200) || '.example', '{}'::jsonb,
       now() - g * interval '13 seconds'
FROM generate_series(1, :rows) AS g
---
INSERT INTO workflows (id, tenant_id, form_submission_id, status, prospect_email, email_domain,
                       created_at, updated_at)
SELECT gen_random_uuid(), tenant_id, id,
       (ARRAY['succeeded', 'succeeded', 'succeeded', 'failed', 'rejected'])[1 + abs(hashtext(email)) % 5],
       email, split_part(email, '@', 2), received_at, received_at
FROM form_submissions WHERE tenant_id = :tenant
"""  # noqa: E501


def pct(values: list[float], q: int) -> float:
    """The q-th percentile (1-99), inclusive method."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure(name: str, count: int, call: Callable[[], httpx.Response]) -> None:
    """Time `count` sequential calls; every answer must be the expected one."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code >= 500:
            raise SystemExit(f"{name}: {response.status_code} {response.text[:200]}")
    print(
        f"{name:<44} p50 {pct(times, 50):6.1f} ms  p99 {pct(times, 99):6.1f} ms  "
        f"({count} sequential, {1000 * count / sum(times):5.0f} req/s)"
    )


def main() -> None:
    """Fill, serve, measure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000, help="workflows per tenant")
    parser.add_argument("--requests", type=int, default=300, help="calls per kind")
    args = parser.parse_args()
    raw = os.environ.get("DATABASE_URL")
    if not raw:
        raise SystemExit("set DATABASE_URL to a PostgreSQL server (a database is created on it)")
    url = app_url(raw).set(database="sa_bench_api")
    drop_database(url)
    ensure_database(url)
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=1)
    with Session(engine) as session, session.begin():
        tenants = [Tenant(portal_id=3000 + i, name=f"Bench {i}") for i in range(2)]
        session.add_all(tenants)
        session.flush()
        for tenant in tenants:
            for statement in FILL.split("---"):
                session.execute(
                    text(statement),
                    {"tenant": tenant.id, "portal": tenant.portal_id, "rows": args.rows},
                )
        session.execute(text("ANALYZE form_submissions"))
        session.execute(text("ANALYZE workflows"))
        key = issue_key(session, tenants[0].id, name="bench", admin=True).key
    engine.dispose()

    port = free_port()
    env = {**os.environ, "DATABASE_URL": libpq_dsn(url), "LOG_LEVEL": "WARNING"}
    api = subprocess.Popen(
        [str(BIN / "uvicorn"), "sales_agent_api.app:create_app", "--factory",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ok(f"{base}/healthz", timeout=60)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            first = client.get("/api/workflows").json()
            one = first["items"][0]["id"]
            for _ in range(20):  # warm-up
                client.get("/api/workflows")
            print(f"{args.rows} workflows per tenant, 2 tenants; API: 1 uvicorn worker")
            measure(
                "GET /healthz (baseline: no auth, no query)",
                args.requests,
                lambda: client.get("/healthz"),
            )
            measure(
                "GET /api/workflows (first page of 50)",
                args.requests,
                lambda: client.get("/api/workflows"),
            )
            measure(
                "GET /api/workflows?limit=200",
                args.requests,
                lambda: client.get("/api/workflows", params={"limit": 200}),
            )
            measure(
                "GET /api/workflows?status=failed",
                args.requests,
                lambda: client.get("/api/workflows", params={"status": "failed"}),
            )
            measure(
                "GET /api/workflows?domain=domain7.example",
                args.requests,
                lambda: client.get("/api/workflows", params={"domain": "domain7.example"}),
            )
            measure(
                "GET /api/workflows/{id}",
                args.requests,
                lambda: client.get(f"/api/workflows/{one}"),
            )
            measure(
                "GET /api/workflows/{unknown id} (404)",
                args.requests,
                lambda: client.get(f"/api/workflows/{uuid.uuid4()}"),
            )
            measure(
                "GET /api/workflows, wrong key (401)",
                args.requests,
                lambda: client.get("/api/workflows", headers={"Authorization": "Bearer sak_x"}),
            )
            start = time.perf_counter()
            cursor, seen, pages = None, 0, 0
            while True:
                params: dict[str, str | int] = {"limit": 200}
                if cursor:
                    params["cursor"] = cursor
                page = client.get("/api/workflows", params=params).json()
                seen += len(page["items"])
                pages += 1
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            elapsed = time.perf_counter() - start
            print(
                f"cursor walk of all {seen} rows in {pages} pages of 200: {elapsed:.2f} s "
                f"({1000 * elapsed / pages:.1f} ms a page; the last page costs as the first)"
            )
            if seen != args.rows:
                raise SystemExit(f"the walk saw {seen} rows, expected {args.rows}")
    finally:
        api.terminate()
        api.wait(timeout=10)
        drop_database(url)


if __name__ == "__main__":
    main()
