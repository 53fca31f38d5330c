"""The interfaces the steps and the workflow reach the outside through.

Adapters implement them (`connectors/` on the vendors' SDKs, `db/` on PostgreSQL); the
in-memory fakes in `tests/fakes/` implement them for unit tests.
"""
