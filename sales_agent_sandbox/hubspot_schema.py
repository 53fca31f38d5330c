"""HubSpot's object schemas as far as the sandbox knows them: types, properties, associations."""

from __future__ import annotations


def _words(text: str) -> set[str]:
    return set(text.split())


OBJECT_TYPES = {
    **dict.fromkeys(("contact", "contacts", "0-1"), "contacts"),
    **dict.fromkeys(("company", "companies", "0-2"), "companies"),
    **dict.fromkeys(("deal", "deals", "0-3"), "deals"),
    **dict.fromkeys(("task", "tasks", "0-27"), "tasks"),
    **dict.fromkeys(("note", "notes", "0-46"), "notes"),
}
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal", "tasks": "task"}
SINGULAR["notes"] = "note"

CREATED = {"contacts": "createdate", "companies": "createdate", "deals": "createdate"}
MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate"}
_COMMON = {"hubspot_owner_id"}
# Writable properties; anything else is PROPERTY_DOESNT_EXIST unless seeded as custom.
WRITABLE: dict[str, set[str]] = {
    "contacts": _COMMON
    | _words(
        "email firstname lastname phone mobilephone company jobtitle website address city "
        "state zip country lifecyclestage hs_lead_status message industry numemployees "
        "annualrevenue hs_language createdate"
    ),
    "companies": _COMMON
    | _words(
        "name domain website phone industry city state zip country address numberofemployees "
        "annualrevenue description lifecyclestage type linkedin_company_page timezone createdate"
    ),
    "deals": _COMMON | _words("dealname amount dealstage pipeline closedate"),
    "tasks": _COMMON
    | _words(
        "hs_timestamp hs_task_subject hs_task_body hs_task_status hs_task_priority hs_task_type "
        "hs_task_reminders hs_queue_membership_ids"
    ),
    "notes": _COMMON | _words("hs_timestamp hs_note_body hs_attachment_ids"),
}
DEFAULT_READ = {
    "contacts": sorted(_words("createdate email firstname hs_object_id lastmodifieddate lastname")),
    "companies": sorted(_words("createdate domain hs_lastmodifieddate hs_object_id name")),
}
ENUMS = {
    "hs_task_status": _words("NOT_STARTED IN_PROGRESS WAITING COMPLETED DEFERRED"),
    "hs_task_priority": _words("NONE LOW MEDIUM HIGH"),
    "hs_task_type": _words("CALL EMAIL TODO LINKED_IN"),
    "lifecyclestage": _words(
        "subscriber lead marketingqualifiedlead salesqualifiedlead opportunity customer "
        "evangelist other"
    ),
    "hs_lead_status": _words(
        "NEW OPEN IN_PROGRESS OPEN_DEAL UNQUALIFIED ATTEMPTED_TO_CONTACT CONNECTED BAD_TIMING"
    ),
}
DATETIME_PROPS = {"hs_timestamp", "createdate", "closedate"}

# HUBSPOT_DEFINED association type ids: (id, from type, to type, inverse id).
_PAIRS = [
    (279, "contacts", "companies", 280),
    (1, "contacts", "companies", 2),
    (204, "tasks", "contacts", 203),
    (192, "tasks", "companies", 191),
    (216, "tasks", "deals", 215),
    (202, "notes", "contacts", 201),
    (190, "notes", "companies", 189),
    (214, "notes", "deals", 213),
    (4, "contacts", "deals", 3),
    (342, "companies", "deals", 341),
]
ASSOCIATION_TYPES: dict[int, tuple[str, str, int]] = {}
for _id, _from, _to, _inverse in _PAIRS:
    ASSOCIATION_TYPES[_id] = (_from, _to, _inverse)
    ASSOCIATION_TYPES[_inverse] = (_to, _from, _id)
PRIMARY = {1, 2}
UNLABELED = {279, 280}
DEFAULT_ASSOCIATION = {
    (frm, to): type_id
    for type_id, (frm, to, _) in ASSOCIATION_TYPES.items()
    if type_id not in PRIMARY
}
