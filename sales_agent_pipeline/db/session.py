"""Engines and sessions. Repositories and steps never commit: the caller owns the transaction."""

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.urls import app_url


def make_engine(url: str | URL, *, pool_size: int = 5) -> Engine:
    """An engine on psycopg 3 with a health-checked pool."""
    target = app_url(url) if isinstance(url, str) else url
    return create_engine(
        target,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (they are handed to pydantic models)."""
    return sessionmaker(engine, expire_on_commit=False)
