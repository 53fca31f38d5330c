"""Settings: defaults that run on a fresh machine, and fail-fast on missing secrets."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.settings import Settings

VARIABLES = (
    "ENVIRONMENT",
    "DATABASE_URL",
    "HUBSPOT_ACCESS_TOKEN",
    "HUBSPOT_CLIENT_SECRET",
    "HUBSPOT_PORTAL_ID",
    "HUBSPOT_CLIENT_ID",
    "API_PUBLIC_URL",
    "SANDBOX",
    "SECRETS_ENCRYPTION_KEYS",
    "SECRETS_ENCRYPTION_KEY_FILE",
    "SENDER_EMAIL",
    "GOOGLE_DELEGATED_USER",
    "GOOGLE_SERVICE_ACCOUNT_FILE",
    "GOOGLE_OAUTH_TOKEN_FILE",
    "WORKFLOW_MODE",
    "ALLOWED_FORM_IDS",
)
# A well-formed Fernet key (never used to encrypt anything here).
KEY = "m3m9eYQgYwBvTf4rFZ0yV4Zl0uB1x3qN8cVb2Hk5LQc="


# Production with a database and an encryption key: where most production cases start.
PRODUCTION = {
    "ENVIRONMENT": "production",
    "DATABASE_URL": "postgresql://db.internal/sales_agent",
    "SECRETS_ENCRYPTION_KEYS": KEY,
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def environment(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    """Set these environment variables for the test."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def refusal(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    """The message Settings refuses these environment variables with."""
    environment(monkeypatch, **variables)
    with pytest.raises(ValidationError) as excinfo:
        Settings(_env_file=None)
    return str(excinfo.value)


def test_development_defaults_need_no_secrets() -> None:
    settings = Settings(_env_file=None)
    assert settings.workflow_mode is WorkflowMode.DRAFT_ONLY
    assert settings.send_kill_switch is False
    assert settings.uses_embedded_postgres
    assert settings.hubspot_api_base_url == "https://api.hubapi.com"


def test_production_without_secrets_names_every_missing_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = refusal(monkeypatch, ENVIRONMENT="production")
    assert "DATABASE_URL" in message
    assert "SECRETS_ENCRYPTION_KEYS or SECRETS_ENCRYPTION_KEY_FILE" in message
    # Without HUBSPOT_PORTAL_ID there is no environment tenant: tenants bring their own.
    assert "HUBSPOT_ACCESS_TOKEN" not in message


def test_production_with_a_portal_needs_that_portals_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = refusal(monkeypatch, **PRODUCTION, HUBSPOT_PORTAL_ID="12345678")
    for name in ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_CLIENT_SECRET"):
        assert name in message
    assert "GOOGLE_SERVICE_ACCOUNT_FILE or GOOGLE_OAUTH_TOKEN_FILE" in message
    assert "SECRETS_ENCRYPTION_KEYS" not in message


def test_production_with_an_oauth_app_needs_its_secret_and_public_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = refusal(monkeypatch, **PRODUCTION, HUBSPOT_CLIENT_ID="app-client-id")
    assert "HUBSPOT_CLIENT_SECRET" in message
    assert "API_PUBLIC_URL" in message


def test_a_key_file_stands_in_for_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    environment(
        monkeypatch,
        ENVIRONMENT="production",
        DATABASE_URL=PRODUCTION["DATABASE_URL"],
        SECRETS_ENCRYPTION_KEY_FILE="/run/secrets/fernet",
    )
    assert Settings(_env_file=None).secrets_encryption_key_file is not None


def test_production_rejects_a_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refusal(
        monkeypatch,
        **PRODUCTION,
        HUBSPOT_PORTAL_ID="12345678",
        HUBSPOT_ACCESS_TOKEN="changeme",
        HUBSPOT_CLIENT_SECRET="a-real-looking-secret",
        GOOGLE_OAUTH_TOKEN_FILE="/run/secrets/token.json",
    )
    assert "HUBSPOT_ACCESS_TOKEN" in message
    assert "HUBSPOT_CLIENT_SECRET" not in message
    assert "changeme" not in message


def test_production_with_every_secret_loads_and_hides_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment(
        monkeypatch,
        **{**PRODUCTION, "DATABASE_URL": "postgresql://app:pw@db.internal/sales_agent"},
        HUBSPOT_PORTAL_ID="12345678",
        HUBSPOT_ACCESS_TOKEN="pat-na1-0123456789",
        HUBSPOT_CLIENT_SECRET="s3cr3t-value",
        GOOGLE_SERVICE_ACCOUNT_FILE="/run/secrets/sa.json",
    )
    settings = Settings(_env_file=None)
    assert not settings.uses_embedded_postgres
    assert not settings.sandbox_mode  # a portal id means the real vendors
    rendered = repr(settings) + str(settings.model_dump())
    for secret in ("pat-na1-0123456789", "s3cr3t-value", KEY, ":pw@"):
        assert secret not in rendered


def test_the_sender_defaults_to_the_delegated_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_DELEGATED_USER", "owner@example.com")
    assert Settings(_env_file=None).resolved_sender_email == "owner@example.com"
    monkeypatch.setenv("SENDER_EMAIL", "sales@example.com")
    assert Settings(_env_file=None).resolved_sender_email == "sales@example.com"


def test_sandbox_mode_follows_what_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).sandbox_mode
    monkeypatch.setenv("HUBSPOT_CLIENT_ID", "app")
    assert not Settings(_env_file=None).sandbox_mode
    monkeypatch.setenv("SANDBOX", "true")
    assert Settings(_env_file=None).sandbox_mode


def test_secrets_can_come_from_a_secrets_dir(tmp_path: Path) -> None:
    (tmp_path / "hubspot_access_token").write_text("pat-from-file")
    settings = Settings(_env_file=None, _secrets_dir=str(tmp_path))
    assert settings.hubspot_access_token is not None
    assert settings.hubspot_access_token.get_secret_value() == "pat-from-file"


def test_allowed_form_ids_is_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_FORM_IDS", " form-a, form-b ,,form-c ")
    assert Settings(_env_file=None).allowed_form_ids == ["form-a", "form-b", "form-c"]


def test_an_unknown_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKFLOW_MODE", "YOLO")
    with pytest.raises(ValidationError, match="workflow_mode"):
        Settings(_env_file=None)
