"""Draft quality, template writer and LLM writer side by side, over the fixed leads of
bench/draft_leads.json, each draft scored by the deterministic checks of draft_scoring.py.

Each lead's inputs are built in this process as the pipeline builds them (step 1 on the
form, the prospect's zone, the stated times through parse_preferences, slots through
choose_meeting_slots over the owner's free/busy, step 9's plan), then step 10's
write_draft runs once with the template writer and once with the model writer.

The model writer talks over HTTP, through its official SDK, to the sandbox started here on
a free port; with --real, to the provider named by OPENAI_API_KEY / ANTHROPIC_API_KEY (and
OPENAI_BASE_URL / ANTHROPIC_BASE_URL) with LLM_MODEL.

Run: .venv/bin/python bench/drafts.py [--writer openai|anthropic] [--real] [--json out.json]
     [--lead ID ...] [--tag injection ...] [--show ID] [--threads 4] [--faults 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from draft_leads import LeadCase, load_cases
from draft_report import Outcome, report
from draft_scoring import CHECKS, CheckResult, DraftView, score
from pydantic import SecretStr
from support import serve_in_thread

from sales_agent_pipeline.connectors.factory import build_writer
from sales_agent_pipeline.domain.drafting import (
    DraftBrief,
    WriterKind,
    WriterSettings,
    WrittenDraft,
)
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.domain.models import Company, DriveFile, Owner
from sales_agent_pipeline.domain.schedule import MeetingSlot
from sales_agent_pipeline.domain.workflow import (
    AssetChoice,
    SimilarPatterns,
    Speaker,
    ThreadContext,
    VoiceProfile,
)
from sales_agent_pipeline.ports.writer import DraftWriter
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.business_days import BusinessCalendar
from sales_agent_pipeline.steps.draft_brief import DraftInputs
from sales_agent_pipeline.steps.draft_template import TemplateWriter
from sales_agent_pipeline.steps.plan_next_step import plan_next_step
from sales_agent_pipeline.steps.propose_meeting_slots import choose_meeting_slots
from sales_agent_pipeline.steps.prospect_timezone import prospect_timezone
from sales_agent_pipeline.steps.slot_preferences import parse_preferences
from sales_agent_pipeline.steps.validate_payload import validate_payload
from sales_agent_pipeline.steps.write_draft import write_draft
from sales_agent_sandbox.app import create_app
from sales_agent_sandbox.config import SandboxConfig

DEFAULT_MODEL = "bench-sandbox-model"


@dataclass(frozen=True)
class Prepared:
    """One lead's step-10 inputs, and what the checks compare against."""

    case: LeadCase
    inputs: DraftInputs
    settings: WriterSettings
    candidates: tuple[tuple[datetime, datetime], ...]
    thread_id: str | None


class TimedWriter:
    """Delegates to a writer and keeps how long each call took, in this thread."""

    def __init__(self, inner: DraftWriter) -> None:
        self.kind = inner.kind
        self._inner = inner
        self.took_ms: float | None = None

    def write(self, brief: DraftBrief, settings: WriterSettings, model: str) -> WrittenDraft:
        """The inner writer's answer, timed."""
        started = time.perf_counter()
        try:
            return self._inner.write(brief, settings, model)
        finally:
            self.took_ms = (time.perf_counter() - started) * 1000


def prepare(case: LeadCase, now: datetime) -> Prepared:
    """The inputs step 10 gets for this lead, built by the product's own steps."""
    payload = {
        "formId": "bench-form",
        "fieldValues": [{"name": k, "value": v} for k, v in case.form.items()],
    }
    lead = validate_payload(payload, allowed_form_ids=(), now=now).lead
    thread_id = f"thread-{case.id}" if case.thread else None
    context = ThreadContext()
    if case.thread:
        context = ThreadContext(
            thread_id=thread_id,
            subject=case.thread.subject,
            last_message_text=case.thread.last_message,
            last_speaker=Speaker(case.thread.last_speaker),
            last_message_at=now - timedelta(days=1),
            message_count=case.thread.message_count,
        )
    # As step 8 reads it: the form's message, and the thread's last message when theirs.
    said = [lead.interest]
    if context.last_speaker is Speaker.PROSPECT:
        said.append(context.last_message_text)
    stated = "\n".join(text for text in said if text) or None
    owner_zone = case.owner_zone
    # The lead's form or country when it says; else the zone a HubSpot contact would carry.
    theirs = prospect_timezone(lead, None) or case.prospect_zone
    preferences = parse_preferences(stated, now=now, zone=theirs or owner_zone)
    if case.fixed_slots is not None:
        slots = tuple(
            MeetingSlot(
                start=s,
                end=s + timedelta(minutes=30),
                timezone=owner_zone,
                prospect_timezone=theirs,
            )
            for s in case.fixed_slots
        )
    else:
        found = choose_meeting_slots(
            [_Busy(a, b) for a, b in case.busy],
            now=now,
            timezone=owner_zone,
            calendar=BusinessCalendar(),
            preferences=preferences,
            prospect_timezone=theirs,
        )
        slots, preferences = tuple(found.slots), found.preferences
    files = tuple(
        DriveFile(
            id=a.id,
            name=a.name,
            mime_type="application/pdf",
            web_link=a.link,
            description=a.description,
        )
        for a in case.assets
    )
    assets = AssetChoice(ranked=files)
    patterns = SimilarPatterns(angle=case.angle)
    company = None
    if case.company:
        company = Company(
            id=f"co-{case.id}",
            name=case.company["name"],
            domain=case.company["domain"],
            properties=case.company.get("facts", {}),
        )
    owner = None
    if case.owner:
        owner = Owner(
            id=case.owner.id,
            email=case.owner.email,
            first_name=case.owner.first_name,
            last_name=case.owner.last_name,
            time_zone=case.owner.time_zone,
        )
    inputs = DraftInputs(
        lead=lead,
        context=context,
        plan=plan_next_step(context, patterns, assets, slots),
        voice=VoiceProfile(**case.tenant.voice),
        assets=assets,
        patterns=patterns,
        company=company,
        owner=owner,
        preferences=preferences,
        language_hint=case.form.get("hs_language"),
    )
    return Prepared(
        case=case,
        inputs=inputs,
        settings=WriterSettings(**case.tenant.writer),
        candidates=tuple((s.start, s.end) for s in slots),
        thread_id=thread_id,
    )


@dataclass(frozen=True)
class _Busy:
    start: datetime
    end: datetime


def run_one(prepared: Prepared, writer: DraftWriter, model: str | None) -> Outcome:
    """One draft with one writer, timed and scored."""
    timed = TimedWriter(writer)
    outcome = Outcome(lead=prepared.case.id, writer=writer.kind.value)
    started = time.perf_counter()
    try:
        draft = write_draft(prepared.inputs, timed, prepared.settings, model=model)
    except Exception as error:  # the bench reports a crash as a failed draft, and goes on
        outcome.total_ms = (time.perf_counter() - started) * 1000
        outcome.error = f"{type(error).__name__}: {error}"[:300]
        outcome.checks = [CheckResult(check, False, "write_draft raised") for check in CHECKS]
        return outcome
    outcome.total_ms = (time.perf_counter() - started) * 1000
    outcome.writer_ms = timed.took_ms
    provenance = getattr(draft, "provenance", None)
    if provenance is not None:
        outcome.wrote = provenance.writer.value
        outcome.fallback_reason = provenance.fallback_reason
        outcome.input_tokens = provenance.input_tokens
        outcome.output_tokens = provenance.output_tokens
    outcome.subject, outcome.text = draft.subject, draft.text_body
    view = DraftView(
        to=draft.to,
        subject=draft.subject,
        text=draft.text_body,
        html=draft.html_body,
        thread_id=draft.reply_to_thread_id,
    )
    outcome.checks = score(view, prepared.case, prepared.candidates, prepared.thread_id)
    return outcome


def run_all(
    prepared: Sequence[Prepared], writer: DraftWriter, model: str | None, threads: int
) -> list[Outcome]:
    """Every lead with one writer, in lead order."""
    if threads <= 1:
        return [run_one(p, writer, model) for p in prepared]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda p: run_one(p, writer, model), prepared))


def llm_settings(kind: WriterKind, sandbox_url: str | None) -> Settings:
    """The model writer's settings: the sandbox's model API, or the environment's."""
    if sandbox_url is None:
        # Not sandbox mode, whatever else the environment lacks: the vendor's own API (or
        # OPENAI_BASE_URL / ANTHROPIC_BASE_URL), never the sandbox's default address.
        return Settings(sandbox=False)
    return Settings(
        _env_file=None,
        openai_base_url=f"{sandbox_url}/v1",
        anthropic_base_url=sandbox_url,
        openai_api_key=SecretStr("sandbox-llm-key"),
        anthropic_api_key=SecretStr("sandbox-llm-key"),
        llm_requests_per_minute=100_000,
    )


def fault_rules(share: float) -> list[dict[str, Any]]:
    """Model faults on a share of requests each: a 500, a 429, a timeout, a malformed JSON
    answer, a refusal, and a compromised answer (ids and links of its own)."""
    common = {"pathPattern": "/v1/*", "probability": share, "count": 100_000}
    return [
        {**common, "status": 500},
        {**common, "status": 429, "retryAfter": 0.1},
        {**common, "timeoutSeconds": 2.0},
        {**common, "malformed": True},
        {**common, "refusal": True},
        {**common, "compromised": True},
    ]


@contextmanager
def sandbox(real: bool, faults: float) -> Iterator[str | None]:
    """The sandbox on a free port (its rate limits off), or nothing with --real."""
    if real:
        with nullcontext(None) as none:
            yield none
        return
    app = create_app(
        SandboxConfig(rate_limits_enabled=False),
        demo=False,
        fault_seed=17,
        faults=fault_rules(faults) if faults else None,
    )
    with serve_in_thread(app) as url:
        yield url


def main() -> None:
    """Parse arguments, run both writers over the leads, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writer", choices=("openai", "anthropic"), default="openai")
    parser.add_argument("--real", action="store_true", help="the provider, not the sandbox")
    parser.add_argument("--json", type=Path, help="write every draft and verdict here")
    parser.add_argument("--lead", action="append", help="only these lead ids")
    parser.add_argument("--tag", action="append", help="only leads with these tags")
    parser.add_argument("--show", action="append", default=[], help="print these leads' drafts")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--template-only", action="store_true")
    parser.add_argument(
        "--faults", type=float, default=0.0, help="sandbox only: share of model calls per fault"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    now, cases = load_cases()
    if args.lead:
        cases = [c for c in cases if c.id in args.lead]
    if args.tag:
        cases = [c for c in cases if set(args.tag) & set(c.tags)]
    prepared = [prepare(case, now) for case in cases]
    kind = WriterKind(args.writer)
    model = os.environ.get("LLM_MODEL") if args.real else DEFAULT_MODEL
    if args.real and not model:
        raise SystemExit("--real needs LLM_MODEL (and the provider's API key)")
    results: dict[str, list[Outcome]] = {
        "template": run_all(prepared, TemplateWriter(), None, args.threads)
    }
    target = "template only"
    if not args.template_only:
        with sandbox(args.real, args.faults) as url:
            try:
                writer = build_writer(llm_settings(kind, url), kind)
            except ConfigurationError as error:  # no key for --real: say so, not a traceback
                raise SystemExit(f"the {kind.value} writer cannot start: {error}") from error
            where = "the provider" if args.real else "the sandbox"
            if args.faults:
                where += f" (faults {args.faults:.0%} each)"
            target = f"{kind.value} {model} on {where}"
            results[kind.value] = run_all(prepared, writer, model, args.threads)
    report(results, time.perf_counter() - started, target)
    for lead in args.show:
        for name, outcomes in results.items():
            for o in outcomes:
                if o.lead == lead:
                    print(f"\n--- {name} / {lead} ({o.wrote})\nSubject: {o.subject}\n{o.text}")
    if args.json:
        raw = {name: [asdict(o) for o in outcomes] for name, outcomes in results.items()}
        args.json.write_text(json.dumps(raw, indent=1, ensure_ascii=False, default=str))
        print(f"\nraw results: {args.json}")


if __name__ == "__main__":
    main()
