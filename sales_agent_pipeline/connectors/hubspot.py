"""The CRM protocol on hubspot-api-client: contacts, companies, owners, tasks, notes, forms."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import hubspot.crm.objects.notes as notes_sdk
import hubspot.crm.objects.tasks as tasks_sdk
import structlog
from cachetools import TTLCache
from hubspot.crm.companies import (
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
)
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)

from sales_agent_pipeline.connectors import hubspot_mapping as mapping
from sales_agent_pipeline.connectors.hubspot_client import HubSpotTransport
from sales_agent_pipeline.connectors.hubspot_mapping import (
    NOTE_TO_COMPANY,
    NOTE_TO_CONTACT,
    TASK_TO_COMPANY,
    TASK_TO_CONTACT,
)
from sales_agent_pipeline.domain.effects import BatchWrite, nothing_written
from sales_agent_pipeline.domain.errors import ConfigurationError, PermanentError, PipelineError
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
    task_marker,
)

log = structlog.get_logger(__name__)


__all__ = [
    "NOTE_TO_COMPANY",
    "NOTE_TO_CONTACT",
    "TASK_TO_COMPANY",
    "TASK_TO_CONTACT",
    "HubSpotCRM",
]

_BATCH_LIMIT = 100
_FORM_PAGE_LIMIT = 50


class HubSpotCRM:
    """CRM adapter; thread-safe, one per process and token."""

    def __init__(self, transport: HubSpotTransport, cache_ttl_seconds: float = 300.0) -> None:
        self._http = transport
        # Owners and companies change rarely and are read by every workflow.
        self._owners: TTLCache[str, Any] = TTLCache(maxsize=1024, ttl=cache_ttl_seconds)
        self._companies: TTLCache[tuple[str, str], Company] = TTLCache(
            maxsize=4096, ttl=cache_ttl_seconds
        )
        self._lock = threading.Lock()
        # Communication preferences v4 (batch reads) until the portal answers 404 for it.
        self._statuses_v4 = True

    def upsert_contact(self, email: str, properties: Mapping[str, str | None]) -> Contact:
        """Create or update the contact with this email (one batch upsert call)."""
        return self.upsert_contacts([(email, properties)])[email.strip().lower()]

    def upsert_contacts(
        self, contacts: Sequence[tuple[str, Mapping[str, str | None]]]
    ) -> dict[str, Contact]:
        """Create or update contacts by email, 100 per call; keyed by lower-case email.

        An email given twice is sent once (HubSpot refuses duplicate ids in one batch), with
        the properties of both, the later winning.
        """
        merged: dict[str, dict[str, str]] = {}
        for email, properties in contacts:
            # Empty form fields must not wipe what the CRM already knows, so None is dropped.
            props = {k: v for k, v in properties.items() if v is not None and k != "email"}
            merged.setdefault(email.strip().lower(), {}).update(props)
        found: dict[str, Contact] = {}
        emails = list(merged)
        for start in range(0, len(emails), _BATCH_LIMIT):
            chunk = emails[start : start + _BATCH_LIMIT]
            batch = BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    SimplePublicObjectBatchInputUpsert(
                        id=email, id_property="email", properties=merged[email]
                    )
                    for email in chunk
                ]
            )
            answer = self._http.call(
                "upsert contacts" if len(chunk) > 1 else "upsert contact",
                self._http.contacts_batch.upsert,
                batch,
            )
            errors = getattr(answer, "errors", None)
            results = list(answer.results or [])
            if errors or len(results) != len(chunk):
                raise PermanentError(
                    f"HubSpot upsert contacts: {len(results)} of {len(chunk)} done: {errors}",
                    http_status=207,
                )
            contacts_out = [
                mapping.to_contact(result, created=bool(getattr(result, "new", False)))
                for result in results
            ]
            if all(contact.email for contact in contacts_out):
                found.update({(c.email or "").lower(): c for c in contacts_out})
            else:
                # An answer without the email property: HubSpot answers in input order.
                found.update(zip(chunk, contacts_out, strict=True))
        missing = [email for email in emails if email not in found]
        if missing:
            raise PermanentError(f"HubSpot upsert contacts: no result for {missing[:3]}")
        return found

    def get_contact(self, contact_id: str) -> Contact:
        """Read a contact by id."""
        obj = self._http.call(
            "get contact",
            self._http.contacts.get_by_id,
            contact_id,
            properties=mapping.CONTACT_PROPERTIES,
        )
        return mapping.to_contact(obj)

    def find_contact_by_email(self, email: str) -> Contact | None:
        """Read a contact by email, or None."""
        try:
            obj = self._http.call(
                "get contact by email",
                self._http.contacts.get_by_id,
                email.strip().lower(),
                id_property="email",
                properties=mapping.CONTACT_PROPERTIES,
            )
        except PermanentError as exc:
            if exc.http_status == 404:
                return None
            raise
        return mapping.to_contact(obj)

    def _cached_company(self, key: tuple[str, str]) -> Company | None:
        with self._lock:
            return self._companies.get(key)

    def _remember(self, company: Company) -> None:
        with self._lock:
            if company.domain:
                self._companies[("domain", company.domain.lower())] = company
            if company.name:
                self._companies[("name", company.name.lower())] = company

    def _search_company(self, prop: str, value: str) -> Company | None:
        key = (prop, value.strip().lower())
        cached = self._cached_company(key)
        if cached is not None:
            return cached
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(filters=[Filter(property_name=prop, operator="EQ", value=key[1])])
            ],
            # Oldest first: when duplicates exist, every worker settles on the same one.
            sorts=["createdate"],
            properties=mapping.COMPANY_PROPERTIES,
            limit=1,
        )
        answer = self._http.call(
            f"search company by {prop}",
            self._http.companies_search.do_search,
            public_object_search_request=request,
            search=True,
        )
        if not answer.results:
            # Misses are not cached: the company may be created a moment later.
            return None
        company = mapping.to_company(answer.results[0])
        self._remember(company)
        return company

    def find_companies(self, prop: str, values: Sequence[str]) -> dict[str, Company]:
        """The oldest company per value of `prop` (domain or name), 100 values a search.

        One search for a whole batch of leads instead of one per lead: HubSpot allows 4
        searches a second per portal, the tightest of its limits for a bulk import.
        """
        wanted = sorted({value.strip().lower() for value in values if value.strip()})
        found: dict[str, Company] = {}
        for start in range(0, len(wanted), _BATCH_LIMIT):
            chunk = wanted[start : start + _BATCH_LIMIT]
            after: str | None = None
            while True:
                request = PublicObjectSearchRequest(
                    filter_groups=[
                        FilterGroup(
                            filters=[Filter(property_name=prop, operator="IN", values=chunk)]
                        )
                    ],
                    sorts=["createdate"],
                    properties=mapping.COMPANY_PROPERTIES,
                    limit=_BATCH_LIMIT,
                    after=after,
                )
                answer = self._http.call(
                    f"search companies by {prop}",
                    self._http.companies_search.do_search,
                    public_object_search_request=request,
                    search=True,
                )
                for obj in answer.results or []:
                    company = mapping.to_company(obj)
                    key = ((company.domain if prop == "domain" else company.name) or "").lower()
                    if key in chunk and key not in found:
                        found[key] = company
                        self._remember(company)
                following = mapping.next_after(answer)
                if not following or following == after:
                    break
                after = following
        return found

    def find_company_by_domain(self, domain: str) -> Company | None:
        """The oldest company with this domain, or None."""
        return self._search_company("domain", domain)

    def find_company_by_name(self, name: str) -> Company | None:
        """The oldest company with exactly this name, or None."""
        return self._search_company("name", name)

    def create_company(
        self, name: str, domain: str | None = None, properties: Mapping[str, str] | None = None
    ) -> Company:
        """Create a company."""
        props = {**(properties or {}), "name": name}
        if domain:
            props["domain"] = domain.strip().lower()
        obj = self._http.call(
            "create company", self._http.companies.create, CompanyInput(properties=props)
        )
        company = mapping.to_company(obj)
        self._remember(company)
        return company

    def associate_contact_company(self, contact_id: str, company_id: str) -> None:
        """Link a contact and a company with the default association."""
        self._http.call(
            "associate contact and company",
            self._http.associations.create_default,
            from_object_type="contacts",
            from_object_id=contact_id,
            to_object_type="companies",
            to_object_id=company_id,
        )

    def list_owners(self) -> list[Owner]:
        """Every active owner of the portal."""
        with self._lock:
            cached = self._owners.get("*")
        if cached is not None:
            return list(cached)
        owners: list[Owner] = []
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 100, "archived": False}
            if after:
                kwargs["after"] = after
            page = self._http.call("list owners", self._http.owners.get_page, **kwargs)
            owners.extend(mapping.to_owner(o) for o in page.results or [])
            after = mapping.next_after(page)
            if not after:
                break
        with self._lock:
            self._owners["*"] = tuple(owners)
            for owner in owners:
                self._owners[owner.id] = owner
        return owners

    def get_owner(self, owner_id: str) -> Owner:
        """One owner by id."""
        with self._lock:
            cached = self._owners.get(owner_id)
        if isinstance(cached, Owner):
            return cached
        obj = self._http.call(
            "get owner", self._http.owners.get_by_id, int(owner_id), id_property="id"
        )
        owner = mapping.to_owner(obj)
        with self._lock:
            self._owners[owner.id] = owner
        return owner

    def create_task(self, task: NewTask) -> Task:
        """Create a task associated to its contact and company."""
        request = tasks_sdk.SimplePublicObjectInputForCreate(
            properties=mapping.task_properties(task), associations=mapping.task_associations(task)
        )
        obj = self._http.call("create task", self._http.tasks.create, request)
        return mapping.with_links(mapping.to_task(obj), task)

    def create_tasks(self, tasks: Mapping[str, NewTask]) -> BatchWrite[Task]:
        """Create tasks in batch calls of 100, each input carrying its key as its
        objectWriteTraceId (which turns on HubSpot's 207 answers with partial results).

        Results are matched to inputs by trace id, which the versioned API echoes; the
        legacy v3 answer may carry none, and then by the key in the task's body (every
        body names its workflow id). A result matched by neither, an error
        HubSpot may have committed, and every input of a later call that failed uncertainly
        (a timeout, a 5xx) are left out, uncertain. Refused inputs (a 4xx for the item or
        a later call) and those of calls not made after a failure are `refused`. When the
        first call fails its error is raised: nothing was settled.
        """
        outcome: BatchWrite[Task] = BatchWrite()
        keys = list(tasks)
        for start in range(0, len(keys), _BATCH_LIMIT):
            chunk = keys[start : start + _BATCH_LIMIT]
            sent = set(chunk)
            try:
                answer = self._create_task_batch({key: tasks[key] for key in chunk})
            except PipelineError as exc:
                if start == 0:
                    raise  # nothing settled yet: the caller (and the breaker) sees the error
                if nothing_written(exc):
                    outcome.refused.update(dict.fromkeys(chunk, str(exc)))
                # The later calls are not made: the vendor is failing now.
                later = keys[start + _BATCH_LIMIT :]
                outcome.refused.update(dict.fromkeys(later, f"not sent after: {exc}"))
                return outcome
            for obj in answer.results or []:
                key = _traced_key(obj, sent)
                if key is not None:
                    outcome.created[key] = mapping.with_links(mapping.to_task(obj), tasks[key])
            refused = mapping.refused_inputs(getattr(answer, "errors", None))
            outcome.refused.update(
                {k: why for k, why in refused.items() if k in sent and k not in outcome.created}
            )
        return outcome

    def _create_task_batch(self, chunk: Mapping[str, NewTask]) -> Any:
        inputs = [
            tasks_sdk.SimplePublicObjectBatchInputForCreate(
                properties=mapping.task_properties(task),
                associations=mapping.task_associations(task),
                object_write_trace_id=key,
            )
            for key, task in chunk.items()
        ]
        return self._http.call(
            "create tasks",
            self._http.tasks_batch.create,
            tasks_sdk.BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs),
        )

    def get_task(self, task_id: str) -> Task:
        """Read a task with its associations."""
        obj = self._http.call(
            "get task",
            self._http.tasks.get_by_id,
            task_id,
            properties=mapping.TASK_PROPERTIES,
            associations=["contacts", "companies"],
        )
        return mapping.to_task(obj)

    def get_tasks(self, task_ids: Sequence[str]) -> dict[str, Task]:
        """Tasks by id, in batch reads of 100 (no associations); a task HubSpot no longer
        has (deleted) is absent from the answer."""
        found: dict[str, Task] = {}
        unique = list(dict.fromkeys(task_ids))
        for start in range(0, len(unique), _BATCH_LIMIT):
            chunk = unique[start : start + _BATCH_LIMIT]
            request = tasks_sdk.BatchReadInputSimplePublicObjectId(
                inputs=[tasks_sdk.SimplePublicObjectId(id=task_id) for task_id in chunk],
                properties=mapping.TASK_PROPERTIES,
                properties_with_history=[],
            )
            answer = self._http.call(
                "read tasks", self._http.tasks_batch.read, request, archived=False
            )
            # A 207 lists the ids it could not find; any other error is not an absence.
            for error in getattr(answer, "errors", None) or []:
                if getattr(error, "category", None) != "OBJECT_NOT_FOUND":
                    raise PermanentError(
                        f"HubSpot read tasks: {error.category}: {error.message}",
                        http_status=207,
                    )
            for obj in answer.results or []:
                found[str(obj.id)] = mapping.to_task(obj)
        return found

    def find_task_by_marker(self, marker: str) -> Task | None:
        """The oldest task whose body contains `marker` (recovery after a lost answer).

        HubSpot's search index trails writes by seconds to minutes, so a task created
        just now may not be found yet: a miss proves nothing until the lag window has
        passed (domain/effects.py looks again until then instead of creating).
        """
        tokens = [t for t in re.split(r"[\s,;@.\[\]]+", marker) if t]
        if not tokens:
            raise PermanentError("an empty marker cannot find a task")
        # Search filters match whole tokens; a wildcard around the marker's most
        # distinctive token narrows the candidates, and the exact check below decides.
        token = max(tokens, key=len)
        request = tasks_sdk.PublicObjectSearchRequest(
            filter_groups=[
                tasks_sdk.FilterGroup(
                    filters=[
                        tasks_sdk.Filter(
                            property_name="hs_task_body",
                            operator="CONTAINS_TOKEN",
                            value=f"*{token}*",
                        )
                    ]
                )
            ],
            sorts=["hs_createdate"],
            properties=mapping.TASK_PROPERTIES,
            limit=20,
        )
        answer = self._http.call(
            "search task by marker",
            self._http.tasks_search.do_search,
            public_object_search_request=request,
            search=True,
        )
        for obj in answer.results or []:
            if marker in ((obj.properties or {}).get("hs_task_body") or ""):
                return self.get_task(str(obj.id))
        return None

    def update_task(self, task_id: str, properties: Mapping[str, str]) -> Task:
        """Change a task's properties (hs_task_status, hs_task_body, ...)."""
        obj = self._http.call(
            "update task",
            self._http.tasks.update,
            task_id,
            tasks_sdk.SimplePublicObjectInput(properties=dict(properties)),
        )
        return mapping.to_task(obj)

    def email_opt_out(self, email: str, *, contact_read: bool = False) -> str | None:
        """Why the portal says the address may not be emailed, or None: its contact's
        hs_email_optout, else a subscription status NOT_SUBSCRIBED (communication
        preferences' status API; it needs the communication_preferences.read scope).
        `contact_read`: the caller saw hs_email_optout false already: the contact is not
        read again (one call, not two)."""
        address = email.strip().lower()
        if not contact_read:
            reason = mapping.opt_out_reason(self._opt_out_contact(address), None)
            if reason is not None:
                return reason
        try:
            statuses = self._http.call(
                "get subscription statuses", self._http.subscriptions.get_email_status, address
            )
        except PermanentError as exc:
            # No record of the address at all: nothing says it opted out.
            if exc.http_status == 404:
                return None
            raise
        except ConfigurationError as exc:
            # An app without the communication_preferences.read scope (403): the contact's
            # hs_email_optout was still read; the lead is not failed for a missing scope.
            if exc.http_status != 403:
                raise
            log.warning("hubspot.subscriptions_unreadable", status=exc.http_status)
            return None
        return mapping.opt_out_reason(None, statuses)

    def email_opt_outs(self, flags: Mapping[str, bool | None]) -> dict[str, str]:
        """Why each address may not be emailed, for the addresses that may not (keyed by
        lower-case address): `flags` is each address's hs_email_optout as the caller saw it
        (None: not seen). In batches: the contacts of unseen flags read 100 a call, then
        communication preferences v4's batch read of the subscription statuses 100 a call;
        where v4 is not served (404), v3 one address at a time."""
        seen = {email.strip().lower(): flag for email, flag in flags.items()}
        unseen = [email for email, flag in seen.items() if flag is None]
        for start in range(0, len(unseen), _BATCH_LIMIT):
            seen |= self._optout_flags(unseen[start : start + _BATCH_LIMIT])
        found = {
            email: f"HubSpot: opted out of all email ({mapping.EMAIL_OPTOUT})"
            for email, flag in seen.items()
            if flag
        }
        rest = [email for email in seen if email not in found]
        for start in range(0, len(rest), _BATCH_LIMIT):
            chunk = rest[start : start + _BATCH_LIMIT]
            if not self._statuses_v4:
                found |= self._opt_outs_one_by_one(chunk)
                continue
            try:
                answer = self._http.batch_subscription_statuses(chunk)
            except PermanentError as exc:
                if exc.http_status not in (404, 405):
                    raise
                # An account (or a stand-in) without v4: v3, one address at a time.
                self._statuses_v4 = False
                found |= self._opt_outs_one_by_one(chunk)
                continue
            except ConfigurationError as exc:
                if exc.http_status != 403:
                    raise
                log.warning("hubspot.subscriptions_unreadable", status=exc.http_status)
                return found
            found |= mapping.batch_opt_out_reasons(answer)
        return found

    def _opt_outs_one_by_one(self, emails: Sequence[str]) -> dict[str, str]:
        """v3's subscription statuses, one address a call (hs_email_optout already read)."""
        return {
            email: reason
            for email in emails
            if (reason := self.email_opt_out(email, contact_read=True)) is not None
        }

    def _optout_flags(self, emails: Sequence[str]) -> dict[str, bool]:
        """hs_email_optout of the contacts of these addresses (absent: no contact, False)."""
        request = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=email) for email in emails],
            properties=[mapping.EMAIL_OPTOUT, "email"],
            properties_with_history=[],
            id_property="email",
        )
        answer = self._http.call(
            "read contacts opt-out", self._http.contacts_batch.read, request, archived=False
        )
        flags = dict.fromkeys(emails, False)
        for obj in getattr(answer, "results", None) or []:
            props = mapping.props(obj)
            email = (props.get("email") or "").lower()
            if email in flags:
                flags[email] = (props.get(mapping.EMAIL_OPTOUT) or "").lower() == "true"
        return flags

    def _opt_out_contact(self, address: str) -> Any | None:
        """The address's contact with hs_email_optout only, or None when there is none."""
        try:
            return self._http.call(
                "get contact opt-out",
                self._http.contacts.get_by_id,
                address,
                id_property="email",
                properties=[mapping.EMAIL_OPTOUT],
            )
        except PermanentError as exc:
            if exc.http_status != 404:
                raise
        return None

    def create_note(self, note: NewNote) -> Note:
        """Create a note on the contact's (and company's) timeline."""
        props = {"hs_note_body": note.body, "hs_timestamp": mapping.hubspot_time(note.timestamp)}
        if note.owner_id:
            props["hubspot_owner_id"] = note.owner_id
        links = [
            mapping.association(notes_sdk, to_id, type_id)
            for to_id, type_id in (
                (note.contact_id, NOTE_TO_CONTACT),
                (note.company_id, NOTE_TO_COMPANY),
            )
            if to_id
        ]
        request = notes_sdk.SimplePublicObjectInputForCreate(properties=props, associations=links)
        obj = self._http.call("create note", self._http.notes.create, request)
        return mapping.to_note(obj)

    def list_form_submissions(
        self, form_id: str, after: str | None = None, limit: int = _FORM_PAGE_LIMIT
    ) -> SubmissionPage:
        """One page of a form's past submissions, newest first."""
        body = self._http.list_form_page(form_id, after, max(1, min(limit, _FORM_PAGE_LIMIT)))
        submissions = tuple(
            mapping.to_submission(form_id, item) for item in body.get("results") or []
        )
        following = ((body.get("paging") or {}).get("next") or {}).get("after")
        return SubmissionPage(submissions=submissions, next_after=following or None)

    def iter_form_submissions(self, form_id: str) -> Iterator[UpstreamSubmission]:
        """Every past submission of a form, page after page."""
        after: str | None = None
        while True:
            page = self.list_form_submissions(form_id, after)
            yield from page.submissions
            if not page.next_after or page.next_after == after:
                return
            after = page.next_after


def _traced_key(obj: Any, sent: set[str]) -> str | None:
    """The input a batch result was created from: its objectWriteTraceId when HubSpot echoes
    it, else the one key its body names (the body carries the workflow id as a marker);
    None when neither says, so the input stays uncertain rather than matched by position."""
    key = getattr(obj, "object_write_trace_id", None)
    if key in sent:
        return str(key)
    body = (getattr(obj, "properties", None) or {}).get("hs_task_body") or ""
    named = [candidate for candidate in sent if task_marker(candidate) in body]
    return named[0] if len(named) == 1 else None
