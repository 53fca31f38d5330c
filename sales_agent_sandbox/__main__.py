"""Run the sandbox: `python -m sales_agent_sandbox --host 127.0.0.1 --port 8100`."""

from __future__ import annotations

import argparse
import os

import uvicorn

from .app import create_app
from .state import SandboxConfig


def _config_from_env() -> SandboxConfig:
    # Read at start-up only, never at import time.
    config = SandboxConfig()
    if value := os.environ.get("SANDBOX_HUBSPOT_RATE_LIMIT_MAX"):
        config.rate_limit_max = int(value)
    if value := os.environ.get("SANDBOX_HUBSPOT_SEARCH_PER_SECOND"):
        config.search_per_second = int(value)
    if value := os.environ.get("SANDBOX_SEARCH_LAG_SECONDS"):
        config.search_lag_seconds = float(value)
    if value := os.environ.get("SANDBOX_GOOGLE_USER"):
        config.default_google_user = value
    return config


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve the sandbox with uvicorn."""
    parser = argparse.ArgumentParser(prog="python -m sales_agent_sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    config = _config_from_env()
    config.rate_limits_enabled = not args.no_rate_limits
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
