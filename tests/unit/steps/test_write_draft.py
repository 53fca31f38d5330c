"""Step 10: the email in the tenant's voice, with slots and the asset, and no dashes."""

from sales_agent_pipeline.domain.workflow import (
    Action,
    NextStep,
    Speaker,
    ThreadContext,
    Tone,
    VoiceProfile,
)
from sales_agent_pipeline.steps.write_draft import quoted, without_dashes, write_draft
from tests.unit.steps.examples import LEAD, SLOT, drive_file


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


def test_the_quoted_last_message_drops_the_salutation_and_line_breaks() -> None:
    assert quoted("Alex,\nA call works.\nTuesday is best.") == "A call works. Tuesday is best."
    assert quoted("Hi Alex,\n\nPricing?") == "Pricing?"
    assert quoted("Pricing for 20 seats, please.") == "Pricing for 20 seats, please."
    assert quoted("") is None
