"""Reconciliation: recover submissions no webhook brought, and notice outputs changed by hand.

Plain functions over the database repositories and the connector protocols; the Dagster
shell (`defs/reconciliation.py`) schedules them and reports what they found.
"""
