"""The step table: one row per step, in order. Everything else is derived from it: the
step names and numbers in the audit trail, the Dagster graph (one op per row), the
definitions test and the docs' step list.

Adding a step is one work function and one row here.
"""

from __future__ import annotations

from sales_agent_pipeline.workflow import outputs, research
from sales_agent_pipeline.workflow.step import Step, numbered

CRM = frozenset({"crm"})
MAIL = frozenset({"mail"})

STEP_TABLE: tuple[Step, ...] = numbered(
    (
        Step(
            "validate_payload",
            "Claim the run's workflows, then normalise each submission into a lead.",
            research.validate,
            concurrent=True,
            tags=research.lead_tags,
        ),
        Step(
            "resolve_contact",
            "Upsert the contact by email and find its owner (the tenant's default otherwise); "
            "HubSpot's opt-out goes on the suppression list; the mailbox is the owner's "
            "(domain-wide delegation), else the tenant's sender.",
            research.contact,
            concurrent=True,
            prefetch=research.upsert_batch,
            vendors=CRM,
        ),
        Step(
            "resolve_company",
            "Find or create the company and associate the contact.",
            research.company,
            concurrent=True,
            group=research.company_group,
            prefetch=research.search_batch,
            vendors=CRM,
        ),
        Step(
            "search_gmail_threads",
            "Threads from or to the prospect.",
            research.threads,
            concurrent=True,
            vendors=MAIL,
        ),
        Step(
            "read_thread_context",
            "The latest thread's last message and who wrote it.",
            research.thread_context,
            concurrent=True,
            vendors=MAIL,
        ),
        Step(
            "find_similar_patterns",
            "Past leads like this one in our database, and the angle to take.",
            research.patterns,
            concurrent=True,
        ),
        Step(
            "hunt_drive_assets",
            "Relevant files, only from the tenant's allowlisted folders.",
            research.assets,
            concurrent=True,
            vendors=frozenset({"drive"}),
        ),
        Step(
            "propose_meeting_slots",
            "Free 30-minute slots in the owner's calendar when the lead asked for them (their "
            "days, times and time zone), else on the next business days.",
            research.slots,
            concurrent=True,
            vendors=frozenset({"calendar"}),
        ),
        Step("plan_next_step", "One call to action and why.", research.plan),
        Step(
            "write_draft",
            "The email: the template or a language model writes it from a brief, our code checks "
            "the answer and assembles it (links, times, signature); stored with its provenance.",
            outputs.draft,
            concurrent=True,
        ),
        Step(
            "create_gmail_draft",
            "DRAFT_ONLY drafts (in the thread when one exists, with one-click unsubscribe); "
            "SEND sends in the recipient's business hours, else schedules. A suppressed or "
            "stopped lead is never mailed. Once per workflow.",
            outputs.mail,
            concurrent=outputs.drafting_only,
            vendors=MAIL,
            tags=outputs.mode_tags,
            metadata=outputs.mail_metadata,
        ),
        Step(
            "create_hubspot_task",
            "The owner's follow-up task, due in two business days, linked to contact and company.",
            outputs.task,
            concurrent=True,
            prefetch=outputs.create_task_batch,
            vendors=CRM,
        ),
        Step(
            "record_audit",
            "Label the thread and close each workflow with its status and duration.",
            outputs.audit,
            concurrent=True,
            vendors=MAIL,
        ),
    )
)

STEPS: tuple[str, ...] = tuple(step.name for step in STEP_TABLE)


def markdown(table: tuple[Step, ...] = STEP_TABLE) -> str:
    """The table as the docs list it: one numbered line per step."""
    return "\n".join(f"{step.number}. `{step.name}`: {step.description}" for step in table)


if __name__ == "__main__":
    print(markdown())
