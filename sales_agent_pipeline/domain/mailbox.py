"""A watched mailbox's changes as Gmail's sync model gives them: a history id, the pages of
messages added since one, a message's headers, and a Pub/Sub watch."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sales_agent_pipeline.domain.errors import PermanentError

# The headers the mailbox sync reads of each new message (users.messages.get metadata).
INBOUND_HEADERS = (
    "From",
    "To",
    "Date",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "X-Autoreply",
    "X-Autorespond",
    "Precedence",
    "Content-Type",
    "X-Failed-Recipients",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class HistoryExpired(PermanentError):
    """users.history.list answered 404: the start history id is too old (a full sync)."""

    def __init__(self, message: str = "Gmail history id expired: a full sync is needed") -> None:
        super().__init__(message, http_status=404)


class Profile(_Frozen):
    """users.getProfile: the mailbox's address and its current history id."""

    email: str
    history_id: int


class Added(_Frozen):
    """A message added to the mailbox, and the history record that says so."""

    message_id: str
    history_id: int


class HistoryPage(_Frozen):
    """One page of users.history.list (messageAdded): the messages added, oldest first, and
    the mailbox's history id when it was answered."""

    added: tuple[Added, ...] = ()
    next_page_token: str | None = None
    history_id: int

    @property
    def message_ids(self) -> tuple[str, ...]:
        """The ids of the messages added, once each."""
        return tuple(dict.fromkeys(a.message_id for a in self.added))


class InboundMail(_Frozen):
    """A message found in a watched mailbox, as far as the sync needs it: its labels and
    the INBOUND_HEADERS (lower-case names; the first occurrence of each), and for a report
    (a DSN) its RFC 822 bytes, which carry the machine-readable delivery status."""

    id: str
    thread_id: str
    label_ids: tuple[str, ...] = ()
    headers: dict[str, str] = Field(default_factory=dict)
    raw: bytes | None = None

    def header(self, name: str) -> str:
        """A header's value ('' when absent)."""
        return self.headers.get(name.lower(), "")


class Watch(_Frozen):
    """users.watch's answer: the history id it starts from, and when it expires."""

    history_id: int
    expires_at: AwareDatetime
