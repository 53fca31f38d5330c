"""The Grafana dashboard over real data, for docs/img/dashboard.png.

Starts `sales-agent up` (or uses a running stack: --api), runs Debian's Prometheus server
(`prometheus` from the package that ships promtool) on a free port with a storage dir of its
own, scraping the API's /metrics every 2 s and evaluating deploy/prometheus/alerts.yaml,
while signed leads go to the webhook; a third of the way in, the sandbox answers HubSpot with
429s for a minute and Gmail with 503s for 150 s (an outage that keeps the mail breaker open
long enough for SalesAgentBreakerOpen to fire). Then
every query of deploy/grafana/sales-agent.json, Grafana's variables given values, goes
through Prometheus' HTTP API (query_range) and the panels are drawn to the PNG
(bench/dashboard_render.py).

Prints, per panel, the series and samples its queries answered, and the alerts that fired.

Run: .venv/bin/python bench/dashboard.py [--minutes 6] [--rate 0.1] [--out docs/img/dashboard.png]
     [--api URL [--sandbox URL] [--secret WEBHOOK_SECRET]]  (a running stack; without the
     secret no lead is sent, without the sandbox no outage)
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; stubs are not locked
from dashboard_render import PanelData, Series, legend, page, screenshot
from support import free_port, stack_plan, wait_ok
from webhook import delivery, wait_for_demo

from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_PORTAL

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "sales-agent.json"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"
BIN = Path(sys.executable).parent
SCRAPE_SECONDS = 2
# What Grafana's $__rate_interval would be here: at least 4 scrapes.
RATE_INTERVAL = "20s"
OUTAGE = (
    {"pathPattern": "/crm/*", "status": 429, "probability": 0.3, "count": None,
     "retryAfter": 1, "forSeconds": 60},
    {"pathPattern": "*/gmail/v1/*", "status": 503, "count": None, "forSeconds": 150},
)  # fmt: skip


def start_prometheus(api: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's Prometheus scraping the API and evaluating the alert rules; its URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise SystemExit("prometheus not found: apt-get install --no-install-recommends prometheus")
    target = httpx.URL(api)
    config = {
        "global": {
            "scrape_interval": f"{SCRAPE_SECONDS}s",
            "evaluation_interval": f"{SCRAPE_SECONDS}s",
        },
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "sales-agent-api",
                "metrics_path": "/metrics",
                "scrape_timeout": f"{SCRAPE_SECONDS}s",
                "static_configs": [{"targets": [f"{target.host}:{target.port}"]}],
            }
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [
        binary,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with (workdir / "prometheus.log").open("wb") as log:
        server = subprocess.Popen(argv, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_ok(f"{url}/-/ready", timeout=60)
    return server, url


class Leads(threading.Thread):
    """Signed deliveries to the webhook at a steady rate until stopped; answers counted."""

    def __init__(self, api: str, secret: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.url, self.secret, self.rate = f"{api}/webhook/formlead", secret, rate
        self.answers: Counter[str] = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        """Post one lead every 1/rate seconds."""
        n = 0
        with httpx.Client(timeout=10) as client:
            while not self.stop.wait(1 / self.rate):
                email = f"dash{n}-{int(time.time())}@acme-robotics.example"
                content, headers = delivery(self.secret, self.url, DEMO_PORTAL, DEMO_FORM, email)
                try:
                    status = client.post(self.url, content=content, headers=headers).status_code
                    self.answers[str(status)] += 1
                except httpx.HTTPError as exc:
                    self.answers[type(exc).__name__] += 1
                n += 1


def query_range(prometheus: str, expr: str, start: float, end: float, step: float) -> Any:
    """One query's answer over the window (Prometheus' HTTP API)."""
    answer = httpx.get(
        f"{prometheus}/api/v1/query_range",
        params={"query": expr, "start": start, "end": end, "step": step},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["data"]["result"]


def substituted(expr: str) -> str:
    """A dashboard query as Grafana sends it: every tenant, the rate interval for 2 s scrapes."""
    return expr.replace("$__rate_interval", RATE_INTERVAL).replace("$tenant", ".*")


def collect(prometheus: str, start: float, end: float, step: float) -> list[PanelData]:
    """Every panel of the dashboard with its queries' answers; prints what each got."""
    dashboard = json.loads(DASHBOARD.read_text())
    drawn: list[PanelData] = []
    for panel in dashboard["panels"]:
        data = PanelData(panel)
        drawn.append(data)
        if panel["type"] == "row":
            continue
        for target in panel["targets"]:
            for result in query_range(prometheus, substituted(target["expr"]), start, end, step):
                points = [(float(t), float(v)) for t, v in result["values"]]
                name = legend(target.get("legendFormat", ""), result["metric"])
                data.series.append(Series(name, points))
        samples = sum(1 for s in data.series for _, v in s.points if not math.isnan(v))
        print(f"  {panel['title']:<52} {len(data.series):3d} series {samples:6d} samples")
    return drawn


def fired_alerts(prometheus: str, start: float, end: float) -> list[str]:
    """The alerts that fired in the window, with their labels."""
    found = query_range(prometheus, 'ALERTS{alertstate="firing"}', start, end, SCRAPE_SECONDS)
    names = []
    for result in found:
        labels = {k: v for k, v in result["metric"].items() if k not in ("__name__", "alertstate")}
        alert = labels.pop("alertname")
        since = time.strftime("%H:%M:%S", time.gmtime(float(result["values"][0][0])))
        names.append(f"{alert} {labels} from {since}")
    return sorted(names)


def measure(args: argparse.Namespace, api: str, sandbox: str | None, secret: str | None) -> None:
    """Prometheus, the leads and the outage, the queries and the picture."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-dashboard-prom-"))
    server, prometheus = start_prometheus(api, workdir)
    try:
        start = time.time()
        leads = Leads(api, secret, args.rate) if secret else None
        if leads:
            leads.start()
        seconds = args.minutes * 60
        time.sleep(seconds / 3)
        if sandbox and leads:
            for rule in OUTAGE:
                httpx.post(f"{sandbox}/_sandbox/faults", json=rule, timeout=10).raise_for_status()
            print(f"outage from {time.strftime('%H:%M:%S', time.gmtime())}: {OUTAGE}")
        time.sleep(seconds * 2 / 3)
        if leads:
            leads.stop.set()
            leads.join(15)
            print(f"webhook answers: {dict(leads.answers)}")
        time.sleep(args.drain)  # the last leads' runs finish; the breaker closes again
        end = time.time()
        print(f"Prometheus scraped {api}/metrics every {SCRAPE_SECONDS} s for {end - start:.0f} s")
        up = query_range(prometheus, 'up{job="sales-agent-api"}', start, end, SCRAPE_SECONDS)
        ok = sum(1 for r in up for _, v in r["values"] if v == "1")
        print(f"scrapes that worked: {ok} of {sum(len(r['values']) for r in up)}")
        step = max(SCRAPE_SECONDS, (end - start) / 150)
        print(f"panels (query_range step {step:.0f} s, rate interval {RATE_INTERVAL}):")
        drawn = collect(prometheus, start, end, step)
        print("alerts that fired:")
        for alert in fired_alerts(prometheus, start, end) or ["none"]:
            print(f"  {alert}")
        empty = [d.panel["title"] for d in drawn if d.panel["type"] != "row" and not d.series]
        print(f"panels with no data: {empty or 'none'}")
        story = f"{args.rate:g} lead/s to the webhook" if leads else "no leads sent"
        if sandbox and leads:
            story += ", HubSpot 429s and a Gmail outage a third of the way in"
        window = (
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(start))}-"
            f"{time.strftime('%H:%M UTC', time.gmtime(end))}"
        )
        subtitle = f"{window}, bench/dashboard.py: {story}"
        screenshot(page("Sales Agent Pipeline", subtitle, drawn, start, end), args.out)
        print(f"wrote {args.out}")
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    """Start the stack unless given one, measure, stop what was started."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=6)
    parser.add_argument("--rate", type=float, default=0.1, help="leads per second")
    parser.add_argument("--drain", type=float, default=120, help="seconds after the last lead")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "dashboard.png")
    parser.add_argument("--api", help="a running stack's API URL (no stack started)")
    parser.add_argument("--sandbox", help="the running stack's sandbox URL (for the outage)")
    parser.add_argument("--secret", help="the demo portal's webhook secret (to send leads)")
    args = parser.parse_args()
    if args.api:
        measure(args, args.api, args.sandbox, args.secret)
        return
    plan = stack_plan("bench-dashboard-")
    quiet = subprocess.DEVNULL
    stack = subprocess.Popen(
        [str(BIN / "sales-agent"), "up"], env=plan.env, stdout=quiet, stderr=quiet
    )
    try:
        wait_ok(f"{plan.api}/healthz")
        wait_ok(f"{plan.ui}/server_info")
        secret = wait_for_demo(plan.api, plan.data_dir / "demo-webhook-secret")
        measure(args, plan.api, plan.sandbox, secret)
    finally:
        stack.terminate()
        stack.wait(120)


if __name__ == "__main__":
    main()
