"""The README's step list is the step table's, rendered: never written out by hand.

After a change to the table, `python -m tests.unit.workflow.test_docs_steps` rewrites the
list between the README's markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from sales_agent_pipeline.workflow.table import STEP_TABLE, markdown

README = Path(__file__).resolve().parents[3] / "README.md"
BEGIN = "<!-- steps:begin -->"
END = "<!-- steps:end -->"
_LIST = re.compile(f"{re.escape(BEGIN)}\n.*?{re.escape(END)}", re.DOTALL)


def with_steps(text: str) -> str:
    """The text with the step table's list between its markers."""
    # Blank lines around the list: Markdown ends the HTML comment's block at its line.
    rendered = f"{BEGIN}\n\n{markdown(STEP_TABLE)}\n\n{END}"
    return _LIST.sub(lambda _: rendered, text, count=1)


def test_the_readme_lists_the_steps_of_the_table() -> None:
    text = README.read_text()
    assert text.count(BEGIN) == 1
    assert text.count(END) == 1
    assert with_steps(text) == text, (
        "README.md's step list differs from workflow/table.py: "
        "run `python -m tests.unit.workflow.test_docs_steps`"
    )


def test_the_list_names_every_step_once_with_its_number() -> None:
    text = README.read_text()
    listed = re.findall(r"^(\d+)\. `(\w+)`", text.split(BEGIN)[1].split(END)[0], re.MULTILINE)
    assert listed == [(str(step.number), step.name) for step in STEP_TABLE]


if __name__ == "__main__":
    README.write_text(with_steps(README.read_text()))
