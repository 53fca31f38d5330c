"""CSV imports on real PostgreSQL: the per-row report, one transaction, the file's bounds."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import FormSubmission, LeadImport, Tenant, Workflow
from sales_agent_pipeline.db.repositories import imports as repository
from sales_agent_pipeline.domain.enums import SubmissionSource, WorkflowStatus
from sales_agent_pipeline.usecases.imports import ImportRefused, ImportResult, import_csv
from tests.conftest import accept_lead

LIMITS = {"max_bytes": 64 * 1024, "max_rows": 50}

CSV = (
    "E-mail,First Name,Last Name,Company,Industry,Favourite colour\n"
    "ana@acme-robotics.example,Ana,Lima,Acme Robotics,Robotics,teal\n"
    "not-an-email,Bo,Berg,Nowhere,,\n"
    "Ana@Acme-Robotics.example,Ana,Again,Acme Robotics,,\n"
    "known@globex.example,Kim,Known,Globex,,\n"
    "lee@initech.example,Lee,Ng,Initech,Software,\n"
    ",Empty,Email,,,\n"
)


@pytest.fixture
def tenant(db_session: Session) -> Tenant:
    tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Acme", allowed_form_ids=["f"])
    db_session.add(tenant)
    db_session.flush()
    accept_lead(db_session, tenant, "known@globex.example", "live-1")
    return tenant


def run(session: Session, tenant: Tenant, data: str | bytes, **limits: int) -> ImportResult:
    raw = data.encode() if isinstance(data, str) else data
    return import_csv(
        session,
        tenant,
        raw,
        filename="leads.csv",
        created_by="admin-key",
        **{**LIMITS, **limits},
    )


def test_report_names_each_rejected_row_and_why(db_session: Session, tenant: Tenant) -> None:
    result = run(db_session, tenant, CSV)
    by_row = {row.row: row for row in result.rows}
    assert [(r.row, r.status) for r in result.rows] == [
        (1, "accepted"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "accepted"),
        (6, "rejected"),
    ]
    assert (by_row[2].reason or "").startswith("bad email")
    assert by_row[3].reason == "duplicate in file (same email as row 1)"
    assert by_row[4].reason == "already known"
    assert by_row[6].reason == "no email"

    stored = db_session.get(LeadImport, result.import_id)
    assert stored is not None
    assert (stored.rows_total, stored.rows_accepted, stored.rows_rejected) == (6, 2, 4)
    assert [r["row"] for r in stored.rejections] == [2, 3, 4, 6]

    submissions = db_session.scalars(
        select(FormSubmission).where(FormSubmission.import_id == result.import_id)
    ).all()
    assert sorted(s.email for s in submissions) == [
        "ana@acme-robotics.example",
        "lee@initech.example",
    ]
    ana = next(s for s in submissions if s.email.startswith("ana"))
    assert ana.source == SubmissionSource.IMPORT.value
    assert ana.hubspot_submission_id == f"import:{result.import_id}:1"
    assert (ana.first_name, ana.last_name, ana.company) == ("Ana", "Lima", "Acme Robotics")
    # Extra columns are kept as fields of the lead.
    fields = {f["name"]: f["value"] for f in ana.raw_payload["fieldValues"]}
    assert fields["industry"] == "Robotics"
    assert fields["favourite colour"] == "teal"
    workflows = db_session.scalars(
        select(Workflow).where(Workflow.id.in_([by_row[1].workflow_id, by_row[5].workflow_id]))
    ).all()
    assert {w.status for w in workflows} == {WorkflowStatus.RECEIVED.value}

    progress = repository.progress(db_session, result.import_id)
    assert (progress.done, progress.failed, progress.remaining) == (0, 0, 2)


def test_importing_the_same_file_again_rejects_every_row_as_known(
    db_session: Session, tenant: Tenant
) -> None:
    run(db_session, tenant, CSV)
    again = run(db_session, tenant, CSV)
    assert again.accepted == 0
    assert {r.reason for r in again.rows if r.email.endswith("initech.example")} == {
        "already known"
    }


@pytest.mark.parametrize(
    ("data", "limits", "code"),
    [
        ("", {}, "empty_file"),
        ("name,company\nAna,Acme\n", {}, "no_email_column"),
        ("email\n" + "x@y.example\n" * 51, {}, "too_many_rows"),
        ("email\n" + "a" * 2000 + "@y.example\n", {"max_bytes": 1024}, "file_too_large"),
        (b"email\n\xff\xfe@bad\n", {}, "not_utf8"),
        ("email,name\na@b.example,x\nc@d.example,x,y,z\n", {}, "not_csv"),
        ("email,company\n", {}, "no_rows"),
    ],
)
def test_unusable_files_are_refused_and_write_nothing(
    db_session: Session, tenant: Tenant, data: str | bytes, limits: dict[str, int], code: str
) -> None:
    before = db_session.scalar(select(func.count()).select_from(LeadImport))
    with pytest.raises(ImportRefused) as refused:
        run(db_session, tenant, data, **limits)
    assert refused.value.code == code
    assert db_session.scalar(select(func.count()).select_from(LeadImport)) == before


def test_a_field_too_long_for_its_column_rejects_the_row(
    db_session: Session, tenant: Tenant
) -> None:
    data = "email,company\nok@fine.example,Fine\nlong@fine.example," + "C" * 300 + "\n"
    result = run(db_session, tenant, data)
    assert [(r.row, r.status, r.reason) for r in result.rows] == [
        (1, "accepted", None),
        (2, "rejected", "company longer than 255 characters"),
    ]
