"""HubSpot CRM record rules: property schemas, validation, associations, serialisation, search."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from . import hubspot_subscriptions as subs
from .errors import HubSpotError
from .hubspot_schema import (
    ASSOCIATION_TYPES,
    CREATED,
    DATETIME_PROPS,
    DEFAULT_READ,
    ENUMS,
    MODIFIED,
    OBJECT_TYPES,
    SINGULAR,
    UNLABELED,
    WRITABLE,
)
from .state import CrmObject, Portal, Store, iso, parse_time, utcnow

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def object_type(raw: str) -> str:
    """Normalise an object type name or id, as HubSpot accepts several spellings."""
    normal = OBJECT_TYPES.get(raw.lower())
    if normal is None:
        raise HubSpotError(400, f"Unable to infer object type from: {raw}")
    return normal


def association_name(type_id: int) -> str:
    """Name an association type the way v3 reads list it."""
    frm, to, _ = ASSOCIATION_TYPES[type_id]
    name = f"{SINGULAR[frm]}_to_{SINGULAR[to]}"
    return f"{name}_unlabeled" if type_id in UNLABELED else name


def _invalid(name: str, message: str, error: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
    }


def validate_properties(
    portal: Portal, otype: str, raw: Any, *, creating: bool
) -> dict[str, str | None]:
    """Check property names and values as HubSpot does; return them normalised to strings."""
    if not isinstance(raw, dict):
        raise HubSpotError(400, "Invalid input JSON: properties must be an object")
    known = WRITABLE[otype] | portal.custom_properties.get(otype, set())
    problems: list[dict[str, Any]] = []
    clean: dict[str, str | None] = {}
    for name, value in raw.items():
        if name not in known:
            read_only = name in subs.SEEDABLE or subs.is_optout_property(portal, name)
            if read_only or name == "hs_object_id" or name in MODIFIED.values():
                problems.append(
                    _invalid(name, f'"{name}" is a read only property', "READ_ONLY_VALUE")
                )
            else:
                problems.append(
                    _invalid(name, f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST")
                )
            continue
        text = (
            None
            if value is None
            else (str(value).lower() if isinstance(value, bool) else str(value))
        )
        if text is None or text == "":
            clean[name] = None
            continue
        problem = _check_value(portal, name, text)
        if isinstance(problem, dict):
            problems.append(problem)
        else:
            clean[name] = problem
    if otype in ("tasks", "notes") and creating and not clean.get("hs_timestamp"):
        problems.append(_invalid("hs_timestamp", "hs_timestamp is required", "REQUIRED_PROPERTY"))
    if problems:
        raise HubSpotError(
            400, f"Property values were not valid: {json.dumps(problems)}", "VALIDATION_ERROR"
        )
    return clean


def _check_value(portal: Portal, name: str, text: str) -> str | dict[str, Any]:
    if name == "email":
        if not _EMAIL.match(text):
            return _invalid(name, f"Email address {text} is invalid", "INVALID_EMAIL")
        return text.lower()
    if name in ENUMS and text not in ENUMS[name]:
        message = f"{text} was not one of the allowed options: {sorted(ENUMS[name])}"
        return _invalid(name, message, "INVALID_OPTION")
    if name in DATETIME_PROPS:
        try:
            return iso(parse_time(text))
        except ValueError:
            return _invalid(name, f"{text} is not a valid datetime", "INVALID_DATE")
    if name == "hubspot_owner_id" and text not in portal.owners:
        return _invalid(name, f"{text} is not a valid owner id", "INVALID_OWNER_ID")
    return text


def find_by_property(portal: Portal, otype: str, prop: str, value: str) -> CrmObject | None:
    """Find a live record by a property value (case-insensitive, like HubSpot's unique ids)."""
    wanted = value.lower()
    for obj in portal.table(otype).values():
        current = obj.properties.get(prop)
        if not obj.archived and current is not None and current.lower() == wanted:
            return obj
    return None


def lookup(portal: Portal, otype: str, object_id: str, id_property: str | None) -> CrmObject:
    """Return a live record by id or by a unique property, or HubSpot's 404."""
    if id_property and id_property != "hs_object_id":
        found = find_by_property(portal, otype, id_property, object_id)
    else:
        found = portal.table(otype).get(object_id)
    if found is None or found.archived:
        raise HubSpotError(
            404,
            "Object not found.  objectId are usually numeric.",
            "OBJECT_NOT_FOUND",
            context={"id": [object_id]},
        )
    return found


def create_object(
    store: Store, portal: Portal, otype: str, props: dict[str, str | None]
) -> CrmObject:
    """Insert a new record with HubSpot's system properties filled in."""
    if otype == "contacts" and props.get("email"):
        existing = find_by_property(portal, otype, "email", str(props["email"]))
        if existing is not None:
            raise HubSpotError(
                409, f"Contact already exists. Existing ID: {existing.id}", "CONFLICT"
            )
    now = utcnow()
    obj = CrmObject(store.crm_id(), otype, {}, now, now)
    obj.properties.update({k: v for k, v in props.items() if v is not None})
    obj.properties["hs_object_id"] = obj.id
    obj.properties[CREATED.get(otype, "hs_createdate")] = props.get("createdate") or iso(now)
    obj.properties[MODIFIED.get(otype, "hs_lastmodifieddate")] = iso(now)
    portal.table(otype)[obj.id] = obj
    return obj


def update_object(portal: Portal, obj: CrmObject, props: dict[str, str | None]) -> None:
    """Apply property changes (None clears a value) and touch the modified date."""
    if obj.object_type == "contacts" and props.get("email"):
        other = find_by_property(portal, "contacts", "email", str(props["email"]))
        if other is not None and other.id != obj.id:
            raise HubSpotError(409, f"Contact already exists. Existing ID: {other.id}", "CONFLICT")
    for name, value in props.items():
        if value is None:
            obj.properties.pop(name, None)
        else:
            obj.properties[name] = value
    obj.updated_at = utcnow()
    obj.properties[MODIFIED.get(obj.object_type, "hs_lastmodifieddate")] = iso(obj.updated_at)


def associate(portal: Portal, frm: str, from_id: str, to: str, to_id: str, type_id: int) -> None:
    """Record an association and its inverse, as HubSpot stores both directions."""
    inverse = ASSOCIATION_TYPES[type_id][2]
    portal.associations.add((frm, from_id, to, to_id, type_id))
    portal.associations.add((to, to_id, frm, from_id, inverse))


def apply_associations(portal: Portal, obj: CrmObject, raw: Any) -> list[tuple[str, str, int]]:
    """Validate a create call's `associations` array; return (to type, to id, type id) triples."""
    planned: list[tuple[str, str, int]] = []
    for item in raw or []:
        to_id = str((item.get("to") or {}).get("id", ""))
        for spec in item.get("types") or []:
            category = spec.get("associationCategory")
            type_id = spec.get("associationTypeId")
            info = ASSOCIATION_TYPES.get(type_id) if category == "HUBSPOT_DEFINED" else None
            if info is None or info[0] != obj.object_type:
                raise HubSpotError(
                    400,
                    f"{category} association type {type_id} is not valid from {obj.object_type}",
                    "VALIDATION_ERROR",
                )
            if to_id not in portal.table(info[1]) or portal.table(info[1])[to_id].archived:
                raise HubSpotError(
                    400,
                    f"One or more associations are invalid: {info[1]} {to_id} does not exist",
                    "VALIDATION_ERROR",
                )
            planned.append((info[1], to_id, type_id))
    return planned


def object_json(
    portal: Portal,
    obj: CrmObject,
    properties: list[str] | None = None,
    associations: list[str] | None = None,
) -> dict[str, Any]:
    """Serialise a record as SimplePublicObject(WithAssociations)."""
    if properties is None:
        names = DEFAULT_READ.get(obj.object_type) or sorted(
            {"hs_object_id", "hs_createdate", "hs_lastmodifieddate"}
        )
        props = {name: obj.properties.get(name) for name in names}
    elif properties == ["*"]:
        props = dict(obj.properties)
    else:
        known = WRITABLE[obj.object_type] | portal.custom_properties.get(obj.object_type, set())
        if obj.object_type == "contacts":
            known = known | subs.SEEDABLE
        props = {n: obj.properties.get(n) for n in properties if n in known or n in obj.properties}
        if obj.object_type == "contacts":
            for name in properties:
                if subs.is_optout_property(portal, name):
                    props[name] = subs.optout_property(portal, obj, name)
        for system in (
            "hs_object_id",
            CREATED.get(obj.object_type, "hs_createdate"),
            MODIFIED.get(obj.object_type, "hs_lastmodifieddate"),
        ):
            props[system] = obj.properties.get(system)
    body: dict[str, Any] = {
        "id": obj.id,
        "properties": props,
        "createdAt": iso(obj.created_at),
        "updatedAt": iso(obj.updated_at),
        "archived": obj.archived,
    }
    if associations:
        grouped: dict[str, list[dict[str, str]]] = {}
        for to_raw in associations:
            to = OBJECT_TYPES.get(to_raw.lower())
            if to is None:
                continue
            for frm, fid, tt, tid, type_id in sorted(portal.associations):
                if frm == obj.object_type and fid == obj.id and tt == to:
                    grouped.setdefault(to, []).append(
                        {"id": tid, "type": association_name(type_id)}
                    )
        if grouped:
            body["associations"] = {k: {"results": v} for k, v in grouped.items()}
    return body


def _matches(obj: CrmObject, flt: dict[str, Any]) -> bool:
    name = flt.get("propertyName", "")
    op = flt.get("operator", "EQ")
    value = obj.properties.get(name)
    target = str(flt.get("value", "")).lower()
    current = (value or "").lower()
    if op == "HAS_PROPERTY":
        return value is not None
    if op == "NOT_HAS_PROPERTY":
        return value is None
    if op in ("IN", "NOT_IN"):
        values = {str(v).lower() for v in flt.get("values") or []}
        return (current in values) == (op == "IN")
    if op == "EQ":
        return value is not None and current == target
    if op == "NEQ":
        return current != target
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = "^" + ".*".join(re.escape(p) for p in target.split("*")) + "$"
        tokens = [*re.split(r"[\s,;@.]+", current), current]
        found = any(re.match(pattern, tok) for tok in tokens)
        return found == (op == "CONTAINS_TOKEN")
    if op in ("GT", "GTE", "LT", "LTE"):
        if value is None:
            return False
        try:
            left: Any = float(current)
            right: Any = float(target)
        except ValueError:
            left, right = current, target
        return {"GT": left > right, "GTE": left >= right, "LT": left < right, "LTE": left <= right}[
            op
        ]
    raise HubSpotError(400, f"Invalid operator {op}", "VALIDATION_ERROR")


_OPERATORS = {
    "EQ",
    "NEQ",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
    "GT",
    "GTE",
    "LT",
    "LTE",
}


def _sort_key(prop: str) -> Callable[[CrmObject], str]:
    return lambda obj: obj.properties.get(prop) or ""


def search(store: Store, portal: Portal, otype: str, body: dict[str, Any]) -> dict[str, Any]:
    """Run a CRM search request the way HubSpot's search endpoint answers it."""
    groups = body.get("filterGroups") or []
    filters = [f for g in groups for f in g.get("filters") or []]
    if len(groups) > 5 or any(len(g.get("filters") or []) > 6 for g in groups) or len(filters) > 18:
        raise HubSpotError(400, "Too many filter groups or filters", "VALIDATION_ERROR")
    for flt in filters:
        if flt.get("operator", "EQ") not in _OPERATORS:
            raise HubSpotError(400, f"Invalid operator {flt.get('operator')}", "VALIDATION_ERROR")
    limit = int(body.get("limit") or 10)
    if limit > 200:
        raise HubSpotError(400, "limit must be at most 200", "VALIDATION_ERROR")
    after = int(body.get("after") or 0)
    query = str(body.get("query") or "").lower()
    # Records younger than the configured lag are not indexed yet, as on the real service.
    horizon = utcnow() - timedelta(seconds=store.config.search_lag_seconds)
    hits = [
        obj
        for obj in portal.table(otype).values()
        if not obj.archived
        and obj.created_at <= horizon
        and (
            not groups or any(all(_matches(obj, f) for f in g.get("filters") or []) for g in groups)
        )
        and (not query or any(query in (v or "").lower() for v in obj.properties.values()))
    ]
    for sort in reversed(body.get("sorts") or []):
        name = sort if isinstance(sort, str) else sort.get("propertyName", "")
        desc = isinstance(sort, dict) and sort.get("direction") == "DESCENDING"
        hits.sort(key=_sort_key(name.lstrip("-")), reverse=desc)
    page = hits[after : after + limit]
    props = body.get("properties") or None
    result: dict[str, Any] = {
        "total": len(hits),
        "results": [object_json(portal, obj, props) for obj in page],
    }
    if after + limit < len(hits):
        result["paging"] = {"next": {"after": str(after + limit)}}
    return result
