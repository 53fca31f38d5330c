"""The webhook under load, through real processes: `sales-agent up` (embedded PostgreSQL, the
sandbox, Dagster) and a second API process under uvicorn (1, then 2 workers) on its database.

1. POST to succeeded workflow for single leads at low load, through the stack's own API.
2. Ack latency with durable writes: open-loop constant rate (100, 300, 1000 req/s, 10 s each)
   of signed deliveries to the second API for a bench tenant whose leads never run: that API
   launches them through Dagster's GraphQL as it would in production, but the Dagster daemon
   is suspended meanwhile (the runs wait in its queue) and the rows are marked skipped before
   it resumes, so the runs find nothing to claim. Latency counts from each request's due time.

Run: .venv/bin/python bench/webhook.py [--seconds 10] [--rates 100,300,1000] [--workers 1,2]
     [--no-launch] [--single 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from support import free_port, stack_plan, wait_ok

from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_PORTAL
from sales_agent_pipeline.connectors.hubspot_signature import sign_v3
from sales_agent_pipeline.db.models import FormSubmission, Tenant, Workflow
from sales_agent_pipeline.db.repositories.tenant_secrets import put_secret
from sales_agent_pipeline.db.urls import app_url
from sales_agent_pipeline.domain.enums import SecretKind
from sales_agent_pipeline.secretbox import DEV_KEY_FILE, secret_box
from sales_agent_pipeline.settings import Settings

BENCH_PORTAL, BENCH_FORM = 2000, "bench-form"
TERMINAL = ("succeeded", "failed", "rejected", "skipped")
BIN = Path(sys.executable).parent
ACCEPTED: set[str] = set()  # submission ids answered 202 by the bench API


def pct(values: list[float], q: int) -> float:
    """The q-th percentile (1-99), inclusive method."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def delivery(
    secret: str, url: str, portal: int, form: str, email: str
) -> tuple[bytes, dict[str, str]]:
    """A v3-signed delivery in the seed's shape with a unique formSubmissionId."""
    fields = {"email": email, "firstname": "Bench", "industry": "Robotics"}
    content = json.dumps(
        {
            "portalId": portal,
            "formId": form,
            "formSubmissionId": str(uuid.uuid4()),
            "fieldValues": [{"name": k, "value": v} for k, v in fields.items()],
        }
    ).encode()
    headers = sign_v3(secret, "POST", url, content, int(time.time() * 1000))
    return content, {**headers, "Content-Type": "application/json"}


def raw_request(url: str, content: bytes, headers: dict[str, str]) -> bytes:
    """The request as HTTP/1.1 bytes on a keep-alive connection."""
    parts = httpx.URL(url)
    lines = [
        f"POST {parts.raw_path.decode()} HTTP/1.1",
        f"Host: {parts.host}:{parts.port}",
        f"Content-Length: {len(content)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + content


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response (uvicorn always sends Content-Length here)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def offered_load(url: str, secret: str, rate: int, seconds: float) -> str:
    """Open loop at `rate` req/s over 64 keep-alive connections; a line of figures.

    Request i is due at start + i/rate; the next free connection sends it (not before), and
    latency counts from the due time, so a slow server cannot hide its queue. The client writes
    pre-signed request bytes on asyncio streams instead of using httpx: httpx cost ~2 ms of CPU
    per request, as much as the server under test, on the same two cores.
    """
    ready = [
        raw_request(
            url, *delivery(secret, url, BENCH_PORTAL, BENCH_FORM, f"load{i}@acme-robotics.example")
        )
        for i in range(int(rate * seconds))
    ]  # all signed before the clock starts
    target = httpx.URL(url)
    latencies: list[float] = []
    counts = {"non2xx": 0, "errors": 0, "late": 0}
    start = last = time.perf_counter() + 0.2
    cutoff = start + seconds + 20  # requests still unsent then are counted as errors
    pending = iter(enumerate(ready))

    async def connection() -> None:
        nonlocal last
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for i, request in pending:
            due = start + i / rate
            if time.perf_counter() > cutoff:
                counts["late"] += 1
                continue
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                if streams is None:
                    streams = await asyncio.open_connection(target.host, target.port)
                streams[1].write(request)
                status, body = await asyncio.wait_for(read_response(streams[0]), 10)
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                counts["errors"] += 1
                if streams is not None:
                    streams[1].close()
                streams = None
                continue
            last = max(last, time.perf_counter())
            if status == 202:
                latencies.append((last - due) * 1000)
                ACCEPTED.add(json.loads(body)["submission_id"])
            else:
                counts["non2xx"] += 1
        if streams is not None:
            streams[1].close()

    await asyncio.gather(*(connection() for _ in range(64)))
    return (
        f"  offered {rate:5d}/s: achieved {len(latencies) / (last - start):7.1f}/s, "
        f"p50 {pct(latencies, 50):8.1f} ms, p99 {pct(latencies, 99):8.1f} ms, "
        f"max {max(latencies, default=float('nan')):8.1f} ms, 202s {len(latencies)}, "
        f"non-2xx {counts['non2xx']}, errors {counts['errors']}, unsent {counts['late']}"
    )


def wait_for_demo(api: str, secret_file: Path, timeout: float = 180) -> str:
    """Poll the secret file, then a signed test POST until it answers 202; the secret."""
    deadline, url = time.monotonic() + timeout, f"{api}/webhook/formlead"
    while time.monotonic() < deadline:
        if secret_file.exists() and (secret := secret_file.read_text().strip()):
            content, headers = delivery(secret, url, DEMO_PORTAL, DEMO_FORM, "ready@acme.example")
            try:
                if httpx.post(url, content=content, headers=headers).status_code == 202:
                    return secret
            except httpx.HTTPError:
                pass
        time.sleep(0.25)
    raise SystemExit("the demo tenant is not ready")


def status(engine: Engine, workflow_id: str) -> str:
    """A workflow's status."""
    with engine.connect() as conn:
        query = select(Workflow.status).where(Workflow.id == uuid.UUID(workflow_id))
        return str(conn.execute(query).scalar_one())


def api_cpu_seconds(api: subprocess.Popen[bytes]) -> float:
    """CPU time of the API process and its workers so far."""
    procs = [psutil.Process(api.pid), *psutil.Process(api.pid).children(recursive=True)]
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def ack_latency(engine: Engine, database: str, args: argparse.Namespace) -> None:
    """Step 2: a second API under open-loop load, with the Dagster daemon suspended."""
    bench_secret = secrets.token_urlsafe(32)
    # The bench tenant's secret is stored as the CLI stores one: encrypted, in its own row,
    # with the stack's keys (SECRETS_ENCRYPTION_KEYS when set, else its development key).
    box = secret_box(Settings(_env_file=None, data_dir=args.data_dir))
    with Session(engine) as session, session.begin():
        tenant = Tenant(portal_id=BENCH_PORTAL, name="Bench", allowed_form_ids=[BENCH_FORM])
        session.add(tenant)
        session.flush()
        tenant_id = tenant.id
        put_secret(session, box, tenant_id, SecretKind.WEBHOOK_SECRET, bench_secret)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_")}
    env.update(DATABASE_URL=database)
    if not env.get("SECRETS_ENCRYPTION_KEYS"):
        env["SECRETS_ENCRYPTION_KEY_FILE"] = str(args.data_dir / DEV_KEY_FILE)
    # The API launches for real (runs wait in Dagster's queue while the daemon is
    # suspended), unless --no-launch points it at a closed port.
    env["DAGSTER_WEBSERVER_URL"] = (
        f"http://127.0.0.1:{free_port()}" if args.no_launch else args.dagster_ui
    )
    stack = psutil.Process(args.stack_pid).children(recursive=True)
    daemon = next(p for p in stack if "dagster-daemon" in " ".join(p.cmdline()))
    webserver = next(p for p in stack if "sales_agent_pipeline.webserver" in " ".join(p.cmdline()))
    suspended = [daemon, *daemon.children(recursive=True)]
    for proc in suspended:
        proc.suspend()  # no sensor, no run queue: the bench tenant's rows stay put
    try:
        for workers in (int(w) for w in args.workers.split(",")):
            port = free_port()
            argv = [str(BIN / "uvicorn"), "sales_agent_api.app:create_app", "--factory"]
            argv += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
            with (args.data_dir / f"bench-api-{workers}.log").open("wb") as out:
                api = subprocess.Popen(argv, env=env, stdout=out, stderr=out)
            try:
                wait_ok(f"http://127.0.0.1:{port}/healthz", timeout=60)
                url = f"http://127.0.0.1:{port}/webhook/formlead"
                launches = "closed port" if args.no_launch else "Dagster"
                print(
                    f"ack latency, open loop, {args.seconds:.0f} s per rate, 64 connections, "
                    f"{workers} uvicorn worker(s), launches to {launches}:"
                )
                for rate in (int(r) for r in args.rates.split(",")):
                    cpu, before = api_cpu_seconds(api), len(ACCEPTED)
                    ui_cpu = sum(webserver.cpu_times()[:2])
                    line = asyncio.run(offered_load(url, bench_secret, rate, args.seconds))
                    time.sleep(3)  # let the API's launches drain
                    done = max(1, len(ACCEPTED) - before)
                    used = (api_cpu_seconds(api) - cpu) * 1000 / done
                    ui_used = (sum(webserver.cpu_times()[:2]) - ui_cpu) * 1000 / done
                    print(
                        f"{line}, CPU per request: API {used:.2f} ms, "
                        f"Dagster webserver {ui_used:.2f} ms",
                        flush=True,
                    )
            finally:
                api.terminate()
                api.wait(30)
        with Session(engine) as session:
            query = select(FormSubmission.id).where(FormSubmission.tenant_id == tenant_id)
            rows = {str(s) for s in session.scalars(query)}
        print(
            f"durable writes: {len(ACCEPTED)} answered 202, {len(rows)} submissions stored, "
            f"{len(ACCEPTED - rows)} of the 202s missing, "
            f"{len(rows - ACCEPTED)} stored without a 202 seen (client gave up)"
        )
        with Session(engine) as session, session.begin():
            set_aside = {"status": "skipped", "failure_reason": "bench"}
            mine = update(Workflow).where(Workflow.tenant_id == tenant_id)
            session.execute(mine.values(set_aside))
    finally:
        for proc in reversed(suspended):
            proc.resume()


def single_leads(engine: Engine, api: str, secret: str, count: int) -> None:
    """Step 1: POST to succeeded workflow, one lead at a time, polling the DB every 20 ms."""
    latencies: list[float] = []
    url = f"{api}/webhook/formlead"
    with httpx.Client(timeout=10) as client:
        for n in range(count + 2):
            email = f"single{n}@acme-robotics.example"
            content, headers = delivery(secret, url, DEMO_PORTAL, DEMO_FORM, email)
            started = time.monotonic()
            answer = client.post(url, content=content, headers=headers)
            if answer.status_code != 202:
                raise SystemExit(f"the stack's API answered {answer.status_code}: {answer.text}")
            workflow_id = answer.json()["workflow_id"]
            while (state := status(engine, workflow_id)) not in TERMINAL:
                if time.monotonic() > started + 120:
                    raise SystemExit(f"lead {workflow_id} still {state} after 120 s")
                time.sleep(0.02)
            if state != "succeeded":
                raise SystemExit(f"lead {workflow_id} ended {state}")
            if n >= 2:  # the first two warm the run workers after the pause
                latencies.append(time.monotonic() - started)
    print(
        f"POST to succeeded workflow, 1 at a time ({len(latencies)} leads): "
        f"p50 {pct(latencies, 50):.2f} s, p95 {pct(latencies, 95):.2f} s, "
        f"max {max(latencies):.2f} s"
    )


def main() -> None:
    """Start the stack, measure, stop it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rates", default="100,300,1000")
    parser.add_argument("--single", type=int, default=10)
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to measure")
    parser.add_argument("--no-launch", action="store_true", help="launches to a closed port")
    args = parser.parse_args()

    plan = stack_plan("bench-webhook-")
    env, database, data_dir = plan.env, plan.database, plan.data_dir
    quiet = subprocess.DEVNULL
    stack = subprocess.Popen([str(BIN / "sales-agent"), "up"], env=env, stdout=quiet, stderr=quiet)
    try:
        api = plan.api
        wait_ok(f"{api}/healthz")
        wait_ok(f"{plan.ui}/server_info")
        demo_secret = wait_for_demo(api, data_dir / "demo-webhook-secret")
        engine = create_engine(app_url(database))
        args.data_dir, args.stack_pid = data_dir, stack.pid
        args.dagster_ui = plan.ui
        # Single leads first: the load's runs wait in Dagster's queue until the daemon resumes.
        single_leads(engine, api, demo_secret, args.single)
        ack_latency(engine, database, args)
        engine.dispose()
    finally:
        stack.terminate()
        stack.wait(120)


if __name__ == "__main__":
    main()
