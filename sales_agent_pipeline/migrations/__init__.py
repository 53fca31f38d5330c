"""Alembic environment and versions of the app schema."""
