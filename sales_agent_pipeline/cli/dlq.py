"""`sales-agent dlq list|replay|discard`: the dead-letter queue, for a person.

Leads whose transient retries ran out wait there; they are re-driven automatically with
growing delays (DLQ_REDRIVE_DELAYS), then stay until someone replays or discards them. A
replay queues them for the launch sensor, which runs them through the same path as any lead.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import typer
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.context import errors, fail, transaction
from sales_agent_pipeline.db.repositories.dead_letters import DeadLetter, list_dead_letters
from sales_agent_pipeline.usecases import dead_letters
from sales_agent_pipeline.usecases.tenants import find_tenant

dlq_app = typer.Typer(
    help="The dead-letter queue: leads whose transient retries ran out (list, replay, discard)."
)

TENANT = typer.Option(None, "--tenant", help="only this tenant's (HubSpot portal id)")
JSON = typer.Option(False, "--json", help="print JSON")
IDS = typer.Argument(None, help="workflow ids", show_default=False)
REQUIRED_IDS = typer.Argument(..., help="workflow ids", show_default=False)


def _actor() -> str:
    return f"cli ({getpass.getuser()})"


@contextmanager
def _refusals() -> Iterator[None]:
    """A refused id or status as one line and exit code 2; nothing was changed."""
    try:
        yield
    except (dead_letters.UnknownWorkflows, dead_letters.NotDeadLetter) as exc:
        raise fail(str(exc)) from None


def _tenant_id(session: Session, portal_id: int | None) -> uuid.UUID | None:
    return find_tenant(session, portal_id).id if portal_id is not None else None


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value


def _jsonable(letter: DeadLetter) -> dict[str, object]:
    return {name: _plain(value) for name, value in dataclasses.asdict(letter).items()}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@dlq_app.command("list")
def list_(
    tenant: int | None = TENANT,
    limit: int = typer.Option(100, min=1, max=10_000, help="at most this many, newest first"),
    as_json: bool = JSON,
) -> None:
    """The dead letters, newest first: error class, reason, re-drives and the next one."""
    with errors(), transaction() as session:
        letters = list_dead_letters(session, _tenant_id(session, tenant), limit)
    if as_json:
        typer.echo(json.dumps([_jsonable(letter) for letter in letters]))
        return
    if not letters:
        typer.echo("the dead-letter queue is empty")
        return
    for letter in letters:
        next_one = (
            f"next re-drive {_when(letter.next_redrive_at)} UTC"
            if letter.next_redrive_at
            else "waits for a person"
        )
        typer.echo(
            f"{letter.workflow_id}  portal {letter.portal_id}  {letter.prospect_email}  "
            f"dead since {_when(letter.dead_since)} UTC  {letter.error_class or '-'}  "
            f"re-driven {letter.redrives}x, {next_one}\n    {letter.failure_reason or ''}"
        )


def _report(action: str, ids: list[uuid.UUID], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({action: [str(workflow_id) for workflow_id in ids]}))
    else:
        typer.echo(f"{action} {len(ids)} dead letter(s)")
        for workflow_id in ids:
            typer.echo(f"  {workflow_id}")


@dlq_app.command()
def replay(
    workflow_ids: list[uuid.UUID] | None = IDS,
    replay_all: bool = typer.Option(False, "--all", help="every dead letter (of --tenant)"),
    tenant: int | None = TENANT,
    as_json: bool = JSON,
) -> None:
    """Queue dead letters for a run (the launch sensor starts it within seconds); their
    effects already written are found by their idempotency records, never written twice."""
    if replay_all == bool(workflow_ids):
        raise fail("give workflow ids, or --all (not both)")
    with errors(), _refusals(), transaction() as session:
        queued = dead_letters.replay(
            session,
            None if replay_all else workflow_ids,
            tenant_id=_tenant_id(session, tenant),
            actor=_actor(),
        )
    _report("replayed", queued, as_json)


@dlq_app.command()
def discard(
    workflow_ids: list[uuid.UUID] = REQUIRED_IDS,
    reason: str = typer.Option(
        "discarded by an operator", "--reason", help="kept as the failure reason and audited"
    ),
    tenant: int | None = TENANT,
    as_json: bool = JSON,
) -> None:
    """Fail dead letters for good (status failed with the reason); no re-drive follows."""
    if not reason.strip():
        raise fail("--reason: give a reason")
    with errors(), _refusals(), transaction() as session:
        discarded = dead_letters.discard(
            session,
            workflow_ids,
            tenant_id=_tenant_id(session, tenant),
            actor=_actor(),
            reason=reason.strip(),
        )
    _report("discarded", discarded, as_json)
