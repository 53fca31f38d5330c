"""What every command of the CLI shares: the settings, one transaction, secrets read from
files, and errors turned into one line and an exit code (2: the input or configuration, 1:
the database or a vendor), never a traceback. The command modules and main import it; it
imports none of them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import typer
from pydantic import SecretStr, ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.embedded import EmbeddedPostgresError
from sales_agent_pipeline.db.provision import provision
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.domain.errors import ConfigurationError, PipelineError
from sales_agent_pipeline.observability import configure_logging, log_format
from sales_agent_pipeline.settings import Settings, get_settings
from sales_agent_pipeline.usecases.tenant_input import TenantInputError

STDIN = "-"


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one red line on stderr; the caller raises the returned Exit."""
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code)


def settings() -> Settings:
    """The process's settings, logging configured (a configuration error exits 2, named)."""
    try:
        config = get_settings()
    except ValidationError as exc:
        messages = "; ".join(str(error["msg"]) for error in exc.errors())
        typer.secho(f"configuration error: {messages}", fg="red", err=True)
        raise typer.Exit(2) from exc
    configure_logging(config.log_level, log_format(config))
    return config


@contextmanager
def transaction(config: Settings | None = None) -> Iterator[Session]:
    """One committed transaction on the app database (migrated; embedded when unset)."""
    try:
        databases = provision(config or settings())
    except (EmbeddedPostgresError, psycopg.OperationalError, OperationalError) as exc:
        raise fail(f"cannot reach the database: {exc}", 1) from None
    engine = make_engine(databases.app, pool_size=1)
    try:
        with make_session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()
        if databases.embedded is not None and databases.embedded.started_here:
            databases.embedded.stop()


@contextmanager
def errors() -> Iterator[None]:
    """Our errors as one line and an exit code; the transaction around was rolled back."""
    try:
        yield
    except TenantInputError as exc:
        raise fail(exc.message, 2) from None
    except ConfigurationError as exc:
        raise fail(exc.message, 2) from None
    except PipelineError as exc:
        raise fail(exc.message, 1) from None
    except (psycopg.OperationalError, OperationalError) as exc:
        raise fail(f"database: {exc.__class__.__name__}: {exc}", 1) from None


def read_secret(path: str | None, option: str, *, stdin_taken: list[str]) -> SecretStr | None:
    """A secret from a file, or from standard input for `-` (once per command)."""
    if path is None:
        return None
    if path == STDIN:
        if stdin_taken:
            raise fail(f"{option} -: standard input is already read for {stdin_taken[0]}")
        stdin_taken.append(option)
        return SecretStr(sys.stdin.read())
    try:
        return SecretStr(Path(path).read_text())
    except UnicodeDecodeError:
        raise fail(f"{option} {path}: not a text file") from None
    except OSError as exc:
        raise fail(f"{option} {path}: {exc.strerror or type(exc).__name__}") from None
