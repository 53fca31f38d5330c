"""The HubSpot side of the sandbox, driven only through hubspot-api-client over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import hubspot
import pytest
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.companies import ApiException as CompaniesApiException
from hubspot.crm.companies import Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import (
    ApiException as ContactsApiException,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.objects.tasks import (
    ApiException as TasksApiException,
)
from hubspot.crm.objects.tasks import (
    AssociationSpec,
    BatchInputSimplePublicObjectBatchInputForCreate,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.owners import ApiException as OwnersApiException

TOKEN = "pat-sandbox-test"


@pytest.fixture
def client(sandbox_url: str, admin) -> hubspot.Client:
    # Tokens are bound to a portal: this one to the default portal (1000).
    admin.register_token(TOKEN)
    # `host` becomes Configuration.host of every generated API client; `base_url`
    # is what the SDK's generic api_request() uses.
    return hubspot.Client.create(access_token=TOKEN, host=sandbox_url, base_url=sandbox_url)


def _upsert(client: hubspot.Client, email: str, **props: str):
    batch = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[SimplePublicObjectBatchInputUpsert(id=email, id_property="email", properties=props)]
    )
    return client.crm.contacts.batch_api.upsert(batch)


def _company(client: hubspot.Client, name: str, domain: str) -> str:
    created = client.crm.companies.basic_api.create(
        CompanyInput(properties={"name": name, "domain": domain})
    )
    return created.id


def _owner(admin) -> str:
    return admin.seed(owners=[{"email": "ada@ourco.example", "firstName": "Ada", "lastName": "L"}])[
        "owners"
    ][0]


def test_batch_upsert_twice_by_email_gives_one_contact(client, admin):
    first = _upsert(client, "Jane@Acme.example", firstname="Jane")
    second = _upsert(client, "jane@acme.example", lastname="Doe", jobtitle="CTO")

    assert first.status == "COMPLETE"
    assert first.results[0].new is True
    assert second.results[0].new is False
    assert first.results[0].id == second.results[0].id
    contact = client.crm.contacts.basic_api.get_by_id(
        "jane@acme.example", id_property="email", properties=["firstname", "lastname", "jobtitle"]
    )
    assert contact.id == first.results[0].id
    assert contact.properties["firstname"] == "Jane"
    assert contact.properties["jobtitle"] == "CTO"
    contacts = admin.state("hubspot")["hubspot"]["portals"]["1000"]["objects"]["contacts"]
    assert len(contacts) == 1


def test_unknown_property_is_hubspot_validation_error(client):
    with pytest.raises(ContactsApiException) as caught:
        _upsert(client, "x@acme.example", favourite_colour="blue")
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["status"] == "error"
    assert "PROPERTY_DOESNT_EXIST" in body["message"]
    assert body["correlationId"]


def test_missing_contact_is_object_not_found(client):
    with pytest.raises(ContactsApiException) as caught:
        client.crm.contacts.basic_api.get_by_id("999999")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["category"] == "OBJECT_NOT_FOUND"


def test_company_search_by_domain_and_by_name(client):
    acme = _company(client, "Acme Corp", "acme.example")
    _company(client, "Globex", "globex.example")

    def search(prop: str, value: str):
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(filters=[Filter(property_name=prop, operator="EQ", value=value)])
            ],
            properties=["name", "domain"],
            limit=10,
        )
        return client.crm.companies.search_api.do_search(public_object_search_request=request)

    by_domain = search("domain", "ACME.example")
    assert by_domain.total == 1
    assert by_domain.results[0].id == acme
    assert by_domain.results[0].properties["name"] == "Acme Corp"
    assert search("name", "globex").results[0].properties["domain"] == "globex.example"
    assert search("domain", "nobody.example").total == 0
    fetched = client.crm.companies.basic_api.get_by_id(acme)
    assert fetched.properties["domain"] == "acme.example"


def test_search_is_limited_to_four_per_second(client):
    request = PublicObjectSearchRequest(filter_groups=[], limit=1)
    for _ in range(4):
        client.crm.companies.search_api.do_search(public_object_search_request=request)
    with pytest.raises(CompaniesApiException) as caught:
        client.crm.companies.search_api.do_search(public_object_search_request=request)
    assert caught.value.status == 429
    assert json.loads(caught.value.body)["policyName"] == "SECONDLY"


def test_task_with_associations_then_get_and_patch(client, admin):
    owner_id = _owner(admin)
    contact_id = _upsert(client, "bob@acme.example").results[0].id
    company_id = _company(client, "Acme", "acme.example")
    client.crm.associations.v4.basic_api.create_default(
        "contacts", contact_id, "companies", company_id
    )
    due = datetime(2030, 1, 2, 15, 0, tzinfo=UTC)
    task_input = SimplePublicObjectInputForCreate(
        properties={
            "hs_timestamp": due.isoformat(),
            "hs_task_subject": "Follow up with Bob",
            "hs_task_body": "Send the case study",
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": "HIGH",
            "hs_task_type": "EMAIL",
            "hubspot_owner_id": owner_id,
        },
        associations=[
            PublicAssociationsForObject(
                to=PublicObjectId(id=contact_id),
                types=[
                    AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=204)
                ],
            ),
            PublicAssociationsForObject(
                to=PublicObjectId(id=company_id),
                types=[
                    AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=192)
                ],
            ),
        ],
    )
    created = client.crm.objects.tasks.basic_api.create(task_input)
    task = client.crm.objects.tasks.basic_api.get_by_id(
        created.id,
        properties=["hs_task_subject", "hs_timestamp", "hubspot_owner_id"],
        associations=["contacts", "companies"],
    )
    assert task.properties["hs_task_subject"] == "Follow up with Bob"
    assert task.properties["hs_timestamp"] == "2030-01-02T15:00:00.000Z"
    assert task.properties["hubspot_owner_id"] == owner_id
    assert [a.id for a in task.associations["contacts"].results] == [contact_id]
    assert [a.id for a in task.associations["companies"].results] == [company_id]

    patched = client.crm.objects.tasks.basic_api.update(
        created.id, SimplePublicObjectInput(properties={"hs_task_status": "COMPLETED"})
    )
    assert patched.properties["hs_task_status"] == "COMPLETED"
    with pytest.raises(TasksApiException) as caught:
        client.crm.objects.tasks.basic_api.update(
            created.id, SimplePublicObjectInput(properties={"hs_task_status": "DONE"})
        )
    assert caught.value.status == 400

    contact = client.crm.contacts.basic_api.get_by_id(
        contact_id, associations=["companies", "tasks"]
    )
    assert [a.id for a in contact.associations["companies"].results] == [company_id]
    assert [a.id for a in contact.associations["tasks"].results] == [created.id]


def test_task_batch_create_and_note(client):
    contact_id = _upsert(client, "carol@acme.example").results[0].id
    batch = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            SimplePublicObjectBatchInputForCreate(
                properties={"hs_timestamp": "1893456000000", "hs_task_subject": f"Task {n}"},
                associations=[],
            )
            for n in range(3)
        ]
    )
    created = client.crm.objects.tasks.batch_api.create(batch)
    assert created.status == "COMPLETE"
    assert len(created.results) == 3
    note = client.crm.objects.notes.basic_api.create(
        {
            "properties": {"hs_timestamp": "2030-01-01T00:00:00Z", "hs_note_body": "Called"},
            "associations": [
                {
                    "to": {"id": contact_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
                }
            ],
        }
    )
    assert note.properties["hs_note_body"] == "Called"


def test_default_association_rejects_missing_object(client):
    with pytest.raises(AssociationsApiException) as caught:
        client.crm.associations.v4.basic_api.create_default("contacts", "1", "companies", "2")
    assert caught.value.status == 404


def test_owners_list_and_get(client, admin):
    owner_id = _owner(admin)
    page = client.crm.owners.owners_api.get_page(email="ada@ourco.example")
    assert [o.id for o in page.results] == [owner_id]
    owner = client.crm.owners.owners_api.get_by_id(owner_id)
    assert owner.first_name == "Ada"


def test_rolling_window_answers_429_with_hubspot_headers(client, sandbox_url, admin):
    admin.seed(tokens={"tight-token": 2000}, portalId=2000, rateLimitMax=3)
    tight = hubspot.Client.create(access_token="tight-token", host=sandbox_url)
    for _ in range(3):
        tight.crm.owners.owners_api.get_page()
    with pytest.raises(OwnersApiException) as caught:
        tight.crm.owners.owners_api.get_page()
    exc = caught.value
    assert exc.status == 429
    assert exc.headers["X-HubSpot-RateLimit-Max"] == "3"
    assert exc.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert exc.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    body = json.loads(exc.body)
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["category"] == "RATE_LIMITS"
    assert body["correlationId"]
    # Another portal's window is untouched.
    client.crm.owners.owners_api.get_page()


def test_injected_503_reaches_the_sdk(client, admin):
    admin.fault(pathPattern="/crm/v3/objects/contacts/batch/*", status=503, count=1, retryAfter=7)
    with pytest.raises(ContactsApiException) as caught:
        _upsert(client, "dan@acme.example")
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "7"
    assert _upsert(client, "dan@acme.example").status == "COMPLETE"


def test_fail_after_commit_keeps_the_write(client, admin):
    admin.fault(
        pathPattern="/crm/v3/objects/companies", method="POST", status=500, afterCommit=True
    )
    with pytest.raises(CompaniesApiException) as caught:
        _company(client, "Initech", "initech.example")
    assert caught.value.status == 500
    companies = admin.state("hubspot")["hubspot"]["portals"]["1000"]["objects"]["companies"]
    assert [c["properties"]["name"] for c in companies] == ["Initech"]


def test_missing_token_is_401(sandbox_url):
    anonymous = hubspot.Client.create(host=sandbox_url)
    with pytest.raises(OwnersApiException) as caught:
        anonymous.crm.owners.owners_api.get_page()
    assert caught.value.status == 401
    assert json.loads(caught.value.body)["category"] == "INVALID_AUTHENTICATION"


def test_form_submissions_paging(client, admin):
    admin.seed(
        formSubmissions=[
            {
                "formGuid": "form-1",
                "submittedAt": 1_700_000_000_000 + n * 1000,
                "values": {"email": f"lead{n}@acme.example", "firstname": f"Lead{n}"},
            }
            for n in range(5)
        ]
    )
    seen = []
    after = None
    pages = 0
    while True:
        qs = {"limit": 2} | ({"after": after} if after else {})
        response = client.api_request(
            {"method": "GET", "path": "/form-integrations/v1/submissions/forms/form-1", "qs": qs}
        )
        assert response.status_code == 200
        body = response.json()
        pages += 1
        seen += [v["value"] for r in body["results"] for v in r["values"] if v["name"] == "email"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert pages == 3
    assert seen == [f"lead{n}@acme.example" for n in reversed(range(5))]
    too_many = client.api_request(
        {
            "method": "GET",
            "path": "/form-integrations/v1/submissions/forms/form-1",
            "qs": {"limit": 51},
        }
    )
    assert too_many.status_code == 400
