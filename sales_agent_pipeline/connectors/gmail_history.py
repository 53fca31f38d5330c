"""Gmail's sync model on google-api-python-client: users.getProfile, users.history.list,
messages.list/get for a full sync, users.watch and users.stop (Pub/Sub push).

developers.google.com/workspace/gmail/api/guides/sync: read history.list from a stored
history id; a 404 means the id expired and the client resyncs in full.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sales_agent_pipeline.connectors.google_auth import GoogleApi
from sales_agent_pipeline.domain.errors import PermanentError
from sales_agent_pipeline.domain.mailbox import (
    INBOUND_HEADERS,
    Added,
    HistoryExpired,
    HistoryPage,
    InboundMail,
    Profile,
    Watch,
)

_ME = "me"
# Gmail's quota units of these methods (developers.google.com/gmail/api/reference/quota).
UNITS = {
    "getProfile": 1,
    "history.list": 2,
    "messages.list": 5,
    "messages.get": 5,
    "watch": 100,
    "stop": 50,
}
# A report's bytes are read to find its delivery status; a DSN is a few kilobytes (it
# quotes the failed message's headers, not its body), so more is not a report we read.
MAX_REPORT_BYTES = 512 * 1024
_PAGE = 500


def _headers(message: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in (message.get("payload") or {}).get("headers") or []:
        name = str(header.get("name", "")).lower()
        # The first occurrence wins, as mail clients read them.
        found.setdefault(name, str(header.get("value", "")).strip())
    return found


def looks_like_report(headers: dict[str, str]) -> bool:
    """A delivery report (RFC 3464 multipart/report) or a server's failure notice."""
    content_type = headers.get("content-type", "").lower()
    return "multipart/report" in content_type or bool(headers.get("x-failed-recipients"))


def _raw(message: dict[str, Any]) -> bytes | None:
    data = message.get("raw")
    if not isinstance(data, str) or not data:
        return None
    try:
        raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) <= MAX_REPORT_BYTES else None


class GmailHistory:
    """The sync calls of one mailbox (the user the API's credentials act for)."""

    def __init__(self, api: GoogleApi) -> None:
        self._api = api

    def _run(self, method: str, make: Callable[[Any], Any]) -> Any:
        return self._api.execute(method, make, UNITS.get(method, 5))

    def profile(self) -> Profile:
        """The mailbox's address and current history id."""
        answer = self._run("getProfile", lambda s: s.users().getProfile(userId=_ME))
        return Profile(
            email=str(answer.get("emailAddress", "")).lower(),
            history_id=int(answer.get("historyId") or 0),
        )

    def history(self, start_history_id: int, page_token: str | None = None) -> HistoryPage:
        """The messages added to the INBOX after `start_history_id`, one page (oldest
        first)."""
        try:
            answer = self._run(
                "history.list",
                lambda s: (
                    s.users()
                    .history()
                    .list(
                        userId=_ME,
                        startHistoryId=str(start_history_id),
                        historyTypes=["messageAdded"],
                        # Only what arrives in the INBOX (replies, reports): never our own
                        # sends, nor each save of a draft.
                        labelId="INBOX",
                        maxResults=_PAGE,
                        pageToken=page_token,
                    )
                ),
            )
        except PermanentError as exc:
            if exc.http_status == 404:
                raise HistoryExpired() from exc
            raise
        added: list[Added] = []
        for record in answer.get("history") or []:
            for item in record.get("messagesAdded") or []:
                message_id = (item.get("message") or {}).get("id")
                if message_id:
                    added.append(Added(message_id=str(message_id), history_id=int(record["id"])))
        return HistoryPage(
            added=tuple(added),
            next_page_token=answer.get("nextPageToken") or None,
            history_id=int(answer.get("historyId") or start_history_id),
        )

    def list_message_ids(self, query: str, max_results: int = 500) -> list[str]:
        """The ids of the messages a search finds, newest first, up to `max_results`."""
        ids: list[str] = []
        token: str | None = None
        while len(ids) < max_results:
            size = min(_PAGE, max_results - len(ids))

            def make(s: Any, p: str | None = token, n: int = size) -> Any:
                return s.users().messages().list(userId=_ME, q=query, maxResults=n, pageToken=p)

            page = self._run("messages.list", make)
            ids.extend(str(m["id"]) for m in page.get("messages") or [])
            token = page.get("nextPageToken")
            if not token:
                break
        return ids[:max_results]

    def get_message_meta(self, message_id: str) -> InboundMail:
        """Labels and INBOUND_HEADERS; a report's RFC 822 bytes too (format=raw: its
        message/delivery-status part is parsed by us, not by how an API shows it)."""
        answer = self._run(
            "messages.get",
            lambda s: (
                s.users()
                .messages()
                .get(
                    userId=_ME,
                    id=message_id,
                    format="metadata",
                    metadataHeaders=list(INBOUND_HEADERS),
                )
            ),
        )
        headers = _headers(answer)
        raw: bytes | None = None
        if looks_like_report(headers):
            full = self._run(
                "messages.get",
                lambda s: s.users().messages().get(userId=_ME, id=message_id, format="raw"),
            )
            raw = _raw(full)
        return InboundMail(
            id=str(answer.get("id", message_id)),
            thread_id=str(answer.get("threadId", "")),
            label_ids=tuple(answer.get("labelIds") or ()),
            headers=headers,
            raw=raw,
        )

    def watch(self, topic: str) -> Watch:
        """Push the INBOX's changes to `topic`; renewing is the same call."""
        body = {"topicName": topic, "labelIds": ["INBOX"], "labelFilterBehavior": "include"}
        answer = self._run("watch", lambda s: s.users().watch(userId=_ME, body=body))
        expiration = int(answer.get("expiration") or 0)
        return Watch(
            history_id=int(answer.get("historyId") or 0),
            expires_at=datetime.fromtimestamp(expiration / 1000, UTC),
        )

    def stop_watch(self) -> None:
        """Stop the mailbox's push notifications."""
        self._run("stop", lambda s: s.users().stop(userId=_ME))
