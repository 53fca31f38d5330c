"""The Dagster UI's sign-in gate (sales_agent_pipeline.webserver) and the operator stamps it
writes (connectors/ui_identity), on a stand-in ASGI app: no identity, no UI; a launch's tags
name the signed-in operator with a stamp only the deployment's key makes, whatever the
request typed; stamps of another name, another key or long ago do not verify."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.connectors import ui_identity
from sales_agent_pipeline.secretbox import generate_key
from sales_agent_pipeline.webserver import (
    InlineLaunch,
    OperatorGate,
    is_loopback,
    stamp_launches,
)

KEY, OLD_KEY = generate_key(), generate_key()
NOW = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
LAUNCH = (
    "mutation L($executionParams: ExecutionParams!) "
    "{ launchRun(executionParams: $executionParams) { __typename } }"
)


def test_a_stamp_verifies_for_its_operator_and_key_within_the_hour() -> None:
    value = ui_identity.stamp([KEY], "dana@ops.example", NOW)
    assert ui_identity.verify([KEY], "dana@ops.example", value, NOW + timedelta(minutes=59))
    assert not ui_identity.verify([KEY], "eve@ops.example", value, NOW)
    assert not ui_identity.verify([generate_key()], "dana@ops.example", value, NOW)
    assert not ui_identity.verify([KEY], "dana@ops.example", value, NOW + timedelta(hours=2))
    assert not ui_identity.verify([KEY], "dana@ops.example", value, NOW - timedelta(hours=1))
    for junk in ("", "x", "123", "abc.def", "1." + "0" * 64):
        assert not ui_identity.verify([KEY], "dana@ops.example", junk, NOW)


def test_a_stamp_made_before_a_key_rotation_still_verifies_while_the_old_key_is_listed() -> None:
    value = ui_identity.stamp([OLD_KEY], "dana@ops.example", NOW)
    assert ui_identity.verify([KEY, OLD_KEY], "dana@ops.example", value, NOW)
    assert not ui_identity.verify([KEY], "dana@ops.example", value, NOW)


def test_the_service_token_is_the_keys_own() -> None:
    token = ui_identity.service_token([KEY])
    assert ui_identity.is_service_token([KEY], token)
    assert ui_identity.is_service_token([generate_key(), KEY], token)
    assert not ui_identity.is_service_token([generate_key()], token)
    assert not ui_identity.is_service_token([KEY], None)
    assert not ui_identity.is_service_token([KEY], "")


OURS = {run_tags.OPERATOR: "dana@ops.example", run_tags.OPERATOR_STAMP: "1.abc"}


def tags_of(body: bytes, *path: str) -> dict[str, str]:
    node: Any = json.loads(body)["variables"]
    for step in path:
        node = node[step]
    return {tag["key"]: tag["value"] for tag in node}


def test_a_launch_gets_our_tags_and_loses_the_ones_it_typed() -> None:
    typed = [
        {"key": run_tags.OPERATOR, "value": "boss@ops.example"},
        {"key": run_tags.OPERATOR_STAMP, "value": "forged"},
        {"key": "team", "value": "sales"},
    ]
    body = json.dumps(
        {
            "query": LAUNCH,
            "variables": {"executionParams": {"executionMetadata": {"tags": typed}}},
        }
    ).encode()
    tags = tags_of(stamp_launches(body, OURS), "executionParams", "executionMetadata", "tags")
    assert tags == {**OURS, "team": "sales"}


def test_re_executions_several_runs_and_backfills_are_stamped_too() -> None:
    reexecution = json.dumps(
        {
            "query": "mutation { launchRunReexecution(reexecutionParams: $reexecutionParams) }",
            "variables": {"reexecutionParams": {"parentRunId": "r1", "strategy": "ALL_STEPS"}},
        }
    ).encode()
    assert tags_of(stamp_launches(reexecution, OURS), "reexecutionParams", "extraTags") == OURS
    several = json.dumps(
        {
            "query": "mutation { launchMultipleRuns(executionParamsList: $executionParamsList) }",
            "variables": {"executionParamsList": [{}, {"executionMetadata": {}}]},
        }
    ).encode()
    runs = json.loads(stamp_launches(several, OURS))["variables"]["executionParamsList"]
    assert all(
        {tag["key"]: tag["value"] for tag in run["executionMetadata"]["tags"]} == OURS
        for run in runs
    )
    backfill = json.dumps(
        {
            "query": "mutation { launchPartitionBackfill(backfillParams: $backfillParams) }",
            "variables": {"backfillParams": {"partitionNames": ["a"]}},
        }
    ).encode()
    assert tags_of(stamp_launches(backfill, OURS), "backfillParams", "tags") == OURS


def test_the_variable_is_found_whatever_its_name() -> None:
    body = json.dumps(
        {
            "query": "mutation Go($anything: ExecutionParams!) { launchRun(executionParams: "
            "$anything) { __typename } }",
            "variables": {"anything": {}, "executionParams": {"decoy": True}},
        }
    ).encode()
    stamped = json.loads(stamp_launches(body, OURS))["variables"]
    assert stamped["executionParams"] == {"decoy": True}
    tags = stamped["anything"]["executionMetadata"]["tags"]
    assert {tag["key"]: tag["value"] for tag in tags} == OURS


def test_a_launch_written_inline_is_refused_not_passed_unstamped() -> None:
    body = b'{"query": "mutation { launchRun(executionParams: {}) { __typename } }"}'
    with pytest.raises(InlineLaunch):
        stamp_launches(body, OURS)
    received: Received = {}
    headers = {"X-Forwarded-Email": "dana@ops.example"}
    answer = request(gate(received), "POST", "/graphql", content=body, headers=headers)
    assert answer.status_code == 400
    assert "GraphQL variables" in answer.text
    assert received == {}


def test_other_requests_pass_byte_for_byte() -> None:
    for body in (
        b'{"query": "{ version }"}',
        b'{"query": "query Q { launchRun }"}',
        b'{"query": "not graphql {"}',
        b"not json",
        b"[1, 2]",
    ):
        assert stamp_launches(body, OURS) == body


Received = dict[str, Any]


def gate(received: Received, *, require_sign_in: bool = True) -> OperatorGate:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        received.update(path=scope["path"], body=body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return OperatorGate(
        app,
        keys=[KEY],
        header="X-Forwarded-Email",
        require_sign_in=require_sign_in,
        clock=lambda: NOW,
    )


def request(app: OperatorGate, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ui") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def test_without_the_header_only_the_probe_gets_through() -> None:
    received: Received = {}
    app = gate(received)
    assert request(app, "GET", "/runs").status_code == 401
    assert request(app, "POST", "/graphql", json={"query": LAUNCH}).status_code == 401
    assert received == {}
    assert request(app, "GET", "/server_info").status_code == 200
    too_long = "a" * 250 + "@x.example"
    assert request(app, "GET", "/runs", headers={"X-Forwarded-Email": too_long}).status_code == 401


@pytest.mark.parametrize(
    ("headers", "operator"),
    [
        ({"X-Forwarded-Email": " Dana@Ops.Example "}, "dana@ops.example"),
        ({ui_identity.SERVICE_HEADER: ui_identity.service_token([KEY])}, "service:sales-agent"),
    ],
)
def test_a_launch_is_stamped_with_who_asked(headers: dict[str, str], operator: str) -> None:
    received: Received = {}
    body = {"query": LAUNCH, "variables": {"executionParams": {}}}
    answer = request(gate(received), "POST", "/graphql", json=body, headers=headers)
    assert answer.status_code == 200
    tags = tags_of(received["body"], "executionParams", "executionMetadata", "tags")
    assert tags[run_tags.OPERATOR] == operator
    assert ui_identity.verify([KEY], operator, tags[run_tags.OPERATOR_STAMP], NOW)


def test_a_body_too_large_to_stamp_reaches_dagster_whole() -> None:
    received: Received = {}
    body = b'{"query": "{ version }", "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'

    async def chunks() -> Any:
        for offset in range(0, len(body), 65536):
            yield body[offset : offset + 65536]

    headers = {"X-Forwarded-Email": "dana@ops.example"}
    answer = request(gate(received), "POST", "/graphql", content=chunks(), headers=headers)
    assert answer.status_code == 200
    assert received["body"] == body


def test_a_forged_service_token_is_no_one() -> None:
    received: Received = {}
    headers = {ui_identity.SERVICE_HEADER: ui_identity.service_token([generate_key()])}
    assert request(gate(received), "GET", "/runs", headers=headers).status_code == 401


def test_without_sign_in_required_the_local_operator_launches() -> None:
    received: Received = {}
    body = {"query": LAUNCH, "variables": {"executionParams": {}}}
    request(gate(received, require_sign_in=False), "POST", "/graphql", json=body)
    tags = tags_of(received["body"], "executionParams", "executionMetadata", "tags")
    assert tags[run_tags.OPERATOR] == ui_identity.LOCAL_OPERATOR


def test_only_loopback_may_serve_without_sign_in() -> None:
    assert all(is_loopback(host) for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "10.0.0.5", "::", "ui.example"))  # noqa: S104
