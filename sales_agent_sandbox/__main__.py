"""Run the sandbox: `python -m sales_agent_sandbox [--host H] [--port P] [--empty]`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .config import SandboxConfig
from .faults import FaultSpecError, check_rules
from .server import DEFAULT_HOST, DEFAULT_PORT, serve


def config_from_env() -> SandboxConfig:
    """Read the SANDBOX_* tuning variables (at start-up only, never at import time)."""
    config = SandboxConfig()
    if value := os.environ.get("SANDBOX_HUBSPOT_RATE_LIMIT_MAX"):
        config.rate_limit_max = int(value)
    if value := os.environ.get("SANDBOX_HUBSPOT_SEARCH_PER_SECOND"):
        config.search_per_second = int(value)
    if value := os.environ.get("SANDBOX_SEARCH_LAG_SECONDS"):
        config.search_lag_seconds = float(value)
    if value := os.environ.get("SANDBOX_GMAIL_SEARCH_LAG_SECONDS"):
        config.gmail_search_lag_seconds = float(value)
    if value := os.environ.get("SANDBOX_GOOGLE_USER"):
        config.default_google_user = value
    if value := os.environ.get("SANDBOX_GOOGLE_REQUIRE_AUTH"):
        # Google calls without a bearer token are then refused (401), as Google does.
        config.google_require_auth = value.strip().lower() in ("1", "true", "yes", "on")
    return config


def faults_from_env() -> list[dict[str, Any]]:
    """Parse SANDBOX_FAULTS: a JSON list of the rule objects POST /_sandbox/faults takes."""
    text = os.environ.get("SANDBOX_FAULTS", "").strip()
    if not text:
        return []
    try:
        rules = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FaultSpecError(f"SANDBOX_FAULTS is not JSON: {exc}") from exc
    if not isinstance(rules, list):
        raise FaultSpecError("SANDBOX_FAULTS must be a JSON list of fault rules")
    check_rules(rules)
    return rules


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and the environment, then serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m sales_agent_sandbox")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--empty", action="store_true", help="start without the demo data")
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    try:
        config = config_from_env()
        faults = faults_from_env()
    except (FaultSpecError, ValueError) as exc:
        # A broken environment must stop the start, not run a sandbox without the faults.
        print(f"sales_agent_sandbox: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    config.rate_limits_enabled = not args.no_rate_limits
    serve(
        args.host,
        args.port,
        demo=not args.empty,
        faults=faults,
        config=config,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    main()
