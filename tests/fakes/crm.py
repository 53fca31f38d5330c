"""HubSpot in memory: contacts by email, companies, owners, tasks, notes, form submissions."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from types import SimpleNamespace

from sales_agent_pipeline.connectors import hubspot_mapping as mapping
from sales_agent_pipeline.domain.effects import BatchWrite, nothing_written
from sales_agent_pipeline.domain.errors import PermanentError, PipelineError
from sales_agent_pipeline.domain.models import (
    Company,
    Contact,
    NewNote,
    NewTask,
    Note,
    Owner,
    SubmissionPage,
    Task,
    UpstreamSubmission,
)
from tests.fakes.faults import FakeVendor

BATCH_LIMIT = 100


def _not_found(kind: str, key: str) -> PermanentError:
    return PermanentError(f"HubSpot {kind} {key}: not found", http_status=404)


def _chunks(count: int) -> range:
    return range(0, count, BATCH_LIMIT)


class FakeCRM(FakeVendor):
    """The CRM port over dicts; behaves as HubSpot does where the steps depend on it.

    Upserts are by email (case-insensitive) and never erase a value with None; searches
    find the oldest record; batch methods make one request per 100 items; a task keeps
    the contact and company it was created with. With `search_lags`, records created
    since the last `index()` are not found by searches yet, as HubSpot's index trails
    its writes by a few seconds.
    """

    def __init__(self, *, search_lags: bool = False) -> None:
        super().__init__()
        self.search_lags = search_lags
        self.contacts: dict[str, dict[str, str]] = {}
        self.companies: list[Company] = []
        self.owners: dict[str, Owner] = {}
        self.tasks: dict[str, Task] = {}
        self.notes: list[Note] = []
        self.associations: set[tuple[str, str]] = set()
        self.submissions: dict[str, list[UpstreamSubmission]] = {}
        self._unindexed: set[str] = set()
        self.echo_trace_ids = True
        # Addresses NOT_SUBSCRIBED to a subscription type, with the type's name.
        self.unsubscribed: dict[str, str] = {}
        self._ids = itertools.count(4100000001)

    # Seeding and inspection, for tests.

    def add_owner(self, email: str, first_name: str | None = None, **values: object) -> Owner:
        """An owner of the portal (HubSpot's users are made in its UI, not by the API)."""
        owner = Owner.model_validate(
            {"id": str(next(self._ids)), "email": email, "first_name": first_name, **values}
        )
        self.owners[owner.id] = owner
        return owner

    def add_submission(self, submission: UpstreamSubmission) -> None:
        """A past submission of its form (listed newest first)."""
        self.submissions.setdefault(submission.form_id, []).append(submission)

    def index(self) -> None:
        """HubSpot's search index catches up with every write."""
        self._unindexed.clear()

    def companies_of(self, contact_id: str) -> list[Company]:
        """The companies a contact is associated with."""
        return [c for c in self.companies if (contact_id, c.id) in self.associations]

    def delete_task(self, task_id: str) -> None:
        """The owner deletes a task in HubSpot."""
        del self.tasks[task_id]

    # The CRM port.

    def upsert_contact(self, email: str, properties: Mapping[str, str | None]) -> Contact:
        """Create or update the contact with this email (one batch upsert call)."""
        with self.request("upsert_contact"):
            return self._upsert(email, properties)

    def upsert_contacts(
        self, contacts: Sequence[tuple[str, Mapping[str, str | None]]]
    ) -> dict[str, Contact]:
        """Create or update contacts by email, 100 per request; keyed by lower-case email."""
        merged: dict[str, dict[str, str | None]] = {}
        for email, properties in contacts:
            # An email given twice is one upsert; an empty value never wipes a given one.
            values = {k: v for k, v in properties.items() if v is not None}
            merged.setdefault(email.strip().lower(), {}).update(values)
        emails = list(merged)
        found: dict[str, Contact] = {}
        for start in _chunks(len(emails)):
            with self.request("upsert_contacts"):
                for email in emails[start : start + BATCH_LIMIT]:
                    found[email] = self._upsert(email, merged[email])
        return found

    def _upsert(self, email: str, properties: Mapping[str, str | None]) -> Contact:
        email = email.strip().lower()
        owner_id = properties.get("hubspot_owner_id")
        if owner_id and owner_id not in self.owners:
            raise PermanentError(f"{owner_id} is not a valid owner id", http_status=400)
        contact_id = next((i for i, c in self.contacts.items() if c["email"] == email), None)
        created = contact_id is None
        if contact_id is None:
            contact_id = str(next(self._ids))
            self.contacts[contact_id] = {"email": email, "hs_object_id": contact_id}
        values = {k: v for k, v in properties.items() if v is not None and k != "email"}
        self.contacts[contact_id].update(values)
        return self._contact(contact_id, created=created)

    def _contact(self, contact_id: str, *, created: bool = False) -> Contact:
        # Read back the way the adapter reads HubSpot's answer.
        record = SimpleNamespace(id=contact_id, properties=dict(self.contacts[contact_id]))
        return mapping.to_contact(record, created=created)

    def get_contact(self, contact_id: str) -> Contact:
        """Read a contact by id."""
        with self.request("get_contact"):
            if contact_id not in self.contacts:
                raise _not_found("contact", contact_id)
            return self._contact(contact_id)

    def find_contact_by_email(self, email: str) -> Contact | None:
        """Read a contact by email, or None."""
        with self.request("find_contact_by_email"):
            wanted = email.strip().lower()
            found = (i for i, c in self.contacts.items() if c["email"] == wanted)
            contact_id = next(found, None)
            return None if contact_id is None else self._contact(contact_id)

    def _search(self, prop: str, value: str) -> Company | None:
        wanted = value.strip().lower()
        return next(
            (
                c
                for c in self.companies
                if c.id not in self._unindexed
                and ((c.domain if prop == "domain" else c.name) or "").lower() == wanted
            ),
            None,
        )

    def find_companies(self, prop: str, values: Sequence[str]) -> dict[str, Company]:
        """The oldest company per value of `prop` (domain or name), 100 values a search."""
        wanted = sorted({value.strip().lower() for value in values if value.strip()})
        found: dict[str, Company] = {}
        for start in _chunks(len(wanted)):
            with self.request("find_companies"):
                for value in wanted[start : start + BATCH_LIMIT]:
                    company = self._search(prop, value)
                    if company is not None:
                        found[value] = company
        return found

    def find_company_by_domain(self, domain: str) -> Company | None:
        """The oldest company with this domain, or None."""
        with self.request("find_company_by_domain"):
            return self._search("domain", domain)

    def find_company_by_name(self, name: str) -> Company | None:
        """The oldest company with exactly this name (any case), or None."""
        with self.request("find_company_by_name"):
            return self._search("name", name)

    def create_company(
        self, name: str, domain: str | None = None, properties: Mapping[str, str] | None = None
    ) -> Company:
        """Create a company (HubSpot never refuses a duplicate one)."""
        with self.request("create_company"):
            company_id = str(next(self._ids))
            props: dict[str, str | None] = {**(properties or {}), "name": name}
            if domain:
                props["domain"] = domain.strip().lower()
            company = mapping.to_company(SimpleNamespace(id=company_id, properties=props))
            self.companies.append(company)
            if self.search_lags:
                self._unindexed.add(company_id)
            return company

    def associate_contact_company(self, contact_id: str, company_id: str) -> None:
        """Link a contact and a company (again is harmless)."""
        with self.request("associate_contact_company"):
            if contact_id not in self.contacts:
                raise _not_found("contact", contact_id)
            if all(c.id != company_id for c in self.companies):
                raise _not_found("company", company_id)
            self.associations.add((contact_id, company_id))

    def list_owners(self) -> list[Owner]:
        """Every active owner of the portal."""
        with self.request("list_owners"):
            return [o for o in self.owners.values() if not o.archived]

    def get_owner(self, owner_id: str) -> Owner:
        """One owner by id."""
        with self.request("get_owner"):
            owner = self.owners.get(owner_id)
            if owner is None or owner.archived:
                raise _not_found("owner", owner_id)
            return owner

    def _new_task(self, task: NewTask) -> Task:
        # HubSpot refuses the whole task (400) when an owner or association does not exist.
        known = {
            "owner": set(self.owners),
            "contact": set(self.contacts),
            "company": {c.id for c in self.companies},
        }
        linked = {"owner": task.owner_id, "contact": task.contact_id, "company": task.company_id}
        for kind, linked_id in linked.items():
            if linked_id and linked_id not in known[kind]:
                raise PermanentError(f"HubSpot task: no {kind} {linked_id}", http_status=400)
        created = Task(
            id=str(next(self._ids)),
            subject=task.subject,
            body=task.body,
            due_at=task.due_at,
            status=task.status.value,
            priority=task.priority,
            task_type=task.task_type,
            owner_id=task.owner_id,
            contact_ids=(task.contact_id,) if task.contact_id else (),
            company_ids=(task.company_id,) if task.company_id else (),
        )
        self.tasks[created.id] = created
        if self.search_lags:
            self._unindexed.add(created.id)
        return created

    def create_task(self, task: NewTask) -> Task:
        """Create a task associated to its contact and company."""
        with self.request("create_task"):
            return self._new_task(task)

    def create_tasks(self, tasks: Mapping[str, NewTask]) -> BatchWrite[Task]:
        """Create several tasks, 100 a request, each traced by its key, as the adapter
        answers: a task HubSpot refuses is `refused` (a 207); a failed first request
        raises; a later one that fails leaves its tasks uncertain (written or not, as the
        fault says) and the ones after it unsent.
        Without `echo_trace_ids` the results come back untraced, matched to nothing."""
        outcome: BatchWrite[Task] = BatchWrite()
        keys = list(tasks)
        for start in _chunks(len(keys)):
            chunk = keys[start : start + BATCH_LIMIT]
            try:
                with self.request("create_tasks"):
                    for key in chunk:
                        try:
                            made = self._new_task(tasks[key])
                        except PermanentError as exc:
                            outcome.refused[key] = str(exc)
                            continue
                        if self.echo_trace_ids:
                            outcome.created[key] = made
            except PipelineError as exc:
                if start == 0:
                    raise
                for key in chunk:
                    outcome.created.pop(key, None)
                    outcome.refused.pop(key, None)
                unsent = keys[start:] if nothing_written(exc) else keys[start + BATCH_LIMIT :]
                outcome.refused.update(dict.fromkeys(unsent, f"not sent: {exc}"))
                return outcome
        return outcome

    def get_task(self, task_id: str) -> Task:
        """Read a task with its associations."""
        with self.request("get_task"):
            if task_id not in self.tasks:
                raise _not_found("task", task_id)
            return self.tasks[task_id]

    def get_tasks(self, task_ids: Sequence[str]) -> dict[str, Task]:
        """Tasks by id, 100 a request; a deleted task is absent from the answer."""
        unique = list(dict.fromkeys(task_ids))
        found: dict[str, Task] = {}
        for start in _chunks(len(unique)):
            with self.request("get_tasks"):
                chunk = unique[start : start + BATCH_LIMIT]
                found.update({i: self.tasks[i] for i in chunk if i in self.tasks})
        return found

    def find_task_by_marker(self, marker: str) -> Task | None:
        """The oldest (indexed) task whose body contains `marker`."""
        with self.request("find_task_by_marker"):
            if not marker.strip():
                raise PermanentError("an empty marker cannot find a task")
            return next(
                (
                    t
                    for t in self.tasks.values()
                    if t.id not in self._unindexed and marker in (t.body or "")
                ),
                None,
            )

    def update_task(self, task_id: str, properties: Mapping[str, str]) -> Task:
        """Change a task's status, body or subject."""
        with self.request("update_task"):
            if task_id not in self.tasks:
                raise _not_found("task", task_id)
            fields = {
                "hs_task_status": "status",
                "hs_task_body": "body",
                "hs_task_subject": "subject",
            }
            update = {fields[k]: v for k, v in properties.items() if k in fields}
            self.tasks[task_id] = self.tasks[task_id].model_copy(update=update)
            return self.tasks[task_id]

    def email_opt_out(self, email: str, *, contact_read: bool = False) -> str | None:
        """hs_email_optout on the address's contact, else a NOT_SUBSCRIBED subscription."""
        with self.request("email_opt_out"):
            address = email.strip().lower()
            contact = next((c for c in self.contacts.values() if c["email"] == address), {})
            if not contact_read and str(contact.get("hs_email_optout", "")).lower() == "true":
                return "HubSpot: opted out of all email (hs_email_optout)"
            name = self.unsubscribed.get(address)
            return f"HubSpot: not subscribed to {name}" if name else None

    def email_opt_outs(self, flags: Mapping[str, bool | None]) -> dict[str, str]:
        """Each address's email_opt_out, as one batch request."""
        with self.request("email_opt_outs"):
            found = {}
            for email, flag in flags.items():
                reason = (
                    "HubSpot: opted out of all email (hs_email_optout)"
                    if flag
                    else self.email_opt_out(email, contact_read=flag is not None)
                )
                if reason is not None:
                    found[email.strip().lower()] = reason
            return found

    def create_note(self, note: NewNote) -> Note:
        """Create a note on the contact's (and company's) timeline."""
        with self.request("create_note"):
            created = Note(
                id=str(next(self._ids)),
                body=note.body,
                timestamp=note.timestamp,
                owner_id=note.owner_id,
            )
            self.notes.append(created)
            return created

    def list_form_submissions(
        self, form_id: str, after: str | None = None, limit: int = 50
    ) -> SubmissionPage:
        """One page of a form's past submissions, newest first."""
        with self.request("list_form_submissions"):
            newest = sorted(
                self.submissions.get(form_id, []), key=lambda s: s.submitted_at, reverse=True
            )
            start = int(after or 0)
            end = start + max(1, min(limit, 50))
            following = str(end) if end < len(newest) else None
            return SubmissionPage(submissions=tuple(newest[start:end]), next_after=following)

    def iter_form_submissions(self, form_id: str) -> Iterator[UpstreamSubmission]:
        """Every past submission of a form, page after page."""
        after: str | None = None
        while True:
            page = self.list_form_submissions(form_id, after)
            yield from page.submissions
            if page.next_after is None:
                return
            after = page.next_after
