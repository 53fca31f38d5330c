"""The small interfaces the steps depend on; the adapters and any fake implement them.

Every method raises only our classified errors (TransientError, PermanentError,
ConfigurationError) and returns domain models.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from sales_agent_pipeline.domain.effects import BatchWrite
from sales_agent_pipeline.domain.mailbox import HistoryPage, InboundMail, Profile, Watch
from sales_agent_pipeline.domain.models import (
    BusyInterval,
    Company,
    Contact,
    Draft,
    DraftRef,
    DriveFile,
    Label,
    MailThread,
    NewNote,
    NewTask,
    Note,
    OutgoingMail,
    Owner,
    SentRef,
    SubmissionPage,
    Task,
    ThreadSummary,
    UpstreamSubmission,
)


class CRM(Protocol):
    """HubSpot: contacts, companies, owners, tasks, notes and form submissions."""

    def upsert_contact(self, email: str, properties: Mapping[str, str | None]) -> Contact:
        """Create or update the contact with this email (one batch upsert call)."""
        ...

    def upsert_contacts(
        self, contacts: Sequence[tuple[str, Mapping[str, str | None]]]
    ) -> dict[str, Contact]:
        """Create or update contacts by email, 100 per call; keyed by lower-case email."""
        ...

    def get_contact(self, contact_id: str) -> Contact:
        """Read a contact by id."""
        ...

    def find_contact_by_email(self, email: str) -> Contact | None:
        """Read a contact by email, or None."""
        ...

    def find_companies(self, prop: str, values: Sequence[str]) -> dict[str, Company]:
        """The oldest company per value of `prop` (domain or name), keyed by lower-case value."""
        ...

    def find_company_by_domain(self, domain: str) -> Company | None:
        """The oldest company with this domain, or None."""
        ...

    def find_company_by_name(self, name: str) -> Company | None:
        """The oldest company with exactly this name, or None."""
        ...

    def create_company(
        self, name: str, domain: str | None = None, properties: Mapping[str, str] | None = None
    ) -> Company:
        """Create a company."""
        ...

    def associate_contact_company(self, contact_id: str, company_id: str) -> None:
        """Link a contact and a company with the default association."""
        ...

    def list_owners(self) -> list[Owner]:
        """Every active owner of the portal."""
        ...

    def get_owner(self, owner_id: str) -> Owner:
        """One owner by id."""
        ...

    def create_task(self, task: NewTask) -> Task:
        """Create a task associated to its contact and company."""
        ...

    def create_tasks(self, tasks: Mapping[str, NewTask]) -> BatchWrite[Task]:
        """Create several tasks in batch calls, each input traced by its key: results are
        matched to inputs by trace id only (what is matched to nothing is uncertain)."""
        ...

    def get_task(self, task_id: str) -> Task:
        """Read a task with its associations."""
        ...

    def get_tasks(self, task_ids: Sequence[str]) -> dict[str, Task]:
        """Tasks by id in batch reads; a deleted task is absent from the answer."""
        ...

    def find_task_by_marker(self, marker: str) -> Task | None:
        """The oldest task whose body contains `marker` (recovery after a lost answer);
        the search index lags behind writes, so a task made just now may be missed."""
        ...

    def update_task(self, task_id: str, properties: Mapping[str, str]) -> Task:
        """Change a task's properties (hs_task_status, hs_task_body, ...)."""
        ...

    def email_opt_out(self, email: str, *, contact_read: bool = False) -> str | None:
        """Why the address may not be emailed by the portal's own record (its contact's
        hs_email_optout, or a subscription it is NOT_SUBSCRIBED to), or None.
        `contact_read`: the caller already read the contact's hs_email_optout (false), so
        only the subscription statuses are asked."""
        ...

    def email_opt_outs(self, flags: Mapping[str, bool | None]) -> dict[str, str]:
        """Why each address may not be emailed, for those that may not (keyed by lower-case
        address), in batch calls; `flags`: each address's hs_email_optout as the caller saw
        it (None: not seen, read here)."""
        ...

    def create_note(self, note: NewNote) -> Note:
        """Create a note on the contact's (and company's) timeline."""
        ...

    def list_form_submissions(
        self, form_id: str, after: str | None = None, limit: int = 50
    ) -> SubmissionPage:
        """One page of a form's past submissions, newest first."""
        ...

    def iter_form_submissions(self, form_id: str) -> Iterator[UpstreamSubmission]:
        """Every past submission of a form, page after page."""
        ...


class Mail(Protocol):
    """Gmail: threads, drafts, sending and labels of the sending user."""

    def search_threads(self, email: str, max_results: int = 10) -> list[ThreadSummary]:
        """Threads from or to an address, newest first."""
        ...

    def get_thread(self, thread_id: str) -> MailThread:
        """A thread with its messages parsed."""
        ...

    def create_draft(self, mail: OutgoingMail) -> DraftRef:
        """Create a draft (in mail.thread_id when it is a reply)."""
        ...

    def update_draft(self, draft_id: str, mail: OutgoingMail) -> DraftRef:
        """Replace a draft's message."""
        ...

    def get_draft(self, draft_id: str) -> Draft:
        """Read a draft and its message."""
        ...

    def list_draft_ids(self) -> set[str]:
        """The ids of every draft in the mailbox."""
        ...

    def send_draft(self, draft_id: str) -> SentRef:
        """Send an existing draft."""
        ...

    def send_message(self, mail: OutgoingMail) -> SentRef:
        """Send a message directly."""
        ...

    def find_draft_by_marker(self, to: str, marker: str) -> DraftRef | None:
        """The draft written to `to` with this marker, if one exists."""
        ...

    def find_sent_by_marker(self, to: str, marker: str) -> SentRef | None:
        """The message sent to `to` with this marker, if one exists."""
        ...

    def find_sent_in_thread(self, thread_id: str, marker: str) -> SentRef | None:
        """The sent message with this marker in the thread (a direct read, no search
        index: what a sent draft became), if there is one."""
        ...

    def list_labels(self) -> list[Label]:
        """System and user labels."""
        ...

    def create_label(self, name: str) -> Label:
        """Create a user label."""
        ...

    def ensure_label(self, name: str, *, cached: bool = True) -> Label:
        """The label with this name, created when missing (safe under races); a known
        label is remembered unless `cached` is False."""
        ...

    def add_thread_label(self, thread_id: str, label_id: str) -> None:
        """Add a label to every message of a thread."""
        ...

    def profile(self) -> Profile:
        """The mailbox's address and current history id (users.getProfile)."""
        ...

    def history(self, start_history_id: int, page_token: str | None = None) -> HistoryPage:
        """One page of the messages added to the INBOX since a history id (users.history.list);
        HistoryExpired when the id is too old to read from."""
        ...

    def list_message_ids(self, query: str, max_results: int = 500) -> list[str]:
        """The ids of the messages matching a Gmail search, newest first, up to max_results."""
        ...

    def get_message_meta(self, message_id: str) -> InboundMail:
        """A message's labels and the headers the mailbox sync reads (with its RFC 822
        bytes when it is a delivery report)."""
        ...

    def watch(self, topic: str) -> Watch:
        """Push the INBOX's changes to a Pub/Sub topic (users.watch), or renew that."""
        ...

    def stop_watch(self) -> None:
        """Stop the mailbox's push notifications (users.stop)."""
        ...


class Calendar(Protocol):
    """Google Calendar free/busy."""

    def busy_intervals(
        self, calendar_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[BusyInterval]]:
        """Busy blocks per calendar within [start, end)."""
        ...


class Drive(Protocol):
    """Google Drive, restricted to allowlisted folders."""

    def find_files(
        self, folder_ids: Sequence[str], terms: Sequence[str] = (), max_results: int = 10
    ) -> list[DriveFile]:
        """Live files under the folders (recursively) whose name or text matches a term."""
        ...
