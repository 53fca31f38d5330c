"""Record the Dagster webserver's answer to connectors/dagster_status.QUERY, as the unit
tests replay it: `python tests/unit/connectors/dagster_answers/record.py URL NAME` writes
NAME.json beside this file (the webserver of a running `sales-agent up`, put in the state
the name says first: e.g. the code server or the daemon stopped with `kill -STOP`).
Record them again after a Dagster upgrade."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx

from sales_agent_pipeline.connectors.dagster_status import QUERY


def record(ui: str, name: str, query: str = QUERY) -> Path:
    """Ask `ui` and write what it answered to NAME.json."""
    version = httpx.get(f"{ui}/server_info", timeout=10).json()
    recorded_at = time.time()
    answer = httpx.post(f"{ui}/graphql", json={"query": query}, timeout=10).json()
    path = Path(__file__).with_name(f"{name}.json")
    document = {"recorded_at": recorded_at, "server_info": version, "answer": answer}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


if __name__ == "__main__":
    ui, name = sys.argv[1].rstrip("/"), sys.argv[2]
    # "refused": what a webserver answers a query its schema does not have (an older one).
    query = (
        QUERY.replace("lastHeartbeatErrors", "lastHeartbeatErrorz") if name == "refused" else QUERY
    )
    print(record(ui, name, query))
