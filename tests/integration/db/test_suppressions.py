"""The suppression list on real PostgreSQL: entries checked and lower-cased, a second add a
no-op, a domain matching any of its addresses, tenants apart; `suppress` cancelling what is
scheduled to the address or domain and stopping those workflows; the unsubscribe use case."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import ScheduledSend, Tenant, Workflow, WorkflowEvent
from sales_agent_pipeline.db.models import Suppression as SuppressionRow
from sales_agent_pipeline.db.repositories import suppressions
from sales_agent_pipeline.db.repositories.suppressions import BadSuppression
from sales_agent_pipeline.domain.compliance import (
    StopReason,
    SuppressionKind,
    SuppressionReason,
)
from sales_agent_pipeline.secretbox import BadUnsubscribeToken, generate_key, unsubscribe_tokens
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.suppression import suppress, unsuppress
from sales_agent_pipeline.usecases.unsubscribe import UnknownTenant, check, unsubscribe
from tests.conftest import accept_lead

ADDRESS = SuppressionKind.ADDRESS
DOMAIN = SuppressionKind.DOMAIN
MANUAL = SuppressionReason.MANUAL
SETTINGS = Settings(_env_file=None, secrets_encryption_keys=generate_key())


def make_tenant(session: Session) -> Tenant:
    tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Suppress Co")
    session.add(tenant)
    session.flush()
    return tenant


def scheduled(session: Session, tenant: Tenant, email: str) -> uuid.UUID:
    """A lead of `email` whose mail waits for its window."""
    workflow_id = accept_lead(session, tenant, email).workflow_id
    session.add(
        ScheduledSend(
            workflow_id=workflow_id,
            tenant_id=tenant.id,
            mailbox="sender@ours.example",
            to_email=email.lower(),
            gmail_draft_id=f"d-{workflow_id}",
            due_at=datetime.now(UTC) + timedelta(hours=8),
            time_zone="Europe/Paris",
            zone_of="recipient",
        )
    )
    session.flush()
    return workflow_id


def status_of(session: Session, workflow_id: uuid.UUID) -> tuple[str, str | None]:
    send = session.get(ScheduledSend, workflow_id, populate_existing=True)
    assert send is not None
    return send.status, send.reason


def stopped(session: Session, workflow_id: uuid.UUID) -> str | None:
    workflow = session.get(Workflow, workflow_id, populate_existing=True)
    assert workflow is not None
    return workflow.stopped_reason


def events(session: Session, workflow_id: uuid.UUID, kind: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(WorkflowEvent)
            .where(WorkflowEvent.workflow_id == workflow_id, WorkflowEvent.event_type == kind)
        )
        or 0
    )


def rows(session: Session, tenant: Tenant) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(SuppressionRow)
            .where(SuppressionRow.tenant_id == tenant.id)
        )
        or 0
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ana.Lopez@Example.COM", (ADDRESS, "ana.lopez@example.com")),
        ("  ana+news@example.com ", (ADDRESS, "ana+news@example.com")),
        ("Example.com", (DOMAIN, "example.com")),
        ("@example.com", (DOMAIN, "example.com")),
        ("mail.example.co.uk.", (DOMAIN, "mail.example.co.uk")),
        ("bücher.example", (DOMAIN, "xn--bcher-kva.example")),
    ],
)
def test_normalise(value: str, expected: tuple[SuppressionKind, str]) -> None:
    assert suppressions.normalise(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "localhost",
        "no-dot",
        "ana@",
        "@",
        "ana@localhost",
        "an a@example.com",
        "ana..b@example.com",
        ".ana@example.com",
        "ana@exa_mple.com",
        "ana@-example.com",
        "ana@example.123",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
        ("a" * 63 + ".") * 5 + "com",
        "ana@exa\nmple.com",
        "ana@example.com\r\nBcc: x@y.example",
        "<ana@example.com>",
    ],
)
def test_bad_values_are_refused(value: str) -> None:
    with pytest.raises(BadSuppression):
        suppressions.normalise(value)


def test_a_domain_given_as_an_address_kind_is_refused() -> None:
    with pytest.raises(BadSuppression):
        suppressions.normalise("example.com", ADDRESS)


def test_add_once_then_a_no_op_then_remove(db_session: Session) -> None:
    tenant = make_tenant(db_session)
    assert suppressions.add(db_session, tenant.id, ADDRESS, "Ana@Example.com", MANUAL) is True
    again = suppressions.add(
        db_session, tenant.id, ADDRESS, "ana@example.com", SuppressionReason.BOUNCE
    )
    assert again is False
    assert rows(db_session, tenant) == 1
    row = suppressions.get(db_session, tenant.id, ADDRESS, "ANA@example.com")
    assert row is not None
    assert row.reason == "manual"
    assert suppressions.remove(db_session, tenant.id, ADDRESS, "ana@example.com") is True
    assert suppressions.remove(db_session, tenant.id, ADDRESS, "ana@example.com") is False
    assert rows(db_session, tenant) == 0


def test_bad_input_writes_nothing(db_session: Session) -> None:
    tenant = make_tenant(db_session)
    with pytest.raises(BadSuppression):
        suppressions.add(db_session, tenant.id, DOMAIN, "nodot", MANUAL)
    with pytest.raises(BadSuppression):
        suppress(db_session, tenant.id, "ana@", MANUAL)
    assert rows(db_session, tenant) == 0


def test_find_matches_the_address_or_its_domain(db_session: Session) -> None:
    tenant = make_tenant(db_session)
    suppressions.add(db_session, tenant.id, DOMAIN, "blocked.example", MANUAL, source="legal")
    suppressions.add(
        db_session, tenant.id, ADDRESS, "bob@open.example", SuppressionReason.BOUNCE, source="5.1.1"
    )
    by_domain = suppressions.find(db_session, tenant.id, "Anyone@BLOCKED.example")
    assert by_domain is not None
    assert (by_domain.kind, by_domain.value, by_domain.label) == (
        DOMAIN,
        "blocked.example",
        "suppressed (manual: legal)",
    )
    found = suppressions.find(db_session, tenant.id, "bob@open.example")
    assert found is not None
    assert found.reason is SuppressionReason.BOUNCE
    assert suppressions.find(db_session, tenant.id, "alice@open.example") is None
    # A subdomain is another domain; garbage is simply not suppressed.
    assert suppressions.find(db_session, tenant.id, "x@sub.blocked.example") is None
    assert suppressions.find(db_session, tenant.id, "") is None
    assert suppressions.find(db_session, tenant.id, "no address") is None
    many = suppressions.find_many(
        db_session, tenant.id, ["a@blocked.example", "BOB@open.example", "c@open.example"]
    )
    assert set(many) == {"a@blocked.example", "bob@open.example"}


def test_the_address_entry_wins_over_its_domain(db_session: Session) -> None:
    tenant = make_tenant(db_session)
    suppressions.add(db_session, tenant.id, DOMAIN, "both.example", MANUAL)
    suppressions.add(
        db_session, tenant.id, ADDRESS, "x@both.example", SuppressionReason.UNSUBSCRIBE
    )
    found = suppressions.find(db_session, tenant.id, "x@both.example")
    assert found is not None
    assert found.kind is ADDRESS


def test_tenants_are_apart(db_session: Session) -> None:
    mine, theirs = make_tenant(db_session), make_tenant(db_session)
    suppressions.add(db_session, theirs.id, ADDRESS, "ana@example.com", MANUAL)
    assert suppressions.find(db_session, mine.id, "ana@example.com") is None
    assert suppressions.remove(db_session, mine.id, ADDRESS, "ana@example.com") is False
    assert suppressions.list_(db_session, mine.id) == ([], False)
    assert suppressions.add(db_session, mine.id, ADDRESS, "ana@example.com", MANUAL) is True


def test_list_pages_newest_first_and_filters(db_session: Session) -> None:
    tenant = make_tenant(db_session)
    for n in range(5):
        reason = SuppressionReason.BOUNCE if n % 2 else MANUAL
        suppressions.add(db_session, tenant.id, ADDRESS, f"p{n}@example.com", reason)
    suppressions.add(db_session, tenant.id, DOMAIN, "whole.example", MANUAL)
    first, more = suppressions.list_(db_session, tenant.id, limit=4)
    assert more is True
    assert len(first) == 4
    last = first[-1]
    rest, more = suppressions.list_(
        db_session, tenant.id, limit=4, after=(last.created_at, last.id)
    )
    assert more is False
    assert len(rest) == 2
    assert {row.value for row in first + rest} == {
        *(f"p{n}@example.com" for n in range(5)),
        "whole.example",
    }
    bounces, _ = suppressions.list_(db_session, tenant.id, reason=SuppressionReason.BOUNCE)
    assert sorted(row.value for row in bounces) == ["p1@example.com", "p3@example.com"]
    domains, _ = suppressions.list_(db_session, tenant.id, kind=DOMAIN)
    assert [row.value for row in domains] == ["whole.example"]


def test_suppress_cancels_the_scheduled_sends_and_stops_those_workflows(
    db_session: Session,
) -> None:
    tenant, other = make_tenant(db_session), make_tenant(db_session)
    ana = scheduled(db_session, tenant, "ana@acme.example")
    bob = scheduled(db_session, tenant, "bob@acme.example")
    elsewhere = scheduled(db_session, tenant, "cy@else.example")
    other_tenant = scheduled(db_session, other, "ana@acme.example")

    assert suppress(db_session, tenant.id, "Ana@Acme.example", MANUAL, created_by="t") is True
    assert status_of(db_session, ana) == ("cancelled", "suppressed (manual)")
    assert stopped(db_session, ana) == StopReason.SUPPRESSED.value
    assert events(db_session, ana, "stopped") == 1
    assert status_of(db_session, bob)[0] == "scheduled"
    assert status_of(db_session, other_tenant)[0] == "scheduled"

    # The whole domain: bob's send too; a second time changes nothing.
    assert suppress(db_session, tenant.id, "acme.example", SuppressionReason.BOUNCE) is True
    assert status_of(db_session, bob)[0] == "cancelled"
    assert stopped(db_session, bob) == StopReason.BOUNCED.value
    assert suppress(db_session, tenant.id, "acme.example", SuppressionReason.BOUNCE) is False
    assert events(db_session, bob, "stopped") == 1
    assert status_of(db_session, elsewhere)[0] == "scheduled"
    assert stopped(db_session, elsewhere) is None
    assert status_of(db_session, other_tenant)[0] == "scheduled"

    assert unsuppress(db_session, tenant.id, "acme.example") is True
    assert unsuppress(db_session, tenant.id, "acme.example") is False
    # Stopped stays stopped.
    assert stopped(db_session, bob) == StopReason.BOUNCED.value


def test_unsubscribe_suppresses_once_and_stops_the_workflow(db_session: Session) -> None:
    tenant = make_tenant(db_session)
    sent = accept_lead(db_session, tenant, "dana@lead.example").workflow_id
    pending = scheduled(db_session, tenant, "dana@lead.example")
    token = unsubscribe_tokens(SETTINGS).mint(tenant.id, "Dana@Lead.example", sent)

    preview = check(db_session, SETTINGS, token)
    assert (preview.added, preview.already, preview.shown) == (False, None, "d***@lead.example")
    assert rows(db_session, tenant) == 0  # the check writes nothing

    first = unsubscribe(db_session, SETTINGS, token)
    assert first.added is True
    entry = suppressions.get(db_session, tenant.id, ADDRESS, "dana@lead.example")
    assert entry is not None
    assert (entry.reason, entry.source, entry.workflow_id) == ("unsubscribe", "one-click", sent)
    assert stopped(db_session, sent) == StopReason.UNSUBSCRIBED.value
    assert stopped(db_session, pending) == StopReason.UNSUBSCRIBED.value
    assert status_of(db_session, pending) == ("cancelled", "suppressed (unsubscribe: one-click)")
    assert events(db_session, sent, "unsubscribed") == 1

    second = unsubscribe(db_session, SETTINGS, token)
    assert second.added is False
    assert second.already is not None
    assert rows(db_session, tenant) == 1
    assert events(db_session, sent, "unsubscribed") == 1
    assert events(db_session, sent, "stopped") == 1


def test_unsubscribe_refusals_write_nothing(db_session: Session) -> None:
    tenant = make_tenant(db_session)
    maker = unsubscribe_tokens(SETTINGS)
    with pytest.raises(BadUnsubscribeToken) as malformed:
        unsubscribe(db_session, SETTINGS, "garbage")
    assert malformed.value.problem == "malformed"
    old = maker.mint(tenant.id, "a@b.example", None, now=time.time() - 91 * 86400)
    with pytest.raises(BadUnsubscribeToken) as expired:
        unsubscribe(db_session, SETTINGS, old)
    assert expired.value.problem == "expired"
    with pytest.raises(UnknownTenant):
        unsubscribe(db_session, SETTINGS, maker.mint(uuid.uuid4(), "a@b.example", None))
    assert rows(db_session, tenant) == 0


def test_a_token_of_a_workflow_gone_still_unsubscribes(db_session: Session) -> None:
    tenant = make_tenant(db_session)
    token = unsubscribe_tokens(SETTINGS).mint(tenant.id, "gone@lead.example", uuid.uuid4())
    assert unsubscribe(db_session, SETTINGS, token).added is True
    entry = suppressions.get(db_session, tenant.id, ADDRESS, "gone@lead.example")
    assert entry is not None
    assert entry.workflow_id is None
