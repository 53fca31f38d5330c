"""A mailbox's history: every change (a message added or deleted, labels added or removed)
is a record under a new history id, which users.history.list reads and users.watch
publishes to Pub/Sub.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from .state import GmailMessage, HistoryChange, HistoryRecord, Mailbox, Store

Labelled = tuple[GmailMessage, list[str]]


def _change(message: GmailMessage, changed: list[str] | None = None) -> HistoryChange:
    return HistoryChange(message.id, message.thread_id, list(message.label_ids), changed or [])


def record(
    store: Store,
    box: Mailbox,
    *,
    added: Iterable[GmailMessage] = (),
    deleted: Iterable[GmailMessage] = (),
    labels_added: Iterable[Labelled] = (),
    labels_removed: Iterable[Labelled] = (),
) -> HistoryRecord:
    """Append a history record for one change (the caller holds the store's lock).

    The touched messages (all but deleted ones) take the new history id, as Gmail's do.
    """
    history_id = store.next_history_id()
    entry = HistoryRecord(
        id=history_id,
        at=time.time(),
        added=[_change(m) for m in added],
        deleted=[_change(m) for m in deleted],
        labels_added=[_change(m, labels) for m, labels in labels_added],
        labels_removed=[_change(m, labels) for m, labels in labels_removed],
    )
    for change in (*entry.added, *entry.labels_added, *entry.labels_removed):
        message = box.messages.get(change.message_id)
        if message is not None:
            message.history_id = history_id
    box.history.append(entry)
    box.history_id = history_id
    prune(store, box)
    _notify(store, box, entry)
    return entry


def prune(store: Store, box: Mailbox) -> None:
    """Forget records older than the configured retention; start ids before them are 404."""
    retention = store.config.gmail_history_retention_seconds
    if retention is None:
        return
    cutoff = time.time() - retention
    dropped = 0
    while dropped < len(box.history) and box.history[dropped].at < cutoff:
        dropped += 1
    if dropped:
        box.history_floor = max(box.history_floor, box.history[dropped - 1].id)
        del box.history[:dropped]


def expire(box: Mailbox) -> int:
    """Forget every record: history.list answers 404 for any start id before now."""
    forgotten = len(box.history)
    box.history.clear()
    box.history_floor = box.history_id
    return forgotten


def _labels_of(entry: HistoryRecord) -> set[str]:
    changes = (*entry.added, *entry.deleted, *entry.labels_added, *entry.labels_removed)
    return {label for c in changes for label in (*c.label_ids, *c.changed)}


def _notify(store: Store, box: Mailbox, entry: HistoryRecord) -> None:
    watch = box.watch
    if watch is None or watch.expiration_ms <= time.time() * 1000:
        return
    if watch.label_ids:
        related = bool(_labels_of(entry) & set(watch.label_ids))
        if related != (watch.label_filter_behavior == "include"):
            return
    subscriptions = store.push_subscriptions.get(watch.topic_name, [])
    if subscriptions:
        store.pusher.publish(
            list(subscriptions), {"emailAddress": box.email, "historyId": str(entry.id)}
        )
