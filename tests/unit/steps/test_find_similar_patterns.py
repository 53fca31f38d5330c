"""Step 6: the angle past leads like this one suggest, from the tenant's own history."""

from datetime import UTC, datetime

from sales_agent_pipeline.domain.workflow import PastLead
from sales_agent_pipeline.ports.history import LeadHistory
from sales_agent_pipeline.steps.find_similar_patterns import (
    find_similar_patterns,
    summarise_patterns,
)
from tests.fakes import FakeLeadHistory
from tests.unit.steps.examples import ACME as LEAD


def past(domain: str, **values: object) -> PastLead:
    return PastLead.model_validate(
        {
            "email_domain": domain,
            "status": "succeeded",
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            **values,
        }
    )


def test_a_returning_account_is_recognised() -> None:
    patterns = summarise_patterns(LEAD, [past("acme.example"), past("other.example")])
    assert (patterns.matches, patterns.same_domain) == (2, 1)
    assert patterns.angle.startswith("returning account")


def test_an_industry_with_engagement_leads_with_peers() -> None:
    history = [
        past("a.example", industry="Robotics", draft_sent=True),
        past("b.example", industry="Robotics", task_completed=True),
        past("c.example", industry="Robotics"),
    ]
    patterns = summarise_patterns(LEAD, history)
    assert (patterns.drafts_sent, patterns.tasks_completed) == (1, 1)
    assert patterns.angle.startswith("proven in Robotics: 2 of 3")


def test_no_history_is_a_first_contact() -> None:
    assert summarise_patterns(LEAD, []).angle.startswith("first contact")


def test_the_tenants_similar_leads_decide_the_angle() -> None:
    history: LeadHistory = FakeLeadHistory(
        [
            past("a.example", industry="robotics", draft_sent=True),
            past("b.example", industry="Fintech", draft_sent=True, task_completed=True),
            past("c.example", job_title="CFO"),
        ]
    )
    patterns = find_similar_patterns(history, LEAD)
    assert (patterns.matches, patterns.drafts_sent, patterns.tasks_completed) == (1, 1, 0)
    assert patterns.angle.startswith("proven in Robotics: 1 of 1")


def test_an_earlier_lead_of_the_same_company_makes_it_a_returning_account() -> None:
    history = FakeLeadHistory([past("acme.example", industry="Robotics"), past("x.example")])
    patterns = find_similar_patterns(history, LEAD)
    assert (patterns.matches, patterns.same_domain) == (1, 1)
    assert patterns.angle.startswith("returning account: 1 earlier lead(s) from acme.example")
