"""The sandbox's tunable behaviour, apart from the store so every state module can read it."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PORTAL_ID = 1000
DEFAULT_GOOGLE_USER = "owner@sandbox.example.com"


@dataclass
class SandboxConfig:
    """Tunable behaviour; tests change it through /_sandbox/config."""

    rate_limit_max: int = 190
    rate_limit_interval_ms: int = 10_000
    search_per_second: int = 4
    rate_limits_enabled: bool = True
    # Gmail's per-user budget (Google's is 15,000 units a minute); None counts units only.
    gmail_units_per_minute: int | None = None
    # HubSpot's search index trails writes by a few seconds; 0 makes it immediate.
    search_lag_seconds: float = 0.0
    # HubSpot's versioned API echoes each input's objectWriteTraceId in a batch create's
    # results; the legacy v3 answer does not. Off: answers in the legacy shape.
    batch_echo_trace_ids: bool = True
    # Gmail's search (`q=` on threads, messages and drafts lists) trails writes too: a
    # message or draft stored in the last N seconds is missing from q= results, while a get
    # by id and a list without q see it at once. None follows search_lag_seconds, so one
    # knob lags both vendors (a chaos run); a number sets Gmail's apart (its index is
    # usually quicker than HubSpot's, which can trail by minutes).
    gmail_search_lag_seconds: float | None = None
    default_portal_id: int = DEFAULT_PORTAL_ID
    default_google_user: str = DEFAULT_GOOGLE_USER
    # HubSpot's burst limit for a public (OAuth) app, per installing portal and app.
    oauth_rate_limit_max: int = 110
    # Lifetimes of issued access tokens: HubSpot OAuth (a new app's default) and Google.
    oauth_access_token_seconds: int = 1800
    google_token_seconds: int = 3600
    # Off: a Google request without Authorization acts as the default user (the demo's
    # anonymous clients); on: 401, as Google answers.
    google_require_auth: bool = False
    # How long a mailbox keeps its history records (Gmail: "typically at least a week");
    # history.list from an older startHistoryId answers 404. None keeps them all.
    gmail_history_retention_seconds: float | None = 7 * 86400.0
    # Pub/Sub push delivery (users.watch): the endpoint's deadline and attempts per message.
    pubsub_push_timeout_seconds: float = 5.0
    pubsub_push_attempts: int = 3
    # The request log keeps this many of the latest vendor requests.
    request_log_size: int = 20_000

    @property
    def gmail_lag(self) -> float:
        """How far Gmail's search index trails writes, in seconds."""
        if self.gmail_search_lag_seconds is None:
            return self.search_lag_seconds
        return self.gmail_search_lag_seconds
