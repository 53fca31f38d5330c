"""Ask a running Dagster for process_formlead runs over its GraphQL API.

Used off the webhook's request path and by the benchmarks. dagster-graphql's Python client
submits runs but cannot add dynamic partitions, and every run needs its lead's partition
first, so the two small documents below go over httpx directly.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sales_agent_pipeline.run_tags import TRIGGER

LOCATION = "sales_agent_pipeline"
REPOSITORY = "__repository__"
JOB = "process_formlead"
PARTITIONS = "leads"
ASSET = "lead_followup"

_LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""


_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""


class LaunchError(RuntimeError):
    """Dagster refused or could not be reached; the sensor will pick the work up."""


@dataclass
class DagsterLauncher:
    """Launches lead runs on the Dagster webserver at `url` (e.g. http://127.0.0.1:3000).

    One pooled HTTP client per launcher (thread-safe): building a client costs ~26 ms of CPU
    (an SSL context), which capped one API worker at ~38 launches per second.
    """

    url: str
    timeout_seconds: float = 10.0
    # Sent with every request: the service token a gated webserver asks our processes for
    # (connectors/ui_identity.service_headers).
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _shared(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout_seconds)
            return self._client

    def close(self) -> None:
        """Close the pooled connections."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _post(self, client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            response = client.post(
                f"{self.url.rstrip('/')}/graphql",
                json={"query": query, "variables": variables},
                headers=self.headers,
                timeout=self.timeout_seconds,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise LaunchError(f"Dagster at {self.url} did not answer: {exc}") from exc
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            raise LaunchError(f"Dagster rejected the request: {body['errors'][0]['message']}")
        data: dict[str, Any] = body["data"]
        return data

    def launch(
        self,
        workflow_ids: Sequence[str],
        *,
        trigger: str,
        tags: dict[str, str] | None = None,
        client: httpx.Client | None = None,
        job: str = JOB,
    ) -> str:
        """Add each lead's partition and launch one run over them; returns the run id.
        `job`: another job on the leads' partitions (the benchmarks' Dagster-only probe)."""
        if not workflow_ids:
            raise ValueError("no workflow to launch")
        http = client or self._shared()
        selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
        self.add_partitions(workflow_ids, client=http)
        run_tags = {TRIGGER: trigger, **(tags or {})}
        if len(workflow_ids) == 1:
            run_tags["dagster/partition"] = workflow_ids[0]
        else:
            run_tags["dagster/asset_partition_range_start"] = workflow_ids[0]
            run_tags["dagster/asset_partition_range_end"] = workflow_ids[-1]
        params = {
            "selector": {**selector, "jobName": job},
            "executionMetadata": {
                "tags": [{"key": key, "value": value} for key, value in run_tags.items()]
            },
        }
        launched = self._post(http, _LAUNCH, {"params": params})["launchRun"]
        if launched["__typename"] != "LaunchRunSuccess":
            raise LaunchError(f"launching {job}: {launched}")
        run_id: str = launched["run"]["runId"]
        return run_id

    def add_partitions(self, keys: Sequence[str], *, client: httpx.Client | None = None) -> None:
        """Add each lead's partition (an existing one is fine), up to 100 per request.

        Dagster's GraphQL adds one partition per mutation field, so a chunk of keys goes as
        one document of aliased fields: GraphQL runs a document's mutations in order (the
        partitions stay contiguous for a range run), and one request per chunk instead of
        one per lead keeps the webserver's CPU for the UI during a burst.
        """
        http = client or self._shared()
        selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
        for start in range(0, len(keys), 100):
            chunk = keys[start : start + 100]
            fields = "\n".join(
                f"  a{i}: addDynamicPartition(repositorySelector: $selector, "
                f"partitionsDefName: $name, partitionKey: $k{i}) "
                "{ __typename ... on Error { message } }"
                for i in range(len(chunk))
            )
            params = "".join(f", $k{i}: String!" for i in range(len(chunk)))
            document = (
                f"mutation Add($selector: RepositorySelector!, $name: String!{params}) {{\n"
                f"{fields}\n}}"
            )
            variables: dict[str, Any] = {"selector": selector, "name": PARTITIONS}
            variables.update({f"k{i}": key for i, key in enumerate(chunk)})
            answers = self._post(http, document, variables)
            for i, key in enumerate(chunk):
                added = answers[f"a{i}"]
                if added["__typename"] not in {
                    "AddDynamicPartitionSuccess",
                    "DuplicateDynamicPartitionError",
                }:
                    raise LaunchError(f"adding partition {key}: {added.get('message', added)}")

    def backfill(self, partition_keys: Sequence[str], *, title: str, tags: dict[str, str]) -> str:
        """A partition backfill of the lead asset over these leads; returns the backfill id.

        Dagster's backfill daemon runs it (single-run policy: a run per contiguous range),
        exactly as a backfill launched from the UI.
        """
        if not partition_keys:
            raise ValueError("no partition to backfill")
        self.add_partitions(partition_keys)
        params = {
            "assetSelection": [{"path": [ASSET]}],
            "partitionNames": list(partition_keys),
            "title": title,
            "tags": [{"key": key, "value": value} for key, value in tags.items()],
        }
        answer = self._post(self._shared(), _BACKFILL, {"params": params})
        launched = answer["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise LaunchError(f"backfill refused: {launched.get('message', launched)}")
        backfill_id: str = launched["backfillId"]
        return backfill_id
