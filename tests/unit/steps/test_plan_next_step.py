"""Step 9: one call to action, the prospect's open question first."""

from sales_agent_pipeline.domain.workflow import Action, AssetChoice, Speaker, ThreadContext
from sales_agent_pipeline.steps.plan_next_step import plan_next_step
from tests.unit.steps.examples import PATTERNS, SLOT, drive_file


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
