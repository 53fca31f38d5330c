"""HubSpot forms: definitions (marketing v3) and the legacy submissions listing
(form-integrations v1), each seen only through a token of the form's portal."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request

from .deps import PortalDep, StoreDep
from .errors import HubSpotError
from .state import Portal

router = APIRouter(tags=["hubspot-forms"])

_MAX_LIMIT = 50
_CREATED = "2024-01-02T03:04:05.000Z"
_STYLE = {
    "fontFamily": "arial, helvetica, sans-serif",
    "backgroundWidth": "100%",
    "labelTextColor": "#33475b",
    "labelTextSize": "14px",
    "helpTextColor": "#7C98B6",
    "helpTextSize": "11px",
    "legalConsentTextColor": "#33475b",
    "legalConsentTextSize": "14px",
    "submitColor": "#ff7a59",
    "submitAlignment": "left",
    "submitFontColor": "#ffffff",
    "submitSize": "12px",
}
# (name, label, fieldType, required): the fields a contact form of the demo asks.
_FIELDS = (
    ("email", "Email", "email", True),
    ("firstname", "First name", "single_line_text", False),
    ("lastname", "Last name", "single_line_text", False),
    ("company", "Company name", "single_line_text", False),
    ("message", "Message", "multi_line_text", False),
)


def _field(name: str, label: str, kind: str, required: bool) -> dict[str, Any]:
    field: dict[str, Any] = {
        "objectTypeId": "0-1",
        "name": name,
        "label": label,
        "required": required,
        "hidden": False,
        "fieldType": kind,
        "dependentFields": [],
    }
    if kind == "email":
        field["validation"] = {"blockedEmailDomains": [], "useDefaultBlockList": False}
    return field


def form_json(portal: Portal, form_id: str) -> dict[str, Any]:
    """A form definition in the marketing v3 shape (a contact form's usual fields)."""
    return {
        "id": form_id,
        "name": portal.form_names.get(form_id) or f"Form {form_id}",
        "formType": "hubspot",
        "createdAt": _CREATED,
        "updatedAt": _CREATED,
        "archived": False,
        "fieldGroups": [
            {"groupType": "default_group", "richTextType": "text", "fields": [_field(*f)]}
            for f in _FIELDS
        ],
        "configuration": {
            "language": "en",
            "cloneable": True,
            "postSubmitAction": {"type": "thank_you", "value": "Thanks for submitting the form."},
            "editable": True,
            "archivable": True,
            "recaptchaEnabled": False,
            "notifyContactOwner": False,
            "notifyRecipients": [],
            "createNewContactForNewEmail": False,
            "prePopulateKnownValues": True,
            "allowLinkToResetKnownValues": False,
            "lifecycleStages": [],
        },
        "displayOptions": {
            "renderRawHtml": False,
            "theme": "default_style",
            "submitButtonText": "Submit",
            "style": dict(_STYLE),
            "cssClass": "",
        },
        "legalConsentOptions": {"type": "none"},
    }


@router.get("/marketing/v3/forms/{form_id}")
def get_form(form_id: str, store: StoreDep, portal: PortalDep) -> dict[str, Any]:
    """A form of the token's portal; another portal's form is HubSpot's 404."""
    with store.locked():
        if form_id not in portal.forms:
            raise HubSpotError(404, f"Form {form_id} not found", "OBJECT_NOT_FOUND")
        return form_json(portal, form_id)


@router.get("/marketing/v3/forms/")
@router.get("/marketing/v3/forms")
def list_forms(
    store: StoreDep, portal: PortalDep, limit: int = 20, after: str | None = None
) -> dict[str, Any]:
    """The portal's forms, `limit` at a time."""
    if not 1 <= limit <= 500:
        raise HubSpotError(400, "limit must be between 1 and 500", "VALIDATION_ERROR")
    start = _decode_after(after) if after else 0
    with store.locked():
        ids = sorted(portal.forms)
        page = [form_json(portal, form_id) for form_id in ids[start : start + limit]]
    body: dict[str, Any] = {"results": page}
    if start + limit < len(ids):
        body["paging"] = {"next": {"after": _encode_after(start + limit)}}
    return body


def _encode_after(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_after(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        kind, _, value = base64.urlsafe_b64decode(padded).decode().partition(":")
        if kind != "offset":
            raise ValueError(token)
        return int(value)
    except ValueError as exc:
        raise HubSpotError(400, f"Invalid after token: {token}", "VALIDATION_ERROR") from exc


@router.get("/form-integrations/v1/submissions/forms/{form_guid}")
def list_submissions(
    form_guid: str,
    request: Request,
    store: StoreDep,
    portal: PortalDep,
    limit: int = 20,
    after: str | None = None,
) -> dict[str, Any]:
    """List a form's submissions, newest first, `limit` (at most 50) at a time."""
    if not 1 <= limit <= _MAX_LIMIT:
        raise HubSpotError(400, f"limit must be between 1 and {_MAX_LIMIT}", "VALIDATION_ERROR")
    start = _decode_after(after) if after else 0
    with store.locked():
        if form_guid not in portal.forms:
            raise HubSpotError(404, f"Form {form_guid} not found", "OBJECT_NOT_FOUND")
        submissions = sorted(portal.forms[form_guid], key=lambda s: s.submitted_at, reverse=True)
    page = submissions[start : start + limit]
    body: dict[str, Any] = {
        "results": [
            {
                "conversionId": s.conversion_id,
                "submittedAt": s.submitted_at,
                "values": [dict(v) for v in s.values],
                "pageUrl": s.page_url,
            }
            for s in page
        ]
    }
    if start + limit < len(submissions):
        token = _encode_after(start + limit)
        link = request.url.include_query_params(after=token, limit=limit)
        body["paging"] = {"next": {"after": token, "link": str(link)}}
    return body
