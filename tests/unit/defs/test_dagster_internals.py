"""What we take from Dagster beyond its public API still exists and still fits how we call it.

Each check names the call: a failure after a Dagster upgrade says which function of
defs/dagster_internals.py to revisit. Nothing here runs a Dagster instance beyond the
in-memory one of `DagsterInstance.ephemeral()`.
"""

import ast
import importlib.util
import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dagster import (
    AssetExecutionContext,
    DagsterInstance,
    DynamicPartitionsDefinition,
    ExecuteInProcessResult,
    OpExecutionContext,
    RunsFilter,
    asset,
    materialize,
)
from dagster._cli import api as dagster_cli_api
from dagster._cli import cli as dagster_cli
from dagster._core.execution.context.metadata_logging import OutputMetadataAccumulator
from dagster._core.execution.context.system import StepExecutionContext
from dagster._core.storage import tags as dagster_tags
from dagster._grpc import server as dagster_server
from graphql import GraphQLSchema, OperationDefinitionNode, parse, validate
from graphql.execution.values import get_variable_values

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.connectors.dagster_launcher import DagsterLauncher
from sales_agent_pipeline.defs.dagster_internals import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    RUN_WORKER_MODULES,
    accumulate_partition_metadata,
    count_runs,
    partition_range_tags,
    pool_storage_connections,
    tag_run,
    warm_run_workers,
)

ROOT = Path(__file__).resolve().parents[3]

# (the call, the callable, the parameters dagster_internals passes it, after self)
SIGNATURES: list[tuple[str, Callable[..., Any], list[str]]] = [
    (
        "OpExecutionContext.get_step_execution_context",
        OpExecutionContext.get_step_execution_context,
        [],
    ),
    (
        "OutputMetadataAccumulator.with_additional_asset_metadata",
        OutputMetadataAccumulator.with_additional_asset_metadata,
        ["asset_key", "partition_key", "metadata"],
    ),
    ("DagsterInstance.get_runs_count", DagsterInstance.get_runs_count, ["filters"]),
    ("DagsterInstance.add_run_tags", DagsterInstance.add_run_tags, ["run_id", "new_tags"]),
    (
        "DagsterInstance.optimize_for_webserver",
        DagsterInstance.optimize_for_webserver,
        ["statement_timeout", "pool_recycle", "max_overflow"],
    ),
]

# Names only Dagster's internals have: nothing but dagster_internals.py may use them.
PRIVATE_NAMES = {
    "DagsterApiServer",
    "_mp_ctx",
    "_metadata_accumulator",
    "with_additional_asset_metadata",
    "get_step_execution_context",
    "get_runs_count",
    "add_run_tags",
    "optimize_for_webserver",
}
# The modules allowed to touch them: the one module, and this test of it.
ALLOWED = {
    ROOT / "sales_agent_pipeline" / "defs" / "dagster_internals.py",
    Path(__file__).resolve(),
}
SCANNED = ("sales_agent_pipeline", "sales_agent_api", "sales_agent_sandbox", "tests", "bench")


@pytest.mark.parametrize(("call", "function", "parameters"), SIGNATURES, ids=lambda v: v)
def test_the_private_call_keeps_its_parameters(
    call: str, function: Callable[..., Any], parameters: list[str]
) -> None:
    found = [name for name in inspect.signature(function).parameters if name != "self"]
    assert all(name in found for name in parameters), (
        f"Dagster changed {call}: dagster_internals passes {parameters}, it now takes {found}"
    )


def test_the_asset_context_keeps_its_op_context() -> None:
    found = inspect.getattr_static(AssetExecutionContext, "op_execution_context", None)
    assert isinstance(found, property), (
        "Dagster changed AssetExecutionContext.op_execution_context: "
        "dagster_internals.accumulate_partition_metadata reaches the step context through it"
    )


def test_the_step_context_keeps_its_metadata_accumulator() -> None:
    source = inspect.getsource(StepExecutionContext.__init__)
    assert "self._metadata_accumulator = OutputMetadataAccumulator" in source, (
        "Dagster changed StepExecutionContext._metadata_accumulator: "
        "dagster_internals.accumulate_partition_metadata would fall back to the public call"
    )


def test_the_code_server_keeps_its_run_workers_start_method() -> None:
    init = inspect.getsource(dagster_server.DagsterApiServer.__init__)
    launch = inspect.getsource(dagster_server.DagsterApiServer)
    assert "self._mp_ctx = multiprocessing.get_context(" in init, (
        "Dagster changed DagsterApiServer._mp_ctx: dagster_internals.warm_run_workers no "
        "longer sets the start method of run workers (runs start cold)"
    )
    assert "self._mp_ctx.Process(" in launch, (
        "DagsterApiServer no longer starts run workers from _mp_ctx: "
        "dagster_internals.warm_run_workers has no effect"
    )


def test_dagster_api_grpc_looks_the_server_up_when_it_runs() -> None:
    # The patch replaces the module's attribute: a command holding its own reference,
    # taken at import, would keep serving with Dagster's class.
    source = inspect.getsource(dagster_cli_api.grpc_command.callback)  # type: ignore[arg-type]
    body = source.split("def grpc_command", 1)[1]
    assert "from dagster._grpc.server import DagsterApiServer" in body, (
        "`dagster api grpc` no longer imports dagster._grpc.server.DagsterApiServer when it "
        "runs: dagster_internals.warm_run_workers' patch would be ignored"
    )


def test_warm_run_workers_patches_the_server_class(monkeypatch: pytest.MonkeyPatch) -> None:
    dagster_class = dagster_server.DagsterApiServer
    monkeypatch.setattr(dagster_server, "DagsterApiServer", dagster_class)

    warm_run_workers(["json"])

    assert issubclass(dagster_server.DagsterApiServer, dagster_class)
    assert dagster_server.DagsterApiServer is not dagster_class


def test_the_dagster_cli_serves_api_grpc() -> None:
    from dagster._cli import main

    assert callable(main), "dagster._cli.main is gone: dagster_internals.run_dagster_cli"
    api = dagster_cli.commands.get("api")
    assert api is not None, "`dagster api` is gone: dagster_internals.run_dagster_cli"
    assert "grpc" in getattr(api, "commands", {}), (
        "`dagster api grpc` is gone: dagster_internals.run_dagster_cli"
    )


@pytest.mark.parametrize("module", RUN_WORKER_MODULES)
def test_the_run_worker_modules_exist(module: str) -> None:
    assert importlib.util.find_spec(module) is not None, (
        f"{module} is gone: dagster_internals.RUN_WORKER_MODULES (the forkserver's preload)"
    )


def test_our_partition_range_tags_are_dagsters() -> None:
    assert PARTITION_RANGE_START_TAG == dagster_tags.ASSET_PARTITION_RANGE_START_TAG
    assert PARTITION_RANGE_END_TAG == dagster_tags.ASSET_PARTITION_RANGE_END_TAG
    assert run_tags.PRIORITY == dagster_tags.PRIORITY_TAG


leads = DynamicPartitionsDefinition(name="leads")
written: dict[str, bool] = {}


@asset(partitions_def=leads)
def lead_followup(context: AssetExecutionContext) -> None:
    """Each partition of the run gets its own metadata through the accumulator."""
    by_partition = {key: {"lead": key} for key in context.partition_keys}
    written["accumulated"] = accumulate_partition_metadata(context, by_partition)


@pytest.fixture(scope="module")
def instance() -> Iterator[DagsterInstance]:
    """An in-memory instance with three leads' partitions."""
    with DagsterInstance.ephemeral() as ephemeral:
        ephemeral.add_dynamic_partitions("leads", ["a", "b", "c"])
        yield ephemeral


@pytest.fixture(scope="module")
def range_run(instance: DagsterInstance) -> ExecuteInProcessResult:
    """One run over the range a..b, asked for with our range tags."""
    return materialize([lead_followup], instance=instance, tags=partition_range_tags("a", "b"))


def test_a_range_run_gives_each_partition_its_metadata(range_run: ExecuteInProcessResult) -> None:
    assert written["accumulated"], (
        "accumulate_partition_metadata found no accumulator: it fell back to the public call"
    )
    materialised = range_run.asset_materializations_for_node("lead_followup")
    assert {m.partition: m.metadata["lead"].value for m in materialised} == {"a": "a", "b": "b"}


def test_tag_run_and_count_runs(
    instance: DagsterInstance, range_run: ExecuteInProcessResult
) -> None:
    tag_run(instance, range_run.run_id, {"sales_agent/test": "1"})

    run = instance.get_run_by_id(range_run.run_id)
    assert run is not None
    assert run.tags["sales_agent/test"] == "1"
    assert count_runs(instance, RunsFilter(tags={"sales_agent/test": "1"})) == 1
    assert count_runs(instance, RunsFilter(tags={"sales_agent/test": "2"})) == 0


def test_pool_storage_connections_is_accepted(instance: DagsterInstance) -> None:
    pool_storage_connections(instance, statement_timeout=0, pool_recycle=3600, max_overflow=8)


@pytest.fixture(scope="module")
def graphql_schema() -> GraphQLSchema:
    """The GraphQL schema of the installed dagster-webserver."""
    from dagster_graphql.schema import create_schema

    return create_schema().graphql_schema


def answer(request: httpx.Request) -> httpx.Response:
    """Dagster's success for whichever document the launcher sent."""
    body = json.loads(request.content)
    query = body["query"]
    data: dict[str, Any]
    if "launchRun" in query:
        data = {"launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": "r1"}}}
    elif "launchPartitionBackfill" in query:
        data = {
            "launchPartitionBackfill": {"__typename": "LaunchBackfillSuccess", "backfillId": "b"}
        }
    else:
        added = {"__typename": "AddDynamicPartitionSuccess"}
        data = {f"a{name[1:]}": added for name in body["variables"] if name.startswith("k")}
    return httpx.Response(200, json={"data": data})


def test_the_launchers_documents_fit_dagsters_graphql(
    graphql_schema: GraphQLSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return answer(request)

    launcher = DagsterLauncher("http://dagster")
    monkeypatch.setattr(launcher, "_client", httpx.Client(transport=httpx.MockTransport(record)))
    launcher.launch(["a"], trigger="webhook")
    launcher.launch(["a", "b"], trigger="webhook")
    launcher.backfill(["a", "b"], title="t", tags={"sales_agent/trigger": "backfill"})

    assert len(sent) == 6
    for body in sent:
        document = parse(body["query"])
        errors = validate(graphql_schema, document)
        assert not errors, f"Dagster's GraphQL refuses the launcher's {body['query']}: {errors}"
        operation = document.definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        coerced = get_variable_values(
            graphql_schema, operation.variable_definitions, body["variables"]
        )
        assert isinstance(coerced, dict), f"Dagster's GraphQL refuses the variables: {coerced}"


def python_files() -> Iterator[Path]:
    """Every module of ours, but the two allowed to name Dagster's internals."""
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.resolve() not in ALLOWED:
                yield path


def private_uses(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, what) for each import of `dagster._*` or use of a private Dagster name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("dagster._"):
                yield node.lineno, f"from {node.module} import"
            elif node.module == "dagster":
                for alias in node.names:
                    if alias.name.startswith("_") or alias.name in PRIVATE_NAMES:
                        yield node.lineno, f"from dagster import {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("dagster._"):
                    yield node.lineno, f"import {alias.name}"
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_NAMES:
            yield node.lineno, f".{node.attr}"
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (node.value.startswith("dagster._") or node.value in PRIVATE_NAMES)
        ):
            yield node.lineno, repr(node.value)


def test_only_dagster_internals_touches_dagsters_internals() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in python_files()
        for line, what in private_uses(ast.parse(path.read_text(), str(path)))
    ]
    assert not found, "private Dagster API outside defs/dagster_internals.py:\n" + "\n".join(found)


def test_every_dagster_tag_we_write_is_one_of_dagsters() -> None:
    system = {
        value
        for value in vars(dagster_tags).values()
        if isinstance(value, str) and value.startswith(dagster_tags.SYSTEM_TAG_PREFIX)
    }
    # tests/deploy names Dagster's Helm chart (`dagster/dagster`), which is no tag.
    charts = ROOT / "tests" / "deploy"
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for path in [*python_files(), ROOT / "sales_agent_pipeline/defs/dagster_internals.py"]
        if charts not in path.parents
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("dagster/")
        and node.value not in system
    ]
    assert not found, "tags Dagster no longer knows:\n" + "\n".join(found)
