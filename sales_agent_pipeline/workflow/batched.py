"""HubSpot's batch endpoints for runs of many leads, before the per-lead step work.

A batched call is an optimisation only: whatever it did not settle (an error, a lead with
a pending record from an earlier crash) is left to the per-lead path, which keeps the
step's own error handling, retries and marker recovery. A batch call carries the leads of
one tenant only (`per_tenant`), with that tenant's token, into that tenant's portal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar

from sales_agent_pipeline.domain.errors import PipelineError
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import Company, NewTask, Task
from sales_agent_pipeline.domain.workflow import ContactResult
from sales_agent_pipeline.ports.effects import EffectStore
from sales_agent_pipeline.ports.vendors import CRM
from sales_agent_pipeline.steps.create_hubspot_task import TASK_SCOPE
from sales_agent_pipeline.steps.resolve_company import KnownCompanies, company_keys
from sales_agent_pipeline.steps.resolve_contact import check_opt_outs, resolve_contacts
from sales_agent_pipeline.workflow.services import Log
from sales_agent_pipeline.workflow.state import LeadState

C = TypeVar("C")


def per_tenant(
    states: Iterable[LeadState], connector: Callable[[uuid.UUID], C], log: Log
) -> Iterator[tuple[C, list[LeadState]]]:
    """The leads grouped by tenant, each group with its tenant's connector.

    A tenant whose connector cannot be built (no credentials stored) is left out: its leads
    meet the same error on the per-lead path, where it is recorded against each of them.
    """
    groups: dict[uuid.UUID, list[LeadState]] = {}
    for state in states:
        groups.setdefault(state.item.tenant.tenant_id, []).append(state)
    for tenant_id, group in groups.items():
        try:
            built = connector(tenant_id)
        except PipelineError as exc:
            log.warning(f"portal {group[0].item.tenant.portal_id}: no batch calls: {exc}")
            continue
        yield built, group


def upsert_contacts(
    crm: CRM, leads: Mapping[uuid.UUID, Lead], log: Log
) -> dict[uuid.UUID, ContactResult]:
    """Each lead's contact from batch upserts (idempotent by email); {} when it failed."""
    if len(leads) < 2:
        return {}
    try:
        by_email = resolve_contacts(crm, list(leads.values()))
    except PipelineError as exc:
        log.warning(f"batch contact upsert failed, each lead goes on its own: {exc}")
        return {}
    try:
        by_email = check_opt_outs(crm, by_email)
    except PipelineError as exc:
        log.warning(f"batch opt-out read failed, each lead asks on its own: {exc}")
    return {
        workflow_id: by_email[lead.email.lower()]
        for workflow_id, lead in leads.items()
        if lead.email.lower() in by_email
    }


def search_companies(crm: CRM, leads: list[Lead], log: Log) -> KnownCompanies:
    """The batch's companies by domain, then by name for the domains not found: two searches
    per 100 leads instead of one or two per lead. {} when a search failed."""
    if len(leads) < 2:
        return {}
    known: dict[tuple[str, str], Company | None] = {}
    try:
        domains = {d.lower() for d, _ in map(company_keys, leads) if d}
        by_domain = crm.find_companies("domain", sorted(domains))
        known.update({("domain", d): by_domain.get(d) for d in domains})
        names = {
            name.strip().lower()
            for domain, name in map(company_keys, leads)
            if name and (domain is None or by_domain.get(domain.lower()) is None)
        }
        if names:
            by_name = crm.find_companies("name", sorted(names))
            known.update({("name", n): by_name.get(n) for n in names})
    except PipelineError as exc:
        log.warning(f"batch company search failed, each lead searches on its own: {exc}")
        return {}
    return known


def create_tasks(
    effects: EffectStore, crm: CRM, tasks: Mapping[uuid.UUID, NewTask], log: Log
) -> dict[uuid.UUID, Task]:
    """Create the tasks no earlier attempt made, in batch calls, once per workflow (under
    the same idempotency records as the single-task path, which then finds them done).

    Each input is traced by its workflow id and results are matched by it alone. What the
    batch did not settle (a 207's unmatched or failed inputs, a timeout, a 5xx) is never
    created again here: the per-lead path looks for it by marker first, and a refused one
    is created there.
    """
    if len(tasks) < 2:
        return {}
    try:
        made = effects.once_many(TASK_SCOPE, tasks, crm.create_tasks, model=Task)
    except PipelineError as exc:
        log.warning(f"batch task create failed, each lead goes on its own: {exc}")
        return {}
    if len(made) < len(tasks):
        log.warning(f"batch task create settled {len(made)} of {len(tasks)}; the rest go alone")
    return made
