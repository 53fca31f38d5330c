"""HubSpot's legacy form submissions listing (form-integrations v1)."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request

from .deps import PortalDep, StoreDep
from .errors import HubSpotError

router = APIRouter(tags=["hubspot-forms"])

_MAX_LIMIT = 50


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
