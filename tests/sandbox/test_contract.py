"""The sandbox's answers, parsed by the vendors' own SDK models and discovery documents."""

from __future__ import annotations

import base64
import importlib
import json
import os
from email.message import EmailMessage
from typing import Any

import googleapiclient
import hubspot
import pytest
from google.auth.credentials import AnonymousCredentials
from googleapiclient.discovery import build
from hubspot.crm.companies import Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInputForCreate,
)

TOKEN = "pat-contract"
_DISCOVERY = os.path.join(
    os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents", "gmail.v1.json"
)
with open(_DISCOVERY, encoding="utf-8") as _doc:
    GMAIL_SCHEMAS: dict[str, Any] = json.load(_doc)["schemas"]
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


@pytest.fixture
def client(sandbox_url: str, admin: Any) -> hubspot.Client:
    admin.register_token(TOKEN)
    return hubspot.Client.create(access_token=TOKEN, host=sandbox_url, base_url=sandbox_url)


@pytest.fixture
def gmail(sandbox_url: str, admin: Any) -> Any:
    return build(
        "gmail",
        "v1",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": f"{sandbox_url}/"},
        static_discovery=True,
        cache_discovery=False,
    )


def _model_type(cls: type, spec: str) -> type | None:
    models = importlib.import_module(cls.__module__.rsplit(".", 1)[0])
    found = getattr(models, spec, None)
    return found if isinstance(found, type) else None


def _declared(data: Any, cls: type, spec: str | None = None) -> None:
    """Fail on any JSON key the SDK model does not declare (the SDK would drop it silently)."""
    if spec is not None:
        if spec.startswith("list["):
            assert isinstance(data, list), spec
            for item in data:
                _declared(item, cls, spec[5:-1])
            return
        if spec.startswith("dict("):
            assert isinstance(data, dict), spec
            inner = spec[spec.index(",") + 1 : -1].strip()
            for value in data.values():
                _declared(value, cls, inner)
            return
        model = _model_type(cls, spec)
        if model is None:
            return
        cls = model
    assert isinstance(data, dict), f"{cls.__name__} expects an object"
    by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}  # type: ignore[attr-defined]
    undeclared = sorted(set(data) - set(by_json))
    assert not undeclared, f"{cls.__name__} does not declare {undeclared}"
    for key, value in data.items():
        if value is not None:
            _declared(value, cls, cls.openapi_types[by_json[key]])  # type: ignore[attr-defined]


def _parse(api: Any, raw: Any, model_name: str) -> Any:
    """Deserialize a raw answer with the SDK's own ApiClient, as a normal call would."""
    assert raw.status < 300, raw.data
    model = api.api_client.deserialize(raw, model_name)
    assert type(model).__name__ == model_name
    _declared(json.loads(raw.data), type(model))
    return model


def _gmail_shape(data: Any, schema: str, path: str = "") -> None:
    """Check a Gmail resource against its discovery schema: declared keys, JSON types."""
    properties = GMAIL_SCHEMAS[schema]["properties"]
    undeclared = sorted(set(data) - set(properties))
    assert not undeclared, f"{schema}{path} does not declare {undeclared}"
    for key, value in data.items():
        _gmail_value(value, properties[key], f"{path}.{key}")


def _gmail_value(value: Any, prop: dict[str, Any], path: str) -> None:
    if "$ref" in prop:
        assert isinstance(value, dict), path
        _gmail_shape(value, prop["$ref"], path)
        return
    assert isinstance(value, _JSON_TYPES[prop["type"]]), f"{path}: {value!r} is not {prop['type']}"
    if isinstance(value, list):
        for item in value:
            _gmail_value(item, prop["items"], f"{path}[]")


def test_hubspot_contact_answers_parse_into_sdk_models(client: hubspot.Client) -> None:
    contacts = client.crm.contacts
    batch = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            SimplePublicObjectBatchInputUpsert(
                id="ann@acme.example", id_property="email", properties={"firstname": "Ann"}
            )
        ]
    )
    raw = contacts.batch_api.upsert(batch, _preload_content=False)
    upserted = _parse(contacts.batch_api, raw, "BatchResponseSimplePublicUpsertObject")
    assert upserted.status == "COMPLETE"
    assert upserted.results[0].new is True
    contact_id = upserted.results[0].id

    raw = contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "bo@acme.example"}),
        _preload_content=False,
    )
    created = _parse(contacts.basic_api, raw, "SimplePublicObject")
    assert created.properties["email"] == "bo@acme.example"

    raw = contacts.basic_api.get_by_id(contact_id, properties=["firstname"], _preload_content=False)
    read = _parse(contacts.basic_api, raw, "SimplePublicObjectWithAssociations")
    assert read.properties["firstname"] == "Ann"
    assert read.created_at is not None


def test_hubspot_search_and_owners_parse_into_sdk_models(
    client: hubspot.Client, admin: Any
) -> None:
    admin.seed(
        owners=[{"id": "123", "email": "ada@ourco.example", "firstName": "Ada", "lastName": "L"}],
        companies=[{"properties": {"name": "Acme", "domain": "acme.example"}}],
    )
    companies = client.crm.companies
    request = PublicObjectSearchRequest(
        filter_groups=[
            FilterGroup(
                filters=[Filter(property_name="domain", operator="EQ", value="acme.example")]
            )
        ],
        properties=["name", "domain"],
        limit=1,
    )
    raw = companies.search_api.do_search(
        public_object_search_request=request, _preload_content=False
    )
    found = _parse(
        companies.search_api, raw, "CollectionResponseWithTotalSimplePublicObjectForwardPaging"
    )
    assert found.total == 1
    assert found.results[0].properties["name"] == "Acme"

    owners = client.crm.owners.owners_api
    raw = owners.get_page(email="ada@ourco.example", _preload_content=False)
    page = _parse(owners, raw, "CollectionResponsePublicOwnerForwardPaging")
    assert [o.email for o in page.results] == ["ada@ourco.example"]
    owner = _parse(owners, owners.get_by_id("123", _preload_content=False), "PublicOwner")
    assert (owner.first_name, owner.last_name, owner.archived) == ("Ada", "L", False)


def test_gmail_answers_have_the_discovery_shapes(gmail: Any, admin: Any) -> None:
    admin.reset(demo=True)
    user = "alex.morgan@sandbox.example.com"
    thread = gmail.users().threads().get(userId=user, id="thread-acme-robotics").execute()
    _gmail_shape(thread, "Thread")
    assert thread["id"] == "thread-acme-robotics"
    last = thread["messages"][-1]
    assert last["threadId"] == thread["id"]
    assert "INBOX" in last["labelIds"]
    headers = {h["name"]: h["value"] for h in last["payload"]["headers"]}
    assert headers["Subject"] == "Re: Warehouse automation pilot"

    listed = gmail.users().threads().list(userId=user, q="from:jordan.lee@acme-robotics.example")
    listed = listed.execute()
    _gmail_shape(listed, "ListThreadsResponse")

    reply = EmailMessage()
    reply["To"] = "jordan.lee@acme-robotics.example"
    reply["Subject"] = "Re: Warehouse automation pilot"
    reply["In-Reply-To"] = headers["Message-ID"]
    reply["References"] = headers["Message-ID"]
    reply.set_content("Tuesday at 2pm works.")
    raw = base64.urlsafe_b64encode(reply.as_bytes()).decode()
    body = {"message": {"raw": raw, "threadId": thread["id"]}}
    draft = gmail.users().drafts().create(userId=user, body=body).execute()
    _gmail_shape(draft, "Draft")
    assert draft["message"]["threadId"] == thread["id"]
    full = gmail.users().drafts().get(userId=user, id=draft["id"]).execute()
    _gmail_shape(full, "Draft")
    assert full["message"]["payload"]["headers"]

    message = gmail.users().messages().get(userId=user, id=last["id"]).execute()
    _gmail_shape(message, "Message")
    sent = gmail.users().drafts().send(userId=user, body={"id": draft["id"]}).execute()
    _gmail_shape(sent, "Message")
    labels = gmail.users().labels().list(userId=user).execute()["labels"]
    for label in labels:
        _gmail_shape(label, "Label")

    assert [d["id"] for d in admin.sent()] == [sent["id"]]
    assert len(admin.sent(include_seeded=True)) == 3
    assert admin.drafts() == []
