"""Step 2: the HubSpot contact for the lead, created or updated from the form."""

from __future__ import annotations

from collections.abc import Sequence

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import Contact
from sales_agent_pipeline.domain.workflow import ContactResult
from sales_agent_pipeline.ports.vendors import CRM

# Our canonical field names to HubSpot's contact properties.
CONTACT_PROPERTIES = {
    "first_name": "firstname",
    "last_name": "lastname",
    "company": "company",
    "job_title": "jobtitle",
    "phone": "phone",
    "website": "website",
}


def contact_properties(lead: Lead) -> dict[str, str | None]:
    """The form's values as HubSpot properties; empty fields never erase what HubSpot has."""
    return {
        hubspot: lead.fields[ours]
        for ours, hubspot in CONTACT_PROPERTIES.items()
        if lead.fields.get(ours)
    }


def resolve_contact(crm: CRM, lead: Lead) -> ContactResult:
    """Upsert by email (one call; never search-then-create) and keep the contact's owner."""
    contact = crm.upsert_contact(lead.email, contact_properties(lead))
    owner = crm.get_owner(contact.owner_id) if contact.owner_id else None
    return ContactResult(contact=contact, owner=owner)


def resolve_contacts(crm: CRM, leads: Sequence[Lead]) -> dict[str, ContactResult]:
    """Several leads' contacts in batch upserts (100 a call), keyed by lower-case email."""
    contacts = crm.upsert_contacts([(lead.email, contact_properties(lead)) for lead in leads])
    return {
        email: ContactResult(
            contact=found, owner=crm.get_owner(found.owner_id) if found.owner_id else None
        )
        for email, found in contacts.items()
    }


# HubSpot's contact property for "unsubscribed from all email".
EMAIL_OPTOUT = "hs_email_optout"


def opt_out_source(contact: Contact, crm: CRM, email: str) -> str | None:
    """Why HubSpot says the lead may not be emailed, as a suppression's source
    ("hs_email_optout", or the subscription it is not subscribed to), or None.

    The upsert's answer may carry hs_email_optout: true ends it there, false leaves only
    the subscription statuses to ask; an answer without it (HubSpot returns what was
    written) has the contact read for it first.
    """
    flag = optout_flag(contact)
    if flag:
        return EMAIL_OPTOUT
    # An answer that carries the property (false) spares the contact's second read.
    return source_of(crm.email_opt_out(email, contact_read=flag is not None))


def optout_flag(contact: Contact) -> bool | None:
    """The contact's hs_email_optout as the answer carried it (None: not in the answer)."""
    flag = contact.properties.get(EMAIL_OPTOUT)
    return None if flag is None else flag.strip().lower() == "true"


def source_of(reason: str | None) -> str | None:
    """HubSpot's reason (CRM.email_opt_out's words) as a suppression's source, or None."""
    if reason is None:
        return None
    if EMAIL_OPTOUT in reason:
        return EMAIL_OPTOUT
    return reason.removeprefix("HubSpot:").strip() or "HubSpot opt-out"


def check_opt_outs(crm: CRM, found: dict[str, ContactResult]) -> dict[str, ContactResult]:
    """A batch's contacts with HubSpot's opt-out asked in batch calls (CRM.email_opt_outs):
    two calls per 100 leads at most, instead of one or two per lead."""
    reasons = crm.email_opt_outs(
        {email: optout_flag(result.contact) for email, result in found.items()}
    )
    return {
        email: result.model_copy(
            update={"opt_out_checked": True, "hubspot_opt_out": reasons.get(email.lower())}
        )
        for email, result in found.items()
    }
