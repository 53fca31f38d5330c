"""HubSpot CRM v3/v4 endpoints: records, batch upsert, create and read, search, associations,
owners."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from . import hubspot_objects as objs
from .deps import PortalDep, StoreDep
from .errors import HubSpotError
from .hubspot_schema import ASSOCIATION_TYPES, DEFAULT_ASSOCIATION
from .state import CrmObject, Owner, Portal, Store, iso, utcnow

router = APIRouter(tags=["hubspot-crm"])

JsonBody = Annotated[dict[str, Any], Body()]
_BATCH_LIMIT = 100


def _csv(values: list[str] | None) -> list[str] | None:
    # The SDK repeats the parameter (multi format); browsers and curl send a comma list.
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _batch_envelope(results: list[dict[str, Any]], started: str) -> dict[str, Any]:
    return {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso(utcnow()),
    }


def _inputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise HubSpotError(400, "Invalid input JSON on line 1: inputs must be an array")
    if len(inputs) > _BATCH_LIMIT:
        raise HubSpotError(400, f"Batch input exceeds the limit of {_BATCH_LIMIT} inputs")
    return inputs


@router.post("/crm/v3/objects/{object_type}/batch/upsert")
def batch_upsert(
    object_type: str, body: JsonBody, store: StoreDep, portal: PortalDep
) -> dict[str, Any]:
    """Create or update records by a unique property (contacts: idProperty=email)."""
    otype = objs.object_type(object_type)
    started = iso(utcnow())
    inputs = _inputs(body)
    ids = [str(item.get("id", "")).lower() for item in inputs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise HubSpotError(
            400, f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique"
        )
    with store.locked():
        # Validate everything first: HubSpot rejects the whole batch on a bad property.
        planned = []
        for item in inputs:
            id_property = item.get("idProperty") or "hs_object_id"
            if id_property not in ("hs_object_id", "email") or (
                id_property == "email" and otype != "contacts"
            ):
                raise HubSpotError(400, f"{id_property} is not a unique identifier property")
            props = objs.validate_properties(
                portal, otype, item.get("properties") or {}, creating=False
            )
            planned.append((str(item.get("id", "")), id_property, props))
        results = []
        for record_id, id_property, props in planned:
            if id_property == "email":
                existing = objs.find_by_property(portal, otype, "email", record_id)
            else:
                existing = objs.lookup(portal, otype, record_id, None)
            if existing is None:
                obj = objs.create_object(
                    store, portal, otype, {**props, "email": record_id.lower()}
                )
            else:
                obj = existing
                objs.update_object(portal, obj, props)
            result = objs.object_json(portal, obj, ["*"])
            result["new"] = existing is None
            results.append(result)
    return _batch_envelope(results, started)


@router.post("/crm/v3/objects/{object_type}/batch/create", status_code=201)
def batch_create(
    object_type: str, body: JsonBody, store: StoreDep, portal: PortalDep
) -> JSONResponse:
    """Create several records, each with optional associations.

    With an objectWriteTraceId on every input (HubSpot's multi-status mode) each input
    stands alone: results echo their trace id, and refused inputs come back as a 207's
    errors, each naming its trace id in `context`.
    """
    otype = objs.object_type(object_type)
    started = iso(utcnow())
    inputs = _inputs(body)
    traced = bool(inputs) and all(item.get("objectWriteTraceId") for item in inputs)
    created: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    with store.locked():
        for item in inputs:
            if not traced:
                created.append(_create(store, portal, otype, item))
                continue
            trace = str(item["objectWriteTraceId"])
            try:
                made = _create(store, portal, otype, item)
                echo = store.config.batch_echo_trace_ids
                created.append({**made, "objectWriteTraceId": trace} if echo else made)
            except HubSpotError as exc:
                errors.append(_trace_error(exc, trace))
    envelope = _batch_envelope(created, started)
    if not errors:
        return JSONResponse(envelope, status_code=201)
    envelope.update(numErrors=len(errors), errors=errors)
    return JSONResponse(envelope, status_code=207)


def _trace_error(exc: HubSpotError, trace: str) -> dict[str, Any]:
    return {
        "status": "error",
        "category": exc.category,
        "message": exc.message,
        "context": {**(exc.context or {}), "objectWriteTraceId": [trace]},
        "errors": exc.errors or [],
        "links": {},
    }


@router.post("/crm/v3/objects/{object_type}/batch/read")
def batch_read(
    object_type: str, body: JsonBody, store: StoreDep, portal: PortalDep
) -> JSONResponse:
    """Read several live records by id; ids HubSpot does not have (or archived) come back
    as a 207's errors (`?archived=true`, reading archived records, is not emulated)."""
    otype = objs.object_type(object_type)
    started = iso(utcnow())
    inputs = _inputs(body)
    id_property = body.get("idProperty")
    wanted = _csv(body.get("properties")) or None
    found: list[dict[str, Any]] = []
    missing: list[str] = []
    with store.locked():
        for item in inputs:
            record_id = str(item.get("id", ""))
            try:
                obj = objs.lookup(portal, otype, record_id, id_property)
            except HubSpotError:
                missing.append(record_id)
                continue
            found.append(objs.object_json(portal, obj, wanted))
    envelope = _batch_envelope(found, started)
    if not missing:
        return JSONResponse(envelope)
    label = otype.rstrip("s").upper()
    envelope["numErrors"] = 1
    envelope["errors"] = [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {label} objects, they may be deleted or not "
            "exist. Check that ids are valid.",
            "context": {"ids": missing},
        }
    ]
    return JSONResponse(envelope, status_code=207)


@router.post("/crm/v3/objects/{object_type}/search")
def search(object_type: str, body: JsonBody, store: StoreDep, portal: PortalDep) -> dict[str, Any]:
    """Search records with filterGroups, sorts, query and paging."""
    otype = objs.object_type(object_type)
    with store.locked():
        return objs.search(store, portal, otype, body)


@router.post("/crm/v3/objects/{object_type}", status_code=201)
def create(object_type: str, body: JsonBody, store: StoreDep, portal: PortalDep) -> dict[str, Any]:
    """Create one record, with optional associations."""
    otype = objs.object_type(object_type)
    with store.locked():
        return _create(store, portal, otype, body)


def _create(store: Store, portal: Portal, otype: str, body: dict[str, Any]) -> dict[str, Any]:
    props = objs.validate_properties(portal, otype, body.get("properties") or {}, creating=True)
    # Check associations against a throwaway record before writing anything.
    probe = CrmObject("", otype, {}, utcnow(), utcnow())
    planned = objs.apply_associations(portal, probe, body.get("associations"))
    obj = objs.create_object(store, portal, otype, props)
    for to, to_id, type_id in planned:
        objs.associate(portal, otype, obj.id, to, to_id, type_id)
    return objs.object_json(portal, obj, ["*"])


@router.get("/crm/v3/objects/{object_type}/{object_id}")
def read(
    object_type: str,
    object_id: str,
    store: StoreDep,
    portal: PortalDep,
    properties: Annotated[list[str] | None, Query()] = None,
    associations: Annotated[list[str] | None, Query()] = None,
    id_property: Annotated[str | None, Query(alias="idProperty")] = None,
) -> dict[str, Any]:
    """Read one record by id or unique property, with chosen properties and associations."""
    otype = objs.object_type(object_type)
    with store.locked():
        obj = objs.lookup(portal, otype, object_id, id_property)
        return objs.object_json(portal, obj, _csv(properties), _csv(associations))


@router.patch("/crm/v3/objects/{object_type}/{object_id}")
def update(
    object_type: str,
    object_id: str,
    body: JsonBody,
    store: StoreDep,
    portal: PortalDep,
    id_property: Annotated[str | None, Query(alias="idProperty")] = None,
) -> dict[str, Any]:
    """Update some properties of one record."""
    otype = objs.object_type(object_type)
    with store.locked():
        obj = objs.lookup(portal, otype, object_id, id_property)
        props = objs.validate_properties(
            portal, otype, body.get("properties") or {}, creating=False
        )
        objs.update_object(portal, obj, props)
        return objs.object_json(portal, obj, ["*"])


@router.delete("/crm/v3/objects/{object_type}/{object_id}", status_code=204)
def archive(object_type: str, object_id: str, store: StoreDep, portal: PortalDep) -> None:
    """Archive (HubSpot's delete) one record; it no longer reads or searches."""
    otype = objs.object_type(object_type)
    with store.locked():
        obj = objs.lookup(portal, otype, object_id, None)
        obj.archived = True
        obj.updated_at = utcnow()


@router.put("/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}")
def associate_default(
    from_type: str, from_id: str, to_type: str, to_id: str, store: StoreDep, portal: PortalDep
) -> dict[str, Any]:
    """Associate two records with the default (unlabeled) association type."""
    frm, to = objs.object_type(from_type), objs.object_type(to_type)
    started = iso(utcnow())
    type_id = DEFAULT_ASSOCIATION.get((frm, to))
    if type_id is None:
        raise HubSpotError(400, f"No default association type between {frm} and {to}")
    with store.locked():
        objs.lookup(portal, frm, from_id, None)
        objs.lookup(portal, to, to_id, None)
        objs.associate(portal, frm, from_id, to, to_id, type_id)
    inverse = ASSOCIATION_TYPES[type_id][2]
    results = [
        _default_result(from_id, to_id, type_id),
        _default_result(to_id, from_id, inverse),
    ]
    return _batch_envelope(results, started)


def _default_result(from_id: str, to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "from": {"id": from_id},
        "to": {"id": to_id},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
    }


@router.get("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}")
def list_associations(
    from_type: str, from_id: str, to_type: str, store: StoreDep, portal: PortalDep
) -> dict[str, Any]:
    """List a record's associations to one object type, with their types."""
    frm, to = objs.object_type(from_type), objs.object_type(to_type)
    grouped: dict[str, list[int]] = {}
    with store.locked():
        for f, fid, t, tid, type_id in sorted(portal.associations):
            if f == frm and fid == from_id and t == to:
                grouped.setdefault(tid, []).append(type_id)
    results = [
        {
            "toObjectId": int(tid),
            "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                for type_id in type_ids
            ],
        }
        for tid, type_ids in grouped.items()
    ]
    return {"results": results}


def owner_json(owner: Owner) -> dict[str, Any]:
    """Serialise an owner as PublicOwner."""
    return {
        "id": owner.id,
        "email": owner.email,
        "type": "PERSON",
        "firstName": owner.first_name,
        "lastName": owner.last_name,
        "userId": owner.user_id,
        "userIdIncludingInactive": owner.user_id,
        "createdAt": iso(owner.created_at),
        "updatedAt": iso(owner.updated_at),
        "archived": owner.archived,
        "teams": owner.teams,
    }


@router.get("/crm/v3/owners/")
@router.get("/crm/v3/owners", include_in_schema=False)
def list_owners(
    store: StoreDep,
    portal: PortalDep,
    email: str | None = None,
    after: str | None = None,
    limit: int = 100,
    archived: bool = False,
) -> dict[str, Any]:
    """List owners, optionally by email, with cursor paging."""
    with store.locked():
        owners = [
            o
            for o in sorted(portal.owners.values(), key=lambda o: int(o.id))
            if o.archived == archived and (email is None or o.email.lower() == email.lower())
        ]
    start = int(after or 0)
    page = owners[start : start + limit]
    body: dict[str, Any] = {"results": [owner_json(o) for o in page]}
    if start + limit < len(owners):
        body["paging"] = {"next": {"after": str(start + limit)}}
    return body


@router.get("/crm/v3/owners/{owner_id}")
def get_owner(
    owner_id: str,
    store: StoreDep,
    portal: PortalDep,
    id_property: Annotated[str, Query(alias="idProperty")] = "id",
    archived: bool = False,
) -> JSONResponse:
    """Read one owner by owner id or user id."""
    with store.locked():
        for owner in portal.owners.values():
            key = str(owner.user_id) if id_property == "userId" else owner.id
            if key == owner_id and owner.archived == archived:
                return JSONResponse(owner_json(owner))
    raise HubSpotError(404, f"Owner {owner_id} not found", "OBJECT_NOT_FOUND")
