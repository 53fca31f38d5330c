"""What a person and a probe learn from the Dagster webserver's answers, replayed from
answers recorded from a real Dagster 1.13 webserver (dagster_answers/record.py), and how the
check fails when the webserver cannot be asked: named, short, without credentials, asked
once per cache period however many callers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sales_agent_pipeline.connectors.dagster_status import (
    CACHE_SECONDS,
    HEARTBEAT_STALE_SECONDS,
    dagster_health,
    forget_cached_health,
    parse_health,
)

ANSWERS = Path(__file__).with_name("dagster_answers")
# The required daemons of our dagster.yaml (QueuedRunCoordinator, run monitoring on).
REQUIRED = {
    "ASSET",
    "BACKFILL",
    "FRESHNESS_DAEMON",
    "MONITORING",
    "QUEUED_RUN_COORDINATOR",
    "SCHEDULER",
    "SENSOR",
}


def recorded(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ANSWERS / f"{name}.json").read_text())
    return document


def test_a_running_stack_is_healthy_with_every_required_daemon_and_our_location() -> None:
    answer = recorded("healthy")
    health = parse_health(answer["answer"], now=answer["recorded_at"])
    assert health.daemon_ok
    assert health.code_server_ok
    assert set(health.daemons) == REQUIRED
    assert health.code_locations == {"sales_agent_pipeline": True}
    assert health.code_server_detail == "sales_agent_pipeline loaded"
    oldest = max(health.heartbeat_age(name) or 0 for name in health.daemons)
    assert oldest < HEARTBEAT_STALE_SECONDS
    assert health.daemon_detail == f"7 daemons, oldest heartbeat {oldest:.0f} s ago"


def test_the_same_heartbeats_are_stale_past_the_threshold_though_dagster_says_healthy() -> None:
    answer = recorded("healthy")
    statuses = answer["answer"]["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
    beats = {status["daemonType"]: status["lastHeartbeatTime"] for status in statuses}
    later = beats["SENSOR"] + HEARTBEAT_STALE_SECONDS + 1
    health = parse_health(answer["answer"], now=later)
    assert all(status["healthy"] for status in statuses), "Dagster: healthy for 30 minutes"
    assert not health.daemon_ok
    assert health.code_server_ok
    assert not health.daemons["SENSOR"]
    assert health.daemon_detail.startswith("no recent heartbeat (stale after 120 s): ")
    assert "SENSOR 121 s ago" in health.daemon_detail
    assert health.daemon_detail.endswith("is dagster-daemon running?")
    fresh = sorted(name for name, beat in beats.items() if later - beat <= HEARTBEAT_STALE_SECONDS)
    assert fresh == sorted(name for name, ok in health.daemons.items() if ok)


def test_a_hung_daemon_recorded_after_its_heartbeats_stopped_fails_the_daemon_check() -> None:
    answer = recorded("daemon_hung")
    statuses = answer["answer"]["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
    health = parse_health(answer["answer"], now=answer["recorded_at"])
    assert all(status["healthy"] for status in statuses), "Dagster: healthy for 30 minutes"
    assert not health.daemon_ok
    assert health.code_server_ok
    ages = {name: health.heartbeat_age(name) for name in health.daemons}
    assert all(age is not None and age > HEARTBEAT_STALE_SECONDS for age in ages.values()), ages


def test_a_code_server_that_stopped_answering_fails_the_code_server_check_with_its_reason() -> None:
    answer = recorded("code_server_down")
    health = parse_health(answer["answer"], now=answer["recorded_at"])
    assert health.daemon_ok
    assert not health.code_server_ok
    assert health.code_locations == {"sales_agent_pipeline": False}
    detail = health.code_server_detail
    assert detail.startswith("sales_agent_pipeline: ")
    assert detail == (
        "sales_agent_pipeline: dagster._core.errors.DagsterUserCodeUnreachableError: "
        "Could not reach user code server. gRPC Error code: UNAVAILABLE"
    )


def test_a_query_the_webserver_does_not_know_is_a_named_error_not_a_crash() -> None:
    answer = recorded("refused")
    health = parse_health(answer["answer"], now=answer["recorded_at"])
    assert not health.daemon_ok
    assert not health.code_server_ok
    assert health.error is not None
    assert health.error.startswith("the Dagster webserver refused the query: ")
    assert "lastHeartbeatErrorz" in health.error
    assert health.daemon_detail == health.code_server_detail == health.error


class _Counting(BaseHTTPRequestHandler):
    """A stand-in webserver: answers the recorded healthy answer (or a status) slowly."""

    requests = 0
    status = 200
    delay = 0.3

    def do_POST(self) -> None:
        type(self).requests += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.delay)
        body = json.dumps(recorded("healthy")["answer"]).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class StandIn:
    handler: type[_Counting]
    url: str


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    handler = type("Handler", (_Counting,), {"requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    forget_cached_health()
    try:
        yield StandIn(handler, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        forget_cached_health()


def test_concurrent_callers_share_one_request_per_cache_period(stand_in: StandIn) -> None:
    url = stand_in.url
    answers: list[Any] = []
    threads = [
        threading.Thread(target=lambda: answers.append(dagster_health(url))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stand_in.handler.requests == 1
    assert len({id(answer) for answer in answers}) == 1
    assert answers[0].code_server_ok
    time.sleep(CACHE_SECONDS + 0.2)
    dagster_health(url)
    assert stand_in.handler.requests == 2


def test_an_http_error_status_names_the_status_and_no_credentials(stand_in: StandIn) -> None:
    stand_in.handler.status = 401
    health = dagster_health(stand_in.url.replace("http://", "http://admin:hunter2@"))
    assert health.error == f"the Dagster webserver at {stand_in.url} answered HTTP 401"
    assert not health.daemon_ok
    assert not health.code_server_ok


def test_a_webserver_that_never_answers_times_out_in_the_given_seconds() -> None:
    forget_cached_health()
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        health = dagster_health(f"http://user:pw@127.0.0.1:{port}", timeout_seconds=0.5)
        took = time.monotonic() - started
    assert took < 2
    assert health.error == (
        f"the Dagster webserver at http://127.0.0.1:{port} did not answer within 0.5 s"
    )


def test_a_closed_port_is_named_with_the_operating_systems_reason() -> None:
    forget_cached_health()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    health = dagster_health(f"http://admin:hunter2@127.0.0.1:{port}/")
    assert health.error is not None
    where = f"http://127.0.0.1:{port}"
    assert health.error.startswith(f"cannot reach the Dagster webserver at {where}: ")
    assert "refused" in health.error.lower()
    assert "hunter2" not in health.error
    assert "admin" not in health.error


def test_a_url_that_is_not_one_is_named_not_raised() -> None:
    health = dagster_health("http://[::1")
    assert health.error == "the Dagster webserver URL is not a valid URL"
