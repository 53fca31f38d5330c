"""HubSpot's communication preferences v3 and a contact's email opt-out in the sandbox,
driven through hubspot-api-client over HTTP."""

from __future__ import annotations

from typing import Any

import hubspot
import pytest
from hubspot.communication_preferences import ApiException as PreferencesApiException
from hubspot.communication_preferences import PublicUpdateSubscriptionStatusRequest
from hubspot.crm.contacts import (
    ApiException as ContactsApiException,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
)
from hubspot.crm.objects.tasks import SimplePublicObjectInput as TaskInput

TOKEN = "pat-sandbox-prefs"
ONE_TO_ONE, MARKETING = "8000001", "8000002"
OPTED_OUT, PARTLY, FRESH = "out@prospect.example", "partly@prospect.example", "new@prospect.example"


@pytest.fixture
def client(sandbox_url: str, admin: Any) -> hubspot.Client:
    admin.register_token(TOKEN)
    return hubspot.Client.create(access_token=TOKEN, host=sandbox_url, base_url=sandbox_url)


def _seed(admin: Any) -> dict[str, Any]:
    created: dict[str, Any] = admin.seed(
        contacts=[
            {"email": OPTED_OUT, "firstname": "Olive", "hs_email_optout": "true"},
            {"email": PARTLY, "firstname": "Pat"},
        ],
        emailSubscriptions={
            PARTLY: {
                MARKETING: "NOT_SUBSCRIBED",
                ONE_TO_ONE: {"status": "SUBSCRIBED", "legalBasis": "LEGITIMATE_INTEREST_CLIENT"},
            }
        },
    )
    return created


def _request(email: str, subscription: str = ONE_TO_ONE) -> PublicUpdateSubscriptionStatusRequest:
    return PublicUpdateSubscriptionStatusRequest(
        email_address=email,
        subscription_id=subscription,
        legal_basis="LEGITIMATE_INTEREST_CLIENT",
        legal_basis_explanation="Asked us to stop",
    )


def _statuses(client: hubspot.Client, email: str) -> dict[str, tuple[str, str]]:
    answer = client.communication_preferences.status_api.get_email_status(email)
    assert answer.recipient == email
    return {s.id: (s.status, s.source_of_status) for s in answer.subscription_statuses}


def test_statuses_from_seeds_and_the_portal_wide_opt_out(client, admin):
    _seed(admin)
    definitions = client.communication_preferences.definition_api.get_page()
    names = {d.id: d.name for d in definitions.subscription_definitions}
    assert names == {ONE_TO_ONE: "One to One", MARKETING: "Marketing Information"}

    assert _statuses(client, PARTLY) == {
        ONE_TO_ONE: ("SUBSCRIBED", "SUBSCRIPTION_STATUS"),
        MARKETING: ("NOT_SUBSCRIBED", "SUBSCRIPTION_STATUS"),
    }
    assert _statuses(client, OPTED_OUT) == {
        ONE_TO_ONE: ("NOT_SUBSCRIBED", "PORTAL_WIDE_STATUS"),
        MARKETING: ("NOT_SUBSCRIBED", "PORTAL_WIDE_STATUS"),
    }
    # An address without any status (contact or not) lists none.
    assert _statuses(client, FRESH) == {}


def test_unsubscribe_and_subscribe_through_the_sdk(client, admin):
    _seed(admin)
    status = client.communication_preferences.status_api
    done = status.unsubscribe(_request(FRESH))
    assert (done.id, done.status, done.name) == (ONE_TO_ONE, "NOT_SUBSCRIBED", "One to One")
    assert done.legal_basis == "LEGITIMATE_INTEREST_CLIENT"
    assert _statuses(client, FRESH) == {ONE_TO_ONE: ("NOT_SUBSCRIBED", "SUBSCRIPTION_STATUS")}

    for call, request in (
        (status.unsubscribe, _request(FRESH)),  # already unsubscribed
        (status.subscribe, _request(FRESH)),  # opted out: v3 cannot resubscribe
        (status.subscribe, _request(OPTED_OUT, MARKETING)),
        (status.unsubscribe, _request(FRESH, "999")),
        (status.unsubscribe, _request("not-an-address")),
    ):
        with pytest.raises(PreferencesApiException) as caught:
            call(request)
        assert caught.value.status == 400
    assert _statuses(client, FRESH) == {ONE_TO_ONE: ("NOT_SUBSCRIBED", "SUBSCRIPTION_STATUS")}

    joined = status.subscribe(_request("someone@prospect.example", MARKETING))
    assert joined.status == "SUBSCRIBED"
    again = status.subscribe(_request("someone@prospect.example", MARKETING))
    assert again.status == "SUBSCRIBED"


def test_contacts_read_hs_email_optout_and_refuse_to_write_it(client, admin):
    created = _seed(admin)
    opted_id, partly_id = created["contacts"]
    wanted = ["email", "hs_email_optout", f"hs_email_optout_{MARKETING}"]
    contacts = client.crm.contacts

    one = contacts.basic_api.get_by_id(opted_id, properties=wanted)
    assert one.properties["hs_email_optout"] == "true"
    assert one.properties[f"hs_email_optout_{MARKETING}"] == "true"
    other = contacts.basic_api.get_by_id(partly_id, properties=wanted)
    assert other.properties["hs_email_optout"] is None
    assert other.properties[f"hs_email_optout_{MARKETING}"] == "true"

    batch = contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=opted_id), SimplePublicObjectId(id=partly_id)],
            properties=wanted,
            properties_with_history=[],
        )
    )
    by_email = {r.properties["email"]: r.properties["hs_email_optout"] for r in batch.results}
    assert by_email == {OPTED_OUT: "true", PARTLY: None}

    search = contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[Filter(property_name="hs_email_optout", operator="EQ", value="true")]
                )
            ],
            properties=wanted,
        )
    )
    assert [r.properties["email"] for r in search.results] == [OPTED_OUT]

    upserted = contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id=OPTED_OUT, id_property="email", properties={"lastname": "Ng"}
                )
            ]
        )
    )
    assert upserted.results[0].properties["hs_email_optout"] == "true"

    with pytest.raises(ContactsApiException) as caught:
        contacts.basic_api.update(
            partly_id, SimplePublicObjectInput(properties={"hs_email_optout": "true"})
        )
    assert caught.value.status == 400
    assert "READ_ONLY_VALUE" in caught.value.body


def test_a_task_is_completed_with_a_note_on_the_contact(client, admin):
    created = _seed(admin)
    contact_id = created["contacts"][1]
    task = client.crm.objects.tasks.basic_api.create(
        {"properties": {"hs_timestamp": "2030-01-01T09:00:00Z", "hs_task_subject": "Follow up"}}
    )
    done = client.crm.objects.tasks.basic_api.update(
        task.id,
        TaskInput(
            properties={"hs_task_status": "COMPLETED", "hs_task_body": "Stopped: they replied"}
        ),
    )
    assert done.properties["hs_task_status"] == "COMPLETED"
    assert done.properties["hs_task_body"] == "Stopped: they replied"
    note = client.crm.objects.notes.basic_api.create(
        {
            "properties": {"hs_timestamp": "2030-01-01T09:00:00Z", "hs_note_body": "Replied"},
            "associations": [
                {
                    "to": {"id": contact_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
                }
            ],
        }
    )
    (contact,) = [c for c in admin.contacts() if c["id"] == contact_id]
    assert contact["associations"]["notes"] == [note.id]
