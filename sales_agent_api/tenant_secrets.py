"""A tenant's webhook secret, looked up by the name stored on the tenant (never the value)."""

from __future__ import annotations

import os
from pathlib import Path

from sales_agent_pipeline.settings import Settings


def webhook_secret(ref: str | None, settings: Settings) -> str | None:
    """The named secret (environment variable, then SECRETS_DIR file), else the app's."""
    if ref:
        value = os.environ.get(ref)
        secrets_dir = os.environ.get("SECRETS_DIR")
        if value is None and secrets_dir:
            path = Path(secrets_dir) / ref
            value = path.read_text().strip() if path.is_file() else None
        if value:
            return value
    if settings.hubspot_client_secret is not None:
        return settings.hubspot_client_secret.get_secret_value() or None
    return None
