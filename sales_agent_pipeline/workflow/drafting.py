"""Step 10's choices shared by the pipeline and the operators' regeneration: what a draft
is written from, which writer writes it (with its model and token budget), and the Drive
files it links to."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sales_agent_pipeline.domain.drafting import WriterKind
from sales_agent_pipeline.domain.models import DriveFile
from sales_agent_pipeline.domain.workflow import DraftContent, TenantSettings
from sales_agent_pipeline.ports.writer import DraftWriter
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.write_draft import TEMPLATE, DraftInputs, writer_or_unavailable
from sales_agent_pipeline.workflow.state import LeadState


def draft_inputs(state: LeadState) -> DraftInputs:
    """What step 10 writes from, out of the lead's state."""
    assert state.lead is not None
    assert state.context is not None
    assert state.plan is not None
    contact = state.contact
    return DraftInputs(
        lead=state.lead,
        context=state.context,
        plan=state.plan,
        voice=state.item.tenant.voice,
        assets=state.assets,
        patterns=state.patterns,
        company=state.company.company if state.company else None,
        owner=contact.owner if contact else None,
        preferences=state.preferences,
        language_hint=contact.contact.properties.get("hs_language") if contact else None,
    )


@dataclass(frozen=True)
class WriterChoice:
    """The writer a draft is asked of, its model and what is left of the token budget."""

    kind: WriterKind
    writer: DraftWriter
    model: str | None
    budget_left: int | None


def choose_writer(
    tenant: TenantSettings,
    settings: Settings,
    build: Callable[[WriterKind, uuid.UUID], DraftWriter],
    spent_today: Callable[[uuid.UUID], int],
    override: WriterKind | None = None,
) -> WriterChoice:
    """The tenant's writer (or `override`), as step 10 picks it: the template writer needs
    no model; a model writer that cannot be built says why (and the template stands in)."""
    chosen = tenant.writer
    kind = override or chosen.writer or settings.draft_writer
    if kind is WriterKind.TEMPLATE:
        return WriterChoice(kind, TEMPLATE, chosen.model or settings.llm_model, None)
    budget = chosen.daily_token_budget
    if budget is None:
        budget = settings.llm_daily_token_budget
    return WriterChoice(
        kind,
        writer_or_unavailable(lambda chosen: build(chosen, tenant.tenant_id), kind),
        chosen.model or settings.llm_model,
        budget - spent_today(tenant.tenant_id),
    )


def sent_assets(state: LeadState, content: DraftContent) -> list[DriveFile]:
    """The Drive files the draft links to (the plan's asset and the ranked ones)."""
    assert state.plan is not None
    candidates = [state.plan.asset, *(state.assets.ranked if state.assets else ())]
    links = set(content.asset_links)
    found = {f.id: f for f in candidates if f is not None and f.web_link in links}
    return list(found.values())
