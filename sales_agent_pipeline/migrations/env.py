"""Alembic environment: the app schema, migrated over psycopg 3."""

from alembic import context
from sqlalchemy import create_engine, pool

from sales_agent_pipeline.db.models import Base
from sales_agent_pipeline.db.urls import app_url

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    if configured:
        return configured
    from sales_agent_pipeline.settings import get_settings

    settings = get_settings()
    if settings.database_url is None:
        raise SystemExit(
            "DATABASE_URL is unset: run `sales-agent db upgrade`, which starts the embedded "
            "PostgreSQL, or set DATABASE_URL"
        )
    return settings.database_url.get_secret_value()


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(
        url=app_url(_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations over a connection, in one transaction."""
    engine = create_engine(app_url(_url()), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
