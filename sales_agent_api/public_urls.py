"""Where this API is reached from outside: the OAuth redirect and install URLs."""

from __future__ import annotations

from fastapi import Request

from sales_agent_pipeline.settings import Settings

CALLBACK_PATH = "/oauth/hubspot/callback"
INSTALL_PATH = "/oauth/hubspot/install"


def public_base(settings: Settings, request: Request) -> str:
    """This API's public URL: API_PUBLIC_URL (required in production), else as called."""
    return (settings.api_public_url or str(request.base_url)).rstrip("/")


def redirect_uri(settings: Settings, request: Request) -> str:
    """Where HubSpot sends a portal's admin back after an install."""
    return public_base(settings, request) + CALLBACK_PATH


def install_url(settings: Settings, request: Request) -> str | None:
    """Where a portal installs (or re-authorises) the app; None without an OAuth app."""
    return public_base(settings, request) + INSTALL_PATH if settings.hubspot_client_id else None
