"""Database URLs: one server, the app database and Dagster's beside it."""

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

APP_DRIVER = "postgresql+psycopg"
# dagster-postgres with SQLAlchemy 2.1 breaks on psycopg 3 (its NOTIFY fails and the
# connection closes), so Dagster's storage keeps psycopg2 while our code uses psycopg 3.
DAGSTER_DRIVER = "postgresql+psycopg2"


def app_url(raw: str) -> URL:
    """The SQLAlchemy URL our code uses for a libpq-style or SQLAlchemy URL."""
    return make_url(raw).set(drivername=APP_DRIVER)


def dagster_url(raw: str, database: str | None = None) -> URL:
    """Dagster's storage URL: same server, its own database (`<app db>_dagster` by default)."""
    url = make_url(raw)
    return url.set(drivername=DAGSTER_DRIVER, database=database or f"{url.database}_dagster")


def libpq_dsn(url: URL) -> str:
    """A plain libpq URL (no SQLAlchemy driver suffix), password included."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(url: URL) -> bool:
    """Create the URL's database on its server when missing; True when it was created."""
    maintenance = libpq_dsn(url.set(database="postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)
        ).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(url.database))))
        except psycopg.errors.DuplicateDatabase:
            # Another process created it between our look and our create.
            return False
    return True


def drop_database(url: URL) -> None:
    """Drop the URL's database, ending its sessions first."""
    maintenance = libpq_dsn(url.set(database="postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(str(url.database))
            )
        )
