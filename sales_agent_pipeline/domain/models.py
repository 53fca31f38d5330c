"""What the connectors return: our own immutable models, never SDK objects."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sales_agent_pipeline.domain.enums import TaskStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Contact(_Frozen):
    """A HubSpot contact; `created` tells whether the last upsert made it."""

    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job_title: str | None = None
    phone: str | None = None
    website: str | None = None
    owner_id: str | None = None
    properties: dict[str, str | None] = Field(default_factory=dict)
    created: bool = False
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None


class Company(_Frozen):
    """A HubSpot company."""

    id: str
    name: str | None = None
    domain: str | None = None
    owner_id: str | None = None
    properties: dict[str, str | None] = Field(default_factory=dict)


class Owner(_Frozen):
    """A HubSpot owner; HubSpot does not expose a time zone, so it stays optional (the
    tenant's owner_hours may give it one)."""

    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    user_id: int | None = None
    time_zone: str | None = None
    archived: bool = False

    @property
    def name(self) -> str:
        """First and last name, or the email when both are empty."""
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return full or self.email


def task_marker(workflow_id: str) -> str:
    """The tag in a task's body naming its workflow: it finds the task again after a crash,
    and matches a batch create's result to its input when HubSpot echoes no trace id."""
    return f"[sales-agent workflow {workflow_id}]"


class NewTask(_Frozen):
    """A follow-up task to create in HubSpot."""

    subject: str
    body: str = ""
    due_at: AwareDatetime
    status: TaskStatus = TaskStatus.NOT_STARTED
    priority: str = "MEDIUM"
    task_type: str = "EMAIL"
    owner_id: str | None = None
    contact_id: str | None = None
    company_id: str | None = None


class Task(_Frozen):
    """A HubSpot task as read back."""

    id: str
    subject: str | None = None
    body: str | None = None
    due_at: AwareDatetime | None = None
    status: str | None = None
    priority: str | None = None
    task_type: str | None = None
    owner_id: str | None = None
    contact_ids: tuple[str, ...] = ()
    company_ids: tuple[str, ...] = ()


class NewNote(_Frozen):
    """A note to attach to a contact (and company) timeline."""

    body: str
    timestamp: AwareDatetime
    owner_id: str | None = None
    contact_id: str | None = None
    company_id: str | None = None


class Note(_Frozen):
    """A HubSpot note."""

    id: str
    body: str | None = None
    timestamp: AwareDatetime | None = None
    owner_id: str | None = None


class UpstreamSubmission(_Frozen):
    """One past submission of a HubSpot form, as listed for reconciliation."""

    conversion_id: str
    form_id: str
    submitted_at: AwareDatetime
    values: dict[str, str]
    page_url: str | None = None


class SubmissionPage(_Frozen):
    """A page of form submissions and the cursor of the next one."""

    submissions: tuple[UpstreamSubmission, ...]
    next_after: str | None = None


class MailMessage(_Frozen):
    """One Gmail message with the headers threading needs and its bodies."""

    id: str
    thread_id: str
    from_address: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str = ""
    date: AwareDatetime | None = None
    message_id_header: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    text_body: str = ""
    html_body: str | None = None
    label_ids: tuple[str, ...] = ()
    snippet: str = ""


class ThreadSummary(_Frozen):
    """A thread as threads.list returns it: id and snippet."""

    id: str
    snippet: str = ""


class MailThread(_Frozen):
    """A Gmail thread with its messages, oldest first."""

    id: str
    messages: tuple[MailMessage, ...]

    @property
    def last_message(self) -> MailMessage | None:
        """The newest message, or None for an empty thread."""
        return self.messages[-1] if self.messages else None


class OutgoingMail(_Frozen):
    """A message to draft or send; the reply fields thread it in Gmail."""

    to: tuple[str, ...]
    subject: str
    text_body: str
    html_body: str | None = None
    cc: tuple[str, ...] = ()
    from_address: str | None = None
    thread_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # Names the message (its Message-ID) so a lost answer can be found again.
    marker: str | None = None
    # Further header fields, in order (List-Unsubscribe and List-Unsubscribe-Post).
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def replying_to(
        cls,
        thread: MailThread,
        *,
        to: tuple[str, ...],
        text_body: str,
        html_body: str | None = None,
        cc: tuple[str, ...] = (),
    ) -> OutgoingMail:
        """A reply to a thread's last message: its subject, In-Reply-To and References."""
        last = thread.last_message
        if last is None:
            raise ValueError(f"thread {thread.id} has no message to reply to")
        subject = last.subject or (thread.messages[0].subject if thread.messages else "")
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}".strip()
        references = list(last.references)
        if last.message_id_header and last.message_id_header not in references:
            references.append(last.message_id_header)
        return cls(
            to=to,
            cc=cc,
            subject=subject,
            text_body=text_body,
            html_body=html_body,
            thread_id=thread.id,
            in_reply_to=last.message_id_header,
            references=tuple(references),
        )


class DraftRef(_Frozen):
    """Where a Gmail draft lives."""

    draft_id: str
    message_id: str
    thread_id: str


class Draft(_Frozen):
    """A Gmail draft with its message."""

    draft_id: str
    message: MailMessage


class SentRef(_Frozen):
    """A sent Gmail message."""

    message_id: str
    thread_id: str
    label_ids: tuple[str, ...] = ()


class Label(_Frozen):
    """A Gmail label."""

    id: str
    name: str
    type: str = "user"


class BusyInterval(_Frozen):
    """A busy block of one calendar."""

    calendar_id: str
    start: AwareDatetime
    end: AwareDatetime


class DriveFile(_Frozen):
    """A Drive file found inside an allowlisted folder."""

    id: str
    name: str
    mime_type: str
    web_link: str | None = None
    parents: tuple[str, ...] = ()
    modified_time: AwareDatetime | None = None
    drive_id: str | None = None
    # Drive's one-line description of the file, when its owner wrote one.
    description: str | None = None
