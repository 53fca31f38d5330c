"""HubSpot SDK objects and JSON into our domain models, and our values into HubSpot's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import hubspot.crm.objects.tasks as tasks_sdk

from sales_agent_pipeline.domain.models import (
    Company,
    Contact,
    NewTask,
    Note,
    Owner,
    Task,
    UpstreamSubmission,
)

# HUBSPOT_DEFINED association type ids (developers.hubspot.com/docs/api/crm/associations).
TASK_TO_CONTACT = 204
TASK_TO_COMPANY = 192
NOTE_TO_CONTACT = 202
NOTE_TO_COMPANY = 190

CONTACT_PROPERTIES = [
    "email",
    "firstname",
    "lastname",
    "company",
    "jobtitle",
    "phone",
    "website",
    "hubspot_owner_id",
    "lifecyclestage",
    "createdate",
    "lastmodifieddate",
    # The prospect's zone for step 8's slots (steps/prospect_timezone.py).
    "hs_timezone",
    "country",
]
COMPANY_PROPERTIES = ["name", "domain", "hubspot_owner_id", "industry", "website", "createdate"]
# Categories of a batch answer's errors that say HubSpot refused the input, writing
# nothing; any other (its own failure) may have written.
_REFUSALS = frozenset(
    {
        "VALIDATION_ERROR",
        "OBJECT_NOT_FOUND",
        "CONFLICT",
        "RATE_LIMITS",
        "MISSING_SCOPES",
        "INVALID_AUTHENTICATION",
        "EXPIRED_AUTHENTICATION",
    }
)
# A contact's opt-out of all email, and the subscription status that is not a consent.
EMAIL_OPTOUT = "hs_email_optout"
NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
TASK_PROPERTIES = [
    "hs_timestamp",
    "hs_task_subject",
    "hs_task_body",
    "hs_task_status",
    "hs_task_priority",
    "hs_task_type",
    "hubspot_owner_id",
]


def hubspot_time(moment: datetime) -> str:
    """An aware datetime as HubSpot's ISO 8601 UTC with milliseconds."""
    if moment.tzinfo is None:
        raise ValueError("HubSpot timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """HubSpot's ISO strings or epoch milliseconds (or SDK datetimes) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def props(obj: Any) -> dict[str, str | None]:
    """A SimplePublicObject's properties (an empty dict when it has none)."""
    return _props(obj)


def _props(obj: Any) -> dict[str, str | None]:
    raw = getattr(obj, "properties", None) or {}
    return {str(k): (None if v is None else str(v)) for k, v in raw.items()}


def to_contact(obj: Any, *, created: bool = False) -> Contact:
    """A SimplePublicObject (or upsert result) as a Contact."""
    props = _props(obj)
    return Contact(
        id=str(obj.id),
        email=props.get("email"),
        first_name=props.get("firstname"),
        last_name=props.get("lastname"),
        company=props.get("company"),
        job_title=props.get("jobtitle"),
        phone=props.get("phone"),
        website=props.get("website"),
        owner_id=props.get("hubspot_owner_id"),
        properties=props,
        created=created,
        created_at=parse_time(getattr(obj, "created_at", None)),
        updated_at=parse_time(getattr(obj, "updated_at", None)),
    )


def to_company(obj: Any) -> Company:
    """A SimplePublicObject as a Company."""
    props = _props(obj)
    return Company(
        id=str(obj.id),
        name=props.get("name"),
        domain=props.get("domain"),
        owner_id=props.get("hubspot_owner_id"),
        properties=props,
    )


def to_owner(obj: Any) -> Owner:
    """A PublicOwner as an Owner."""
    return Owner(
        id=str(obj.id),
        email=str(obj.email or ""),
        first_name=obj.first_name or None,
        last_name=obj.last_name or None,
        user_id=obj.user_id,
        archived=bool(obj.archived),
    )


def _associated_ids(obj: Any, object_type: str) -> tuple[str, ...]:
    associations = getattr(obj, "associations", None) or {}
    collection = associations.get(object_type)
    results = getattr(collection, "results", None) or []
    return tuple(dict.fromkeys(str(item.id) for item in results))


def to_task(obj: Any) -> Task:
    """A task SimplePublicObject(WithAssociations) as a Task."""
    props = _props(obj)
    return Task(
        id=str(obj.id),
        subject=props.get("hs_task_subject"),
        body=props.get("hs_task_body"),
        due_at=parse_time(props.get("hs_timestamp")),
        status=props.get("hs_task_status"),
        priority=props.get("hs_task_priority"),
        task_type=props.get("hs_task_type"),
        owner_id=props.get("hubspot_owner_id"),
        contact_ids=_associated_ids(obj, "contacts"),
        company_ids=_associated_ids(obj, "companies"),
    )


def to_note(obj: Any) -> Note:
    """A note SimplePublicObject as a Note."""
    props = _props(obj)
    return Note(
        id=str(obj.id),
        body=props.get("hs_note_body"),
        timestamp=parse_time(props.get("hs_timestamp")),
        owner_id=props.get("hubspot_owner_id"),
    )


def to_submission(form_id: str, item: Mapping[str, Any]) -> UpstreamSubmission:
    """One entry of the legacy submissions listing as an UpstreamSubmission."""
    values: dict[str, str] = {}
    for pair in item.get("values") or []:
        name, value = str(pair.get("name", "")), str(pair.get("value", ""))
        # A multi-select field comes as repeated names; HubSpot itself joins them with ';'.
        values[name] = f"{values[name]};{value}" if name in values else value
    submitted = parse_time(item.get("submittedAt"))
    if submitted is None:
        raise ValueError(f"submission {item.get('conversionId')} has no submittedAt")
    return UpstreamSubmission(
        conversion_id=str(item.get("conversionId", "")),
        form_id=form_id,
        submitted_at=submitted,
        values=values,
        page_url=item.get("pageUrl"),
    )


def next_after(page: Any) -> str | None:
    """The `after` cursor of a paged SDK answer, or None on the last page."""
    paging = getattr(page, "paging", None)
    following = getattr(paging, "next", None)
    after = getattr(following, "after", None)
    return str(after) if after else None


def association(sdk: Any, to_id: str, type_id: int) -> Any:
    """A HUBSPOT_DEFINED association to `to_id`, built from one SDK package's models."""
    return sdk.PublicAssociationsForObject(
        to=sdk.PublicObjectId(id=to_id),
        types=[
            sdk.AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)
        ],
    )


def task_properties(task: NewTask) -> dict[str, str]:
    """The hs_task_* properties of a new task."""
    props = {
        "hs_timestamp": hubspot_time(task.due_at),
        "hs_task_subject": task.subject,
        "hs_task_body": task.body,
        "hs_task_status": task.status.value,
        "hs_task_priority": task.priority,
        "hs_task_type": task.task_type,
    }
    if task.owner_id:
        props["hubspot_owner_id"] = task.owner_id
    return props


def task_associations(task: NewTask) -> list[Any]:
    """The task's links to its contact and company."""
    pairs = ((task.contact_id, TASK_TO_CONTACT), (task.company_id, TASK_TO_COMPANY))
    return [association(tasks_sdk, to_id, type_id) for to_id, type_id in pairs if to_id]


def with_links(created: Task, task: NewTask) -> Task:
    """The created task with the associations it was created with."""
    # Create answers carry no associations; the ones we asked for were made with it.
    return created.model_copy(
        update={
            "contact_ids": (task.contact_id,) if task.contact_id else (),
            "company_ids": (task.company_id,) if task.company_id else (),
        }
    )


def refused_inputs(errors: Any) -> dict[str, str]:
    """The inputs a 207 answer refused, by the trace ids in each error's context, with
    the reason; errors of other categories are left out (the input may exist)."""
    refused: dict[str, str] = {}
    for error in errors or []:
        category = getattr(error, "category", None)
        if category not in _REFUSALS:
            continue
        context = getattr(error, "context", None) or {}
        for key in context.get("objectWriteTraceId") or []:
            refused[str(key)] = f"HubSpot refused: {category}: {getattr(error, 'message', '')}"
    return refused


def batch_opt_out_reasons(answer: Mapping[str, Any]) -> dict[str, str]:
    """From communication preferences v4's batch read: why each address may not be emailed
    (its first NOT_SUBSCRIBED subscription), keyed by lower-case address."""
    found: dict[str, str] = {}
    for result in answer.get("results") or []:
        email = str(result.get("subscriberIdString") or "").lower()
        for status in result.get("statuses") or []:
            if email and str(status.get("status", "")).upper() == NOT_SUBSCRIBED:
                name = status.get("subscriptionName") or status.get("subscriptionId")
                source = status.get("source")
                found[email] = f"HubSpot: not subscribed to {name or 'a subscription'}" + (
                    f" ({source})" if source else ""
                )
                break
    return found


def opt_out_reason(contact: Any | None, statuses: Any | None) -> str | None:
    """Why HubSpot says an address may not be emailed: its contact's hs_email_optout, or
    the first subscription it is NOT_SUBSCRIBED to (from the status API's answer)."""
    if contact is not None and (_props(contact).get(EMAIL_OPTOUT) or "").lower() == "true":
        return f"HubSpot: opted out of all email ({EMAIL_OPTOUT})"
    for status in getattr(statuses, "subscription_statuses", None) or []:
        if str(getattr(status, "status", "")).upper() == NOT_SUBSCRIBED:
            name = getattr(status, "name", None) or getattr(status, "id", None) or "a subscription"
            source = getattr(status, "source_of_status", None)
            return f"HubSpot: not subscribed to {name}" + (f" ({source})" if source else "")
    return None
