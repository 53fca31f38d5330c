"""What a standard (non-admin) key may see of text read from a mailbox: nothing.

Steps 4 and 5 read the prospect's Gmail threads (snippets, the subject, the last message),
and the draft quotes from them (its "Re:" subject, a line of the last message). A standard
key sees ids, counts and our own texts: the thread text is hidden wherever it appears, in
the audit trail and in the drafts, found by the very strings steps 4 and 5 recorded.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from sales_agent_api.schemas.workflows import Draft, DraftSummary, Trail
from sales_agent_pipeline.db.models import WorkflowEvent
from sales_agent_pipeline.steps.write_draft import without_dashes

HIDDEN = "[thread text hidden]"
# Masked spans are marked with this first, so a later source cannot match inside HIDDEN.
_MARK = "\x00"
# The steps whose outputs carry mailbox text: 4 (thread snippets) and 5 (thread context).
MAILBOX_STEPS = (4, 5)
# Keys whose values are mailbox text wherever they sit in a step's output.
_MAILBOX_KEYS = frozenset({"snippet", "last_message_text"})
# Quotes shorter than this are hidden only as whole words (a run this long is no accident).
MIN_RUN = 16
_SPACE = re.compile(r"\s+")
_SHORTEST = 3

DraftT = TypeVar("DraftT", bound=DraftSummary)


def mailbox_texts(details: Iterable[Mapping[str, Any]]) -> list[str]:
    """The thread texts steps 4 and 5 recorded in these events' outputs."""
    found: list[str] = []
    for detail in details:
        output = detail.get("output")
        if not isinstance(output, Mapping):
            continue
        for thread in output.get("threads") or ():
            if isinstance(thread, Mapping):
                found.append(str(thread.get("snippet") or ""))
        context = output.get("context")
        if isinstance(context, Mapping):
            found += [str(context.get(key) or "") for key in ("subject", "last_message_text")]
    # Longest first: a long quote is hidden whole before a shorter one could split it.
    unique = {text.strip() for text in found if len(text.strip()) >= _SHORTEST}
    return sorted(unique, key=len, reverse=True)


def _variants(source: str) -> list[str]:
    # The draft quotes the text on one line, without dashes, HTML-escaped in its HTML part:
    # those forms first, so a quote is hidden whole before the raw form could split it.
    flat = " ".join(source.split())
    plain = [without_dashes(flat), flat, source]
    return list(dict.fromkeys([*plain, *(str(escape(text)) for text in plain)]))


def _runs(text: str, source: str) -> list[str]:
    """The stretches of `source` (from a word start, MIN_RUN or more long) found in text."""
    runs: list[str] = []
    starts = [0, *(match.end() for match in _SPACE.finditer(source))]
    done = 0
    for i in starts:
        if i < done or i > len(source) - MIN_RUN or source[i : i + MIN_RUN] not in text:
            continue
        # Containment shrinks with length: the longest run from i by bisection.
        low, high = i + MIN_RUN, len(source)
        while low < high:
            middle = (low + high + 1) // 2
            if source[i:middle] in text:
                low = middle
            else:
                high = middle - 1
        runs.append(source[i:low])
        done = low
    return runs


def redact_text(text: str, sources: Sequence[str]) -> str:
    """The text with every quote of the sources replaced by HIDDEN."""
    if not text or not sources:
        return text
    for source in sources:
        for variant in _variants(source):
            if len(variant) < MIN_RUN:
                pattern = rf"(?<!\w){re.escape(variant)}(?!\w)"
                text = re.sub(pattern, _MARK, text)
                continue
            for run in sorted(_runs(text, variant), key=len, reverse=True):
                text = text.replace(run, _MARK)
    # Two hidden stretches with only spaces or punctuation between are one.
    return re.sub(rf"{_MARK}(?:[\s,.;:!?-]*{_MARK})*", HIDDEN, text)


def _redact(value: Any, sources: Sequence[str], key: str | None = None) -> Any:
    if isinstance(value, Mapping):
        if key == "context":
            # Step 5's thread context: ids, counts and who spoke stay; its text goes.
            value = {**value, "subject": None, "last_message_text": None}
        return {k: _redact(v, sources, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item, sources) for item in value]
    if isinstance(value, str):
        if key in _MAILBOX_KEYS and value:
            return HIDDEN
        return redact_text(value, sources)
    return value


def redact_details(details: Mapping[str, Any], sources: Sequence[str]) -> dict[str, Any]:
    """An event's details with mailbox text hidden (thread context emptied, quotes masked)."""
    return dict(_redact(details, sources))


def sources_for(session: Session, workflow_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Per workflow, the mailbox texts its steps 4 and 5 recorded (one query for all)."""
    if not workflow_ids:
        return {}
    rows = session.execute(
        select(WorkflowEvent.workflow_id, WorkflowEvent.details).where(
            WorkflowEvent.workflow_id.in_(workflow_ids),
            WorkflowEvent.step_number.in_(MAILBOX_STEPS),
        )
    ).all()
    details: dict[uuid.UUID, list[Mapping[str, Any]]] = {}
    for workflow_id, detail in rows:
        details.setdefault(workflow_id, []).append(detail)
    return {workflow_id: mailbox_texts(found) for workflow_id, found in details.items()}


def redact_draft(draft: DraftT, sources: Sequence[str]) -> DraftT:
    """A draft as a standard key sees it: quotes of the thread in its subject and body hidden."""
    if not sources:
        return draft
    update: dict[str, Any] = {"subject": redact_text(draft.subject, sources)}
    if isinstance(draft, Draft):
        update["body"] = redact_text(draft.body, sources)
        if draft.body_html is not None:
            update["body_html"] = redact_text(draft.body_html, sources)
    return draft.model_copy(update=update)


def redact_trail(trail: Trail) -> Trail:
    """A trail as a standard key sees it: no thread text in its events or errors."""
    sources = mailbox_texts(event.details for event in trail.events)
    return trail.model_copy(
        update={
            "events": [
                event.model_copy(update={"details": redact_details(event.details, sources)})
                for event in trail.events
            ],
            "errors": [
                error.model_copy(
                    update={"error_message": redact_text(error.error_message, sources)}
                )
                for error in trail.errors
            ],
        }
    )
