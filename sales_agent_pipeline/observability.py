"""Logging: structlog for our code, standard logging routed through the same renderer.

JSON outside the development stack (one object per line, for a log shipper), a console
rendering for people. A lead's lines carry its workflow id (the field `workflow_id`), bound
with structlog's context variables where its work starts: the webhook's accept, the API's
launch of its run, each step of each lead in the run.
"""

import logging
from typing import Literal, Protocol

import structlog

# Loggers of libraries that install handlers of their own: their lines go through ours.
_ROUTED = ("uvicorn", "uvicorn.error", "uvicorn.access")
# The model SDKs log each request's options at DEBUG ("Request options: ..."): the prompt,
# with the lead's message. (hubspot-api-client holds its own loggers at WARNING already.)
_WHOLE_BODIES = ("openai", "anthropic")


class LogSettings(Protocol):
    """What the format's choice reads of the settings (the settings module's Settings)."""

    @property
    def environment(self) -> str:
        """development or production."""
        ...

    @property
    def log_format(self) -> Literal["console", "json"]:
        """LOG_FORMAT, or its default."""
        ...

    @property
    def model_fields_set(self) -> set[str]:
        """The fields given explicitly (in the environment, a .env file or by the caller)."""
        ...


def log_format(settings: LogSettings) -> Literal["console", "json"]:
    """LOG_FORMAT when set; otherwise JSON in production and the console elsewhere."""
    if "log_format" in settings.model_fields_set:
        return settings.log_format
    return "json" if settings.environment == "production" else "console"


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    """Configure structlog and the standard library's root logger once per process."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            # A line below the level costs a check, not the processors (the runner's
            # per-step DEBUG lines at INFO).
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn configures its loggers before the app starts: in JSON their lines must be
    # JSON too, so they lose their own handlers and reach the root's.
    for name in _ROUTED:
        routed = logging.getLogger(name)
        routed.handlers[:] = []
        routed.propagate = True
    # One line per HTTP call of our own pollers and SDKs is noise at INFO.
    for noisy in ("httpx", "httpx2", "httpcore", "urllib3", "googleapiclient.discovery"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # Never below WARNING, whatever LOG_LEVEL says.
    for verbose in _WHOLE_BODIES:
        logging.getLogger(verbose).setLevel(max(logging.WARNING, root.level))
