"""The run queue of one host: Dagster's QueuedRunCoordinator, looking every half second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; stubs are not locked
from dagster import QueuedRunCoordinator

from sales_agent_pipeline.defs.run_coordinator import SubSecondQueuedRunCoordinator

ROOT = Path(__file__).resolve().parents[3]


def _instance_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    return config


def test_dagster_yaml_names_the_subclass_with_a_half_second_interval() -> None:
    coordinator = _instance_config()["run_coordinator"]
    assert coordinator["module"] == SubSecondQueuedRunCoordinator.__module__
    assert coordinator["class"] == SubSecondQueuedRunCoordinator.__name__
    config = coordinator["config"]
    built = SubSecondQueuedRunCoordinator.from_config_value(None, config)  # type: ignore[arg-type]
    # What the daemon reads for its loop, and Dagster's own queue otherwise.
    assert built.dequeue_interval_seconds == 0.5
    assert isinstance(built, QueuedRunCoordinator)
    queue = built.get_run_queue_config()
    assert queue.max_concurrent_runs == coordinator["config"]["max_concurrent_runs"]
    assert queue.tag_concurrency_limits == coordinator["config"]["tag_concurrency_limits"]
    assert queue.max_user_code_failure_retries == 12


def test_the_interval_field_takes_a_fraction() -> None:
    field = SubSecondQueuedRunCoordinator.config_type()["dequeue_interval_seconds"]
    assert not field.is_required
    assert "float" in str(field.config_type.given_name or field.config_type.key).lower()


def test_unset_is_dagsters_default_and_nothing_at_or_below_zero_is_taken() -> None:
    assert SubSecondQueuedRunCoordinator().dequeue_interval_seconds == 5.0
    with pytest.raises(ValueError, match="above 0"):
        SubSecondQueuedRunCoordinator(dequeue_interval_seconds=0)
