"""Gmail v1 labels: list, create and delete (taking a deleted label off every message), and
messages.modify (a message's labels)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from . import gmail_changes as changes
from .deps import GmailUser, StoreDep
from .errors import GoogleError
from .gmail import API, brief, not_found
from .state import GmailLabel

router = APIRouter(tags=["gmail"])

JsonBody = Annotated[dict[str, Any], Body()]


def _label_json(label: GmailLabel) -> dict[str, Any]:
    body: dict[str, Any] = {"id": label.id, "name": label.name, "type": label.type}
    if label.message_list_visibility:
        body["messageListVisibility"] = label.message_list_visibility
    if label.label_list_visibility:
        body["labelListVisibility"] = label.label_list_visibility
    return body


@router.get(f"{API}/labels")
def list_labels(user_id: GmailUser, store: StoreDep) -> dict[str, Any]:
    """List system and user labels."""
    with store.locked():
        return {"labels": [_label_json(label) for label in store.mailbox(user_id).labels.values()]}


@router.post(f"{API}/labels")
def create_label(user_id: GmailUser, body: JsonBody, store: StoreDep) -> dict[str, Any]:
    """Create a user label; a name clash (any case) is Gmail's 409."""
    name = str(body.get("name") or "").strip()
    if not name:
        raise GoogleError(400, "Invalid label name", "invalidArgument")
    with store.locked():
        box = store.mailbox(user_id)
        if any(label.name.lower() == name.lower() for label in box.labels.values()):
            raise GoogleError(409, "Label name exists or conflicts", "duplicate")
        label = GmailLabel(
            id=f"Label_{store.next_int()}",
            name=name,
            message_list_visibility=body.get("messageListVisibility", "show"),
            label_list_visibility=body.get("labelListVisibility", "labelShow"),
        )
        box.labels[label.id] = label
        return _label_json(label)


@router.delete(f"{API}/labels/{{label_id}}", status_code=204)
def delete_label(user_id: GmailUser, label_id: str, store: StoreDep) -> None:
    """Delete a user label and take it off every message (system labels are Gmail's 400)."""
    with store.locked():
        box = store.mailbox(user_id)
        label = box.labels.get(label_id)
        if label is None:
            raise GoogleError(404, "Not Found", "notFound")
        if not label_id.startswith("Label_"):
            raise GoogleError(400, "Invalid delete request", "invalidArgument")
        del box.labels[label_id]
        removed = [(m, [label_id]) for m in box.messages.values() if label_id in m.label_ids]
        for message, _ in removed:
            message.label_ids = [x for x in message.label_ids if x != label_id]
        if removed:
            changes.record(store, box, labels_removed=removed)


@router.post(f"{API}/messages/{{message_id}}/modify")
def modify_message(
    user_id: GmailUser, message_id: str, body: JsonBody, store: StoreDep
) -> dict[str, Any]:
    """Add and remove labels on one message (one history record for what changed)."""
    add = list(body.get("addLabelIds") or [])
    remove = list(body.get("removeLabelIds") or [])
    with store.locked():
        box = store.mailbox(user_id)
        message = box.messages.get(message_id)
        if message is None:
            raise not_found()
        for label_id in add + remove:
            if label_id not in box.labels:
                raise GoogleError(400, f"Invalid label: {label_id}", "invalidArgument")
        gone = [x for x in message.label_ids if x in remove]
        labels = [x for x in message.label_ids if x not in remove]
        new = [x for x in dict.fromkeys(add) if x not in labels]
        message.label_ids = labels + new
        if gone or new:
            changes.record(
                store,
                box,
                labels_added=[(message, new)] if new else [],
                labels_removed=[(message, gone)] if gone else [],
            )
        return brief(message)
