"""Step 9: one primary call to action, and why."""

from __future__ import annotations

from collections.abc import Sequence

from sales_agent_pipeline.domain.schedule import MeetingSlot
from sales_agent_pipeline.domain.workflow import (
    Action,
    AssetChoice,
    NextStep,
    SimilarPatterns,
    Speaker,
    ThreadContext,
)


def plan_next_step(
    context: ThreadContext,
    patterns: SimilarPatterns,
    assets: AssetChoice,
    slots: Sequence[MeetingSlot],
) -> NextStep:
    """Answer an open question first, else book time, else share proof, else ask for time."""
    asset = assets.chosen
    if context.last_speaker is Speaker.PROSPECT:
        return NextStep(
            action=Action.ANSWER_AND_BOOK,
            reason="the prospect wrote last in our thread: answer them, then offer times",
            slots=tuple(slots),
            asset=asset,
        )
    if slots:
        reason = f"the owner has {len(slots)} free slot(s) in the next business days"
        if patterns.same_domain:
            reason += f"; {patterns.angle}"
        return NextStep(action=Action.BOOK_MEETING, reason=reason, slots=tuple(slots), asset=asset)
    if asset is not None:
        return NextStep(
            action=Action.SHARE_ASSET,
            reason=f"no free slot soon; '{asset.name}' matches their interest",
            asset=asset,
        )
    return NextStep(
        action=Action.ASK_FOR_TIME,
        reason="no free slot and no matching asset: ask when suits them",
    )
