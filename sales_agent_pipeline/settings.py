"""The one settings class: every knob comes from the environment, a .env file or a secrets dir."""

from __future__ import annotations

import functools
import os
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sales_agent_pipeline.domain.drafting import WriterKind
from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.redrive import DEFAULT_REDRIVE_DELAYS, parse_delays

# Values people paste from examples; treated as missing outside development.
_PLACEHOLDERS = {"", "changeme", "change-me", "change_me", "secret", "xxx", "todo", "placeholder"}

HUBSPOT_API_BASE_URL = "https://api.hubapi.com"
HUBSPOT_AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"


def _is_placeholder(value: SecretStr | None) -> bool:
    if value is None:
        return True
    raw = value.get_secret_value().strip().lower()
    return raw in _PLACEHOLDERS or raw.startswith(("your-", "<"))


class Settings(BaseSettings):
    """Process configuration; read once per process through `get_settings()`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    environment: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    # Storage. DATABASE_URL unset means an embedded PostgreSQL under data_dir.
    database_url: SecretStr | None = None
    dagster_database_url: SecretStr | None = None
    data_dir: Path = Path(".data")
    dagster_home: Path | None = None
    embedded_pg_port: int = Field(default=54329, ge=1, le=65535)
    # Limits on every app connection (libpq options, db/session.py): a dead server, a stuck
    # statement, a lock wait or a transaction left open ends in an error the runner retries
    # instead of a hang. Milliseconds as PostgreSQL takes them; 0 turns one off.
    db_connect_timeout_seconds: int = Field(default=5, ge=1)
    db_statement_timeout_ms: int = Field(default=30_000, ge=0)
    db_lock_timeout_ms: int = Field(default=10_000, ge=0)
    db_idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=0)
    # Each app engine's pool (one per API worker, run worker, sensor tick, CLI command):
    # connections kept open, and extra ones under a burst (closed when handed back).
    # db/budget.py adds up every process's share against the server's max_connections.
    db_pool_size: int = Field(default=5, ge=1, le=64)
    db_max_overflow: int = Field(default=5, ge=0, le=64)

    # Ports of the stack that `sales-agent up` starts; every one configurable.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    dagster_ui_host: str = "127.0.0.1"
    dagster_ui_port: int = Field(default=3000, ge=1, le=65535)
    dagster_code_server_port: int = Field(default=4266, ge=1, le=65535)
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = Field(default=8765, ge=1, le=65535)
    # Run against the built-in sandbox (true) or the real APIs (false); unset: the sandbox
    # when no HubSpot or Google credentials are configured.
    sandbox: bool | None = None
    # uvicorn worker processes of the API (each ~110 MB). On 2 cores one worker acks 300
    # webhooks/s at p99 ~15 ms beside Dagster; a second competes for the same cores (p99 ~70
    # ms there) and pays off only with more cores. docs/benchmarks.md has the figures.
    api_workers: int = Field(default=1, ge=1, le=64)

    # Behaviour. DRAFT_ONLY unless someone says otherwise; the kill switch wins over SEND.
    workflow_mode: WorkflowMode = WorkflowMode.DRAFT_ONLY
    send_kill_switch: bool = False
    # The operator's key for actions over every tenant through the API (the global send
    # kill switch); unset or shorter than 32 characters: they are the CLI's only.
    operator_api_key: SecretStr | None = None
    allowed_form_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Secrets kept in the database (tenants' tokens, webhook secrets, Google keys) are
    # encrypted with these Fernet keys: the first encrypts, every one decrypts (rotation).
    # Unset in development: a key generated once under the data dir.
    secrets_encryption_keys: SecretStr | None = None
    secrets_encryption_key_file: Path | None = None

    # The single-portal path: with HUBSPOT_PORTAL_ID set, the tenant of that portal is created
    # or updated from this environment when the stack (or the API) starts.
    hubspot_portal_id: int | None = Field(default=None, ge=1)
    tenant_name: str | None = None
    tenant_timezone: str = "UTC"
    # The mailbox drafts are written in (and sent from); default: GOOGLE_DELEGATED_USER.
    sender_email: str | None = None

    # HubSpot.
    hubspot_access_token: SecretStr | None = None
    hubspot_client_secret: SecretStr | None = None
    hubspot_api_base_url: str = HUBSPOT_API_BASE_URL
    # A public (OAuth) app, for operators serving many portals: its client id (the client
    # secret is HUBSPOT_CLIENT_SECRET, which also signs its webhooks), the scopes it asks
    # for, and where HubSpot sends the user back (this API's public URL + the callback).
    hubspot_client_id: str | None = None
    hubspot_oauth_scopes: str = (
        "crm.objects.contacts.read crm.objects.contacts.write crm.objects.companies.read "
        "crm.objects.companies.write crm.objects.owners.read forms oauth"
    )
    hubspot_authorize_url: str = HUBSPOT_AUTHORIZE_URL
    api_public_url: str | None = None
    # HubSpot's documented burst limits per portal: a private app 190 calls per rolling 10 s
    # (Professional and Enterprise), a public OAuth app 110 per 10 s per installing portal;
    # CRM searches a few per second per portal.
    hubspot_requests_per_10s: int = Field(default=190, ge=1)
    hubspot_oauth_requests_per_10s: int = Field(default=110, ge=1)
    hubspot_searches_per_second: int = Field(default=4, ge=1)
    hubspot_timeout_seconds: float = Field(default=15.0, gt=0)

    # Google: a service account with domain-wide delegation, or an OAuth user token file.
    google_api_base_url: str | None = None
    google_service_account_file: Path | None = None
    google_delegated_user: str | None = None
    google_oauth_token_file: Path | None = None
    # Gmail's per-user limit is 250 quota units per second (a send costs 100, a get 5).
    gmail_quota_units_per_second: int = Field(default=250, ge=1)
    google_timeout_seconds: float = Field(default=15.0, gt=0)
    # Webhook ingestion. Signatures are checked unless explicitly disabled in development.
    webhook_max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Every other request body (the /api JSON ones); CSV uploads have IMPORT_MAX_BYTES.
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    webhook_verify_signatures: bool = True
    webhook_timestamp_tolerance_seconds: int = Field(default=300, ge=1)
    # Behind a proxy: rebuild the signed URL from X-Forwarded-Proto/Host.
    webhook_trust_forwarded_headers: bool = False
    # Threads per API worker that store deliveries (each holds a pooled connection).
    webhook_store_threads: int = Field(default=4, ge=1, le=64)
    # Where the API asks Dagster for runs (GraphQL); default: the local Dagster UI.
    dagster_webserver_url: str | None = None
    # The sensor takes over work the API did not launch after this long.
    sensor_grace_seconds: float = Field(default=3.0, ge=0)
    # How long the API's launch queue waits after a delivery for others to share its run.
    # 50 ms keeps a lone lead's latency; on Kubernetes, where every run is a pod that pays
    # ~6 CPU-s of imports, ~1 s batches a busy hour's leads (docs/deploy.md).
    launch_linger_seconds: float = Field(default=0.05, ge=0, le=10)
    # Leads a sensor run carries when a backlog has built up.
    sensor_batch_size: int = Field(default=100, ge=1, le=500)
    # Bulk CSV imports: the file's bounds, the leads per run (HubSpot's batch calls take
    # 100), import runs kept launched per tenant, and the share of the tenant's HubSpot and
    # Gmail budget an import run may use (the rest stays for live leads' runs).
    import_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    import_max_rows: int = Field(default=20_000, ge=1)
    import_batch_size: int = Field(default=100, ge=1, le=500)
    import_runs_in_flight: int = Field(default=3, ge=1)
    import_quota_share: float = Field(default=0.8, gt=0, le=1)
    # A running workflow whose Dagster run ended without finishing it is re-queued this
    # many times, then failed with the reason.
    max_run_attempts: int = Field(default=3, ge=1)
    # A step's transient failures are retried this often, backing off exponentially from
    # this base (with jitter, never sooner than the server's Retry-After).
    step_max_retries: int = Field(default=4, ge=0, le=10)
    step_retry_base_seconds: float = Field(default=1.0, ge=0)
    # Leads of a batch that go through a step at once (the steps whose leads are
    # independent); their calls wait on the network, so threads overlap them.
    step_concurrency: int = Field(default=8, ge=1, le=32)
    # Owners and company look-ups change rarely; cache them briefly per process.
    connector_cache_ttl_seconds: float = Field(default=300.0, ge=0)
    # Exactly-once writes: an attempt's lease on its idempotency record, longer than any
    # vendor call (a client-side quota wait of up to 60 s, then a 15 s call, with margin; a
    # killed run's lease holds other runs back this long), and how long a write that may
    # have landed (a timeout, a 5xx) is looked up by its marker before it may be written
    # again (vendors' search indexes lag).
    idempotency_lease_seconds: float = Field(default=180.0, gt=0)
    search_lag_window_seconds: float = Field(default=300.0, ge=0)
    # Reconciliation: a schedule lists each allowlisted form's submissions back to the
    # form's cursor minus an overlap (the first run: a lookback), recovers what no webhook
    # brought, re-queues or fails work stuck past a threshold, and checks recent outputs.
    reconciliation_cron: str = "0 * * * *"
    reconciliation_overlap_minutes: float = Field(default=60.0, ge=0)
    reconciliation_lookback_days: float = Field(default=7.0, gt=0)
    reconciliation_stuck_minutes: float = Field(default=30.0, gt=0)
    reconciliation_drift_days: float = Field(default=7.0, ge=0)
    # The dead-letter queue: a lead whose transient retries ran out is re-driven after each
    # of these delays in turn (its n-th re-drive after the n-th), then waits for a person.
    dlq_redrive_delays: Annotated[tuple[timedelta, ...], NoDecode] = parse_delays(
        DEFAULT_REDRIVE_DELAYS
    )
    # Circuit breaker per vendor and tenant: after this many consecutive transient failures
    # (5xx, timeouts, lost connections) calls stop for a cool-down that doubles with each
    # trip in a row, up to the cap; then one process probes (holding the probe this long,
    # longer than a call's timeout). A closed breaker is re-read at most this often.
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    breaker_cooldown_max_seconds: float = Field(default=600.0, gt=0)
    breaker_probe_lease_seconds: float = Field(default=60.0, gt=0)
    breaker_cache_seconds: float = Field(default=2.0, ge=0)
    # The draft writer (step 10): the template writer (offline, and every model writer's
    # fallback), or a language model through its official SDK: OpenAI's Chat Completions
    # (OpenAI and any compatible server: vLLM, Ollama, Azure OpenAI, a LiteLLM proxy) or
    # Anthropic's Messages. A tenant's own writer settings override the writer and model.
    draft_writer: WriterKind = WriterKind.TEMPLATE
    llm_model: str | None = None
    # The SDKs' own variables. Unset base URLs mean the vendor's, or the sandbox's model
    # API in sandbox mode.
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    # A draft never waits long for a model: past this, the template writer writes it.
    llm_timeout_seconds: float = Field(default=30.0, gt=0)
    llm_max_output_tokens: int = Field(default=1200, ge=100)
    # Requests per minute to one provider with one key, shared by every process
    # (PostgreSQL), like the other vendors' limits.
    llm_requests_per_minute: int = Field(default=500, ge=1)

    # Alerts from Dagster's sensors (defs/alerts.py). Neither set: nothing is sent, and
    # the Dagster UI still shows every failure. Slack through dagster-slack (a bot token and
    # a channel); PagerDuty through its Events API v2 (an integration's routing key). The
    # base URLs exist for a proxy or a test receiver.
    slack_bot_token: SecretStr | None = None
    slack_channel: str = "#sales-agent-alerts"
    slack_api_base_url: str | None = None
    pagerduty_routing_key: SecretStr | None = None
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    # Where an alert's link points: the Dagster UI as its users reach it.
    dagster_ui_public_url: str | None = None
    # The Dagster UI has no sign-in of its own: `proxy` (the default in production) makes
    # our webserver refuse every request without the authenticating proxy's identity header
    # (oauth2-proxy's X-Forwarded-Email; nginx-ingress's auth passes X-Auth-Request-Email);
    # `none` (the default in development) serves a webserver bound to loopback only.
    ui_auth: Literal["proxy", "none"] | None = None
    ui_auth_header: str = Field(default="X-Forwarded-Email", pattern=r"^[A-Za-z0-9-]+$")
    alert_check_interval_seconds: int = Field(default=30, ge=5)
    alert_oldest_pending_minutes: float = Field(default=15.0, gt=0)
    # The synthetic canary (defs/canary.py): a signed synthetic lead through the webhook
    # on a schedule, to the sandbox or to CANARY_INBOX only; late past its latency goal.
    canary_enabled: bool = True
    canary_cron: str = "*/10 * * * *"
    canary_inbox: str | None = None
    canary_portal_id: int | None = None
    canary_latency_goal_seconds: float = Field(default=120.0, gt=0)
    # Traces: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (the OpenTelemetry SDK reads
    # its own OTEL_* variables; this one only switches tracing on).
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "sales-agent"
    # Tokens (in and out) a tenant's drafts may use per UTC day; then the template writer.
    llm_daily_token_budget: int = Field(default=2_000_000, ge=0)
    # Lawful sending (docs: README "Lawful sending"). One-click unsubscribe (RFC 8058): the
    # links point at API_PUBLIC_URL (else this API's own address), carry a Fernet token under
    # a key derived from the secrets key, and stay valid this many days; the mailto: goes to
    # UNSUBSCRIBE_MAILTO (else the sending mailbox), read back by the mailbox sync.
    unsubscribe_token_days: int = Field(default=90, ge=1, le=3650)
    unsubscribe_mailto: str | None = None
    # Stop on reply and bounces: each sending mailbox's Gmail history is read this often; with
    # a Pub/Sub topic set, users.watch pushes changes to POST /webhook/gmail, whose push
    # subscription must carry GMAIL_PUSH_TOKEN as its `token` query parameter.
    mailbox_sync_seconds: int = Field(default=60, ge=5)
    gmail_pubsub_topic: str | None = None
    gmail_push_token: SecretStr | None = None
    # Owner routing: draft and send from the contact owner's mailbox (domain-wide delegation),
    # else the tenant's sender; a tenant's route_by_owner overrides it.
    route_by_owner: bool = True
    # Send windows: SEND mail goes out within these local business hours (the recipient's
    # zone when known, else the owner's), Monday to Friday unless an owner's hours say
    # otherwise; at most MAILBOX_DAILY_CAP sends per mailbox a day (Gmail allows a Workspace
    # user 2,000; a cold sender far fewer), at least SEND_SPACING_SECONDS apart. A start equal
    # to the end (00:00 and 00:00) means no window: SEND mail goes out at once, any day.
    send_window_start: time = time(9, 0)
    send_window_end: time = time(17, 0)
    mailbox_daily_cap: int = Field(default=200, ge=1, le=2000)
    send_spacing_seconds: int = Field(default=60, ge=0, le=3600)
    # How often the due-sends sensor looks for scheduled sends whose time has come.
    due_sends_interval_seconds: int = Field(default=30, ge=5)

    @field_validator("allowed_form_ids", mode="before")
    @classmethod
    def _split_form_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("dlq_redrive_delays", mode="before")
    @classmethod
    def _parse_redrive_delays(cls, value: object) -> object:
        return parse_delays(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _require_secrets_outside_development(self) -> Settings:
        if self.environment == "development":
            return self
        if not self.webhook_verify_signatures:
            raise ValueError(
                "WEBHOOK_VERIFY_SIGNATURES=false is allowed only with ENVIRONMENT=development"
            )
        required: list[tuple[str, SecretStr | None]] = [("DATABASE_URL", self.database_url)]
        if self.secrets_encryption_key_file is None:
            # Tenants' secrets are stored encrypted: production never invents its own key.
            required.append(
                (
                    "SECRETS_ENCRYPTION_KEYS or SECRETS_ENCRYPTION_KEY_FILE",
                    self.secrets_encryption_keys,
                )
            )
        if self.hubspot_portal_id is not None:
            # The single-portal tenant is made from these.
            required += [
                ("HUBSPOT_ACCESS_TOKEN", self.hubspot_access_token),
                ("HUBSPOT_CLIENT_SECRET", self.hubspot_client_secret),
            ]
        if self.hubspot_client_id:
            required.append(("HUBSPOT_CLIENT_SECRET", self.hubspot_client_secret))
        missing = [name for name, value in required if _is_placeholder(value)]
        if (
            self.hubspot_portal_id is not None
            and self.google_service_account_file is None
            and self.google_oauth_token_file is None
        ):
            missing.append("GOOGLE_SERVICE_ACCOUNT_FILE or GOOGLE_OAUTH_TOKEN_FILE")
        if self.hubspot_client_id and not self.api_public_url:
            missing.append("API_PUBLIC_URL (where HubSpot sends an OAuth install back)")
        if missing:
            raise ValueError(
                f"ENVIRONMENT={self.environment} needs these set (in the environment, "
                f".env or the secrets dir), not missing or placeholders: "
                f"{', '.join(dict.fromkeys(missing))}"
            )
        return self

    @property
    def uses_embedded_postgres(self) -> bool:
        """True when no DATABASE_URL is given and the product runs its own PostgreSQL."""
        return self.database_url is None

    @property
    def resolved_dagster_webserver_url(self) -> str:
        """Where Dagster's GraphQL API answers."""
        return self.dagster_webserver_url or f"http://{self.dagster_ui_host}:{self.dagster_ui_port}"

    @property
    def resolved_ui_auth(self) -> Literal["proxy", "none"]:
        """UI_AUTH, else `proxy` in production and `none` in development."""
        if self.ui_auth is not None:
            return self.ui_auth
        return "proxy" if self.environment == "production" else "none"

    @property
    def sandbox_mode(self) -> bool:
        """SANDBOX when set; else true when nothing points at a real HubSpot or Google
        (no token, no Google credentials, no portal, no OAuth app)."""
        if self.sandbox is not None:
            return self.sandbox
        return (
            self.hubspot_access_token is None
            and self.hubspot_portal_id is None
            and not self.hubspot_client_id
            and self.google_service_account_file is None
            and self.google_oauth_token_file is None
        )

    @property
    def resolved_sender_email(self) -> str | None:
        """The single-portal tenant's mailbox: SENDER_EMAIL, else GOOGLE_DELEGATED_USER."""
        return self.sender_email or self.google_delegated_user

    @property
    def sandbox_url(self) -> str:
        """Where the built-in sandbox serves both HubSpot's and Google's APIs."""
        return f"http://{self.sandbox_host}:{self.sandbox_port}"

    @property
    def resolved_dagster_home(self) -> Path:
        """DAGSTER_HOME, defaulting to a folder under the data dir."""
        return (self.dagster_home or self.data_dir / "dagster").resolve()


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read on first use (never at import time).

    SECRETS_DIR names a folder of files, one per secret (Docker and Kubernetes secrets style).
    """
    secrets_dir = os.environ.get("SECRETS_DIR")
    return Settings(_secrets_dir=secrets_dir) if secrets_dir else Settings()


def google_base_url(settings: Settings) -> str | None:
    """GOOGLE_API_BASE_URL, the sandbox when nothing real is configured, else Google's own.

    Here rather than with the connectors, which import the vendors' SDKs: the CLI reads it
    too, and `sales-agent up` would hold the SDKs in memory for it."""
    if settings.google_api_base_url:
        return settings.google_api_base_url
    return settings.sandbox_url if settings.sandbox_mode else None
