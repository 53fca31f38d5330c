"""A Dagster-only probe, for the benchmarks: the lead job's shape with nothing in it.

`dagster_probe_job` is what `process_formlead` is to Dagster (a graph asset of 13 chained ops
on the leads' dynamic partitions, in process, the mem IO manager, no resources) but its ops
do nothing (the first lets Dagster's storage keep its connections, as the
lead job's does): launched as the webhook launches a lead, its request -> success time is
Dagster's own floor on this instance (queue, run worker start, per-op events), measured
beside a real lead by bench/pipeline.py. Only defined where SALES_AGENT_DAGSTER_PROBE=1
(the bench's stack): it is not a product job.
"""

from dagster import (
    AssetSelection,
    In,
    OpDefinition,
    OpExecutionContext,
    Out,
    define_asset_job,
    graph_asset,
    in_process_executor,
    op,
)

from sales_agent_pipeline.defs.assets import leads_partitions
from sales_agent_pipeline.defs.ops import pool_dagster_connections

PROBE_JOB = "dagster_probe_job"
STEPS = 13


def _probe_op(number: int) -> OpDefinition:
    """One empty op: the first takes nothing, the others the previous one's value."""
    if number == 1:

        @op(name=f"probe_{number:02d}", out=Out(int))
        def first(context: OpExecutionContext) -> int:
            # As the lead job's first op does: without it Dagster's storage opens a database
            # connection per event in a run worker, and the probe would measure that.
            pool_dagster_connections(context)
            return 1

        return first

    @op(name=f"probe_{number:02d}", ins={"value": In(int)}, out=Out(int))
    def then(value: int) -> int:
        return value + 1

    return then


_OPS = [_probe_op(n) for n in range(1, STEPS + 1)]


@graph_asset(name="dagster_probe", partitions_def=leads_partitions, group_name="bench")
def dagster_probe() -> int:
    value = _OPS[0]()
    for step in _OPS[1:]:
        value = step(value)
    return value


dagster_probe_job = define_asset_job(
    PROBE_JOB, selection=AssetSelection.assets(dagster_probe), executor_def=in_process_executor
)
