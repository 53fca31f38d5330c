"""Serve the sandbox in this process: what `python -m sales_agent_sandbox` and callers use."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from .app import create_app
from .config import SandboxConfig

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# Requests held by a timeout fault must not keep a stopping server alive for long.
_GRACEFUL_SHUTDOWN_SECONDS = 3


class _Server(uvicorn.Server):
    """uvicorn's server, ending with status 0 after a SIGTERM-initiated graceful stop."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install uvicorn's handlers, but do not re-raise SIGTERM once stopped."""
        with super().capture_signals():
            yield
            # uvicorn re-raises a captured SIGTERM after its graceful stop, so the process
            # would die of the signal (-15) and a supervisor would read a crash. SIGINT is
            # still re-raised (Ctrl-C keeps its usual exit status).
            self._captured_signals = [
                sig for sig in self._captured_signals if sig != signal.SIGTERM
            ]


def build_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    demo: bool = True,
    faults: list[dict[str, Any]] | None = None,
    config: SandboxConfig | None = None,
    log_level: str = "info",
) -> uvicorn.Server:
    """Return a configured uvicorn server for the sandbox, not yet started."""
    app = create_app(config, demo=demo, faults=faults)
    return _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        )
    )


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    demo: bool = True,
    faults: list[dict[str, Any]] | None = None,
    config: SandboxConfig | None = None,
    log_level: str = "info",
) -> None:
    """Serve the sandbox until SIGINT or SIGTERM (uvicorn stops gracefully on both)."""
    server = build_server(host, port, demo=demo, faults=faults, config=config, log_level=log_level)
    server.run()
