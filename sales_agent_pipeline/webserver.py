"""The Dagster UI `sales-agent up` and the deployments serve: `dagster-webserver`, with a
gate in front that knows who is asking.

`python -m sales_agent_pipeline.webserver ARGS` takes dagster-webserver's own arguments.
Dagster's open-source UI has no users, and from it anyone could launch
`approve_and_send_draft` for any tenant's workflow. So:

- With UI_AUTH=proxy (the default in production) the UI sits behind an authenticating
  proxy (oauth2-proxy, or an ingress's auth) that passes the signed-in user's email in
  UI_AUTH_HEADER. A request without it gets 401, whatever its path, except `/server_info`
  (the probes'); our own processes send a service token instead (connectors/ui_identity).
- With UI_AUTH=none (the default in development) the webserver must listen on loopback
  only; it refuses to start on any other address.
- Every run the UI launches (launchpad, re-execution, backfill) gets two tags: the
  identity, and a stamp only this process can make. The approval job trusts nothing else.

What Dagster does with a request is unchanged: the gate reads the headers and, for the
GraphQL mutations that launch runs, rewrites their tag lists, then hands the request on.
The private seam it needs is in defs/dagster_internals.py.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
)

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.connectors import ui_identity
from sales_agent_pipeline.defs.dagster_internals import run_webserver_cli
from sales_agent_pipeline.observability import configure_logging, log_format
from sales_agent_pipeline.secretbox import encryption_keys
from sales_agent_pipeline.settings import get_settings

log = structlog.get_logger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

# The probes' path: answers without sign-in (it says only that the server is up).
OPEN_PATHS = frozenset({"/server_info"})
# The mutations that create runs: each argument that describes runs, and where in it the
# new runs' tags go (re-execution's extraTags upsert over the parent run's tags, so the
# parent's launcher is replaced, not inherited).
LAUNCHES = {
    "launchPipelineExecution": {"executionParams"},
    "launchRun": {"executionParams"},
    "launchMultipleRuns": {"executionParamsList"},
    "launchPipelineReexecution": {"executionParams", "reexecutionParams"},
    "launchRunReexecution": {"executionParams", "reexecutionParams"},
    "launchPartitionBackfill": {"backfillParams"},
}
# A launch's GraphQL body is a few KB; anything far larger is not one we rewrite.
MAX_GRAPHQL_BODY = 4 * 1024 * 1024
# An email address is at most 254 characters (RFC 5321); anything else in the header is not one.
MAX_IDENTITY = 254
OURS = (run_tags.OPERATOR, run_tags.OPERATOR_STAMP)


def _with_tags(tags: Any, ours: dict[str, str]) -> list[dict[str, str]]:
    """A GraphQL tag list without any tag of ours a client sent, then ours."""
    kept = [
        tag
        for tag in (tags if isinstance(tags, list) else [])
        if isinstance(tag, dict) and tag.get("key") not in OURS
    ]
    return [*kept, *({"key": key, "value": value} for key, value in ours.items())]


def _stamp_argument(argument: str, value: Any, ours: dict[str, str]) -> None:
    """Put our tags into the runs one launch argument's value describes."""
    if argument == "executionParamsList":
        for params in value if isinstance(value, list) else []:
            _stamp_argument("executionParams", params, ours)
        return
    if not isinstance(value, dict):
        return
    if argument == "executionParams":
        metadata = value.get("executionMetadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        metadata["tags"] = _with_tags(metadata.get("tags"), ours)
        value["executionMetadata"] = metadata
    elif argument == "reexecutionParams":
        value["extraTags"] = _with_tags(value.get("extraTags"), ours)
    elif argument == "backfillParams":
        value["tags"] = _with_tags(value.get("tags"), ours)


class InlineLaunch(ValueError):
    """A launch whose runs are written into the query, not passed as variables."""


def _launch_variables(query: str) -> list[tuple[str, str]]:
    """(argument, variable name) of every launch in the document's mutations.

    Parsed with graphql-core (Dagster's own GraphQL library): a client names its variables
    as it likes, and only the document says which one holds the runs."""
    try:
        document = parse(query)
    except GraphQLError:
        return []  # not GraphQL: Dagster answers it with its own error
    found: list[tuple[str, str]] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if definition.operation is not OperationType.MUTATION:
            continue
        for selection in definition.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.name.value not in LAUNCHES:
                continue
            for argument in selection.arguments:
                if argument.name.value not in LAUNCHES[selection.name.value]:
                    continue
                if not isinstance(argument.value, VariableNode):
                    raise InlineLaunch(selection.name.value)
                found.append((argument.name.value, argument.value.name.value))
    return found


def stamp_launches(body: bytes, ours: dict[str, str]) -> bytes:
    """The GraphQL request body with our tags on every run it launches; any other body as
    it came. Raises InlineLaunch for a launch written inline (the UI never sends one; it
    could not be stamped, so the gate refuses it rather than let it run unstamped)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return body
    operations = payload if isinstance(payload, list) else [payload]
    changed = False
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("query"), str):
            continue
        launches = _launch_variables(operation["query"])
        if not launches:
            continue
        variables = operation.get("variables")
        if not isinstance(variables, dict):
            continue  # a launch without its variables: Dagster refuses it
        for argument, name in launches:
            _stamp_argument(argument, variables.get(name), ours)
        changed = True
    return json.dumps(payload).encode() if changed else body


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (what UI_AUTH=none may listen on)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OperatorGate:
    """ASGI middleware: sign-in required, identity stamped on launches."""

    def __init__(
        self,
        app: App,
        *,
        keys: Sequence[str],
        header: str,
        require_sign_in: bool,
        path_prefix: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.app = app
        self.keys = list(keys)
        self.header = header.lower().encode("latin-1")
        self.require_sign_in = require_sign_in
        self.open_paths = {path_prefix + path for path in OPEN_PATHS}
        self.clock = clock

    def operator(self, scope: Scope) -> str | None:
        """Who is asking: our own service, the proxy's signed-in user, or (UI_AUTH=none)
        the local operator; None when sign-in is required and missing."""
        headers = dict(scope.get("headers") or [])
        service = headers.get(ui_identity.SERVICE_HEADER.lower().encode("latin-1"))
        if service is not None and ui_identity.is_service_token(
            self.keys, service.decode("latin-1")
        ):
            return ui_identity.SERVICE_OPERATOR
        raw = headers.get(self.header)
        identity = raw.decode("latin-1").strip() if raw else ""
        if identity and len(identity) <= MAX_IDENTITY and identity.isprintable():
            return identity.lower()
        return None if self.require_sign_in else ui_identity.LOCAL_OPERATOR

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        operator = self.operator(scope)
        if operator is None:
            await self._refuse(scope, send)
            return
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].endswith("/graphql")
        ):
            try:
                receive = await self._stamped(receive, operator)
            except InlineLaunch as exc:
                await _answer(
                    send,
                    400,
                    f"{exc}: pass the runs' parameters as GraphQL variables, so the sign-in "
                    "gate can stamp them with who launched them\n".encode(),
                )
                return
        await self.app(scope, receive, send)

    async def _stamped(self, receive: Receive, operator: str) -> Receive:
        """A `receive` that replays the request's body with the launches stamped (a body
        over MAX_GRAPHQL_BODY goes on as it came, the rest of it read as Dagster reads it)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([message])
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if not message.get("more_body"):
                break
            if size > MAX_GRAPHQL_BODY:
                start = {"type": "http.request", "body": b"".join(chunks), "more_body": True}
                return _replay([start], receive)
        now = self.clock()
        ours = {
            run_tags.OPERATOR: operator,
            run_tags.OPERATOR_STAMP: ui_identity.stamp(self.keys, operator, now),
        }
        body = stamp_launches(b"".join(chunks), ours)
        return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            # Closing before accepting makes the server answer the upgrade with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        await _answer(
            send,
            401,
            b"Sign in first: the Dagster UI is served only behind the authenticating proxy "
            b"(UI_AUTH=proxy; docs/operators.md).\n",
        )


async def _answer(send: Send, status: int, body: bytes) -> None:
    """A plain-text answer of our own instead of Dagster's."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A `receive` that gives `messages` first, then what `then` gives (a disconnect)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


def _option(args: Sequence[str], *names: str) -> str | None:
    """The value of a dagster-webserver option in `args` (`-h X`, `--host X`, `--host=X`)."""
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def main(args: Sequence[str] | None = None) -> None:
    """`python -m sales_agent_pipeline.webserver ARGS` is `dagster-webserver ARGS`, gated."""
    args = list(sys.argv[1:] if args is None else args)
    settings = get_settings()
    configure_logging(settings.log_level, log_format(settings))
    mode = settings.resolved_ui_auth
    host = _option(args, "-h", "--host") or "127.0.0.1"
    if mode == "none" and not is_loopback(host):
        sys.exit(
            f"refusing to serve the Dagster UI on {host} without sign-in (UI_AUTH=none): "
            "bind it to 127.0.0.1, or put it behind the authenticating proxy with UI_AUTH=proxy"
        )
    keys = encryption_keys(settings)
    prefix = _option(args, "-l", "--path-prefix") or ""
    log.info("webserver.gate", ui_auth=mode, header=settings.ui_auth_header, host=host)

    def gate(app: App) -> App:
        return OperatorGate(
            app,
            keys=keys,
            header=settings.ui_auth_header,
            require_sign_in=mode == "proxy",
            path_prefix=prefix,
        )

    run_webserver_cli(args, gate)


if __name__ == "__main__":
    main()
