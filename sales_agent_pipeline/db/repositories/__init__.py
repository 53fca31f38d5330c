"""Queries and writes over the app schema. Repositories never commit: the caller owns it."""
