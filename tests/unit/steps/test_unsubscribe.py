"""One-click unsubscribe on our messages: RFC 2369/8058 headers and the visible line."""

from __future__ import annotations

from urllib.parse import unquote

from sales_agent_pipeline.domain.drafting import DraftProvenance, WriterKind
from sales_agent_pipeline.domain.workflow import DraftContent
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.unsubscribe import (
    Unsubscribe,
    unsubscribe_mailto,
    unsubscribe_url,
)

CONTENT = DraftContent(
    to="jordan@acme.example",
    subject="Hello",
    text_body="Hi Jordan,\n\nBest,\nAlex",
    html_body="<html><body><p>Hi Jordan,</p></body></html>",
)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_link_is_on_the_public_url_else_this_api() -> None:
    assert unsubscribe_url(settings(api_public_url="https://agent.example/"), "T-1") == (
        "https://agent.example/unsubscribe/T-1"
    )
    assert unsubscribe_url(settings(api_port=8123), "T-1") == (
        "http://127.0.0.1:8123/unsubscribe/T-1"
    )


def test_the_mailto_goes_to_the_configured_address_else_the_sending_mailbox() -> None:
    ours = unsubscribe_mailto(settings(unsubscribe_mailto="optout@ourco.example"), "T", "a@b.c")
    assert ours == "mailto:optout@ourco.example?subject=unsubscribe%20T"
    assert unsubscribe_mailto(settings(), "T", "ana@ourco.example") == (
        "mailto:ana@ourco.example?subject=unsubscribe%20T"
    )
    assert unsubscribe_mailto(settings(), "T", None) is None


def test_the_headers_name_the_https_link_first_and_ask_for_one_click() -> None:
    link = Unsubscribe.of(settings(api_public_url="https://agent.example"), "TOK", "a@b.example")
    assert link.headers == (
        (
            "List-Unsubscribe",
            "<https://agent.example/unsubscribe/TOK>, "
            "<mailto:a@b.example?subject=unsubscribe%20TOK>",
        ),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    )
    mailto = link.mailto or ""
    assert unquote(mailto.split("subject=")[1]) == "unsubscribe TOK"
    alone = Unsubscribe(url="https://agent.example/unsubscribe/TOK")
    assert alone.headers[0] == ("List-Unsubscribe", "<https://agent.example/unsubscribe/TOK>")


def test_the_line_ends_both_bodies_once_in_the_drafts_language() -> None:
    link = Unsubscribe(url="https://agent.example/unsubscribe/TOK")
    once = link.appended(CONTENT)
    assert once.text_body.endswith(
        "Alex\n\n--\nNot interested? Unsubscribe: https://agent.example/unsubscribe/TOK\n"
    )
    assert '<a href="https://agent.example/unsubscribe/TOK">' in once.html_body
    assert once.html_body.endswith("</p></body></html>")
    # A re-run's content gets the line again, never twice (a new token replaces the old).
    again = Unsubscribe(url="https://agent.example/unsubscribe/NEW").appended(once)
    assert again.text_body.count("Unsubscribe:") == 1
    assert "NEW" in again.text_body
    assert again.html_body.count('class="unsubscribe"') == 1
    german = CONTENT.model_copy(
        update={
            "provenance": DraftProvenance(
                writer=WriterKind.TEMPLATE, requested=WriterKind.TEMPLATE, language="de"
            )
        }
    )
    assert "Kein Interesse? Abmelden: https://" in link.appended(german).text_body
