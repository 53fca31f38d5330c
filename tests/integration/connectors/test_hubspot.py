"""The HubSpot adapter through hubspot-api-client over HTTP against the sandbox."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from sales_agent_pipeline.connectors.hubspot import (
    NOTE_TO_CONTACT,
    TASK_TO_COMPANY,
    TASK_TO_CONTACT,
    HubSpotCRM,
)
from sales_agent_pipeline.domain.enums import TaskStatus
from sales_agent_pipeline.domain.errors import PermanentError, TransientError
from sales_agent_pipeline.domain.models import NewNote, NewTask, Task

PORTAL = "1000"


def _portal(admin) -> dict:
    return admin.state("hubspot")["hubspot"]["portals"][PORTAL]


def _calls(admin, key: str) -> int:
    """Calls to an endpoint, whether the sandbox keys them by route template or by path."""
    counts = admin.state("calls")["calls"]["calls"]
    pattern = (
        re.escape(key).replace(r"\{object_type\}", r"[^/]+").replace(r"\{owner_id\}", r"[^/]+")
    )
    return sum(int(n) for k, n in counts.items() if re.fullmatch(pattern, k))


def _owner(admin) -> str:
    seeded = admin.seed(
        owners=[{"email": "ada@ourco.example", "firstName": "Ada", "lastName": "L"}]
    )
    return seeded["owners"][0]


def test_upsert_by_email_twice_makes_one_contact(crm: HubSpotCRM, admin):
    first = crm.upsert_contact("Jane@Acme.example", {"firstname": "Jane", "phone": None})
    second = crm.upsert_contact("jane@acme.example", {"lastname": "Doe", "jobtitle": "CTO"})

    assert first.created is True
    assert second.created is False
    assert first.id == second.id
    assert second.email == "jane@acme.example"
    contacts = _portal(admin)["objects"]["contacts"]
    assert len(contacts) == 1
    read = crm.get_contact(first.id)
    assert (read.first_name, read.last_name, read.job_title) == ("Jane", "Doe", "CTO")
    assert read.created_at is not None
    assert read.created_at.tzinfo is not None
    # Only the batch upsert endpoint writes contacts: never search-then-create.
    assert _calls(admin, "POST /crm/v3/objects/{object_type}/search") == 0


def test_contact_by_email_and_missing_contact(crm: HubSpotCRM):
    made = crm.upsert_contact("pat@prospect.example", {"firstname": "Pat"})
    found = crm.find_contact_by_email("PAT@prospect.example")
    assert found is not None
    assert found.id == made.id
    assert crm.find_contact_by_email("nobody@prospect.example") is None
    with pytest.raises(PermanentError) as caught:
        crm.get_contact("999999")
    assert caught.value.http_status == 404
    assert "not found" in (caught.value.vendor_message or "").lower()


def test_company_create_find_and_cache(crm: HubSpotCRM, admin):
    acme = crm.create_company("Acme Corp", "ACME.example", {"industry": "COMPUTER_SOFTWARE"})
    crm.create_company("Globex", "globex.example")
    fresh = HubSpotCRM(crm._http, cache_ttl_seconds=300)

    by_domain = fresh.find_company_by_domain("acme.example")
    assert by_domain is not None
    assert by_domain.id == acme.id
    assert by_domain.name == "Acme Corp"
    globex = fresh.find_company_by_name("globex")
    assert globex is not None
    assert globex.domain == "globex.example"
    assert fresh.find_company_by_domain("nobody.example") is None
    searches = _calls(admin, "POST /crm/v3/objects/{object_type}/search")
    assert searches == 3
    assert fresh.find_company_by_domain("ACME.example") == by_domain
    assert _calls(admin, "POST /crm/v3/objects/{object_type}/search") == searches


def test_associate_contact_and_company(crm: HubSpotCRM, admin):
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    company = crm.create_company("Acme Corp", "acme.example")
    crm.associate_contact_company(contact.id, company.id)
    links = _portal(admin)["associations"]
    assert {
        "fromType": "contacts",
        "fromId": contact.id,
        "toType": "companies",
        "toId": company.id,
        "typeId": 279,
    } in links


def test_owners_list_and_get_are_cached(crm: HubSpotCRM, admin):
    seeded = admin.seed(
        owners=[
            {"email": f"rep{i}@ourco.example", "firstName": f"Rep{i}", "lastName": "X"}
            for i in range(130)
        ]
    )["owners"]
    owners = crm.list_owners()
    assert len(owners) == 130
    assert owners[0].name == "Rep0 X"
    assert owners[0].time_zone is None
    pages = _calls(admin, "GET /crm/v3/owners/")
    assert pages == 2
    assert crm.get_owner(seeded[5]).email == "rep5@ourco.example"
    crm.list_owners()
    assert _calls(admin, "GET /crm/v3/owners/") == pages
    assert _calls(admin, "GET /crm/v3/owners/{owner_id}") == 0
    other = HubSpotCRM(crm._http)
    assert other.get_owner(seeded[7]).first_name == "Rep7"
    assert other.get_owner(seeded[7]).first_name == "Rep7"
    assert _calls(admin, "GET /crm/v3/owners/{owner_id}") == 1
    with pytest.raises(PermanentError):
        other.get_owner("424242")


def _new_task(owner: str, contact: str, company: str | None, n: int = 0) -> NewTask:
    return NewTask(
        subject=f"Follow up {n}",
        body=f"Call them [sales-agent workflow wf-{n}]",
        due_at=datetime(2030, 1, 9, 9, 0, tzinfo=UTC) + timedelta(hours=n),
        priority="HIGH",
        task_type="EMAIL",
        owner_id=owner,
        contact_id=contact,
        company_id=company,
    )


def test_task_create_read_and_associations(crm: HubSpotCRM, admin):
    owner = _owner(admin)
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    company = crm.create_company("Acme Corp", "acme.example")

    task = crm.create_task(_new_task(owner, contact.id, company.id))
    assert task.contact_ids == (contact.id,)
    assert task.company_ids == (company.id,)
    read = crm.get_task(task.id)
    assert read.subject == "Follow up 0"
    assert read.status == TaskStatus.NOT_STARTED
    assert (read.priority, read.task_type, read.owner_id) == ("HIGH", "EMAIL", owner)
    assert read.due_at == datetime(2030, 1, 9, 9, 0, tzinfo=UTC)
    assert read.contact_ids == (contact.id,)
    assert read.company_ids == (company.id,)
    links = {(a["fromId"], a["toId"], a["typeId"]) for a in _portal(admin)["associations"]}
    assert (task.id, contact.id, TASK_TO_CONTACT) in links
    assert (task.id, company.id, TASK_TO_COMPANY) in links


def _batch(crm: HubSpotCRM, owner: str, contact: str, numbers: Sequence[int]) -> list[Task]:
    made = crm.create_tasks({f"wf-{n}": _new_task(owner, contact, None, n) for n in numbers})
    assert made.refused == {}
    return [made.created[f"wf-{n}"] for n in numbers]


def test_batch_task_create_matches_results_to_inputs_by_trace_id(crm: HubSpotCRM, admin):
    owner = _owner(admin)
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    tasks = _batch(crm, owner, contact.id, range(3))
    assert [t.subject for t in tasks] == ["Follow up 0", "Follow up 1", "Follow up 2"]
    assert all(t.contact_ids == (contact.id,) for t in tasks)
    assert len(_portal(admin)["objects"]["tasks"]) == 3
    assert _calls(admin, "POST /crm/v3/objects/{object_type}/batch/create") == 1


def test_batch_results_without_trace_ids_are_matched_by_the_marker_in_their_body(
    crm: HubSpotCRM, admin
):
    # HubSpot's legacy v3 answer carries no objectWriteTraceId: each body names its input.
    admin.config(batch_echo_trace_ids=False)
    owner = _owner(admin)
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    tasks = _batch(crm, owner, contact.id, range(12))
    assert [t.subject for t in tasks] == [f"Follow up {n}" for n in range(12)]
    assert len(_portal(admin)["objects"]["tasks"]) == 12


def test_a_207_creates_the_good_inputs_and_names_the_refused_one(crm: HubSpotCRM, admin):
    owner = _owner(admin)
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    tasks = {f"wf-{n}": _new_task(owner, contact.id, None, n) for n in range(3)}
    tasks["wf-1"] = _new_task(owner, "999999999", None, 1)  # no such contact: refused
    made = crm.create_tasks(tasks)
    assert sorted(made.created) == ["wf-0", "wf-2"]
    assert made.created["wf-2"].subject == "Follow up 2"
    assert list(made.refused) == ["wf-1"]
    assert len(_portal(admin)["objects"]["tasks"]) == 2


def test_a_batch_that_fails_after_committing_is_a_transient_error(crm: HubSpotCRM, admin):
    # A 500 after the commit: the tasks exist, but nothing can say which is which.
    admin.fault(pathPattern="/crm/v3/objects/tasks/batch/create", status=500, afterCommit=True)
    owner = _owner(admin)
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    with pytest.raises(TransientError):
        crm.create_tasks({f"wf-{n}": _new_task(owner, contact.id, None, n) for n in range(2)})
    assert len(_portal(admin)["objects"]["tasks"]) == 2


def test_batch_task_read_leaves_out_deleted_tasks(crm: HubSpotCRM, admin, sandbox_url):
    import httpx

    owner = _owner(admin)
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    made = _batch(crm, owner, contact.id, range(3))
    # The owner deletes one task in HubSpot.
    httpx.delete(
        f"{sandbox_url}/crm/v3/objects/tasks/{made[1].id}",
        headers={"Authorization": "Bearer sandbox-token"},
    ).raise_for_status()

    read = crm.get_tasks([t.id for t in made] + [made[0].id])

    assert set(read) == {made[0].id, made[2].id}
    assert read[made[2].id].subject == "Follow up 2"
    assert read[made[0].id].status == TaskStatus.NOT_STARTED
    assert _calls(admin, "POST /crm/v3/objects/{object_type}/batch/read") == 1
    assert crm.get_tasks([]) == {}


def test_find_task_by_marker(crm: HubSpotCRM, admin):
    owner = _owner(admin)
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    made = _batch(crm, owner, contact.id, (1, 12))
    found = crm.find_task_by_marker("[sales-agent workflow wf-1]")
    assert found is not None
    assert found.id == made[0].id
    assert found.contact_ids == (contact.id,)
    assert crm.find_task_by_marker("[sales-agent workflow wf-99]") is None


def test_invalid_task_is_permanent(crm: HubSpotCRM, admin):
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    bad = _new_task("999", contact.id, None).model_copy(update={"priority": "URGENT"})
    with pytest.raises(PermanentError) as caught:
        crm.create_task(bad)
    assert caught.value.http_status == 400
    assert "INVALID_OPTION" in (caught.value.vendor_message or "")


def test_note_create(crm: HubSpotCRM, admin):
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    at = datetime(2030, 1, 7, 12, 30, tzinfo=UTC)
    note = crm.create_note(NewNote(body="Drafted a follow-up", timestamp=at, contact_id=contact.id))
    assert note.body == "Drafted a follow-up"
    assert note.timestamp == at
    links = {(a["fromId"], a["toId"], a["typeId"]) for a in _portal(admin)["associations"]}
    assert (note.id, contact.id, NOTE_TO_CONTACT) in links


def test_form_submissions_page_by_page_and_all(crm: HubSpotCRM, admin):
    start = datetime(2030, 1, 1, tzinfo=UTC)
    admin.seed(
        forms=["form-1"],
        formSubmissions=[
            {
                "formGuid": "form-1",
                "conversionId": f"conv-{i:03d}",
                "submittedAt": (start + timedelta(minutes=i)).isoformat(),
                "values": [
                    {"name": "email", "value": f"lead{i}@example.com"},
                    {"name": "topics", "value": "a"},
                    {"name": "topics", "value": "b"},
                ],
            }
            for i in range(120)
        ],
    )
    page = crm.list_form_submissions("form-1", limit=50)
    assert len(page.submissions) == 50
    assert page.next_after
    newest = page.submissions[0]
    assert newest.conversion_id == "conv-119"
    assert newest.submitted_at == start + timedelta(minutes=119)
    assert newest.values == {"email": "lead119@example.com", "topics": "a;b"}
    assert newest.form_id == "form-1"
    everything = list(crm.iter_form_submissions("form-1"))
    assert len(everything) == 120
    assert len({s.conversion_id for s in everything}) == 120
    with pytest.raises(PermanentError) as caught:
        crm.list_form_submissions("no-such-form")
    assert caught.value.http_status == 404
