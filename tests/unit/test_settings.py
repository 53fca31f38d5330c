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
    "GOOGLE_SERVICE_ACCOUNT_FILE",
    "GOOGLE_OAUTH_TOKEN_FILE",
    "WORKFLOW_MODE",
    "ALLOWED_FORM_IDS",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_development_defaults_need_no_secrets() -> None:
    settings = Settings(_env_file=None)
    assert settings.workflow_mode is WorkflowMode.DRAFT_ONLY
    assert settings.send_kill_switch is False
    assert settings.uses_embedded_postgres
    assert settings.hubspot_api_base_url == "https://api.hubapi.com"


def test_production_without_secrets_names_every_missing_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError) as excinfo:
        Settings(_env_file=None)
    message = str(excinfo.value)
    for name in ("DATABASE_URL", "HUBSPOT_ACCESS_TOKEN", "HUBSPOT_CLIENT_SECRET"):
        assert name in message
    assert "GOOGLE_SERVICE_ACCOUNT_FILE or GOOGLE_OAUTH_TOKEN_FILE" in message


def test_production_rejects_a_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/sales_agent")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "changeme")
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", "a-real-looking-secret")
    monkeypatch.setenv("GOOGLE_OAUTH_TOKEN_FILE", "/run/secrets/token.json")
    with pytest.raises(ValidationError) as excinfo:
        Settings(_env_file=None)
    message = str(excinfo.value)
    assert "HUBSPOT_ACCESS_TOKEN" in message
    assert "HUBSPOT_CLIENT_SECRET" not in message
    assert "changeme" not in message


def test_production_with_every_secret_loads_and_hides_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@db.internal/sales_agent")
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-0123456789")
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT_FILE", "/run/secrets/sa.json")
    settings = Settings(_env_file=None)
    assert not settings.uses_embedded_postgres
    rendered = repr(settings) + str(settings.model_dump())
    assert "pat-na1-0123456789" not in rendered
    assert "s3cr3t-value" not in rendered


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
