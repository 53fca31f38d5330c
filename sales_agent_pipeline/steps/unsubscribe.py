"""One-click unsubscribe on every message we write (RFC 8058, RFC 2369): the header fields
and a visible line at the end of the text and HTML bodies.

`List-Unsubscribe` carries the https link (whose POST unsubscribes at once: the public
endpoint of the API) and a mailto: whose subject carries the same token (the mailbox sync
reads it back); `List-Unsubscribe-Post: List-Unsubscribe=One-Click` tells the receiving
mail service it may POST to the link without a person. Drafts carry them too: a person
who sends the draft from Gmail sends them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import quote

from sales_agent_pipeline.domain.workflow import DraftContent
from sales_agent_pipeline.settings import Settings

LIST_UNSUBSCRIBE = "List-Unsubscribe"
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe-Post"
ONE_CLICK = "List-Unsubscribe=One-Click"
# The visible line, by the draft's language (domain/drafting.py's SUPPORTED_LANGUAGES).
LINE = {
    "en": "Not interested? Unsubscribe: {url}",
    "de": "Kein Interesse? Abmelden: {url}",
    "fr": "Pas intéressé ? Se désabonner : {url}",
    "es": "¿No le interesa? Darse de baja: {url}",
}
# How the text body's line is set apart from the signature above it.
_RULE = "--"


def public_base_url(settings: Settings) -> str:
    """The API's address as a recipient reaches it: API_PUBLIC_URL, else this API's own."""
    if settings.api_public_url:
        return settings.api_public_url.rstrip("/")
    return f"http://127.0.0.1:{settings.api_port}"


def unsubscribe_url(settings: Settings, token: str) -> str:
    """The public one-click link of a token (GET shows a page, POST unsubscribes)."""
    return f"{public_base_url(settings)}/unsubscribe/{quote(token, safe='')}"


def unsubscribe_mailto(settings: Settings, token: str, mailbox: str | None) -> str | None:
    """The mailto: of a token: UNSUBSCRIBE_MAILTO, else the sending mailbox (None when
    neither is known: the https link alone then)."""
    address = settings.unsubscribe_mailto or mailbox
    if not address:
        return None
    return f"mailto:{address}?subject={quote(f'unsubscribe {token}', safe='')}"


@dataclass(frozen=True)
class Unsubscribe:
    """A message's unsubscribe link and mailto:, and the headers and line made of them."""

    url: str
    mailto: str | None = None

    @classmethod
    def of(cls, settings: Settings, token: str, mailbox: str | None) -> Unsubscribe:
        """The link and mailto: of a token minted for the recipient."""
        return cls(unsubscribe_url(settings, token), unsubscribe_mailto(settings, token, mailbox))

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """RFC 2369's List-Unsubscribe (https first) and RFC 8058's one-click POST."""
        targets = [f"<{self.url}>"] + ([f"<{self.mailto}>"] if self.mailto else [])
        return ((LIST_UNSUBSCRIBE, ", ".join(targets)), (LIST_UNSUBSCRIBE_POST, ONE_CLICK))

    def line(self, language: str | None) -> str:
        """The visible sentence, in the draft's language (English otherwise)."""
        return LINE.get(language or "en", LINE["en"]).format(url=self.url)

    def appended(self, content: DraftContent) -> DraftContent:
        """The draft with the line at the end of both bodies (once: a re-run's draft
        already carrying a line gets it replaced, never doubled)."""
        language = content.provenance.language if content.provenance else None
        line = self.line(language)
        text = strip_line(content.text_body).rstrip()
        link = f'<a href="{html.escape(self.url)}">{html.escape(self.url)}</a>'
        sentence = html.escape(self.line(language)).replace(html.escape(self.url), link)
        marked = f'<p class="unsubscribe" style="font-size:small;color:#666">{sentence}</p>'
        body_html = strip_html_line(content.html_body)
        at = body_html.lower().rfind("</body>")
        body_html = f"{body_html[:at]}{marked}{body_html[at:]}" if at >= 0 else body_html + marked
        return content.model_copy(
            update={"text_body": f"{text}\n\n{_RULE}\n{line}\n", "html_body": body_html}
        )


def strip_line(text: str) -> str:
    """A text body without an unsubscribe line we added."""
    head, rule, tail = text.rpartition(f"\n{_RULE}\n")
    if rule and "/unsubscribe/" in tail and tail.count("\n") <= 1:
        return head
    return text


def strip_html_line(body: str) -> str:
    """An HTML body without the unsubscribe paragraph we added."""
    start = body.rfind('<p class="unsubscribe"')
    if start < 0:
        return body
    end = body.find("</p>", start)
    return body[:start] + body[end + 4 :] if end >= 0 else body
