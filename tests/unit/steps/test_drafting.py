"""Steps 3, 7, 9, 10 and 12: company rules, asset ranking, the plan, the email, the due date."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import DriveFile
from sales_agent_pipeline.domain.schedule import MeetingSlot
from sales_agent_pipeline.domain.workflow import (
    Action,
    AssetChoice,
    NextStep,
    SimilarPatterns,
    Speaker,
    ThreadContext,
    Tone,
    VoiceProfile,
)
from sales_agent_pipeline.steps.business_days import BusinessCalendar
from sales_agent_pipeline.steps.create_hubspot_task import build_task, task_due, task_marker
from sales_agent_pipeline.steps.hunt_drive_assets import rank_assets
from sales_agent_pipeline.steps.plan_next_step import plan_next_step
from sales_agent_pipeline.steps.resolve_company import company_name_from_domain, is_free_mail
from sales_agent_pipeline.steps.write_draft import without_dashes, write_draft

LEAD = Lead(
    email="jane@acme-robotics.example",
    email_domain="acme-robotics.example",
    first_name="Jane",
    company="Acme Robotics",
    industry="Robotics",
    interest="Fleet automation for our warehouses",
)
PATTERNS = SimilarPatterns(angle="first contact")
SLOT = MeetingSlot(
    start=datetime(2026, 11, 25, 15, tzinfo=UTC),
    end=datetime(2026, 11, 25, 15, 30, tzinfo=UTC),
    timezone="America/New_York",
)


def drive_file(name: str, days_old: int = 10) -> DriveFile:
    return DriveFile(
        id=name,
        name=name,
        mime_type="application/pdf",
        web_link=f"https://drive.example/{name}",
        modified_time=datetime(2026, 11, 1, tzinfo=UTC) - timedelta(days=days_old),
    )


@pytest.mark.parametrize(
    ("domain", "free"),
    [("gmail.com", True), ("outlook.com", True), ("GMX.de", True), ("acme.example", False)],
)
def test_free_mail_domains(domain: str, free: bool) -> None:
    assert is_free_mail(domain) is free


def test_company_name_from_a_domain() -> None:
    assert company_name_from_domain("acme-robotics.example") == "Acme Robotics"
    assert company_name_from_domain("www.globex.co.uk") == "Globex"


def test_assets_rank_industry_and_interest_matches_first() -> None:
    files = [
        drive_file("Pricing sheet"),
        drive_file("Fintech case study"),
        drive_file("Robotics case study - warehouse automation"),
        drive_file("Robotics one-pager", days_old=1),
        drive_file("Holiday party photos"),
    ]
    ranked = rank_assets(LEAD, files).ranked
    assert [f.name for f in ranked] == [
        "Robotics case study - warehouse automation",
        "Robotics one-pager",
        "Fintech case study",
    ]


def test_the_plan_answers_the_prospect_first() -> None:
    context = ThreadContext(thread_id="t1", last_speaker=Speaker.PROSPECT)
    plan = plan_next_step(context, PATTERNS, AssetChoice(), [SLOT])
    assert plan.action is Action.ANSWER_AND_BOOK
    assert plan_next_step(ThreadContext(), PATTERNS, AssetChoice(), [SLOT]).action is (
        Action.BOOK_MEETING
    )
    share = plan_next_step(ThreadContext(), PATTERNS, AssetChoice(ranked=(drive_file("x"),)), [])
    assert share.action is Action.SHARE_ASSET
    assert plan_next_step(ThreadContext(), PATTERNS, AssetChoice(), []).action is (
        Action.ASK_FOR_TIME
    )


def test_the_draft_has_slots_asset_and_voice_without_dashes() -> None:
    asset = drive_file("Robotics case study")
    plan = NextStep(action=Action.BOOK_MEETING, reason="free time", slots=(SLOT,), asset=asset)
    voice = VoiceProfile(
        sender_name="Sam Seller",
        company_name="Ourco \u2014 robots",
        tone=Tone.FORMAL,
        signature="Ourco Inc \u2013 Boston",
    )
    draft = write_draft(LEAD, ThreadContext(), plan, voice)
    for text in (draft.subject, draft.text_body, draft.html_body):
        assert "\u2014" not in text
        assert "\u2013" not in text
    assert draft.subject == "Acme Robotics and Ourco, robots: next steps"
    assert draft.text_body.startswith("Hi Jane,\n\nThank you for contacting Ourco, robots.")
    assert "Wednesday 25 November, 10:00-10:30 EST" in draft.text_body
    assert "https://drive.example/Robotics case study" in draft.text_body
    assert '<a href="https://drive.example/Robotics case study">' in draft.html_body
    assert "<li>Wednesday 25 November, 10:00-10:30 EST</li>" in draft.html_body
    assert draft.text_body.rstrip().endswith("Sam Seller\nOurco Inc, Boston")
    assert draft.asset_links == ("https://drive.example/Robotics case study",)
    assert write_draft(LEAD, ThreadContext(), plan, voice) == draft  # deterministic


def test_a_reply_keeps_the_thread_subject_and_escapes_html() -> None:
    lead = LEAD.model_copy(update={"interest": "<script>alert(1)</script>"})
    context = ThreadContext(
        thread_id="t1", subject="Pricing", last_speaker=Speaker.PROSPECT,
        last_message_text="Could you send pricing?",
    )  # fmt: skip
    plan = NextStep(action=Action.ANSWER_AND_BOOK, reason="r", slots=(SLOT,))
    draft = write_draft(lead, context, plan, VoiceProfile())
    assert draft.subject == "Re: Pricing"
    assert draft.reply_to_thread_id == "t1"
    assert 'Thanks for your note about "Could you send pricing?"' in draft.text_body
    assert "<script>" not in draft.html_body
    assert "&lt;script&gt;" in draft.html_body


def test_without_dashes() -> None:
    assert without_dashes("fast \u2014 and cheap") == "fast, and cheap"
    assert without_dashes("9\u201317") == "9-17"


def test_task_due_two_business_days_later_in_the_owner_zone() -> None:
    zone = "America/Los_Angeles"
    friday_evening_utc = datetime(2026, 11, 21, 2, tzinfo=UTC)  # still Friday in LA
    due = task_due(friday_evening_utc, zone, BusinessCalendar())
    assert due == datetime(2026, 11, 24, 9, tzinfo=ZoneInfo(zone))
    assert due.date() == date(2026, 11, 24)


def test_the_task_links_the_draft_and_carries_the_marker() -> None:
    draft = write_draft(
        LEAD, ThreadContext(), NextStep(action=Action.ASK_FOR_TIME, reason="r"), VoiceProfile()
    )
    task = build_task(
        workflow_id="wf-1",
        draft=draft,
        plan=NextStep(action=Action.ASK_FOR_TIME, reason="no slots"),
        draft_link="https://mail.google.com/mail/#drafts?compose=d1",
        due_at=datetime(2026, 11, 26, 14, tzinfo=UTC),
        owner_id="7",
        contact_id="101",
        company_id="201",
        sent=False,
    )
    assert task.body.endswith(task_marker("wf-1"))
    assert "https://mail.google.com/mail/#drafts?compose=d1" in task.body
    assert task.body.startswith("Review and send the prepared follow-up to jane@")
    assert (task.owner_id, task.contact_id, task.company_id) == ("7", "101", "201")


def test_the_quoted_last_message_drops_the_salutation_and_line_breaks() -> None:
    from sales_agent_pipeline.steps.write_draft import quoted

    assert quoted("Alex,\nA call works.\nTuesday is best.") == "A call works. Tuesday is best."
    assert quoted("Hi Alex,\n\nPricing?") == "Pricing?"
    assert quoted("Pricing for 20 seats, please.") == "Pricing for 20 seats, please."
    assert quoted("") is None
