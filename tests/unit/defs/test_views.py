"""The draft on a lead's materialisation reads like the email when Dagster renders it."""

from __future__ import annotations

from markdown_it import MarkdownIt

from sales_agent_pipeline.defs.views import markdown_lines

EMAIL = """Hi Jordan,

Would one of these times work for a quick 30-minute call?
- Wednesday 25 November, 10:30-11:00 EST
- Friday 27 November, 14:00-14:30 EST
If none suits, just reply with a time that does.

Best,
Alex Morgan
Account Executive"""


def test_the_signature_keeps_its_lines_and_the_list_ends_before_the_next_sentence() -> None:
    html = MarkdownIt("commonmark").render(markdown_lines(EMAIL))

    assert "<p>Best,<br />\nAlex Morgan<br />\nAccount Executive</p>" in html
    assert "<li>Friday 27 November, 14:00-14:30 EST</li>\n</ul>" in html
    assert "<p>If none suits, just reply with a time that does.</p>" in html


def test_plain_paragraphs_are_left_alone() -> None:
    assert markdown_lines("One.\n\nTwo.") == "One.\n\nTwo."
