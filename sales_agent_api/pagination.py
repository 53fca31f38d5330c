"""Opaque cursors for keyset pagination: base64url of the last row's (created_at, id)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query

from sales_agent_api.errors import ApiError
from sales_agent_pipeline.db.repositories.browse import Position

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"rows per page (max {MAX_LIMIT})")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` of the previous page; omit for the first"),
]


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    """The cursor that continues after this row."""
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Position | None:
    """The position a cursor names; 400 naming `cursor` when it is not one of ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, row_id = json.loads(raw)
        position = (datetime.fromisoformat(stamp), uuid.UUID(row_id))
    except (binascii.Error, ValueError, TypeError, AttributeError):
        raise ApiError(
            400, "invalid_cursor", "cursor: not a cursor this API returned", ["cursor"]
        ) from None
    if position[0].tzinfo is None:
        raise ApiError(400, "invalid_cursor", "cursor: not a cursor this API returned", ["cursor"])
    return position
