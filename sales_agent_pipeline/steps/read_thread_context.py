"""Step 5: the latest thread's last message, quotes and signature stripped, and who spoke."""

from __future__ import annotations

from collections.abc import Sequence

from mailparser_reply import EmailReplyParser

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import MailThread, ThreadSummary
from sales_agent_pipeline.domain.workflow import Speaker, ThreadContext
from sales_agent_pipeline.ports.vendors import Mail

_PARSER = EmailReplyParser(languages=["en", "de", "fr", "es", "nl"])


def latest_reply_text(text: str) -> str:
    """The newest reply of a message body: quoted history and signature removed."""
    if not text.strip():
        return ""
    replies = _PARSER.read(text=text).replies
    body = replies[0].body if replies else text
    return body.strip()


def thread_context(thread: MailThread, lead: Lead) -> ThreadContext:
    """What a reply needs to know about a thread."""
    last = thread.last_message
    if last is None:
        return ThreadContext(thread_id=thread.id)
    speaker = Speaker.PROSPECT if lead.email in last.from_address.lower() else Speaker.US
    return ThreadContext(
        thread_id=thread.id,
        subject=thread.messages[0].subject or last.subject,
        last_message_text=latest_reply_text(last.text_body) or last.snippet,
        last_speaker=speaker,
        last_message_at=last.date,
        message_count=len(thread.messages),
        last_message_id_header=last.message_id_header,
        references=last.references,
    )


def read_thread_context(mail: Mail, threads: Sequence[ThreadSummary], lead: Lead) -> ThreadContext:
    """Read the newest thread (the search returns newest first); empty when there is none."""
    if not threads:
        return ThreadContext()
    return thread_context(mail.get_thread(threads[0].id), lead)
