"""POST /webhook/gmail: Gmail's change notifications, pushed by a Pub/Sub push subscription.

Gmail's users.watch publishes {"emailAddress", "historyId"} to a topic; the subscription
POSTs {"message": {"data": base64 of that JSON, "messageId", ...}, "subscription"} here,
its endpoint carrying GMAIL_PUSH_TOKEN as the `token` query parameter
(developers.google.com/workspace/gmail/api/guides/push). The answer only records the
history id on the mailbox's cursors: the mailbox sync sensor reads the mailbox at its
next tick. A success is 204 (Pub/Sub acknowledges 102, 200, 201, 202 and 204); a mailbox
nobody watches is 200 and changes nothing, so Pub/Sub stops redelivering it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from typing import Any

import anyio.to_thread
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.mailboxes import record_push

router = APIRouter(tags=["webhook"])
PATH = "/webhook/gmail"
log = structlog.get_logger(__name__)
_MAX_ADDRESS = 320


def _verify(settings: Settings, token: str | None) -> None:
    expected = settings.gmail_push_token.get_secret_value() if settings.gmail_push_token else ""
    if not token:
        raise ApiError(401, "missing_token", "the push endpoint needs its token parameter")
    # Refused the same way when no token is configured: nothing may push then.
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(403, "bad_token", "the push token is not valid")


def _bad(message: str) -> ApiError:
    return ApiError(400, "invalid_push", message)


def _notification(body: bytes) -> tuple[str, int]:
    """The mailbox and history id of a push request's body, or a 400."""
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad("the body is not JSON") from None
    message = envelope.get("message") if isinstance(envelope, dict) else None
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, str) or not data:
        raise _bad("message.data (base64 of Gmail's notification) is missing")
    try:
        # Pub/Sub sends standard base64; a url-safe encoding is read too.
        standard = data.replace("-", "+").replace("_", "/")
        decoded = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        notification: Any = json.loads(decoded)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise _bad("message.data is not base64 of a JSON object") from None
    if not isinstance(notification, dict):
        raise _bad("message.data is not base64 of a JSON object")
    address = notification.get("emailAddress")
    history = notification.get("historyId")
    if not isinstance(address, str) or "@" not in address or len(address) > _MAX_ADDRESS:
        raise _bad("the notification has no emailAddress")
    if isinstance(history, bool) or not isinstance(history, (int, str)):
        raise _bad("the notification has no historyId")
    text = str(history).strip()
    if not text.isdigit() or len(text) > 20:
        raise _bad("the notification's historyId is not a number")
    value = int(text)
    if value <= 0 or value >= 2**63:
        raise _bad("the notification's historyId is out of range")
    return address.strip().lower(), value


@router.post(
    PATH,
    status_code=204,
    responses={
        200: {"description": "a mailbox nobody watches: acknowledged, nothing changed"},
        400: {"model": ErrorResponse},
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
    },
)
async def gmail_push(request: Request, token: str | None = None) -> Response:
    """Record a pushed Gmail change; the mailbox sync reads the mailbox soon after."""
    settings: Settings = request.app.state.settings
    _verify(settings, token)
    mailbox, history_id = _notification(await request.body())
    cursors = await anyio.to_thread.run_sync(
        record_push, request.app.state.sessions, mailbox, history_id
    )
    if not cursors:
        log.info("gmail_push.unknown_mailbox")
        return JSONResponse({"status": "ignored"}, status_code=200)
    log.info("gmail_push.recorded", cursors=cursors, history_id=history_id)
    return Response(status_code=204)


class HidePushToken(logging.Filter):
    """uvicorn's access lines for the push endpoint without its query (the token)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) >= 3
            and isinstance(args[2], str)
            and args[2].startswith(PATH + "?")
        ):
            record.args = (*args[:2], PATH + "?[redacted]", *args[3:])
        return True


def hide_token_in_access_log() -> None:
    """Install HidePushToken on uvicorn's access logger once per process."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, HidePushToken) for existing in access.filters):
        access.addFilter(HidePushToken())
