"""POST /api/imports and GET /api/imports/{id} through the real app and real PostgreSQL."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import FormSubmission, LeadImport, Tenant, Workflow
from sales_agent_pipeline.db.repositories.api_keys import issue_key
from sales_agent_pipeline.db.repositories.outbox import accept_submission
from tests.integration.api.conftest import FORM

CSV = (
    "Email Address,First Name,Last Name,Company,Industry\n"
    "ana@acme-robotics.example,Ana,Lima,Acme Robotics,Robotics\n"
    "bo@@broken,Bo,Berg,Nowhere,\n"
    "ana@acme-robotics.example,Ana,Twice,Acme Robotics,\n"
    "known@globex.example,Kim,Known,Globex,\n"
    "lee@initech.example,Lee,Ng,Initech,Software\n"
)


def key_for(engine: Engine, tenant: Tenant, *, admin: bool) -> dict[str, str]:
    with Session(engine) as session, session.begin():
        issued = issue_key(session, tenant.id, name="ops", admin=admin)
    return {"Authorization": f"Bearer {issued.key}"}


@pytest.fixture
def admin(engine: Engine, tenant: Tenant) -> dict[str, str]:
    with Session(engine) as session, session.begin():
        accept_submission(
            session,
            tenant,
            form_id=FORM,
            hubspot_submission_id=f"live-{uuid.uuid4()}",
            payload={},
            email="known@globex.example",
        )
    return key_for(engine, tenant, admin=True)


def upload(
    client: TestClient, headers: dict[str, str], data: bytes | str, name: str = "l.csv"
) -> Any:
    """The upload's answer (starlette's test client's response: httpx2's when installed)."""
    raw = data.encode() if isinstance(data, str) else data
    return client.post("/api/imports", files={"file": (name, raw, "text/csv")}, headers=headers)


def imports_of(engine: Engine, tenant: Tenant) -> int:
    with Session(engine) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(LeadImport)
                .where(LeadImport.tenant_id == tenant.id)
            )
            or 0
        )


def test_upload_reports_every_row_and_progress_follows_the_workflows(
    client: TestClient, engine: Engine, tenant: Tenant, admin: dict[str, str]
) -> None:
    answer = upload(client, admin, CSV, "march.csv")

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["rows_total"], body["rows_accepted"], body["rows_rejected"]) == (5, 2, 3)
    report = {row["row"]: row for row in body["rows"]}
    assert report[1]["status"] == "accepted"
    assert report[1]["workflow_id"] is not None
    assert report[2]["reason"].startswith("bad email")
    assert report[3]["reason"] == "duplicate in file (same email as row 1)"
    assert report[4]["reason"] == "already known"
    assert report[5]["status"] == "accepted"

    import_id = body["import_id"]
    progress = client.get(f"/api/imports/{import_id}", headers=admin).json()
    assert progress["filename"] == "march.csv"
    assert progress["status"] == "accepted"
    assert [r["row"] for r in progress["rejections"]] == [2, 3, 4]
    assert progress["progress"] == {
        "done": 0,
        "failed": 0,
        "dead_letter": 0,
        "remaining": 2,
        "running": 0,
        "leads_per_minute": None,
        "estimated_seconds_remaining": None,
    }

    # One lead finishes a minute after it started: the rate and the estimate follow.
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id == uuid.UUID(report[1]["workflow_id"]))
            .values(
                status="succeeded",
                started_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 1),
                completed_at=func.now(),
            )
        )
    later = client.get(f"/api/imports/{import_id}", headers=admin).json()["progress"]
    assert (later["done"], later["remaining"]) == (1, 1)
    assert later["leads_per_minute"] == pytest.approx(1.0, rel=0.1)
    assert later["estimated_seconds_remaining"] == pytest.approx(60, rel=0.1)


def test_imported_rows_are_import_submissions_with_their_fields(
    client: TestClient, engine: Engine, tenant: Tenant, admin: dict[str, str]
) -> None:
    body = upload(client, admin, CSV).json()
    with Session(engine) as session:
        stored = session.scalars(
            select(FormSubmission).where(FormSubmission.import_id == uuid.UUID(body["import_id"]))
        ).all()
    assert sorted((s.email, s.source) for s in stored) == [
        ("ana@acme-robotics.example", "import"),
        ("lee@initech.example", "import"),
    ]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ("name,company\nAna,Acme\n", 400, "no_email_column"),
        ("", 400, "empty_file"),
        ("email\n" + "a" * 6000 + "@x.example\n", 413, "file_too_large"),
    ],
)
def test_unusable_files_get_a_clear_error_and_write_nothing(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    admin: dict[str, str],
    data: str,
    status: int,
    code: str,
) -> None:
    client.app.state.settings.import_max_bytes = 4096  # type: ignore[attr-defined]
    try:
        answer = upload(client, admin, data)
    finally:
        client.app.state.settings.import_max_bytes = 5 * 1024 * 1024  # type: ignore[attr-defined]
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["fields"] == ["file"]
    assert imports_of(engine, tenant) == 0


def test_a_request_without_a_file_is_a_400_naming_it(
    client: TestClient, admin: dict[str, str]
) -> None:
    answer = client.post("/api/imports", data={"other": "x"}, headers=admin)
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"] == ["file"]


def test_keys_decide_who_may_import_and_who_sees_an_import(
    client: TestClient, engine: Engine, tenant: Tenant, admin: dict[str, str]
) -> None:
    assert upload(client, {}, CSV).status_code == 401
    assert upload(client, key_for(engine, tenant, admin=False), CSV).status_code == 403
    assert imports_of(engine, tenant) == 0

    import_id = upload(client, admin, CSV).json()["import_id"]
    # Any key of the tenant may follow the import; another tenant's key finds nothing.
    reader = key_for(engine, tenant, admin=False)
    assert client.get(f"/api/imports/{import_id}", headers=reader).status_code == 200
    with Session(engine, expire_on_commit=False) as session, session.begin():
        other = Tenant(portal_id=random.randint(10**6, 10**9), name="Other")
        session.add(other)
    stranger = client.get(f"/api/imports/{import_id}", headers=key_for(engine, other, admin=True))
    assert stranger.status_code == 404
    assert stranger.json()["error"]["code"] == "import_not_found"


@pytest.mark.parametrize(
    ("data", "code", "named"),
    [
        (b"email,company\nana@acme.example,Ac\x00me\n", "nul_byte", "NUL byte at byte 33"),
        ("email,company\nana@acme.example,Acme\n".encode("utf-16"), "nul_byte", "UTF-16"),
        ("email,company\nana@acme.example,Acm\u00e9\n".encode("latin-1"), "not_utf8", "byte 34"),
        (b"email,notes\nana@acme.example," + b"n" * 20_000 + b"\n", "field_too_long", "row 1"),
        (b"email," + b"h" * 20_000 + b"\nana@acme.example,1\n", "field_too_long", "the header"),
        (
            ",".join(["email", *(f"c{i}" for i in range(300))]).encode() + b"\na@acme.example\n",
            "too_many_columns",
            "301 columns",
        ),
        (b"email,company\nana@acme.example,Acme,extra\n", "not_csv", "line 2"),
    ],
    ids=["nul", "utf-16", "latin-1", "long-field", "long-header", "too-wide", "ragged"],
)
def test_undecodable_or_malformed_csv_is_400_naming_the_problem_and_writes_nothing(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    admin: dict[str, str],
    data: bytes,
    code: str,
    named: str,
) -> None:
    answer = upload(client, admin, data)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["fields"]) == (code, ["file"])
    assert named in error["message"]
    assert imports_of(engine, tenant) == 0


def test_a_byte_order_mark_and_a_file_name_with_a_nul_are_taken_as_they_are_meant(
    client: TestClient, engine: Engine, tenant: Tenant, admin: dict[str, str]
) -> None:
    # By hand: httpx would percent-encode the NUL in the file's name; a raw client need not.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="lea\x00ds.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n\xef\xbb\xbfEmail\nbom@acme.example\n\r\n--b--\r\n"
    )
    headers = {**admin, "Content-Type": "multipart/form-data; boundary=b"}
    answer = client.post("/api/imports", content=body, headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["rows_accepted"] == 1
    with Session(engine) as session:
        stored = session.scalars(select(LeadImport).where(LeadImport.tenant_id == tenant.id)).one()
    assert stored.filename == "leads.csv"
